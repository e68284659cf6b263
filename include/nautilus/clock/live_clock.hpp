// nautilus-clock: `LiveClock`, the host's clocks, with timers.
#pragma once

#include <algorithm>           // std::max
#include <chrono>              // std::chrono::steady_clock, system_clock
#include <condition_variable>  // std::condition_variable_any
#include <cstddef>             // std::size_t
#include <cstdint>             // std::int64_t
#include <exception>           // std::exception_ptr
#include <limits>              // std::numeric_limits
#include <mutex>               // std::mutex, std::unique_lock
#include <optional>            // std::optional
#include <stop_token>          // std::stop_token
#include <string>              // std::string
#include <string_view>         // std::string_view
#include <thread>              // std::jthread, std::this_thread::get_id
#include <utility>             // std::move
#include <vector>              // std::vector

#include "nautilus/clock/detail/platform.hpp"
#include "nautilus/clock/time.hpp"    // unix_nanos
#include "nautilus/clock/timers.hpp"  // TimerQueue, TimeEvent, TimerCallback, TimerOptions

#if defined(NAUTILUS_CLOCK_HAS_CLOCK_GETTIME)
#include <time.h>  // clock_gettime, CLOCK_REALTIME (POSIX, not in <ctime>)
#endif

namespace nautilus {

// Reads the host's clocks:
// - realtime from the system clock (`CLOCK_REALTIME`, nanoseconds on every POSIX host; plain
//   `std::chrono::system_clock` elsewhere). It follows NTP, so it can step backwards;
// - monotonic from `std::chrono::steady_clock` (`CLOCK_MONOTONIC` on Linux, the uptime clock on
//   macOS), which never decreases.
// The reads cost what the vDSO costs (~16-20 ns on x86-64 Linux) and are safe from any thread.
//
// Timers follow the same rules as under `TestClock` (timers.hpp), on the monotonic line, so an NTP
// step moves none of them; each event is stamped with the realtime it was set for (`ts_event`)
// and the realtime it fired (`ts_init`), and reports its lateness. Two ways to run them:
//   poll()          from your own event loop: fires what is due, returns the time to the next tick;
//   start_runner()  a background thread that fires them at their deadlines.
// Callbacks run on the thread that polls, or on the runner, without the clock's lock held, so they
// may call any timer function. The timer functions are safe to call from any thread. A callback
// must not destroy its clock.
class LiveClock {
 public:
  LiveClock() = default;
  LiveClock(const LiveClock&) = delete;
  LiveClock& operator=(const LiveClock&) = delete;
  LiveClock(LiveClock&&) = delete;
  LiveClock& operator=(LiveClock&&) = delete;
  // Stops the runner, if any, waiting for a callback it is running: none runs afterwards.
  ~LiveClock() { stop_runner_quietly(); }

  // ---- reads ----

  // Realtime UTC now.
  [[nodiscard]] unix_nanos now() const noexcept { return from_unix_ns(now_ns()); }

  // Realtime UTC now, in nanoseconds since the Unix epoch.
  [[nodiscard]] std::int64_t now_ns() const noexcept { return realtime_now_ns(); }

  // Monotonic nanoseconds from an unspecified origin (boot, on Linux).
  [[nodiscard]] std::int64_t monotonic_ns() const noexcept { return monotonic_now_ns(); }

  // The same reads without a clock object, for code that wraps the host's clocks (TscClock).
  [[nodiscard]] static std::int64_t realtime_now_ns() noexcept {
#if defined(NAUTILUS_CLOCK_HAS_CLOCK_GETTIME)
    ::timespec ts{};
    // Cannot fail: CLOCK_REALTIME is always supported and `ts` is a valid address.
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
#else
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
#endif
  }

  [[nodiscard]] static std::int64_t monotonic_now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // ---- timers (see timers.hpp for the rules) ----

  TimerHandle set_time_alert(std::string_view name, unix_nanos at, TimerCallback callback = {},
                             PastDeadline past = PastDeadline::fire_now) {
    std::lock_guard lock{mutex_};
    const TimerHandle handle =
        timers_.set_time_alert(name, at, std::move(callback), past, scheduling_reading());
    wake_runner();
    return handle;
  }

