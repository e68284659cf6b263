// nautilus-clock: record a live clock, replay it exactly in a test.
//
// `RecordingClock<C>` wraps a clock (`LiveClock` in production, any `TimerClock`) and appends to a
// compact binary log (detail/clock_log.hpp) every reading the program takes and every timer
// firing it is handed. `ReplayClock` serves the same readings and firings back, in log order, so an
// incident recorded in production runs again, bit for bit, under a debugger or in a test:
//
//   nautilus::LiveClock live;
//   nautilus::RecordingClock recording{live, "/var/log/engine/clock.log"};
//   run_engine(recording);                                   // generic over TimerClock
//   ...
//   auto replay = nautilus::ReplayClock::open("clock.log");  // later, in a test
//   run_engine(replay);                                      // the same readings, the same events
//   replay.check_finished();
//
// What is recorded: each `now()`, `now_ns()` and `monotonic_ns()` the program calls (`now()` as a
// now_ns reading); each tick delivered to a callback, before the callback runs (so the callback's
// own readings follow it in the log); what each `take_events()` returned; each `poll()` as a
// begin/end pair around the firings it delivered, with its result. Not recorded: the wrapped
// clock's internal readings (scheduling, `poll()`'s own wait computation), timer set-up and
// queries, which the program repeats in the replay.
//
// Exactness. A program that drives its timers with `poll()` from one thread replays exactly: the
// same readings, the same events (ids, times, lateness) delivered at the same points, the same
// `poll()` results. With `LiveClock`'s runner thread the firings are recorded in the order they
// happened relative to the readings of every thread (one mutex serialises them into the log), and
// `ReplayClock` delivers them at the same point of that order, on the thread whose clock call
// reaches them (see `deliver_runner_firings`); it cannot reproduce which thread read what, nor the
// interleaving of threads beyond the log's single order.
#pragma once

#include <atomic>       // std::atomic
#include <chrono>       // std::chrono::nanoseconds
#include <concepts>     // std::same_as
#include <cstddef>      // std::size_t
#include <cstdint>      // std::int64_t, std::uint64_t
#include <deque>        // std::deque
#include <exception>    // std::exception_ptr, std::current_exception, std::rethrow_exception
#include <filesystem>   // std::filesystem::path
#include <fstream>      // std::ofstream, std::ifstream
#include <istream>      // std::istream
#include <iterator>     // std::istreambuf_iterator
#include <memory>       // std::shared_ptr, std::make_shared, std::unique_ptr
#include <mutex>        // std::mutex, std::lock_guard, std::unique_lock
#include <optional>     // std::optional
#include <ostream>      // std::ostream
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <utility>      // std::move
#include <vector>       // std::vector

#include "nautilus/clock/concepts.hpp"          // Clock
#include "nautilus/clock/detail/clock_log.hpp"  // ClockLogEncoder, parse_clock_log
#include "nautilus/clock/time.hpp"              // unix_nanos, clock_error
#include "nautilus/clock/timers.hpp"            // TimerClock, TimerQueue, TimeEvent, TimerCallback

namespace nautilus {

// The two kinds of reading, for `ReplayClock::readings()`.
enum class ReadingKind : std::uint8_t { now_ns, monotonic_ns };

// One reading served by a clock: which kind, and its value in nanoseconds.
struct Reading {
  ReadingKind kind = ReadingKind::now_ns;
  std::int64_t value = 0;
  friend bool operator==(const Reading&, const Reading&) = default;
};

struct RecordingOptions {
  // Bytes gathered in memory before they are written to the stream. A read appends at most 11
  // bytes and never allocates; the write to the stream happens under the recorder's lock, once
  // per `buffer_bytes`, so a larger buffer spreads the I/O thinner (and loses more in a crash).
  std::size_t buffer_bytes = std::size_t{64} * 1024;
};

namespace detail {

// The log writer a `RecordingClock` shares with the callbacks it wrapped. A wrapped callback lives
// in the wrapped clock and may fire after the recorder is gone; it then records nothing.
class ClockLogWriter {
 public:
  ClockLogWriter(std::ostream& out, std::unique_ptr<std::ofstream> file, std::size_t buffer_bytes)
      : out_(&out), file_(std::move(file)), flush_at_(buffer_bytes == 0 ? 1 : buffer_bytes) {
    // Room for one more reading past the flush threshold: a read never grows the buffer.
    buffer_.reserve(flush_at_ + max_reading_record_bytes);
    ClockLogEncoder::header(buffer_);
  }

  // Takes a reading with `read` and records it, both under the lock, so readings from several
  // threads enter the log in the order they were taken (monotonic readings never go backwards).
  template <class Read>
  std::int64_t reading(ClockLogKind kind, Read read) noexcept {
    std::lock_guard lock{mutex_};
    const std::int64_t value = read();
    if (recording_) {
      encoder_.reading(buffer_, kind, value);
      if (buffer_.size() >= flush_at_) write_out();
    }
    return value;
  }

  void firing(std::uint64_t timer, const TimeEvent& event) {
    std::lock_guard lock{mutex_};
    if (!recording_) return;
    encoder_.firing(buffer_, timer, event);
    if (buffer_.size() >= flush_at_) write_out();
  }

  void taken_events(const std::vector<TimeEvent>& events) {
    std::lock_guard lock{mutex_};
    if (!recording_) return;
    encoder_.taken_events(buffer_, events);
    if (buffer_.size() >= flush_at_) write_out();
  }

  void poll_begin() {
    std::lock_guard lock{mutex_};
    if (recording_) encoder_.poll_begin(buffer_);
  }

  void poll_end(std::optional<std::chrono::nanoseconds> wait) {
    std::lock_guard lock{mutex_};
    if (recording_) encoder_.poll_end(buffer_, wait);
  }

  void poll_thrown() {
    std::lock_guard lock{mutex_};
    if (recording_) encoder_.poll_thrown(buffer_);
  }

  // Throws a stream failure that a read (which cannot throw) kept, once.
  void throw_pending() {
    std::lock_guard lock{mutex_};
    throw_pending_locked();
  }

  void flush() {
    std::lock_guard lock{mutex_};
    throw_pending_locked();
    if (!recording_) return;
    write_out();
    if (recording_) flush_stream();
    throw_pending_locked();
  }

  // Writes the end record and flushes; later records are dropped. Does nothing the second time.
  void close() {
    std::lock_guard lock{mutex_};
    throw_pending_locked();
    if (!recording_) return;
    encoder_.end(buffer_);
    write_out();
    if (recording_) flush_stream();
    recording_ = false;
    closed_ = true;
    if (file_) file_->close();
    throw_pending_locked();
  }

  void close_quietly() noexcept {
    try {
      close();
    } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor has nowhere to report it
    }
    std::lock_guard lock{mutex_};
    recording_ = false;
  }

  [[nodiscard]] std::uint64_t records() const {
    std::lock_guard lock{mutex_};
    return encoder_.records();
  }
  [[nodiscard]] std::uint64_t bytes() const {
    std::lock_guard lock{mutex_};
    return written_ + buffer_.size();
  }
  [[nodiscard]] bool recording() const {
    std::lock_guard lock{mutex_};
    return recording_;
  }
  [[nodiscard]] bool closed() const {
    std::lock_guard lock{mutex_};
    return closed_;
  }

 private:
  // Moves the buffer to the stream. Never throws: a failure stops the recording and is kept for
  // the next call that can throw.
  void write_out() noexcept {
    if (buffer_.empty()) return;
    const std::size_t size = buffer_.size();
    try {
      out_->write(buffer_.data(), static_cast<std::streamsize>(size));
      if (!*out_) {
        fail("writing " + std::to_string(size) + " bytes at log offset " + std::to_string(written_) +
             " to the stream failed");
        return;
      }
    } catch (const std::exception& e) {
      fail("writing " + std::to_string(size) + " bytes at log offset " + std::to_string(written_) +
           " to the stream threw: " + e.what());
      return;
    } catch (...) {
      fail("writing at log offset " + std::to_string(written_) + " to the stream threw");
      return;
    }
    written_ += size;
    buffer_.clear();
  }

  void flush_stream() noexcept {
    try {
      if (!out_->flush()) fail("flushing the stream failed at log offset " + std::to_string(written_));
    } catch (const std::exception& e) {
      fail("flushing the stream threw at log offset " + std::to_string(written_) + ": " + e.what());
    }
  }

  void fail(const std::string& what) noexcept {
    recording_ = false;
    buffer_.clear();
    try {
      error_ = std::make_exception_ptr(
          clock_error("RecordingClock: " + what + "; recording stopped, the log is incomplete"));
    } catch (...) {
      error_ = std::current_exception();  // bad_alloc while building the message
    }
  }