  // An anonymous alert, cancelled by handle (see TimerQueue::set_time_alert).
  TimerHandle set_time_alert(unix_nanos at, TimerCallback callback, PastDeadline past = PastDeadline::fire_now) {
    std::lock_guard lock{mutex_};
    const TimerHandle handle = timers_.set_time_alert(at, std::move(callback), past, scheduling_reading());
    wake_runner();
    return handle;
  }

  TimerHandle set_timer(std::string_view name, std::chrono::nanoseconds interval,
                        std::optional<unix_nanos> start = std::nullopt,
                        std::optional<unix_nanos> stop = std::nullopt, TimerCallback callback = {},
                        TimerOptions options = {}) {
    std::lock_guard lock{mutex_};
    const TimerHandle handle =
        timers_.set_timer(name, interval, start, stop, std::move(callback), options, scheduling_reading());
    wake_runner();
    return handle;
  }

  bool cancel_timer(std::string_view name) {
    std::lock_guard lock{mutex_};
    return timers_.cancel_timer(name);
  }
  bool cancel_timer(TimerHandle handle) {
    std::lock_guard lock{mutex_};
    return timers_.cancel_timer(handle);
  }
  std::size_t cancel_timers() {
    std::lock_guard lock{mutex_};
    return timers_.cancel_timers();
  }
  [[nodiscard]] std::optional<unix_nanos> next_time(std::string_view name) const {
    std::lock_guard lock{mutex_};
    return timers_.next_time(name);
  }
  [[nodiscard]] std::optional<unix_nanos> next_time(TimerHandle handle) const {
    std::lock_guard lock{mutex_};
    return timers_.next_time(handle);
  }
  [[nodiscard]] std::vector<std::string> timer_names() const {
    std::lock_guard lock{mutex_};
    return timers_.timer_names();
  }
  [[nodiscard]] std::size_t timer_count() const {
    std::lock_guard lock{mutex_};
    return timers_.timer_count();
  }
  [[nodiscard]] bool has_timer(std::string_view name) const {
    std::lock_guard lock{mutex_};
    return timers_.has_timer(name);
  }

  // Events of callback-less timers fired so far, oldest first; empties the buffer.
  [[nodiscard]] std::vector<TimeEvent> take_events() {
    std::lock_guard lock{mutex_};
    return std::exchange(outbox_, {});
  }

  // Fires every tick due now, on the calling thread. Returns the time until the next pending tick
  // (zero if one fell due meanwhile), or none if no timer is pending. If a callback throws, the
  // exception propagates; later ticks stay pending.
  std::optional<std::chrono::nanoseconds> poll() {
    std::unique_lock lock{mutex_};
    fire_due(lock);
    const auto next = timers_.next_deadline_ns();
    if (!next) return std::nullopt;
    const std::int64_t wait = *next - monotonic_ns();
    return std::chrono::nanoseconds{wait > 0 ? wait : 0};
  }

  // Starts a background thread that fires ticks at their deadlines. Throws `clock_error` if one
  // is already running.
  void start_runner() {
    std::lock_guard lock{mutex_};
    if (runner_.joinable()) throw clock_error("LiveClock::start_runner: the runner is already running");
    runner_error_ = nullptr;
    runner_ = std::jthread{[this](std::stop_token stop) { run(stop); }};
  }

  // Stops the runner and waits for it (and any callback it is running) to finish. Rethrows the
  // exception that stopped it, if a callback threw one. Does nothing if no runner is running.
  // Must not be called from a callback the runner runs.
  void stop_runner() {
    stop_runner_quietly();
    std::exception_ptr error;
    {
      std::lock_guard lock{mutex_};
      error = std::exchange(runner_error_, nullptr);
    }
    if (error) std::rethrow_exception(error);
  }

  [[nodiscard]] bool runner_running() const {
    std::lock_guard lock{mutex_};
    return runner_.joinable();
  }