  void throw_pending_locked() {
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

  mutable std::mutex mutex_;
  std::ostream* out_;
  std::unique_ptr<std::ofstream> file_;
  std::size_t flush_at_;
  std::string buffer_;
  ClockLogEncoder encoder_;
  std::uint64_t written_ = 0;
  std::exception_ptr error_;
  bool recording_ = true;
  bool closed_ = false;
};

}  // namespace detail

// A `TimerClock` that forwards to the clock `C` it wraps and records what the program sees.
//
// - Reads are `noexcept`, as the `Clock` concept requires: each reading goes into a memory buffer
//   under a mutex (readings from several threads are serialised in log order), and the buffer is
//   written to the stream when it fills, on `flush()`, `close()` and in the destructor. A stream
//   failure during a read cannot be thrown there: the recording stops, the clock goes on serving
//   readings, and the failure is thrown, once, from the next call that can throw: `flush()`,
//   `close()`, `poll()`, `take_events()`, or a timer call that changes state (`set_*`,
//   `cancel_*`), before that call does anything. After it the recorder is a plain forwarder, so
//   a production engine that catches it keeps trading without a log.
// - Timer calls forward to `C`. A callback is wrapped so that its firing is recorded before it
//   runs; the events of callback-less timers are recorded when `take_events()` hands them out.
// - `poll()` exists when `C` has one (`LiveClock`), and is recorded with the firings it delivered.
// - `close()` (or the destructor) writes the end record. A log without it (a crash) replays only
//   with `ReplayOptions::allow_truncated`.
// `C` must outlive the recorder. Not copyable or movable: components hold a reference to it.
template <TimerClock C>
class RecordingClock {
 public:
  // Records to `out`, which must be binary (no newline translation) and outlive the recorder.
  RecordingClock(C& clock, std::ostream& out, RecordingOptions options = {})
      : clock_(clock),
        writer_(std::make_shared<detail::ClockLogWriter>(out, nullptr, options.buffer_bytes)) {}

  // Records to the file at `path`, created or truncated. Throws `clock_error` naming the path if
  // it cannot be opened.
  RecordingClock(C& clock, const std::filesystem::path& path, RecordingOptions options = {})
      : clock_(clock), writer_(open(path, options)) {}

  RecordingClock(const RecordingClock&) = delete;
  RecordingClock& operator=(const RecordingClock&) = delete;
  RecordingClock(RecordingClock&&) = delete;
  RecordingClock& operator=(RecordingClock&&) = delete;
  // Closes the log (see `close`), swallowing a stream failure: call `close()` first to see it.
  ~RecordingClock() { writer_->close_quietly(); }

  // ---- reads (recorded) ----

  [[nodiscard]] unix_nanos now() const noexcept { return from_unix_ns(now_ns()); }
  [[nodiscard]] std::int64_t now_ns() const noexcept {
    return writer_->reading(detail::ClockLogKind::now_ns, [this]() noexcept { return clock_.now_ns(); });
  }
  [[nodiscard]] std::int64_t monotonic_ns() const noexcept {
    return writer_->reading(detail::ClockLogKind::monotonic_ns,
                            [this]() noexcept { return clock_.monotonic_ns(); });
  }

  // ---- timers (forwarded to C; see timers.hpp for the rules) ----

  TimerHandle set_time_alert(std::string_view name, unix_nanos at, TimerCallback callback = {},
                             PastDeadline past = PastDeadline::fire_now) {
    writer_->throw_pending();
    return clock_.set_time_alert(name, at, wrap(std::move(callback)), past);
  }

  TimerHandle set_time_alert(unix_nanos at, TimerCallback callback,
                             PastDeadline past = PastDeadline::fire_now) {
    writer_->throw_pending();
    return clock_.set_time_alert(at, wrap(std::move(callback)), past);
  }

  TimerHandle set_timer(std::string_view name, std::chrono::nanoseconds interval,
                        std::optional<unix_nanos> start = std::nullopt,
                        std::optional<unix_nanos> stop = std::nullopt, TimerCallback callback = {},
                        TimerOptions options = {}) {
    writer_->throw_pending();
    return clock_.set_timer(name, interval, start, stop, wrap(std::move(callback)), options);
  }

  bool cancel_timer(std::string_view name) {
    writer_->throw_pending();
    return clock_.cancel_timer(name);
  }
  bool cancel_timer(TimerHandle handle) {
    writer_->throw_pending();
    return clock_.cancel_timer(handle);
  }
  std::size_t cancel_timers() {
    writer_->throw_pending();
    return clock_.cancel_timers();
  }
  [[nodiscard]] std::optional<unix_nanos> next_time(std::string_view name) const {
    return clock_.next_time(name);
  }
  [[nodiscard]] std::optional<unix_nanos> next_time(TimerHandle handle) const {
    return clock_.next_time(handle);
  }
  [[nodiscard]] std::vector<std::string> timer_names() const { return clock_.timer_names(); }
  [[nodiscard]] std::size_t timer_count() const { return clock_.timer_count(); }
  [[nodiscard]] bool has_timer(std::string_view name) const { return clock_.has_timer(name); }

  // The events of callback-less timers, recorded as they are handed out.
  [[nodiscard]] std::vector<TimeEvent> take_events() {
    writer_->throw_pending();
    std::vector<TimeEvent> events = clock_.take_events();
    writer_->taken_events(events);
    return events;
  }

  // `C::poll()`, recorded: a begin record, the firings it delivered, an end record with its result
  // (or a record that a callback's exception left it, which is rethrown).
  std::optional<std::chrono::nanoseconds> poll() requires requires(C& c) {
    { c.poll() } -> std::same_as<std::optional<std::chrono::nanoseconds>>;
  }
  {
    writer_->throw_pending();
    writer_->poll_begin();
    std::optional<std::chrono::nanoseconds> wait;
    try {
      wait = clock_.poll();
    } catch (...) {
      writer_->poll_thrown();
      throw;
    }
    writer_->poll_end(wait);
    return wait;
  }

  // ---- the log ----

  // Writes what is buffered to the stream and flushes it. Throws `clock_error` for a stream failure
  // (this one, or one a read kept).
  void flush() { writer_->flush(); }

  // Writes the end record and flushes; afterwards the clock still forwards, recording nothing.
  // Throws as `flush()`. Calling it again does nothing.
  void close() { writer_->close(); }

  // Records written so far (the end record excluded), and bytes (written and buffered).
  [[nodiscard]] std::uint64_t records() const { return writer_->records(); }
  [[nodiscard]] std::uint64_t bytes() const { return writer_->bytes(); }
  // False once closed or after a stream failure.
  [[nodiscard]] bool recording() const { return writer_->recording(); }

  // The wrapped clock (e.g. to start a `LiveClock`'s runner, or to advance a `TestClock`).
  [[nodiscard]] C& clock() const noexcept { return clock_; }

 private:
  static std::shared_ptr<detail::ClockLogWriter> open(const std::filesystem::path& path,
                                                      RecordingOptions options) {
    auto file = std::make_unique<std::ofstream>(path, std::ios::binary | std::ios::trunc);
    if (!file->is_open())
      throw clock_error("RecordingClock: cannot open '" + path.string() + "' for writing");
    std::ostream& out = *file;
    return std::make_shared<detail::ClockLogWriter>(out, std::move(file), options.buffer_bytes);
  }

  // Numbers this set_* call (whether it succeeds or not: the replay numbers its calls the same way)
  // and wraps the callback so that each firing is recorded, with that number, before it runs.
  TimerCallback wrap(TimerCallback callback) {
    const std::uint64_t timer = timers_set_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (!callback) return {};  // callback-less: its events go to take_events()
    return [writer = writer_, timer, user = std::move(callback)](const TimeEvent& event) {
      writer->firing(timer, event);
      user(event);
    };
  }

  C& clock_;
  std::shared_ptr<detail::ClockLogWriter> writer_;
  std::atomic<std::uint64_t> timers_set_{0};
};

struct ReplayOptions {
  // Accept a log without its end record (its process crashed) and replay it up to its last
  // complete record; off by default, so a truncated copy is never mistaken for a whole run.
  bool allow_truncated = false;
};

// A `TimerClock` that serves a recorded log back (see the top of this file).
//
// - Each read returns the next recorded reading of its kind, in log order.
// - `set_*` registers the callback under the set_* call's number (its position among the
//   program's set_* calls, counted as the recorder counted them), so each recorded firing reaches
//   the callback the program set in the same call, named or anonymous.
// - `poll()` expects the log's next record to be a poll: it delivers that poll's recorded firings
//   to their callbacks, in order (readings made inside a callback consume the records after its
//   firing), and returns the recorded result. A callback that throws propagates, as live.
// - `take_events()` returns what the recorded call returned.
// - A firing recorded outside any poll (a runner's, or a `TestClock` advanced directly) is
//   delivered when a clock call reaches it: a read, `poll()`, `take_events()` or
//   `deliver_runner_firings()`, on the calling thread, before that call is served.
// - Timer queries (`next_time`, `timer_names`, `timer_count`, `has_timer`) are answered from the
//   replay's own bookkeeping, not the log: a timer is pending from its set_* call until it is
//   cancelled or its recorded last tick is delivered; `next_time` of a pending timer is the
//   `ts_event` of its next recorded firing, or, if none is recorded, the deadline its set_* call
//   computed from the last readings served.
//
// Divergence. When the program does something the log did not record (a reading where the log has
// a firing or a poll, a poll where it has a reading, a firing for a timer the program never set or
// cancelled, a read past the end), replay cannot go on meaningfully. A read cannot throw, so the
// first divergence is kept, with its record index and byte offset; from then on reads return the
// last value served of their kind (0 before any) and consume nothing, and every call that can throw
// (`poll`, `take_events`, `set_*`, `cancel_*`, `deliver_runner_firings`, `check`,
// `check_finished`) throws it as `clock_error`. An exception thrown by a callback delivered from a read is kept the same way and
// thrown once, by the next such call.
//
// Thread-safe (one mutex, released while a callback runs). Not copyable or movable.
class ReplayClock {
 public:
  // Parses and validates the whole log in `bytes` (decoded into the clock; `bytes` need not outlive
  // it). Throws `clock_error` naming the byte offset of the first problem (detail/clock_log.hpp).
  explicit ReplayClock(std::string_view bytes, ReplayOptions options = {})
      : log_(detail::parse_clock_log(bytes, options.allow_truncated)) {}