 private:
  // The reading timers are set with (under the lock). Realtime is converted to monotonic with an
  // offset (realtime - monotonic) that is re-sampled only when it has moved by more than
  // `offset_tolerance_ns`: two fresh reads differ by tens of nanoseconds of jitter, which would
  // break ties and 1 ns orderings between deadlines set in separate calls. NTP slews the offset by
  // at most 500 ppm (the kernel's MAXFREQ), so a deadline fires within the tolerance of its
  // realtime, and a step is picked up at the next call.
  //
  // A thread paused between its two reads sees a bogus drift of the pause's length; adopting it
  // would move every later deadline (and break ties with earlier ones). So an apparent drift is
  // confirmed with bracketed samples (realtime read between two monotonic reads, the tightest of
  // a few) before the offset changes.
  [[nodiscard]] ClockReading scheduling_reading() noexcept {
    const std::int64_t mono = monotonic_ns();
    const std::int64_t offset = now_ns() - mono;
    const std::int64_t drift = offset - realtime_offset_ns_;
    if (!has_offset_ || drift > offset_tolerance_ns || drift < -offset_tolerance_ns) {
      const std::int64_t confirmed = bracketed_offset();
      const std::int64_t real_drift = confirmed - realtime_offset_ns_;
      if (!has_offset_ || real_drift > offset_tolerance_ns || real_drift < -offset_tolerance_ns) {
        realtime_offset_ns_ = confirmed;
        has_offset_ = true;
      }
    }
    return {mono, mono + realtime_offset_ns_};
  }

  // realtime - monotonic from the tightest of a few (monotonic, realtime, monotonic) brackets,
  // taken at the bracket's middle.
  [[nodiscard]] static std::int64_t bracketed_offset() noexcept {
    std::int64_t best_width = std::numeric_limits<std::int64_t>::max();
    std::int64_t best = 0;
    for (int attempt = 0; attempt < 5; ++attempt) {
      const std::int64_t before = monotonic_now_ns();
      const std::int64_t realtime = realtime_now_ns();
      const std::int64_t after = monotonic_now_ns();
      if (after - before < best_width) {
        best_width = after - before;
        best = realtime - (before + (after - before) / 2);
      }
    }
    return best;
  }

  // The reading ticks are fired with: the true realtime, for `ts_init`.
  [[nodiscard]] ClockReading reading() const noexcept { return {monotonic_ns(), now_ns()}; }

  void wake_runner() {
    changed_ = true;
    wakeup_.notify_all();
  }

  std::size_t fire_due(std::unique_lock<std::mutex>& lock) {
    std::size_t fired = 0;
    TimerQueue::Due due;  // one for every fire, as in TestClock
    for (;;) {
      // Room in the outbox before a tick is taken, should its timer have no callback: a
      // std::bad_alloc then leaves the tick pending.
      if (outbox_.size() == outbox_.capacity()) {
        outbox_.reserve(std::max<std::size_t>(16, outbox_.capacity() * 2));
      }
      if (!timers_.pop_due(reading(), due)) return fired;
      ++fired;
      if (!due.has_callback) {
        outbox_.push_back(std::move(due.event));  // no allocation: room was made above
        timers_.finish(due);
        continue;
      }
      // The callback runs unlocked, so it may use the timer API; its storage stays put (and its
      // slot reserved) until finish().
      const TimerCallback& callback = timers_.callback_of(due);  // taken under the lock
      lock.unlock();
      try {
        callback(due.event);
      } catch (...) {
        lock.lock();
        timers_.finish(due);
        throw;
      }
      lock.lock();
      timers_.finish(due);
    }
  }

  void run(const std::stop_token& stop) {
    std::unique_lock lock{mutex_};
    try {
      while (!stop.stop_requested()) {
        fire_due(lock);
        changed_ = false;
        const auto next = timers_.next_deadline_ns();
        const auto woken = [&] { return changed_; };
        if (!next) {
          wakeup_.wait(lock, stop, woken);
        } else {
          const std::chrono::steady_clock::time_point deadline{std::chrono::nanoseconds{*next}};
          wakeup_.wait_until(lock, stop, std::chrono::time_point_cast<std::chrono::steady_clock::duration>(deadline),
                             woken);
        }
      }
    } catch (...) {
      runner_error_ = std::current_exception();
    }
  }

  void stop_runner_quietly() noexcept {
    std::jthread runner;
    {
      std::lock_guard lock{mutex_};
      runner = std::move(runner_);
    }
    if (runner.joinable()) {
      runner.request_stop();  // wakes the wait through its stop_token
      runner.join();
    }
  }

  mutable std::mutex mutex_;
  std::condition_variable_any wakeup_;
  TimerQueue timers_;
  std::vector<TimeEvent> outbox_;
  std::exception_ptr runner_error_;
  static constexpr std::int64_t offset_tolerance_ns = 1'000'000;  // 1 ms
  std::int64_t realtime_offset_ns_ = 0;
  bool has_offset_ = false;
  bool changed_ = false;
  std::jthread runner_;
};

}  // namespace nautilus