  // Reads `in` to its end, then as above.
  explicit ReplayClock(std::istream& in, ReplayOptions options = {})
      : ReplayClock(std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()),
                    options) {}

  // Reads the file at `path`. Throws `clock_error` naming the path if it cannot be read. (A
  // function, not a constructor: a string argument would convert to both a path and bytes.)
  [[nodiscard]] static ReplayClock open(const std::filesystem::path& path, ReplayOptions options = {}) {
    std::ifstream in{path, std::ios::binary};
    if (!in.is_open()) throw clock_error("ReplayClock: cannot open '" + path.string() + "' for reading");
    std::string bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>{});
    if (in.bad()) throw clock_error("ReplayClock: reading '" + path.string() + "' failed");
    return ReplayClock{bytes, options};
  }

  ReplayClock(const ReplayClock&) = delete;
  ReplayClock& operator=(const ReplayClock&) = delete;
  ReplayClock(ReplayClock&&) = delete;
  ReplayClock& operator=(ReplayClock&&) = delete;
  ~ReplayClock() = default;

  // ---- reads ----

  [[nodiscard]] unix_nanos now() const noexcept { return from_unix_ns(now_ns()); }
  [[nodiscard]] std::int64_t now_ns() const noexcept { return read(detail::ClockLogKind::now_ns); }
  [[nodiscard]] std::int64_t monotonic_ns() const noexcept {
    return read(detail::ClockLogKind::monotonic_ns);
  }

  // ---- timers ----

  TimerHandle set_time_alert(std::string_view name, unix_nanos at, TimerCallback callback = {},
                             PastDeadline past = PastDeadline::fire_now) {
    std::lock_guard lock{mutex_};
    Timer& timer = add_timer(std::string(name), std::move(callback));
    timer.handle = registry_.set_time_alert(name, at, {}, past, reading_now());
    return timer.handle;
  }

  TimerHandle set_time_alert(unix_nanos at, TimerCallback callback,
                             PastDeadline past = PastDeadline::fire_now) {
    std::lock_guard lock{mutex_};
    Timer& timer = add_timer({}, std::move(callback));
    timer.handle = registry_.set_time_alert(at, {}, past, reading_now());
    return timer.handle;
  }

  TimerHandle set_timer(std::string_view name, std::chrono::nanoseconds interval,
                        std::optional<unix_nanos> start = std::nullopt,
                        std::optional<unix_nanos> stop = std::nullopt, TimerCallback callback = {},
                        TimerOptions options = {}) {
    std::lock_guard lock{mutex_};
    Timer& timer = add_timer(std::string(name), std::move(callback));
    timer.handle = registry_.set_timer(name, interval, start, stop, {}, options, reading_now());
    timer.interval = interval;
    timer.stop = stop;
    return timer.handle;
  }

  bool cancel_timer(std::string_view name) {
    std::lock_guard lock{mutex_};
    throw_if_failed();
    return registry_.cancel_timer(name);
  }
  bool cancel_timer(TimerHandle handle) {
    std::lock_guard lock{mutex_};
    throw_if_failed();
    return registry_.cancel_timer(handle);
  }
  std::size_t cancel_timers() {
    std::lock_guard lock{mutex_};
    throw_if_failed();
    return registry_.cancel_timers();
  }

  [[nodiscard]] std::optional<unix_nanos> next_time(std::string_view name) const {
    std::lock_guard lock{mutex_};
    for (auto it = timers_.rbegin(); it != timers_.rend(); ++it) {
      if (it->name == name && registry_.next_time(it->handle)) return next_time_of(*it);
    }
    return std::nullopt;
  }
  [[nodiscard]] std::optional<unix_nanos> next_time(TimerHandle handle) const {
    std::lock_guard lock{mutex_};
    for (const Timer& timer : timers_) {
      if (timer.handle == handle && registry_.next_time(handle)) return next_time_of(timer);
    }
    return std::nullopt;
  }
  [[nodiscard]] std::vector<std::string> timer_names() const {
    std::lock_guard lock{mutex_};
    return registry_.timer_names();
  }
  [[nodiscard]] std::size_t timer_count() const {
    std::lock_guard lock{mutex_};
    return registry_.timer_count();
  }
  [[nodiscard]] bool has_timer(std::string_view name) const {
    std::lock_guard lock{mutex_};
    return registry_.has_timer(name);
  }

  // What the recorded `take_events()` call returned. Throws the divergence if the log's next
  // record is not one.
  [[nodiscard]] std::vector<TimeEvent> take_events() {
    std::unique_lock lock{mutex_};
    throw_if_failed();
    deliver_unpolled(lock);
    const detail::ClockLogRecord* r = head();
    if (r == nullptr || r->kind != detail::ClockLogKind::taken_events) {
      diverge("the program called take_events() where the log has " + describe_head());
      throw_if_failed();
    }
    ++next_;
    const auto first = log_.events.begin() + static_cast<std::ptrdiff_t>(r->first_event);
    std::vector<TimeEvent> events(first, first + static_cast<std::ptrdiff_t>(r->event_count));
    for (const TimeEvent& event : events) retire_taken(event);
    delivered_.insert(delivered_.end(), events.begin(), events.end());
    return events;
  }

  // Delivers the next recorded poll: its firings to their callbacks, in order, then its recorded
  // result. Throws the divergence if the log's next record is not a poll, or if the callbacks make
  // other clock calls than recorded.
  std::optional<std::chrono::nanoseconds> poll() {
    std::unique_lock lock{mutex_};
    throw_if_failed();
    deliver_unpolled(lock);
    const detail::ClockLogRecord* r = head();
    if (r == nullptr || r->kind != detail::ClockLogKind::poll_begin) {
      diverge("the program called poll() where the log has " + describe_head());
      throw_if_failed();
    }
    ++next_;
    ++poll_depth_;
    struct Leave {
      std::size_t& depth;
      ~Leave() { --depth; }
    } leave{poll_depth_};
    for (;;) {
      r = head();
      if (r == nullptr) {
        diverge("poll() ran past the end of the log (the recorded poll did not end)");
      } else if (r->kind == detail::ClockLogKind::firing) {
        try {
          deliver(lock);
        } catch (...) {
          // The callback threw (the lock is held again): as recorded, or a divergence.
          const detail::ClockLogRecord* after = head();
          if (!diverged() && after != nullptr && after->kind == detail::ClockLogKind::poll_thrown) {
            ++next_;
          } else {
            diverge("a callback threw during poll() where the recorded poll went on with " + describe_head());
          }
          throw;
        }
        throw_if_failed();
        continue;
      } else if (r->kind == detail::ClockLogKind::poll_end_wait) {
        ++next_;
        return std::chrono::nanoseconds{r->value};
      } else if (r->kind == detail::ClockLogKind::poll_end_idle) {
        ++next_;
        return std::nullopt;
      } else if (r->kind == detail::ClockLogKind::poll_thrown) {
        diverge("the recorded poll() ended with a callback's exception; the replayed callbacks threw none");
      } else {
        diverge("poll() expected a firing or the end of the poll where the log has " + describe_head() +
                " (a callback made fewer clock calls than recorded)");
      }
      throw_if_failed();
    }
  }

  // Delivers the firings at the head of the log that were recorded outside any poll (a
  // `LiveClock` runner's, or a `TestClock` advanced directly), in order, on this thread; returns
  // how many. For a program whose thread waits for runner events without reading the clock.
  std::size_t deliver_runner_firings() {
    std::unique_lock lock{mutex_};
    throw_if_failed();
    const std::size_t delivered = deliver_unpolled(lock);
    throw_if_failed();
    return delivered;
  }

  // ---- checks and inspection ----

  // Throws the first divergence as `clock_error`, or a kept callback exception (once).
  void check() const {
    std::lock_guard lock{mutex_};
    throw_if_failed();
  }

  // As `check()`, and throws if records remain: the program stopped before the recording did.
  void check_finished() const {
    std::lock_guard lock{mutex_};
    throw_if_failed();
    if (next_ != log_.records.size()) {
      throw clock_error("ReplayClock: the program stopped at record " + std::to_string(next_) + " of " +
                        std::to_string(log_.records.size()) + ", where the log goes on with " +
                        describe_head());
    }
  }

  // Whether a divergence was found.
  [[nodiscard]] bool diverged() const noexcept { return diverged_.load(std::memory_order_acquire); }
  // Records served so far, and in the log (the end record excluded).
  [[nodiscard]] std::size_t position() const {
    std::lock_guard lock{mutex_};
    return next_;
  }
  [[nodiscard]] std::size_t record_count() const noexcept { return log_.records.size(); }
  // False for a log replayed with `allow_truncated` that lacked its end record.
  [[nodiscard]] bool complete() const noexcept { return log_.complete; }

  // Every reading in the log, in order.
  [[nodiscard]] std::vector<Reading> readings() const {
    std::vector<Reading> out;
    for (const auto& r : log_.records) {
      if (r.kind == detail::ClockLogKind::now_ns) out.push_back({ReadingKind::now_ns, r.value});
      if (r.kind == detail::ClockLogKind::monotonic_ns) out.push_back({ReadingKind::monotonic_ns, r.value});
    }
    return out;
  }
  // Every event in the log (firings and taken events), in order.
  [[nodiscard]] const std::vector<TimeEvent>& events() const noexcept { return log_.events; }
  // The events delivered so far (to callbacks and by take_events), in order.
  [[nodiscard]] std::vector<TimeEvent> delivered_events() const {
    std::lock_guard lock{mutex_};
    return delivered_;
  }

 private:
  // One set_* call of the program. Kept in a deque: a callback runs from its Timer while other
  // callbacks add timers, and a deque's push_back moves no element.
  struct Timer {
    std::uint64_t number = 0;  // of the set_* call, from 1
    std::string name;
    TimerCallback callback;
    TimerHandle handle;  // in registry_; default (stale) if the call threw
    std::optional<std::chrono::nanoseconds> interval;
    std::optional<unix_nanos> stop;
  };

  [[nodiscard]] const detail::ClockLogRecord* head() const noexcept {
    return next_ < log_.records.size() ? &log_.records[next_] : nullptr;
  }

  // "a firing of 'heartbeat' (timer 1, event #3) at record 7, offset 58", "the end of the log".
  [[nodiscard]] std::string describe_head() const {
    const detail::ClockLogRecord* r = head();
    if (r == nullptr) {
      return std::string("the end of the log (") + std::to_string(log_.records.size()) + " records" +
             (log_.complete ? ")" : ", truncated)");
    }
    std::string out = std::string("a ") + detail::kind_name(r->kind);
    if (r->kind == detail::ClockLogKind::firing) {
      const TimeEvent& e = log_.events[r->first_event];
      out += " of " + (e.name.empty() ? std::string("an anonymous alert") : "'" + e.name + "'") + " (timer " +
             std::to_string(r->timer) + ", event #" + std::to_string(e.id) + ")";
    }
    return out + " at record " + std::to_string(next_) + ", offset " + std::to_string(r->offset);
  }

  [[nodiscard]] ClockReading reading_now() const noexcept { return {last_monotonic_ns_, last_now_ns_}; }

  Timer& add_timer(std::string name, TimerCallback callback) {
    throw_if_failed();
    timers_.push_back(
        Timer{timers_.size() + 1, std::move(name), std::move(callback), {}, std::nullopt, std::nullopt});
    return timers_.back();
  }

  // The ts_event of the timer's next recorded firing, else its deadline in the registry.
  [[nodiscard]] std::optional<unix_nanos> next_time_of(const Timer& timer) const {
    for (std::size_t i = next_; i < log_.records.size(); ++i) {
      const auto& r = log_.records[i];
      if (r.kind == detail::ClockLogKind::firing && r.timer == timer.number)
        return log_.events[r.first_event].ts_event;
    }
    return registry_.next_time(timer.handle);
  }

  // Whether a tick at `ts_event` is the timer's last: under every missed-tick policy the next tick
  // is at least ts_event + interval, so it is the last if that passes `stop`. Compared as
  // stop - ts_event in uint64, which holds every difference of two int64 (ts_event <= stop).
  [[nodiscard]] static bool is_last_tick(const Timer& timer, unix_nanos ts_event) noexcept {
    if (!timer.interval) return true;  // an alert
    if (!timer.stop) return false;
    const std::int64_t stop = to_unix_ns(*timer.stop);
    const std::int64_t at = to_unix_ns(ts_event);
    if (at > stop) return true;
    return detail::wrapping_delta(at, stop) < static_cast<std::uint64_t>(timer.interval->count());
  }

  // A callback-less timer's last tick, handed out by take_events(), retires it as live. Only named
  // ones can be told apart (taken events carry no set_* number).
  void retire_taken(const TimeEvent& event) {
    if (event.name.empty()) return;
    for (auto it = timers_.rbegin(); it != timers_.rend(); ++it) {
      if (it->name == event.name && !it->callback && registry_.next_time(it->handle)) {
        if (is_last_tick(*it, event.ts_event)) registry_.cancel_timer(it->handle);
        return;
      }
    }
  }

  // Keeps the first divergence (later ones follow from it).
  void diverge(const std::string& what) const {
    if (diverged()) return;
    divergence_ = "ReplayClock: divergence at record " + std::to_string(next_) + ": " + what;
    diverged_.store(true, std::memory_order_release);
  }

  void throw_if_failed() const {
    if (pending_) std::rethrow_exception(std::exchange(pending_, nullptr));
    if (diverged()) throw clock_error(divergence_);
  }

  // Delivers the firing at the head to its callback, with the lock released while it runs. Returns
  // false (and records the divergence) if the program has no such timer pending. Propagates the
  // callback's exception, the lock held again.
  bool deliver(std::unique_lock<std::mutex>& lock) const {
    const detail::ClockLogRecord& r = log_.records[next_];
    const TimeEvent& event = log_.events[r.first_event];
    const std::string who = event.name.empty() ? std::string("an anonymous alert") : "'" + event.name + "'";
    if (r.timer == 0 || r.timer > timers_.size()) {
      diverge("the log has a firing of " + who + " for timer " + std::to_string(r.timer) +
              " (the program's set_* call of that number), but the program has made " +
              std::to_string(timers_.size()) + " set_* calls (record offset " + std::to_string(r.offset) +
              ")");
      return false;
    }
    Timer& timer = timers_[r.timer - 1];
    if (timer.name != event.name) {
      diverge("the log has a firing of " + who + " for timer " + std::to_string(r.timer) +
              ", but the program's set_* call of that number set '" + timer.name + "' (record offset " +
              std::to_string(r.offset) + ")");
      return false;
    }
    if (!registry_.next_time(timer.handle) || !timer.callback) {
      diverge(
          "the log has a firing of " + who + " (timer " + std::to_string(r.timer) + ", event #" +
          std::to_string(event.id) + "), but the program's timer is " +
          (timer.callback ? "no longer pending (cancelled, or its set_* call threw)" : "without a callback") +
          " (record offset " + std::to_string(r.offset) + ")");
      return false;
    }
    ++next_;
    // The last tick retires the timer, so its name can be set again, as live.
    if (is_last_tick(timer, event.ts_event)) registry_.cancel_timer(timer.handle);
    delivered_.push_back(event);
    const TimerCallback& callback = timer.callback;  // stays put: timers_ is a deque
    lock.unlock();
    struct Relock {
      std::unique_lock<std::mutex>& lock;
      ~Relock() { lock.lock(); }
    } relock{lock};
    callback(event);
    return true;
  }

  // Delivers the firings at the head recorded outside a poll; returns how many. Inside a poll (a
  // callback's read) a firing at the head belongs to the poll, and is left to it.
  std::size_t deliver_unpolled(std::unique_lock<std::mutex>& lock) const {
    std::size_t delivered = 0;
    while (!diverged() && poll_depth_ == 0) {
      const detail::ClockLogRecord* r = head();
      if (r == nullptr || r->kind != detail::ClockLogKind::firing) break;
      if (!deliver(lock)) break;
      ++delivered;
    }
    return delivered;
  }

  // Serves the next reading of `kind`; see the class comment for the divergence policy.
  std::int64_t read(detail::ClockLogKind kind) const noexcept {
    std::unique_lock lock{mutex_};
    std::int64_t& last = kind == detail::ClockLogKind::now_ns ? last_now_ns_ : last_monotonic_ns_;
    try {
      deliver_unpolled(lock);
      if (diverged()) return last;
      const detail::ClockLogRecord* r = head();
      if (r != nullptr && r->kind == kind) {
        ++next_;
        last = r->value;
        return last;
      }
      diverge(std::string("the program read ") +
              (kind == detail::ClockLogKind::now_ns ? "now_ns" : "monotonic_ns") + " where the log has " +
              describe_head());
    } catch (...) {
      // A callback delivered from this read threw (or a message could not be allocated): kept for
      // the next call that can throw.
      if (!pending_) pending_ = std::current_exception();
    }
    return last;
  }

  detail::ClockLog log_;
  mutable std::mutex mutex_;
  // All below under mutex_ (the reads are const, as the Clock concept requires).
  mutable std::size_t next_ = 0;
  mutable std::size_t poll_depth_ = 0;
  mutable std::int64_t last_now_ns_ = 0;
  mutable std::int64_t last_monotonic_ns_ = 0;
  mutable std::deque<Timer> timers_;
  // The program's pending timers, for the queries and for handles; it never fires.
  mutable TimerQueue registry_;
  mutable std::vector<TimeEvent> delivered_;
  mutable std::string divergence_;
  mutable std::atomic<bool> diverged_{false};
  mutable std::exception_ptr pending_;
};

static_assert(TimerClock<ReplayClock>);

}  // namespace nautilus
