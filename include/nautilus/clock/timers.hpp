// nautilus-clock: timers and time alerts.
//
// `TimerQueue` is the engine shared by `TestClock` and `LiveClock`: it validates and stores timers,
// orders their ticks, applies the missed-tick policy and builds each `TimeEvent`. It never reads a
// clock: every call that needs "now" is given a `ClockReading`, so the same rules hold, to the
// nanosecond, under virtual and live time.
//
// Ordering contract. Ticks fire in order of (deadline, order the timers were set): a full tie is
// broken by which `set_timer` / `set_time_alert` call came first, never by name or by chance. Event
// ids count the events a queue has fired, from 1. The same schedule gives the same events, ids
// included, on every run and platform.
//
// Two kinds of time. Deadlines are kept on the monotonic line, so stepping the realtime clock (an
// NTP step, `TestClock::adjust_realtime`) moves no timer. A timer is set in realtime (`at`,
// `start`, `stop` are `unix_nanos`); it is converted once, when set, with the clock's reading of
// both lines, and each event's `ts_event` is the realtime the tick was set for.
#pragma once

#include <algorithm>      // std::sort, std::min
#include <array>          // std::array
#include <chrono>         // std::chrono::nanoseconds
#include <concepts>       // std::same_as
#include <cstddef>        // std::size_t
#include <cstdint>        // std::int64_t, std::uint64_t, std::uint32_t
#include <cstring>        // std::memcpy
#include <functional>     // std::function, std::invoke, std::bad_function_call
#include <limits>         // std::numeric_limits
#include <memory>         // std::unique_ptr, std::make_unique
#include <new>            // std::launder
#include <optional>       // std::optional
#include <string>         // std::string
#include <string_view>    // std::string_view
#include <type_traits>    // std::decay_t, std::is_trivially_copyable_v
#include <unordered_map>  // std::unordered_map
#include <utility>        // std::move
#include <vector>         // std::vector

#include "nautilus/clock/concepts.hpp"             // Clock
#include "nautilus/clock/detail/batch_run.hpp"     // BatchRun
#include "nautilus/clock/detail/compact_name.hpp"  // CompactName
#include "nautilus/clock/detail/lane.hpp"          // Lane
#include "nautilus/clock/detail/platform.hpp"      // NAUTILUS_CLOCK_PREFETCH
#include "nautilus/clock/detail/timing_wheel.hpp"  // TimingWheel
#include "nautilus/clock/time.hpp"                 // unix_nanos, clock_error, format_iso8601

namespace nautilus {

// What a periodic timer does with ticks that fell due while nobody was looking: a live loop that
// fell behind, a start time in the past, or `TestClock::set_time` jumping over them. With an
// interval of 10 and ticks due at 10, 20, 30, 40, 50, a loop that wakes at 43:
//
//   burst:  fires 10, 20, 30, 40 at 43 (lateness 33, 23, 13, 3), then 50, 60, ...
//   skip:   fires 40 at 43 (lateness 3, missed 3), then 50, 60, ...   (phase kept)
//   delay:  fires 40 at 43 (lateness 3, missed 3), then 53, 63, ...   (re-phased from the fire)
//
// `burst` is the default: no tick is lost, and each event carries its own `ts_event` and lateness,
// so a consumer can still drop stale ones; the other two must be asked for. A tick that is merely
// late (its successor not yet due) fires under every policy; only ticks whose successor is also
// due count as missed.
enum class MissedTicks : std::uint8_t { burst, skip, delay };

// What to do with a one-shot deadline, or a periodic timer's first tick, that is already in the
// past when it is set: fire it at the next chance (with its true `ts_event` and lateness), or throw
// `clock_error` naming both times.
enum class PastDeadline : std::uint8_t { fire_now, error };

// Options of `set_timer`. Designated initialisers read well: `{.fire_immediately = true}`.
struct TimerOptions {
  // First tick at `start` rather than `start + interval`.
  bool fire_immediately = false;
  MissedTicks missed_ticks = MissedTicks::burst;
  PastDeadline past = PastDeadline::fire_now;
};

// One firing of a timer.
struct TimeEvent {
  std::string name;
  // The n-th event fired by this clock, from 1: deterministic, not random.
  std::uint64_t id = 0;
  // The realtime the tick was set for.
  unix_nanos ts_event{};
  // The realtime when it fired. Equal to `ts_event` under `TestClock` for a tick reached by
  // `advance_time`.
  unix_nanos ts_init{};
  // Monotonic fire time minus monotonic deadline: how late the tick fired. Zero when on time.
  // (Not `ts_init - ts_event`, which also moves when the realtime clock is stepped.)
  std::chrono::nanoseconds lateness{};
  // Ticks dropped in favour of this one under `skip` or `delay`; zero under `burst`.
  std::uint64_t missed = 0;

  friend bool operator==(const TimeEvent&, const TimeEvent&) = default;
};

namespace detail {
template <class T>
inline constexpr bool is_std_function = false;
template <class R, class... Args>
inline constexpr bool is_std_function<std::function<R(Args...)>> = true;
}  // namespace detail

// A timer's callback: any copyable callable that takes `const TimeEvent&`, as a
// `std::function<void(const TimeEvent&)>` would hold (and a `std::function` itself), in 16 bytes
// instead of libstdc++'s 32. A queue of a million timers keeps a million of them. It runs with the
// clock reading the event's time (under `TestClock`) and may call any timer function of its clock,
// including cancelling or replacing its own timer.
//
// A callable of at most 8 bytes that is trivially copyable (a lambda capturing `this`, a pointer or
// a reference, a function pointer) is kept inline; a larger one, or one with a non-trivial copy
// (a captured `std::string`, a `std::shared_ptr`), is kept in a heap block of its own, counted as
// the callback's captures. Copying copies the callable; a move leaves the source empty. Calling an
// empty callback throws `std::bad_function_call`, as `std::function` does; a null function pointer
// or an empty `std::function` gives an empty callback.
class TimerCallback {
 public:
  TimerCallback() noexcept = default;
  TimerCallback(std::nullptr_t) noexcept {}  // NOLINT(google-explicit-constructor): as std::function

  template <class F>
  requires(!std::same_as<std::remove_cvref_t<F>, TimerCallback> &&
           !std::same_as<std::remove_cvref_t<F>, std::nullptr_t> &&
           std::invocable<std::decay_t<F>&, const TimeEvent&> && std::copy_constructible<std::decay_t<F>>)
      TimerCallback(F&& f) {  // NOLINT(google-explicit-constructor): a lambda converts, as to std::function
    using D = std::decay_t<F>;
    if constexpr (std::is_pointer_v<D> || std::is_member_pointer_v<D> || detail::is_std_function<D>) {
      if (f == nullptr) return;
    }
    if constexpr (stored_inline<D>) {
      ::new (static_cast<void*>(storage_)) D(std::forward<F>(f));
    } else {
      D* boxed = new D(std::forward<F>(f));
      std::memcpy(storage_, &boxed, sizeof boxed);
    }
    ops_ = &ops_for<D>;
  }

  TimerCallback(const TimerCallback& other) : ops_(other.ops_) {
    if (ops_ != nullptr && ops_->copy != nullptr) {
      ops_->copy(other.storage_, storage_);
    } else {
      std::memcpy(storage_, other.storage_, sizeof storage_);
    }
  }
  // Moves are two word copies: an inline callable is trivially copyable, and a boxed one moves by
  // its pointer.
  TimerCallback(TimerCallback&& other) noexcept : ops_(std::exchange(other.ops_, nullptr)) {
    std::memcpy(storage_, other.storage_, sizeof storage_);
  }
  TimerCallback& operator=(const TimerCallback& other) {
    if (this != &other) TimerCallback(other).swap(*this);
    return *this;
  }
  TimerCallback& operator=(TimerCallback&& other) noexcept {
    if (this != &other) {
      reset();
      ops_ = std::exchange(other.ops_, nullptr);
      std::memcpy(storage_, other.storage_, sizeof storage_);
    }
    return *this;
  }
  TimerCallback& operator=(std::nullptr_t) noexcept {
    reset();
    return *this;
  }
  ~TimerCallback() { reset(); }

  void swap(TimerCallback& other) noexcept {
    std::swap(ops_, other.ops_);
    unsigned char held[sizeof storage_];
    std::memcpy(held, storage_, sizeof storage_);
    std::memcpy(storage_, other.storage_, sizeof storage_);
    std::memcpy(other.storage_, held, sizeof storage_);
  }

  [[nodiscard]] explicit operator bool() const noexcept { return ops_ != nullptr; }
  friend bool operator==(const TimerCallback& callback, std::nullptr_t) noexcept {
    return callback.ops_ == nullptr;
  }

  // Runs the callable (as `std::function` does, a `const` callback may run a `mutable` lambda).
  void operator()(const TimeEvent& event) const {
    if (ops_ == nullptr) throw std::bad_function_call();
    ops_->invoke(storage_, event);
  }

  // Whether a callable of type `F` is kept inline (no heap block).
  template <class F>
  static constexpr bool stored_inline = sizeof(F) <= 8 && alignof(F) <= 8 && std::is_trivially_copyable_v<F>;

 private:
  // One table per callable type: a call loads the invoker from it (a line that stays in cache),
  // and copy and destroy are null for an inline callable, whose bytes are copied as they are.
  struct Ops {
    void (*invoke)(unsigned char* storage, const TimeEvent& event);
    void (*copy)(const unsigned char* from, unsigned char* to);
    void (*destroy)(unsigned char* storage) noexcept;
  };

  template <class D>
  static D* boxed(const unsigned char* storage) noexcept {
    D* object = nullptr;
    std::memcpy(&object, storage, sizeof object);
    return object;
  }

  template <class D>
  static constexpr Ops ops_for = [] {
    if constexpr (stored_inline<D>) {
      return Ops{[](unsigned char* storage, const TimeEvent& event) {
                   std::invoke(*std::launder(reinterpret_cast<D*>(storage)), event);
                 },
                 nullptr, nullptr};
    } else {
      return Ops{
          [](unsigned char* storage, const TimeEvent& event) { std::invoke(*boxed<D>(storage), event); },
          [](const unsigned char* from, unsigned char* to) {
            D* copy = new D(*boxed<D>(from));
            std::memcpy(to, &copy, sizeof copy);
          },
          [](unsigned char* storage) noexcept { delete boxed<D>(storage); }};
    }
  }();

  void reset() noexcept {
    if (ops_ != nullptr && ops_->destroy != nullptr) ops_->destroy(storage_);
    ops_ = nullptr;
  }

  const Ops* ops_ = nullptr;
  alignas(8) mutable unsigned char storage_[8] = {};
};
static_assert(sizeof(TimerCallback) == 16 || sizeof(void*) != 8);

// Identifies one timer for as long as it is pending; stale once it fires for the last time or is
// cancelled, even if its name is reused. Default-constructed: refers to nothing.
class TimerHandle {
 public:
  constexpr TimerHandle() noexcept = default;
  [[nodiscard]] constexpr bool valid() const noexcept { return seq_ != 0; }
  friend constexpr bool operator==(TimerHandle, TimerHandle) noexcept = default;

 private:
  friend class TimerQueue;
  constexpr TimerHandle(std::uint32_t slot, std::uint64_t seq) noexcept : slot_(slot), seq_(seq) {}
  std::uint32_t slot_ = 0;
  std::uint64_t seq_ = 0;
};

// One reading of both lines of a clock, taken together.
struct ClockReading {
  std::int64_t monotonic_ns = 0;
  std::int64_t realtime_ns = 0;

  // The monotonic time that goes with `realtime` on this reading's two lines: monotonic_ns +
  // (realtime - realtime_ns). False, with `out` unspecified, if either step leaves int64.
  [[nodiscard]] bool monotonic_of(std::int64_t realtime, std::int64_t& out) const noexcept {
    std::int64_t ahead = 0;
    return !detail::sub_overflows(realtime, realtime_ns, ahead) &&
           !detail::add_overflows(monotonic_ns, ahead, out);
  }
  // The inverse: the realtime that goes with `monotonic`, realtime_ns + (monotonic -
  // monotonic_ns). False, with `out` unspecified, if either step leaves int64.
  [[nodiscard]] bool realtime_of(std::int64_t monotonic, std::int64_t& out) const noexcept {
    std::int64_t ahead = 0;
    return !detail::sub_overflows(monotonic, monotonic_ns, ahead) &&
           !detail::add_overflows(realtime_ns, ahead, out);
  }
};

// The timer engine. Single-threaded: `LiveClock` wraps it in a mutex.
//
// Layout, chosen by measurement (bench/timer_bench.cpp):
// - the deadlines sit in a hierarchical timing wheel at nanosecond resolution
//   (detail/timing_wheel.hpp) of 16-byte entries (deadline, creation order): O(1) amortised per
//   set and fire, exact order, ties in creation order. It replaced a 4-ary heap whose lower levels
//   missed the cache at 10^5 to 10^6 timers;
// - beside the wheel, a lane per interval (four at a time, detail/lane.hpp): a FIFO ring of the
//   re-armed ticks of periodic timers that share an interval, which come out sorted by (deadline,
//   creation order) since they are re-armed in the order they fire. A re-arm appends to the lane
//   instead of passing down the wheel's levels again; the earliest tick is the least of the wheel's
//   top and the lanes' fronts. An append that would break a lane's order goes to the wheel.
//   Measured in the periodic model (one-minute timers): a fire took 0.53x the time at 10^3 timers,
//   0.45x at 10^4, 0.41x at 10^5. A tick re-armed into the lane it fired from rotates the ring in
//   place (`rotate_lane`), inline: a further 0.68x to 0.75x;
// - beside them, a batch run (detail/batch_run.hpp): timers set into an empty queue (nothing in the
//   wheel, the last run read) wait unsorted in an inbox, and are radix-sorted together at the first
//   read; the run's front then competes with the wheel's top and the lanes' fronts. A backtest that
//   loads a batch of alerts and advances through them then moves no entry down the wheel: in the
//   batch model an alert took 0.62x the time at 10^3 named, 0.56x at 10^5 anonymous;
// - a slab of timer records, indexed by slot, each 32 bytes: what every timer needs to be fired
//   (16 bytes: the next tick's realtime, the creation sequence, flags; the monotonic deadline is
//   the wheel entry's key) beside its 16-byte `TimerCallback`, two records to a cache line. Names
//   (16 bytes, detail/compact_name.hpp, and a 4-byte index tag) live in a side array indexed by the
//   same slot, created only once a named timer is set (`SideChunks`), touched and prefetched with
//   the record. A periodic timer names a shared rule of its interval from its record, and keeps a
//   16-byte period cell only if it has a stop (see `Cadence`). A pending anonymous alert thus
//   costs about 50 bytes, its callback included;
// - an open-addressing name index (linear probing, backward-shift deletion, 4-byte entries with 7
//   bits of the name's hash), so a name costs one probe sequence and no allocation per timer. A timer
//   retired while its callback runs keeps its entry, marked, until the callback returns, so a
//   callback that sets its own name again (a re-armed alert) takes the entry over in place. (A chained
//   index threaded through the records saved 10 bytes per named timer at 10^6 against the former
//   8-byte buckets, but its chains, unlike the tag bits here, are compared in cold records: it
//   measured 14% slower per fire at 10^5);
// - callbacks in stable storage, invoked in place: a callback may cancel or replace its own
//   timer, whose slot is recycled only after the callback returns. An anonymous alert's callback
//   instead moves into its `Due` as it fires, and its slot is recycled at once (`fire_anonymous`):
//   in the batch model at 10^3, 0.70x the time per alert with the lean set beside it.
// Costs: set O(1) amortised; cancel O(1) (the wheel entry is dropped lazily, and all stale entries
// are swept when they outnumber live ones); fire O(1) amortised; re-arming a periodic timer
// reuses its record and appends to its lane (or the wheel), whose storage is kept, so it rarely
// allocates (see detail/timing_wheel.hpp, "Memory").
class TimerQueue {
 public:
  TimerQueue() = default;
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;
  TimerQueue(TimerQueue&&) = delete;
  TimerQueue& operator=(TimerQueue&&) = delete;
  ~TimerQueue() = default;

  // A one-shot alert at realtime `at`. Throws `clock_error` for an empty or pending name, or, with
  // `PastDeadline::error`, an `at` before `now`.
  TimerHandle set_time_alert(std::string_view name, unix_nanos at, TimerCallback&& callback,
                             PastDeadline past, ClockReading now) {
    const NameLookup lookup = validate_name("set_time_alert", name);
    const std::int64_t deadline = to_monotonic("set_time_alert", name, at, now);
    if (deadline < now.monotonic_ns && past == PastDeadline::error) {
      throw clock_error("set_time_alert: alert '" + std::string(name) + "' at " + format_iso8601(at) +
                        " is before the current time " + format_iso8601(from_unix_ns(now.realtime_ns)));
    }
    return insert(name, lookup, deadline, 0, max_ns, to_unix_ns(at), MissedTicks::burst, std::move(callback),
                  now.monotonic_ns);
  }

  // An anonymous one-shot alert: no name to invent, hash or keep unique (an order's expiry, say);
  // cancel it by handle. Counted by `timer_count()`, absent from `timer_names()`; its events have
  // an empty name. Otherwise as above.
  TimerHandle set_time_alert(unix_nanos at, TimerCallback&& callback, PastDeadline past, ClockReading now) {
    const std::int64_t deadline = to_monotonic("set_time_alert", anonymous_name, at, now);
    if (deadline < now.monotonic_ns && past == PastDeadline::error) {
      throw clock_error("set_time_alert: an anonymous alert at " + format_iso8601(at) +
                        " is before the current time " + format_iso8601(from_unix_ns(now.realtime_ns)));
    }
    return insert_anonymous(deadline, to_unix_ns(at), std::move(callback), now.monotonic_ns);
  }

  // A periodic timer: ticks at `start + interval`, `start + 2 * interval`, ... (from `start` itself
  // with `fire_immediately`), the last at or before `stop` (inclusive); `start` defaults to now,
  // `stop` to never. Throws `clock_error` for an empty or pending name, an interval <= 0, `stop`
  // before `start`, no tick at or before `stop`, or, with `PastDeadline::error`, a first tick
  // before `now`.
  TimerHandle set_timer(std::string_view name, std::chrono::nanoseconds interval,
                        std::optional<unix_nanos> start, std::optional<unix_nanos> stop,
                        TimerCallback&& callback, TimerOptions options, ClockReading now) {
    const NameLookup lookup = validate_name("set_timer", name);
    if (interval <= std::chrono::nanoseconds::zero()) {
      throw clock_error("set_timer: the interval of '" + std::string(name) + "' must be positive, got " +
                        std::to_string(interval.count()) + "ns");
    }
    const unix_nanos begin = start.value_or(from_unix_ns(now.realtime_ns));
    if (stop && *stop < begin) {
      throw clock_error("set_timer: the stop " + format_iso8601(*stop) + " of '" + std::string(name) +
                        "' is before its start " + format_iso8601(begin));
    }
    const unix_nanos first = options.fire_immediately ? begin : checked_add(begin, interval);
    if (stop && first > *stop) {
      throw clock_error("set_timer: '" + std::string(name) + "' has no tick at or before its stop " +
                        format_iso8601(*stop) + " (the first would be at " + format_iso8601(first) + ")");
    }
    const std::int64_t deadline = to_monotonic("set_timer", name, first, now);
    const std::int64_t stop_ns = stop ? to_monotonic("set_timer", name, *stop, now) : max_ns;
    if (deadline < now.monotonic_ns && options.past == PastDeadline::error) {
      throw clock_error("set_timer: the first tick of '" + std::string(name) + "' at " +
                        format_iso8601(first) + " is before the current time " +
                        format_iso8601(from_unix_ns(now.realtime_ns)));
    }
    return insert(name, lookup, deadline, interval.count(), stop_ns, to_unix_ns(first), options.missed_ticks,
                  std::move(callback), now.monotonic_ns);
  }

  // The three calls above take the callback by rvalue reference: a clock passes its own on with no
  // move left over to destroy (7 instructions a set in the batch model). These take a copy.
  TimerHandle set_time_alert(std::string_view name, unix_nanos at, const TimerCallback& callback,
                             PastDeadline past, ClockReading now) {
    return set_time_alert(name, at, TimerCallback(callback), past, now);
  }
  TimerHandle set_time_alert(unix_nanos at, const TimerCallback& callback, PastDeadline past,
                             ClockReading now) {
    return set_time_alert(at, TimerCallback(callback), past, now);
  }
  TimerHandle set_timer(std::string_view name, std::chrono::nanoseconds interval,
                        std::optional<unix_nanos> start, std::optional<unix_nanos> stop,
                        const TimerCallback& callback, TimerOptions options, ClockReading now) {
    return set_timer(name, interval, start, stop, TimerCallback(callback), options, now);
  }

  // Cancels the pending timer `name`; its callback will not start again. Returns false, and does
  // nothing, if no timer of that name is pending (never set, fired for the last time, cancelled).
  bool cancel_timer(std::string_view name) {
    const std::uint32_t slot = find(name, hash_of(name));
    if (slot == no_slot) return false;
    cancel_slot(slot);
    return true;
  }

  // As above, by handle. Returns false for a stale or default handle.
  bool cancel_timer(TimerHandle handle) {
    if (!is_current(handle)) return false;
    cancel_slot(handle.slot_);
    return true;
  }

  // Cancels every pending timer; returns how many there were.
  std::size_t cancel_timers() {
    const std::size_t count = pending_;
    for (std::uint32_t slot = 0; slot < slot_count_; ++slot) {
      if (node_at(slot).seq() != 0) retire(slot);
    }
    wheel_.clear();
    batch_.clear();
    for (detail::Lane& lane : lanes_) lane = detail::Lane{};
    lanes_used_ = 0;
    top_ = nullptr;
    stale_ = 0;
    return count;
  }

  // The realtime of the next tick of `name`, or none if no such timer is pending.
  [[nodiscard]] std::optional<unix_nanos> next_time(std::string_view name) const {
    const std::uint32_t slot = find(name, hash_of(name));
    if (slot == no_slot) return std::nullopt;
    return realtime_of(node_at(slot));
  }

  // The realtime of the next tick of the timer `handle` refers to, or none if it is stale.
  [[nodiscard]] std::optional<unix_nanos> next_time(TimerHandle handle) const {
    if (!is_current(handle)) return std::nullopt;
    return realtime_of(node_at(handle.slot_));
  }

  // The earliest pending deadline on the monotonic line, or none.
  [[nodiscard]] std::optional<std::int64_t> next_deadline_ns() {
    const Entry* top = peek(max_ns);
    if (top == nullptr) return std::nullopt;
    return top->deadline;
  }

  // The names of the pending timers, sorted (so the answer does not depend on hashing).
  [[nodiscard]] std::vector<std::string> timer_names() const {
    std::vector<std::string> out;
    for (std::uint32_t slot = 0; slot < slot_count_; ++slot) {
      if (node_at(slot).seq() != 0 && node_at(slot).named()) out.emplace_back(name_at(slot).view());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // Pending timers, anonymous ones included.
  [[nodiscard]] std::size_t timer_count() const noexcept { return pending_; }
  [[nodiscard]] bool has_timer(std::string_view name) const { return find(name, hash_of(name)) != no_slot; }
  // Events fired so far; the next event's id is this plus one.
  [[nodiscard]] std::uint64_t events_fired() const noexcept { return events_fired_; }

 private:
  struct Record;  // a timer's node and callback (below)

 public:
  // A tick taken off the queue, ready to be delivered with `invoke`.
  struct Due {
    TimeEvent event;
    std::uint32_t slot = 0;
    bool has_callback = false;

    Due() = default;
    // A copy or a move refers to its own `held` callback where the source referred to the source's
    // (`callback_like`).
    Due(const Due& other)
        : event(other.event),
          slot(other.slot),
          has_callback(other.has_callback),
          record(other.record),
          held(other.held),
          callback(callback_like(other)) {}
    Due(Due&& other) noexcept
        : event(std::move(other.event)),
          slot(other.slot),
          has_callback(other.has_callback),
          record(other.record),
          held(std::move(other.held)),
          callback(callback_like(other)) {}
    Due& operator=(const Due& other) {
      if (this != &other) *this = Due(other);
      return *this;
    }
    Due& operator=(Due&& other) noexcept {
      if (this != &other) {
        event = std::move(other.event);
        slot = other.slot;
        has_callback = other.has_callback;
        record = other.record;
        held = std::move(other.held);
        callback = callback_like(other);
      }
      return *this;
    }
    ~Due() = default;

   private:
    friend class TimerQueue;
    // The slot's record (its node and callback), found once by `pop_due` for `finish`: records
    // never move. Null for an anonymous alert.
    Record* record = nullptr;
    // An anonymous alert's callback, moved out of its record: the slot is recycled as it fires
    // (see `fire_anonymous`). Empty otherwise, and again after `finish`.
    TimerCallback held;
    // The callback to run: the record's, or `held`. One load for `invoke`, whichever it is.
    const TimerCallback* callback = &held;

    // What `callback` is in a copy of `other`: this Due's `held` where `other` ran its own.
    [[nodiscard]] const TimerCallback* callback_like(const Due& other) const noexcept {
      return other.callback == &other.held ? &held : other.callback;
    }
  };

  // Takes the earliest tick due at or before `now.monotonic_ns`, applies its timer's missed-tick
  // policy, re-arms or retires the timer and returns the event; none if nothing is due. The timer's
  // name is free again at once; its callback stays valid until `finish(due)`, which every `Due`
  // must be given.
  std::optional<Due> pop_due(ClockReading now) {
    std::optional<Due> out{std::in_place};  // the only object returned: built in the caller's storage
    if (!pop_due(now, *out)) out.reset();
    return out;
  }

  // As above, into `out`, whose every field it sets; false, with `out` untouched, if nothing is due.
  // A loop that reuses one `Due` (TestClock's) neither builds nor destroys an event per fire, and
  // its name's storage is reused.
  bool pop_due(ClockReading now, Due& out) {
    // A queue of anonymous alerts only (no name in the index: every pending timer is a one-shot
    // with no name), inline; any other in `pop_timer`.
    if (named_ != 0) return pop_timer(now, out);
    const Entry* top = peek(now.monotonic_ns);
    if (top == nullptr) return false;
    fire_anonymous(*top, now, out);
    return true;
  }

 private:
  // `pop_due` for a queue that holds named timers (its anonymous alerts included): out of line.
  [[gnu::noinline]] bool pop_timer(ClockReading now, Due& out) {
    std::uint32_t slot = 0;
    std::uint64_t order = 0;
    std::int64_t fire_at = 0;  // the tick's monotonic deadline
    for (;;) {
      const Entry* top = peek(now.monotonic_ns);
      if (top == nullptr) return false;
      order = top->order;
      fire_at = top->deadline;
      slot = slot_of(*top);
      Node& node = node_at(slot);
      if (!node.periodic()) break;
      if (node.policy() == MissedTicks::burst) break;
      const Cadence cadence = cadence_of(slot, node);
      // skip / delay: ticks due are deadline, deadline + i, ... up to min(now, stop) (the range
      // fits int64 by construction). All but the latest are dropped; the latest is re-queued at
      // its own deadline, so that the event stream stays sorted by ts_event.
      const std::int64_t last_due = std::min(now.monotonic_ns, cadence.stop);
      const std::int64_t behind = (last_due - fire_at) / cadence.interval;
      if (behind == 0) break;
      std::uint64_t& missed = missed_cell(slot);  // first, with the requeue: they may throw
      requeue(Entry{fire_at + behind * cadence.interval, order}, cadence.interval, fire_at);
      node.realtime += behind * cadence.interval;  // the three lines move together
      if (missed == 0) ++missed_live_;
      missed += static_cast<std::uint64_t>(behind);
    }
    // The slot's record and rule, found once: neither moves during the call (chunks), and the
    // compiler could not tell that the event's stores leave the chunk tables alone.
    Record& rec = record(slot);
    Node& node = rec.node;
    if (pending_ > prefetch_floor) prefetch_after_top();
    const bool periodic = node.periodic();
    if (node.named() && !periodic) {
      // A named alert leaves the index below (`retire` finds its bucket from its tag, which the
      // previous fire prefetched): start fetching that bucket now, while the event is built.
      if (wide_) {
        NAUTILUS_CLOCK_PREFETCH(&index_[home_in(index_, tag_in<Wide>(slot))]);
      } else {
        NAUTILUS_CLOCK_PREFETCH(&narrow_index_[home_in(narrow_index_, tag_in<Narrow>(slot))]);
      }
    }
    std::uint64_t missed = 0;
    std::int64_t next = max_ns;
    Cadence cadence{};
    if (periodic) {
      cadence = cadence_of(slot, node);
      missed = missed_of(slot);  // reset below
      const std::int64_t from =
          node.policy() == MissedTicks::delay && missed != 0 ? now.monotonic_ns : fire_at;
      next = from > max_ns - cadence.interval ? max_ns : from + cadence.interval;
      if (next > cadence.stop) next = max_ns;
    }
    // What may throw comes first: the event's name (a long one allocates), room to count the
    // delivery, and the wheel's move (a re-arm may allocate). A std::bad_alloc from any of them
    // leaves the tick pending, as if not taken.
    TimeEvent& event = out.event;
    if (node.named()) {
      // On the last tick, `retire` below frees the name. Copied by hand: `assign` handles an
      // overlapping source, out of line.
      copy_name(name_at(slot).view(), event.name);
    } else {
      event.name.clear();
    }
    if (node.deliveries() == Node::max_deliveries) overflowing_.reserve(overflowing_.size() + 1);
    if (next != max_ns) {
      if (!rotate_lane(Entry{next, order}, cadence.interval)) {
        requeue(Entry{next, order}, cadence.interval, fire_at);
      }
    } else {
      pop_top();
    }
    event.id = ++events_fired_;
    event.ts_event = from_unix_ns(node.realtime);
    event.ts_init = from_unix_ns(now.realtime_ns);
    event.lateness = std::chrono::nanoseconds{now.monotonic_ns - fire_at};
    event.missed = missed;
    out.slot = slot;
    out.has_callback = static_cast<bool>(rec.callback);
    out.record = &rec;
    out.callback = &rec.callback;
    // Counted before a retire below, which must then leave the callback in place.
    if (node.deliveries() < Node::max_deliveries) {
      node.state += Node::delivery_unit;
    } else {
      overflowing_.push_back(slot);  // room was made above
    }
    if (missed != 0) reset_missed(slot);
    if (next != max_ns) {
      const std::int64_t realtime_offset = node.realtime - fire_at;
      node.realtime = next + realtime_offset;  // the realtime the next tick is set for
    } else {
      retire(slot);
    }
    return true;
  }

 public:
  // Runs the callback of `due`'s timer with its event. The callback may use this queue freely;
  // its own storage stays put until `finish`.
  void invoke(const Due& due) { callback_of(due)(due.event); }

  // The callback of `due`'s timer. The reference stays valid until `finish(due)`, even while other
  // timers are set (for a caller that runs it after releasing a lock).
  [[nodiscard]] const TimerCallback& callback_of(const Due& due) const noexcept { return *due.callback; }

  // Ends the delivery of `due`: recycles its timer's slot if the timer is gone (an anonymous
  // alert's was recycled as it fired: its callback, held by `due`, is released). Call it after
  // `invoke` (also when the callback threw) or instead of it.
  // Inline for an anonymous alert (left to the compiler, the benchmark's `TestClock` loop called
  // it: 19 instructions a fire) and for a timer still pending after its delivery (a periodic
  // timer, re-armed: one delivery less); any other in `finish_named`. Measured run alternately:
  // periodic/1000 0.96x the time, a named alert's batch/1000 1.02x (9 more instructions a fire).
  [[gnu::always_inline]] void finish(Due& due) noexcept {
    if (due.record == nullptr) {  // an anonymous alert, or never filled by `pop_due`
      due.held = nullptr;
      return;
    }
    Node& node = due.record->node;
    if (node.seq() != 0 && node.deliveries() != 0 && overflowing_.empty()) [[likely]] {
      node.state -= Node::delivery_unit;  // as `finish_named` would, which then finds it pending
      return;
    }
    finish_named(due);
  }

 private:
  [[gnu::noinline]] void finish_named(Due& due) noexcept {
    Node& node = due.record->node;
    const auto it = overflowing_.empty() ? overflowing_.end()  // nearly always
                                         : std::find(overflowing_.begin(), overflowing_.end(), due.slot);
    if (it != overflowing_.end()) {
      *it = overflowing_.back();
      overflowing_.pop_back();
    } else if (node.deliveries() != 0) {
      node.state -= Node::delivery_unit;
    } else {
      return;  // not being delivered (a `Due` finished twice): nothing to do
    }
    if (node.seq() == 0 && !node.recycled() && !delivering(due.slot)) {
      if (node.zombie()) forget_name(due.slot);  // its name was not set again during the delivery
      recycle(due.slot);
    }
  }

 public:
  // Approximate bytes held per pending timer: the engine's storage, the callback objects included,
  // excluding what callbacks capture on the heap.
  [[nodiscard]] std::size_t bytes_per_timer() const noexcept {
    if (pending_ == 0) return 0;
    const std::size_t bytes =
        chunks_.size() * (std::size_t{1} << chunk_bits) * sizeof(Record) + wheel_.bytes() + batch_.bytes() +
        lane_bytes() + names_.bytes() + name_heap_bytes_ + periods_.bytes() + missed_.bytes() +
        rules_.capacity() * sizeof(Rule) + rule_ids_.bucket_count() * sizeof(void*) +
        rule_ids_.size() * rule_node_bytes + free_.bytes() + index_.capacity() * sizeof(Wide) +
        narrow_index_.capacity() * sizeof(Narrow) + narrow_tags_.bytes() + wide_tags_.bytes();
    return bytes / pending_;
  }

 private:
  static constexpr std::int64_t max_ns = std::numeric_limits<std::int64_t>::max();
  // Below this many pending timers, their records stay in cache: fires look ahead for nothing.
  static constexpr std::size_t prefetch_floor = 4096;
  // How far ahead in the batch run a fire prefetches a record.
  static constexpr std::size_t run_prefetch_distance = 8;
  // Where `peek` found the earliest entry, besides a lane's index (`top_lane_`).
  static constexpr int from_wheel = -1;
  static constexpr int from_run = -2;
  static constexpr std::uint32_t no_slot = std::numeric_limits<std::uint32_t>::max();
  static constexpr std::string_view anonymous_name = "(anonymous)";
  // An entry packs (creation sequence, slot) into one word: 40 bits of sequence (10^12 timers set
  // per queue) and 24 bits of slot (16'777'215 timers pending at once).
  static constexpr unsigned slot_bits = 24;
  static constexpr std::uint64_t slot_mask = (std::uint64_t{1} << slot_bits) - 1;
  static constexpr std::uint64_t max_seq = (std::uint64_t{1} << (64 - slot_bits)) - 1;

  // (deadline, order): order = seq << slot_bits | slot, so it compares as the creation sequence.
  using Entry = detail::WheelEntry;
  static_assert(sizeof(Entry) == 16);

  // What every timer needs to be ordered and fired, in 16 bytes. The next tick's monotonic
  // deadline is not here: it is the key of the timer's wheel entry, which every fire holds (the
  // realtime moves with it, by the same amount).
  struct Node {
    // Its interval and stop are cadence_of(slot).
    static constexpr std::uint64_t periodic_flag = 1;
    // Its name is name_at(slot), its tag tag_at(slot).
    static constexpr std::uint64_t named_flag = 2;
    // On the free list: not pending, callback released.
    static constexpr std::uint64_t recycled_flag = 4;
    // Retired while delivered: its name stays in the index until `finish`.
    static constexpr std::uint64_t zombie_flag = 8;
    // Bits 4 to 7 count its deliveries in progress (between `pop_due` and `finish`): its callback
    // and slot stay put while any runs. Past 15 (as many threads polling one LiveClock, all
    // delivering the same timer), the rest are listed in `overflowing_`.
    static constexpr unsigned delivery_shift = 4;
    static constexpr std::uint64_t delivery_unit = std::uint64_t{1} << delivery_shift;
    static constexpr std::uint64_t max_deliveries = 15;
    // Bits 8 and 9: a periodic timer's MissedTicks policy.
    static constexpr unsigned policy_shift = 8;
    // Bits 10 to 23: a periodic timer's interval rule (`rules_`), or 0 if its interval and stop are
    // in its period cell (see `Cadence`).
    static constexpr unsigned rule_shift = 10;
    static constexpr unsigned rule_width = 14;
    static constexpr std::uint64_t rule_field = ((std::uint64_t{1} << rule_width) - 1) << rule_shift;
    // Bits 24 to 63: the creation sequence.
    static constexpr unsigned seq_shift = rule_shift + rule_width;
    static_assert(seq_shift == 24 && max_seq < std::uint64_t{1} << (64 - seq_shift));

    // The next tick's ts_event, realtime ns.
    std::int64_t realtime = 0;
    // The creation sequence << seq_shift | the rule << rule_shift | the flags; the sequence is 0
    // when not pending.
    std::uint64_t state = recycled_flag;

    [[nodiscard]] std::uint64_t seq() const noexcept { return state >> seq_shift; }
    [[nodiscard]] std::uint32_t rule() const noexcept {
      return static_cast<std::uint32_t>((state & rule_field) >> rule_shift);
    }
    [[nodiscard]] bool periodic() const noexcept { return (state & periodic_flag) != 0; }
    [[nodiscard]] bool named() const noexcept { return (state & named_flag) != 0; }
    [[nodiscard]] bool recycled() const noexcept { return (state & recycled_flag) != 0; }
    [[nodiscard]] bool zombie() const noexcept { return (state & zombie_flag) != 0; }
    [[nodiscard]] std::uint64_t deliveries() const noexcept {
      return (state >> delivery_shift) & max_deliveries;
    }
    [[nodiscard]] MissedTicks policy() const noexcept {
      return static_cast<MissedTicks>((state >> policy_shift) & 3U);
    }
    static std::uint64_t policy_bits(MissedTicks policy) noexcept {
      return std::uint64_t{static_cast<std::uint8_t>(policy)} << policy_shift;
    }
    void set(std::uint64_t bit, bool on) noexcept { state = on ? (state | bit) : (state & ~bit); }
    // Not pending any more: the sequence and rule are cleared (stale handles and wheel entries), the
    // flags kept.
    void clear_seq() noexcept { state &= (std::uint64_t{1} << rule_shift) - 1; }
  };
  static_assert(sizeof(Node) == 16);

  // A periodic timer's rules: its interval and its stop (the last allowed tick, monotonic ns).
  //
  // Timers share intervals (a trading engine's bars, heartbeats and checks use a handful), and most
  // have no stop. So a timer with no stop names its interval by a rule number in its node (`rules_`,
  // counted references, found by interval in `rule_ids_` when the timer is set): it needs no bytes
  // of its own, and a fire reads the interval from a table that stays in cache. A timer with a stop,
  // or set while 16,383 distinct intervals are in use, has rule 0 and keeps both in its period
  // cell (`period_at`), in chunks that exist from the first such timer on. Ticks dropped under skip
  // and delay are counted per timer until its next event reports them (`missed_of`), in chunks that
  // exist from the first dropped tick on. Measured at 10^5 one-minute timers: 101.5 -> 77.3 bytes per timer
  // (the 24-byte {interval, stop, missed} cell of every periodic timer before).
  struct Cadence {
    std::int64_t interval = 0;
    std::int64_t stop = max_ns;
  };
  static_assert(sizeof(Cadence) == 16);
  struct Rule {
    std::int64_t interval = 0;
    std::uint32_t refs = 0;       // pending timers of this rule; 0: free
    std::uint32_t next_free = 0;  // while free: the next free rule, 0 for none
  };
  static constexpr std::uint32_t max_rule = (std::uint32_t{1} << Node::rule_width) - 1;

  // The name index's buckets. A bucket holds slot + 1 in its low bits (0: an empty bucket), a zombie
  // mark (see `retire`), and in its high bits a filter: the low bits of the name's tag, which a
  // lookup compares before it reads a name. The entry's home bucket comes from the tag's high bits
  // (`home_in`), read from the slot's tag only to move entries (an erase's backward shift, a growth) and to
  // find a fired timer's bucket (`tag_in`). Two formats:
  //   - narrow, 2 bytes: 12 bits of slot and a 3-bit filter (1 in 8 other names pass it), while every
  //     named timer's slot is below 4,095; such a queue's index has at most 16,384 buckets, and the
  //     tags keep only their high 16 bits, all that `home_in` reads at those sizes;
  //   - wide, 4 bytes: 24 bits of slot and a 7-bit filter (1 in 128).
  // A queue starts narrow and widens once, as it names a slot of 4,095 or more (`widen_index`).
  // At 10^3 named timers the index is kept a quarter full (see `index_full`), and the narrow
  // format holds 8 bytes per name there, not 16 (and 2 bytes of tag, not 4), in the same time:
  // batch/1000 named 68.3 ns either way, run alternately. Against 8-byte entries holding the whole tag,
  // the wide format, measured interleaved at 10^5 timers: 0.85x the time per named fire, 0.83x per
  // cancel by name, and 8 bytes less per named timer at 10^6.
  template <class Bits>
  struct Buckets {
    static constexpr unsigned slot_width = sizeof(Bits) == 2 ? 12 : slot_bits;
    static constexpr unsigned filter_width = sizeof(Bits) == 2 ? 3 : 7;
    static constexpr unsigned filter_shift = slot_width + 1;
    static_assert(filter_shift + filter_width == 8 * sizeof(Bits));
    static constexpr std::uint32_t slot_field = (std::uint32_t{1} << slot_width) - 1;
    static constexpr std::uint32_t zombie_bit = std::uint32_t{1} << slot_width;
    static constexpr std::uint32_t filter_field = ((std::uint32_t{1} << filter_width) - 1) << filter_shift;
    // A bucket's filter bits: the tag's low bits, where `home_in` reads its high ones.
    static std::uint32_t filter_of(std::uint32_t tag) noexcept {
      return (tag << filter_shift) & filter_field;
    }
    static Bits entry(std::uint32_t tag, std::uint32_t slot) noexcept {
      return static_cast<Bits>(filter_of(tag) | (slot + 1));
    }
    // The slot a non-empty bucket refers to, zombie or not.
    static std::uint32_t slot_of(Bits bucket) noexcept { return (bucket & slot_field) - 1; }
  };
  using Narrow = std::uint16_t;
  using Wide = std::uint32_t;
  static_assert(slot_bits == 24);
  // Named slots below this fit a narrow bucket.
  static constexpr std::uint32_t narrow_slots = Buckets<Narrow>::slot_field;

  static std::size_t hash_of(std::string_view name) noexcept { return detail::name_hash(name); }
  // The low 32 bits of the hash: they also give an entry's home bucket (`home_in`), so moving
  // entries never re-hashes a name.
  static std::uint32_t tag_of(std::size_t hash) noexcept { return static_cast<std::uint32_t>(hash); }
  static std::uint32_t slot_of(const Entry& e) noexcept { return static_cast<std::uint32_t>(e.order & slot_mask); }
  static std::uint64_t seq_of(const Entry& e) noexcept { return e.order >> slot_bits; }


  [[nodiscard]] bool is_current(TimerHandle h) const noexcept {
    return h.seq_ != 0 && h.slot_ < slot_count_ && node_at(h.slot_).seq() == h.seq_;
  }

  // ---- the name index ----

  // A name's index entry, if any: a pending timer's slot, or the bucket of a retired timer whose
  // delivery is still in progress (a zombie, see `retire`).
  struct NameLookup {
    std::size_t hash = 0;
    std::uint32_t slot = no_slot;
    std::size_t zombie_bucket = no_bucket;
    // Where the search met an empty bucket (no such name): where linear probing inserts it.
    std::size_t free_bucket = no_bucket;
  };
  static constexpr std::size_t no_bucket = std::numeric_limits<std::size_t>::max();

  [[nodiscard]] NameLookup lookup(std::string_view name, std::size_t hash) const {
    return wide_ ? lookup_in(index_, name, hash) : lookup_in(narrow_index_, name, hash);
  }
  template <class Bits>
  [[nodiscard]] NameLookup lookup_in(const std::vector<Bits>& index, std::string_view name,
                                     std::size_t hash) const {
    using B = Buckets<Bits>;
    NameLookup out{hash};
    if (index.empty()) return out;
    const std::uint32_t filter = B::filter_of(tag_of(hash));
    for (std::size_t i = home_in(index, tag_of(hash));; i = next_in(index, i)) {
      const std::uint32_t bucket = index[i];
      if (bucket == 0) {
        out.free_bucket = i;
        return out;
      }
      const std::uint32_t slot = B::slot_of(static_cast<Bits>(bucket));
      if ((bucket & B::filter_field) == filter && name_at(slot).equals(name)) {
        // Names in the index are unique, zombies included: the search ends here either way.
        if ((bucket & B::zombie_bit) != 0) {
          out.zombie_bucket = i;
        } else {
          out.slot = slot;
        }
        return out;
      }
    }
  }

  [[nodiscard]] std::uint32_t find(std::string_view name, std::size_t hash) const { return lookup(name, hash).slot; }

  // `free_bucket`: the empty bucket a lookup of the name ended at, if the index has not changed
  // since (the probe is not repeated), or `no_bucket`.
  void index_insert(std::uint32_t tag, std::uint32_t slot, std::size_t free_bucket = no_bucket) {
    if (wide_) {
      insert_in(index_, tag, slot, free_bucket);
    } else {
      insert_in(narrow_index_, tag, slot, free_bucket);
    }
  }
  template <class Bits>
  void insert_in(std::vector<Bits>& index, std::uint32_t tag, std::uint32_t slot, std::size_t free_bucket) {
    std::size_t i = free_bucket;
    if (i == no_bucket) {
      if (index_full()) grow_in(index);
      i = home_in(index, tag);
      while (index[i] != 0) i = next_in(index, i);
    }
    index[i] = Buckets<Bits>::entry(tag, slot);
    ++named_;
  }

  [[nodiscard]] std::size_t index_size() const noexcept {
    return wide_ ? index_.size() : narrow_index_.size();
  }

  // Whether one more name needs a larger index: past a quarter full while the index is small (64 KiB
  // at most, where the spare buckets cost little and shorter probe runs mean fewer mispredicted
  // branches), past five eighths full beyond.
  //
  // Sizes. Small, the index doubles from 2 KiB (1,024 narrow buckets or 512 wide ones: as
  // `grown_capacity`, no smaller blocks are left behind in the allocator's cache as it grows, where
  // `mallinfo2` counts them in use); from `small_index` on it grows by half, so it
  // holds 6.4 to 9.6 bytes per name, where doubling at half full held 8 to 16 (10.5 at 10^5 names,
  // which fall just past a power of two's half). Any size works: a tag's home is its high bits
  // scaled to the size (a multiply and a shift, as cheap as a mask), and a probe wraps by compare.
  // A narrow index (below 4,095 names) is at most `small_index` buckets, a power of two.
  [[nodiscard]] bool index_full() const noexcept {
    const std::size_t size = index_size();
    if (size < small_index) return (named_ + 1) * 4 > size;
    return (named_ + 1) * 8 > size * 5;
  }
  static constexpr std::size_t small_index = std::size_t{1} << 14;
  static_assert(std::size_t{narrow_slots} * 4 <= small_index, "a narrow index stays a power of two");
  [[nodiscard]] std::size_t next_index_size() const noexcept {
    const std::size_t size = index_size();
    if (size == 0) return wide_ ? 512 : 1024;
    return size < small_index ? size * 2 : size / 2 * 3;
  }
  // A tag's home bucket in `index`: its high bits, scaled to the index's size. (At a narrow index's
  // sizes, powers of two up to 2^14, that is its top bits alone: the 16 that a narrow queue keeps.)
  // The index functions are templates on the format, so that their loops never ask which it is.
  template <class Bits>
  [[nodiscard]] static std::size_t home_in(const std::vector<Bits>& index, std::uint32_t tag) noexcept {
    return static_cast<std::size_t>((std::uint64_t{tag} * index.size()) >> 32);
  }
  template <class Bits>
  [[nodiscard]] static std::size_t next_in(const std::vector<Bits>& index, std::size_t i) noexcept {
    return i + 1 == index.size() ? 0 : i + 1;
  }
  template <class Bits>
  [[nodiscard]] std::uint32_t tag_in(std::uint32_t slot) const noexcept {
    if constexpr (std::is_same_v<Bits, Wide>) {
      return wide_tags_.of(slot).tags[within_chunk(slot)];
    } else {
      return std::uint32_t{narrow_tags_.of(slot).high[within_chunk(slot)]} << 16;
    }
  }
  // The slot bucket `i` (not empty) refers to, and whether it is a zombie.
  [[nodiscard]] std::uint32_t slot_in(std::size_t i) const noexcept {
    return wide_ ? Buckets<Wide>::slot_of(index_[i]) : Buckets<Narrow>::slot_of(narrow_index_[i]);
  }
  [[nodiscard]] bool zombie_in(std::size_t i) const noexcept {
    return wide_ ? (index_[i] & Buckets<Wide>::zombie_bit) != 0
                 : (narrow_index_[i] & Buckets<Narrow>::zombie_bit) != 0;
  }
  void mark_zombie(std::size_t i) noexcept {
    if (wide_) {
      index_[i] |= Buckets<Wide>::zombie_bit;
    } else {
      narrow_index_[i] = static_cast<Narrow>(narrow_index_[i] | Buckets<Narrow>::zombie_bit);
    }
  }
  // Bucket `i`, a zombie, refers to `slot` from now on, not a zombie any more: the name is the same,
  // and so is its filter.
  void take_over(std::size_t i, std::uint32_t slot) noexcept {
    if (wide_) {
      index_[i] = (index_[i] & Buckets<Wide>::filter_field) | (slot + 1);
    } else {
      narrow_index_[i] = static_cast<Narrow>((narrow_index_[i] & Buckets<Narrow>::filter_field) | (slot + 1));
    }
  }

  // The bucket that refers to `slot` (which must be indexed).
  [[nodiscard]] std::size_t bucket_of(std::uint32_t slot) const noexcept {
    return wide_ ? bucket_in(index_, slot) : bucket_in(narrow_index_, slot);
  }
  template <class Bits>
  [[nodiscard]] std::size_t bucket_in(const std::vector<Bits>& index, std::uint32_t slot) const noexcept {
    using B = Buckets<Bits>;
    // The bucket a zombie was last marked in, most likely still the one (unless the index changed
    // while its callback ran): an alert's fire finds its bucket once, not twice.
    if (zombie_bucket_ < index.size() && B::slot_of(index[zombie_bucket_]) == slot) return zombie_bucket_;
    std::size_t i = home_in(index, tag_in<Bits>(slot));
    while (B::slot_of(index[i]) != slot) i = next_in(index, i);
    return i;
  }

  void index_erase(std::uint32_t slot) {
    if (wide_) {
      erase_in(index_, slot);
    } else {
      erase_in(narrow_index_, slot);
    }
  }
  template <class Bits>
  void erase_in(std::vector<Bits>& index, std::uint32_t slot) {
    using B = Buckets<Bits>;
    std::size_t i = bucket_in(index, slot);
    // Backward-shift deletion: move later members of the probe run into the hole, so lookups
    // never need tombstones.
    for (std::size_t j = next_in(index, i);; j = next_in(index, j)) {
      if (index[j] == 0) break;
      const std::size_t home = home_in(index, tag_in<Bits>(B::slot_of(index[j])));
      // Move j into the hole i unless j's home lies cyclically in (i, j].
      const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (!stays) {
        index[i] = index[j];
        i = j;
      }
    }
    index[i] = 0;
    --named_;
  }

  void grow_index() {
    if (wide_) {
      grow_in(index_);
    } else {
      grow_in(narrow_index_);
    }
  }
  template <class Bits>
  void grow_in(std::vector<Bits>& index) {
    std::vector<Bits> old(next_index_size());
    old.swap(index);  // index_size() is the new size from here on
    for (const Bits bucket : old) {
      if (bucket == 0) continue;
      std::size_t i = home_in(index, tag_in<Bits>(Buckets<Bits>::slot_of(bucket)));
      while (index[i] != 0) i = next_in(index, i);
      index[i] = bucket;
    }
  }

  // Makes the index wide, before a named timer takes slot `narrow_slots` or above. The buckets keep
  // their places (a narrow index's size is a power of two, where a tag's home is its top bits
  // either way); each named slot's tag gets its low 16 bits back from its name's hash, and its
  // bucket the wide filter. On std::bad_alloc the index is still narrow and unchanged.
  [[gnu::noinline]] void widen_index() {
    std::vector<Wide> wide(narrow_index_.size());
    if (names_.count() != 0)
      wide_tags_.ensure(static_cast<std::uint32_t>((names_.count() << chunk_bits) - 1));
    for (std::size_t i = 0; i < narrow_index_.size(); ++i) {
      const Narrow bucket = narrow_index_[i];
      if (bucket == 0) continue;
      const std::uint32_t slot = Buckets<Narrow>::slot_of(bucket);
      const std::uint32_t tag = tag_of(hash_of(name_at(slot).view()));
      wide_tags_.of(slot).tags[within_chunk(slot)] = tag;  // a narrow queue reads none of these
      wide[i] = Buckets<Wide>::entry(tag, slot) |
                ((bucket & Buckets<Narrow>::zombie_bit) != 0 ? Buckets<Wide>::zombie_bit : 0);
    }
    index_ = std::move(wide);
    std::vector<Narrow>().swap(narrow_index_);  // its storage too
    narrow_tags_.release();
    wide_ = true;
  }

  // ---- validation and conversion ----

  // Returns the name's lookup for the insert that follows.
  [[nodiscard]] NameLookup validate_name(const char* operation, std::string_view name) const {
    if (name.empty()) throw clock_error(std::string(operation) + ": the timer name is empty");
    if (zombie_bucket_ < index_size() && zombie_in(zombie_bucket_)) {
      // The name of the alert being delivered, set again from its own callback (a heartbeat, an
      // expiry pushed back): the lookup's answer is that zombie's bucket, with no hash or probe.
      // The retired timer's tag is the name's (its high bits, in a narrow queue: all it keeps).
      const std::uint32_t retired = slot_in(zombie_bucket_);
      if (name_at(retired).equals(name)) {
        NameLookup found{tag_at(retired)};
        found.zombie_bucket = zombie_bucket_;
        return found;
      }
    }
    const NameLookup found = lookup(name, hash_of(name));
    if (const std::uint32_t slot = found.slot; slot != no_slot) {
      throw clock_error(std::string(operation) + ": a timer named '" + std::string(name) +
                        "' is already pending (next at " + format_iso8601(realtime_of(node_at(slot))) +
                        "); cancel it first or pick another name");
    }
    return found;
  }

  static std::int64_t to_monotonic(const char* operation, std::string_view name, unix_nanos t,
                                   ClockReading now) {
    std::int64_t deadline = 0;
    if (!now.monotonic_of(to_unix_ns(t), deadline)) [[unlikely]] {
      throw_too_far(operation, name, t);
    }
    return deadline;
  }

  // Out of line, so that `to_monotonic` is inlined into every set.
  [[noreturn, gnu::noinline]] static void throw_too_far(const char* operation, std::string_view name,
                                                        unix_nanos t) {
    throw clock_error(std::string(operation) + ": '" + std::string(name) + "' at " + format_iso8601(t) +
                      " is too far from the current time to schedule");
  }

  // ---- slots ----

  static unix_nanos realtime_of(const Node& node) noexcept { return from_unix_ns(node.realtime); }

  // A named timer (its name is never empty: `validate_name`). `now`: the monotonic time it is set at.
  TimerHandle insert(std::string_view name, NameLookup lookup, std::int64_t deadline, std::int64_t interval,
                     std::int64_t stop, std::int64_t realtime, MissedTicks policy, TimerCallback&& callback,
                     std::int64_t now) {
    check_sequence();
    detail::CompactName stored;
    stored.assign(name);  // may throw: before anything has changed
    // What may allocate comes before any change, so that a std::bad_alloc leaves the queue as it was.
    const bool listed = !free_.empty() || spilled_ != no_slot;
    const bool fresh = !listed && unused_ == slot_count_;
    if (fresh && slot_count_ >= slot_mask) throw_too_many_pending();
    const std::uint32_t slot = !listed ? unused_ : !free_.empty() ? free_.back() : spilled_;
    ensure_records(slot);
    if (!wide_ && slot >= narrow_slots) [[unlikely]] {
      widen_index();
      // A lookup that found a zombie took the tag a narrow queue keeps, its high bits: the whole
      // one from here on.
      lookup.hash = hash_of(name);
    }
    if (wide_) {  // its tag's chunk, then its name's
      wide_tags_.ensure(slot);
    } else {
      narrow_tags_.ensure(slot);
    }
    names_.ensure(slot);
    if (lookup.zombie_bucket == no_bucket && index_full()) {
      grow_index();
      lookup.free_bucket = no_bucket;  // the buckets moved
    }
    // A periodic timer's rule, the last step that may throw but one: a timer with a stop, or one
    // whose interval finds no rule free, needs its period cell instead (and has no rule to give back).
    const bool periodic = interval != 0;
    const std::uint32_t rule = periodic && stop == max_ns ? acquire_rule(interval) : 0;
    if (periodic && rule == 0) {
      periods_.ensure(slot);
    }
    if (listed) {
      take_free();
    } else {
      slot_count_ += fresh ? 1 : 0;
      ++unused_;
    }
    ++taken_;
    if (periodic && rule == 0) period_at(slot) = Cadence{interval, stop};
    Node& node = node_at(slot);
    detail::CompactName& cell = name_at(slot);
    cell = std::move(stored);
    set_tag(slot, tag_of(lookup.hash));
    name_heap_bytes_ += cell.heap_bytes();
    const std::uint64_t seq = next_seq_++;
    node = Node{.realtime = realtime,
                .state = seq << Node::seq_shift | std::uint64_t{rule} << Node::rule_shift |
                         Node::policy_bits(policy) | (periodic ? Node::periodic_flag : 0) | Node::named_flag};
    // The slot's callback is empty (recycled, or never set): constructed over, not swapped or
    // assigned, which would read the record (cold at 10^6 timers set in a batch) before writing it.
    ::new (static_cast<void*>(&callback_slot(slot))) TimerCallback(std::move(callback));
    if (lookup.zombie_bucket != no_bucket) {
      // The name's retired timer is still being delivered (typically its callback is setting the
      // name again): the new timer takes over its index entry, with no probe or shift.
      const std::uint32_t retired = slot_in(lookup.zombie_bucket);
      take_over(lookup.zombie_bucket, slot);
      drop_name(retired);
      zombie_bucket_ = no_bucket;
    } else {
      index_insert(tag_of(lookup.hash), slot, lookup.free_bucket);
    }
    return enqueue(slot, seq, deadline, now);
  }

  // An anonymous alert: a one-shot with no name, so nothing to look up, allocate or index but its
  // slot (a new chunk of records, rarely) and its entry. Inline, with the rare cases out of line.
  TimerHandle insert_anonymous(std::int64_t deadline, std::int64_t realtime, TimerCallback&& callback,
                               std::int64_t now) {
    check_sequence();
    std::uint32_t slot = 0;
    if (!free_.empty()) {
      slot = free_.back();
      take_free();
    } else if (spilled_ == no_slot && unused_ < slot_count_) {
      slot = unused_++;  // its chunk exists: every slot below slot_count_ has one
    } else {
      slot = take_unlisted_slot();
    }
    ++taken_;
    const std::uint64_t seq = next_seq_++;
    Record& rec = record(slot);
    rec.node = Node{.realtime = realtime, .state = seq << Node::seq_shift};        // burst: policy bits 0
    ::new (static_cast<void*>(&rec.callback)) TimerCallback(std::move(callback));  // as in `insert`
    return enqueue(slot, seq, deadline, now);
  }
  static_assert(static_cast<int>(MissedTicks::burst) == 0);

  // The last step of a set: the new timer, recorded in `slot` with sequence `seq`, becomes pending
  // and its entry joins the queue. On std::bad_alloc it is retired (its name, slot and callback go
  // back: the queue is as it was) and the exception propagates. Forced inline, as `ensure_records`:
  // left to the compiler, a named set in the batch model took 25 more instructions an alert.
  [[gnu::always_inline]] TimerHandle enqueue(std::uint32_t slot, std::uint64_t seq, std::int64_t deadline,
                                             std::int64_t now) {
    ++pending_;
    try {
      push_entry(Entry{deadline, seq << slot_bits | slot}, now);  // on bad_alloc, the wheel is unchanged
    } catch (...) {
      retire(slot);
      throw;
    }
    return TimerHandle{slot, seq};
  }

  // Makes the chunk of records that `slot` starts, if it starts one (slots are created in order).
  [[gnu::always_inline]] void ensure_records(std::uint32_t slot) {
    if ((slot >> chunk_bits) == chunks_.size()) {
      chunks_.push_back(std::make_unique<Record[]>(std::size_t{1} << chunk_bits));
    }
  }

  // A slot for `insert_anonymous` when the free stack is empty: the head of the spilled list, or
  // else a new slot (with its chunk of records, if it starts one). Throws `clock_error` past the
  // slot limit, std::bad_alloc for a chunk; either way nothing has changed.
  [[gnu::noinline]] std::uint32_t take_unlisted_slot() {
    if (spilled_ != no_slot) {
      const std::uint32_t slot = spilled_;
      take_free();
      return slot;
    }
    if (slot_count_ >= slot_mask) throw_too_many_pending();
    ensure_records(slot_count_);
    ++slot_count_;
    return unused_++;
  }

  void check_sequence() const {
    if (next_seq_ > max_seq) [[unlikely]] {
      throw clock_error("TimerQueue: more than 2^40 timers set on one queue");
    }
  }
  [[noreturn, gnu::noinline]] static void throw_too_many_pending() {
    // slot + 1 must fit an index entry's 24 bits
    throw clock_error("TimerQueue: more than " + std::to_string(slot_mask) + " timers pending at once");
  }

  [[nodiscard]] bool delivering(std::uint32_t slot) const noexcept { return node_at(slot).deliveries() != 0; }

  // The timer stops being pending: its name is free and its handle stale at once. Its slot and
  // callback are recycled now, or after its callback returns if it is running.
  void retire(std::uint32_t slot) {
    Node& node = node_at(slot);
    const bool delivered = delivering(slot);
    if (node.named()) {
      node.set(Node::named_flag, false);
      if (delivered) {
        // Its name is free at once, but stays in the index until `finish`: a callback that sets
        // the same name again (a one-shot alert re-armed from its own callback, the common case)
        // then takes over the entry instead of erasing and re-inserting it.
        node.set(Node::zombie_flag, true);
        zombie_bucket_ = bucket_of(slot);
        mark_zombie(zombie_bucket_);
      } else {
        forget_name(slot);
      }
    }
    if (node.periodic()) forget_period(slot);
    node.clear_seq();
    --pending_;
    if (!delivered) recycle(slot);
  }

  // Releases a retired periodic timer's rule and dropped ticks (out of line: one-shot alerts, whose
  // fires inline `retire`, never come here).
  [[gnu::noinline]] void forget_period(std::uint32_t slot) noexcept {
    Node& node = node_at(slot);
    if (node.rule() != 0) release_rule(node.rule());
    reset_missed(slot);  // its dropped ticks die with it
    node.set(Node::periodic_flag, false);
  }

  // Removes a retired timer's name from the index and the name store.
  void forget_name(std::uint32_t slot) {
    index_erase(slot);
    drop_name(slot);
    zombie_bucket_ = no_bucket;  // no zombie to point at: a set then skips `validate_name`'s check
  }

  // Releases a retired timer's name, whose index entry is gone or taken over.
  void drop_name(std::uint32_t slot) noexcept {
    name_heap_bytes_ -= name_at(slot).heap_bytes();
    name_at(slot).clear();
    node_at(slot).set(Node::zombie_flag, false);
  }

  void recycle(std::uint32_t slot) {
    callback_slot(slot) = nullptr;
    node_at(slot).set(Node::recycled_flag, true);
    --taken_;
    hand_back(slot);
  }

  // Returns a released slot (`taken_` already counts it out) to the free stack, or forgets every
  // free slot if none is taken any more.
  void hand_back(std::uint32_t slot) noexcept {
    if (taken_ == 0) {
      forget_free_slots();
    } else {
      give_free(slot);
    }
  }

  // Every slot is free: they are handed out again from the first, in order, with no list to keep
  // (see `free_`). Out of line: once a batch, and it may free chunks.
  [[gnu::noinline]] void forget_free_slots() noexcept {
    free_.clear();
    spilled_ = no_slot;
    unused_ = 0;
  }

  void cancel_slot(std::uint32_t slot) {
    retire(slot);
    top_ = nullptr;  // it may have been the cancelled timer's entry
    ++stale_;
    // Rebuild once stale entries outnumber live ones: amortised O(1) per cancel, bounded memory.
    if (stale_ > 64 && stale_ * 2 > queued()) {
      const auto stale = [this](const Entry& e) { return is_stale(e); };
      wheel_.remove_if(stale);
      batch_.remove_if(stale);
      for (unsigned k = 0; k < lanes_used_; ++k) lanes_[k].remove_if(stale);
      top_ = nullptr;
      stale_ = 0;
    }
  }

  // ---- the queue ----

  [[nodiscard]] bool is_stale(const Entry& e) const noexcept {
    return node_at(slot_of(e)).seq() != seq_of(e);
  }

  // The earliest live entry due at or before `limit`, dropping stale ones on the way. The answer is
  // kept until the wheel changes: a clock asks for the next deadline, then for what is due there,
  // and the second question costs nothing. Inline wherever it is called (a clock's loop asks at
  // every fire, and the first two lines answer most asks), with the wheel's search in `peek_wheel`:
  // left to the compiler, it was called out of line from TestClock's loop once that loop also
  // inlined `pop_due`'s test for anonymous alerts (periodic/1000 took 19.6 ns for 18.6).
  [[nodiscard, gnu::always_inline]] const Entry* peek(std::int64_t limit) {
    if (top_ != nullptr) return top_->deadline <= limit ? top_ : nullptr;
    if (lanes_used_ != 0 || !batch_.empty()) return peek_with_lanes(limit);
    return peek_wheel(limit);
  }

  // `peek` when neither a lane nor the batch run is in use.
  [[nodiscard]] const Entry* peek_wheel(std::int64_t limit) {
    top_lane_ = from_wheel;
    for (;;) {
      const Entry* top = wheel_top(limit);
      if (top == nullptr) return nullptr;
      if (stale_ == 0 || !is_stale(*top)) return top_ = top;
      wheel_.pop();
      --stale_;
    }
  }

  // `peek` once a lane or the batch run is in use: the earliest of the lanes' fronts, the run's front
  // and the wheel's top (the wheel need not move past the others' earliest). Out of line, so that
  // `peek` stays small enough to inline where neither is in use.
  [[gnu::noinline]] const Entry* peek_with_lanes(std::int64_t limit) {
    // One interval's lane and an empty wheel (a backtest of bar timers): its front, in a function
    // small enough to save few registers (the general case is another call).
    if (const detail::Lane& lane = lanes_[0]; lane_alone() && !lane.empty() && stale_ == 0) {
      if (lane.front().deadline > limit) return nullptr;
      top_lane_ = 0;
      return top_ = &lane.front();
    }
    if (!batch_.empty()) {
      batch_.settle();  // a batch set into an empty queue is sorted at its first read (detail/batch_run.hpp)
      // The run alone (a batch of alerts being fired, nothing else pending): its front.
      if (run_alone()) return peek_run(limit);
    }
    return peek_lanes_and_wheel(limit);
  }

  [[gnu::noinline]] const Entry* peek_lanes_and_wheel(std::int64_t limit) {
    for (;;) {
      const Entry* front = nullptr;  // the earliest of the lanes' fronts and the run's
      int from = from_wheel;
      for (unsigned k = 0; k < lanes_used_; ++k) {
        const detail::Lane& lane = lanes_[k];
        if (!lane.empty() && (front == nullptr || detail::entry_before(lane.front(), *front))) {
          front = &lane.front();
          from = static_cast<int>(k);
        }
      }
      if (!batch_.read() && (front == nullptr || detail::entry_before(batch_.front(), *front))) {
        front = &batch_.front();
        from = from_run;
      }
      if (front == nullptr) {
        // Every lane and the run are empty: `peek` takes the wheel's path until one is used again.
        lanes_used_ = 0;
        return peek(limit);
      }
      const Entry* top = wheel_top(front->deadline < limit ? front->deadline : limit);
      if (top != nullptr && detail::entry_before(*top, *front)) {
        from = from_wheel;
      } else {
        top = front;
      }
      if (top == nullptr || top->deadline > limit) return nullptr;
      top_lane_ = from;
      if (stale_ == 0 || !is_stale(*top)) return top_ = top;
      drop_top();
      --stale_;
    }
  }

  // Nothing pending but in the first lane (one interval's periodic timers: a backtest of bar timers),
  // or but in the batch run (a batch of alerts being fired).
  [[nodiscard]] bool lane_alone() const noexcept {
    return lanes_used_ == 1 && wheel_.size() == 0 && batch_.empty();
  }
  [[nodiscard]] bool run_alone() const noexcept { return lanes_used_ == 0 && wheel_.size() == 0; }

  // The batch run's front, when nothing else is pending.
  [[nodiscard]] const Entry* peek_run(std::int64_t limit) {
    for (;;) {
      if (batch_.read()) return peek(limit);  // every entry left was stale
      const Entry& front = batch_.front();
      if (stale_ != 0 && is_stale(front)) {
        batch_.pop_front();
        --stale_;
        continue;
      }
      if (front.deadline > limit) return nullptr;
      top_lane_ = from_run;
      return top_ = run_front();
    }
  }

  // The run's front (the caller has found it live), with a record a few fires ahead prefetched.
  [[nodiscard, gnu::always_inline]] const Entry* run_front() const noexcept {
    if (pending_ > prefetch_floor) {
      // The run is read in order: fetch the record a few fires ahead, so that its miss overlaps
      // the fires before it.
      if (const Entry* later = batch_.ahead(run_prefetch_distance); later != nullptr) {
        NAUTILUS_CLOCK_PREFETCH(&record(slot_of(*later)));
      }
    }
    return &batch_.front();
  }

  [[nodiscard]] const Entry* wheel_top(std::int64_t limit) {
    return wheel_.top(limit, [this](const Entry* first, std::size_t count) {
      // These fire next: fetch their records together, so that their misses overlap. Only the
      // records: measured at 10^5 timers, prefetching names and periods too lost what this won.
      for (std::size_t i = 0; i < count; ++i) NAUTILUS_CLOCK_PREFETCH(&record(slot_of(first[i])));
    });
  }

  // Removes the entry `peek` last found, from the lane or the wheel it is in.
  void drop_top() noexcept {
    if (top_lane_ >= 0) {
      lanes_[static_cast<unsigned>(top_lane_)].pop_front();
    } else if (top_lane_ == from_run) {
      batch_.pop_front();
    } else {
      wheel_.pop();
    }
  }

  // A likely next entry after the one `peek` returned, for prefetching (see
  // TimingWheel::peek_after_top); null if none is at hand.
  [[nodiscard]] const Entry* after_top() const noexcept {
    if (top_lane_ >= 0) return lanes_[static_cast<unsigned>(top_lane_)].second();
    if (top_lane_ == from_run) return batch_.ahead(1);
    return wheel_.peek_after_top();
  }

  // Entries in the wheel, the batch run and the lanes, stale ones included.
  [[nodiscard]] std::size_t queued() const noexcept {
    std::size_t count = wheel_.size() + batch_.size();
    for (unsigned k = 0; k < lanes_used_; ++k) count += lanes_[k].size();
    return count;
  }

  [[nodiscard]] std::size_t lane_bytes() const noexcept {
    std::size_t bytes = 0;
    for (const detail::Lane& lane : lanes_) bytes += lane.bytes();
    return bytes;
  }

  // The lane of `interval`'s ticks: its own, or else an empty one (or one not used yet), which takes
  // it; null if every lane holds another interval's.
  [[nodiscard]] detail::Lane* lane_for(std::int64_t interval) noexcept {
    detail::Lane* idle = nullptr;
    for (unsigned k = 0; k < lanes_used_; ++k) {
      detail::Lane& lane = lanes_[k];
      if (lane.interval == interval) return &lane;
      if (idle == nullptr && lane.empty()) idle = &lane;
    }
    if (idle == nullptr && lanes_used_ < lanes_.size()) idle = &lanes_[lanes_used_++];
    if (idle != nullptr) idle->interval = interval;
    return idle;
  }

  // Every change to the wheel goes through these (or clears `top_` itself): they forget the
  // earliest entry `peek` found.
  // `now`: an empty wheel starts there (deadlines are rarely before it), so that timers set in
  // any order after it land in the wheel, not in its near heap.
  // Into an empty queue (nothing in the wheel, the run read), a new timer's entry joins the batch
  // run's inbox, sorted with the rest of its batch at the next read (see detail/batch_run.hpp).
  void push_entry(Entry e, std::int64_t now) {
    if (wheel_.size() == 0 && batch_.read()) {
      batch_.push(e);
    } else {
      wheel_.push(e, now);
    }
    top_ = nullptr;
  }
  // A fire from the batch run when nothing else is pending (a backtest's batch of alerts) finds the
  // next front here, not through `peek`'s calls.
  void pop_top() {
    if (top_lane_ == from_run) {
      batch_.pop_front();
      top_ = run_alone() && stale_ == 0 && !batch_.read() ? run_front() : nullptr;
      return;
    }
    drop_top();
    top_ = nullptr;
  }
  // The common re-arm, inline: the entry `peek` returned came from the lane of `interval`, and `e`
  // (later) goes at its back. Returns false, with nothing changed, otherwise (`requeue` then).
  bool rotate_lane(Entry e, std::int64_t interval) noexcept {
    if (top_lane_ < 0) return false;
    detail::Lane& lane = lanes_[static_cast<unsigned>(top_lane_)];
    if (lane.interval != interval || !lane.fits(e)) return false;
    lane.rotate(e);
    // One interval's lane and nothing else pending (a backtest of bar timers): its front is the
    // next tick, found here, not by `peek`'s calls (as `peek_with_lanes` would find it).
    top_ = lane_alone() && stale_ == 0 ? &lane.front() : nullptr;
    return true;
  }

  // The next fire's records are most likely cold at 10^5+ timers: fetch them while this one is
  // delivered. Every address follows from the slot alone, so the loads overlap.
  void prefetch_after_top() const noexcept {
    const Entry* after = after_top();
    if (after == nullptr) return;
    const std::uint32_t next_slot = slot_of(*after);
    NAUTILUS_CLOCK_PREFETCH(&record(next_slot));
    if (has_name_cell(next_slot)) {
      NAUTILUS_CLOCK_PREFETCH(&name_at(next_slot));
      NAUTILUS_CLOCK_PREFETCH(tag_address(next_slot));
    }
    if (has_period_cell(next_slot)) NAUTILUS_CLOCK_PREFETCH(&period_at(next_slot));
  }

  // `pop_due` for an anonymous alert, the entry `peek` returned (a one-shot with no name: nothing
  // to re-arm, no index entry to keep for a re-set). Its callback moves into `out` and its slot is
  // recycled at once, so the fire counts no delivery and `finish` has no slot to find. With
  // `insert_anonymous`, measured in the batch model at 10^3: 570 to 340 instructions an alert,
  // sort included (35.9 to 25.0 ns). Nothing here throws.
  //
  // The common fire (from the batch run, not its last entry; a finished `out`, whose callback is
  // empty; the free stack with room) calls nothing, and is inlined into `pop_due` (so into a
  // clock's loop): out of line, batch/1000 anonymous took 23.7 ns a fire for 22.6, run
  // alternately, with no row at 10^5 or 10^6 moved. Any other is `fire_anonymous_any`.
  [[gnu::always_inline]] void fire_anonymous(const Entry& top, ClockReading now, Due& out) noexcept {
    if (top_lane_ != from_run || out.held || taken_ == 1 || !free_.has_room() || batch_.ahead(1) == nullptr)
        [[unlikely]] {
      fire_anonymous_any(top, now, out);
      return;
    }
    if (pending_ > prefetch_floor) NAUTILUS_CLOCK_PREFETCH(&record(slot_of(*batch_.ahead(1))));
    Record& rec = take_anonymous(top, now, out);
    // `out.held` is empty: built over, with nothing to destroy.
    ::new (static_cast<void*>(&out.held)) TimerCallback(std::move(rec.callback));
    free_.push_back_in_room(out.slot);  // `give_free`, with room
    batch_.pop_front_not_last();        // `pop_top`, from a run that goes on
    top_ = run_alone() && stale_ == 0 ? run_front() : nullptr;
  }
  [[gnu::noinline]] void fire_anonymous_any(const Entry& top, ClockReading now, Due& out) noexcept {
    // The record-only part of `prefetch_after_top` (no name or period cell to fetch).
    if (pending_ > prefetch_floor) {
      if (const Entry* after = after_top(); after != nullptr) {
        NAUTILUS_CLOCK_PREFETCH(&record(slot_of(*after)));
      }
    }
    Record& rec = take_anonymous(top, now, out);
    out.held = std::move(rec.callback);
    hand_back(out.slot);
    pop_top();
  }
  // What both fire every anonymous alert: its event, and its record and slot released (but for
  // the callback, which moves into `out.held`, and the entry). Returns the record.
  [[gnu::always_inline]] Record& take_anonymous(const Entry& top, ClockReading now, Due& out) noexcept {
    const std::uint32_t slot = slot_of(top);
    Record& rec = record(slot);
    TimeEvent& event = out.event;
    event.name.clear();
    event.id = ++events_fired_;
    event.ts_event = from_unix_ns(rec.node.realtime);
    event.ts_init = from_unix_ns(now.realtime_ns);
    event.lateness = std::chrono::nanoseconds{now.monotonic_ns - top.deadline};
    event.missed = 0;
    out.slot = slot;
    out.has_callback = static_cast<bool>(rec.callback);
    out.record = nullptr;
    out.callback = &out.held;  // the record's is left empty: recycled as it is
    rec.node.clear_seq();      // its handle is stale
    rec.node.set(Node::recycled_flag, true);
    --pending_;
    --taken_;
    return rec;
  }

  // Copies a name into an event's string, as `assign` would, but inline (names are short).
  static void copy_name(std::string_view name, std::string& out) {
    out.resize(name.size());
    detail::copy_short(out.data(), name.data(), name.size());
  }

  // Re-queues the periodic timer of the entry `peek` returned at `e` (later), removing that entry:
  // at the back of its interval's lane if `e` keeps the lane sorted, else in the wheel. `now`: the
  // tick's deadline, where an empty wheel starts. On bad_alloc nothing has changed. (A fire tries
  // `rotate_lane` first, inline; this is the rest.)
  void requeue(Entry e, std::int64_t interval, std::int64_t now) {
    if (detail::Lane* lane = lane_for(interval); lane != nullptr && lane->fits(e)) {
      lane->reserve_one();  // may throw; moves the entries, not their order
      lane->push_back(e);
      const bool moved_from_wheel = top_lane_ == from_wheel;
      pop_top();  // the entry `peek` returned, still the front of its lane or the wheel's top
      // A wheel emptied as its last tick moves to a lane (periodic timers' first ticks, re-armed in
      // their lane since) gives back the storage it keeps for reuse: its pool of blocks (at least
      // 64 KiB) and its levels (3 KiB each), 43 bytes per timer at 10^3 periodic timers. Not a wheel
      // emptied as its last alert fires: the next round of alerts takes those blocks again (freed,
      // the batch model took 1.2x the time).
      if (moved_from_wheel && wheel_.size() == 0) [[unlikely]] {
        wheel_.release_storage();
      }
      return;
    }
    if (top_lane_ == from_wheel) {
      wheel_.replace_top(e);
    } else {
      wheel_.push(e, now);  // may throw
      drop_top();           // the front of a lane or of the run
    }
    top_ = nullptr;
  }

  // A timer's record and its callback: 32 bytes, aligned, two to a 64-byte line: one miss per fire,
  // not two, at 10^5+ timers (a 32-byte std::function beside a 32-byte record filled a line on its
  // own, and a queue of anonymous alerts took 82 bytes per timer, not 50). Fixed-size chunks, so neither
  // moves as the storage grows: a running callback stays put while it sets timers (a std::deque has the same
  // property, but indexing it costs a division and shows up in profiles).
  struct alignas(32) Record {
    Node node;
    TimerCallback callback;
  };
  static_assert(sizeof(Record) == 32);
  static constexpr unsigned chunk_bits = 8;
  // A slot's place in its chunk (records' and names' alike).
  static constexpr std::uint32_t within_chunk(std::uint32_t slot) noexcept { return slot & ((1U << chunk_bits) - 1); }
  // A side array by slot (names, period cells, dropped-tick counts): chunks of the records' size,
  // made when a slot that needs one is set, so there is no growth slack and nothing moves as they
  // grow. A queue that never sets such a timer holds none.
  template <class Chunk>
  class SideChunks {
   public:
    [[nodiscard]] bool has(std::uint32_t slot) const noexcept {
      return (slot >> chunk_bits) < chunks_.size();
    }
    [[nodiscard]] Chunk& of(std::uint32_t slot) const noexcept { return *chunks_[slot >> chunk_bits]; }
    // Makes the chunks up to `slot`'s. On std::bad_alloc the chunks made so far stay, unused.
    void ensure(std::uint32_t slot) {
      if (!has(slot)) [[unlikely]] {
        make_through(slot);
      }
    }
    [[nodiscard]] std::size_t bytes() const noexcept {
      return chunks_.size() * sizeof(Chunk) + chunks_.capacity() * sizeof(void*);
    }
    // Chunks made: slots below count() << chunk_bits have a cell.
    [[nodiscard]] std::size_t count() const noexcept { return chunks_.size(); }
    void release() noexcept { std::vector<std::unique_ptr<Chunk>>().swap(chunks_); }

   private:
    // Out of line: a set inlines only the check above.
    [[gnu::noinline]] void make_through(std::uint32_t slot) {
      while (!has(slot)) chunks_.push_back(std::make_unique<Chunk>());
    }

    std::vector<std::unique_ptr<Chunk>> chunks_;
  };
  std::vector<std::unique_ptr<Record[]>> chunks_;
  std::uint32_t slot_count_ = 0;  // slots created, pending or free
  [[nodiscard]] Record& record(std::uint32_t slot) const noexcept {
    return chunks_[slot >> chunk_bits][within_chunk(slot)];
  }
  [[nodiscard]] Node& node_at(std::uint32_t slot) const noexcept { return record(slot).node; }
  [[nodiscard]] TimerCallback& callback_slot(std::uint32_t slot) const noexcept {
    return record(slot).callback;
  }
  // Named timers' names and index tags (a tag: the name's hash's low bits, its home bucket), from
  // the first named timer on (a vector's doubling left 6 bytes per named timer unused at 10^5).
  struct NameChunk {
    std::array<detail::CompactName, std::size_t{1} << chunk_bits> names;
  };
  // Their tags: the high 16 bits while the index is narrow, all 32 once it is wide (see `Buckets`).
  // There are always at least as many tag chunks as name chunks (`insert` makes the tags' first), so
  // a prefetch may take any named slot's.
  struct NarrowTagChunk {
    std::array<std::uint16_t, std::size_t{1} << chunk_bits> high{};
  };
  struct WideTagChunk {
    std::array<std::uint32_t, std::size_t{1} << chunk_bits> tags{};
  };
  SideChunks<NameChunk> names_;
  [[nodiscard]] bool has_name_cell(std::uint32_t slot) const noexcept { return names_.has(slot); }
  [[nodiscard]] detail::CompactName& name_at(std::uint32_t slot) const noexcept {
    return names_.of(slot).names[within_chunk(slot)];
  }
  [[nodiscard]] std::uint32_t tag_at(std::uint32_t slot) const noexcept {
    return wide_ ? tag_in<Wide>(slot) : tag_in<Narrow>(slot);
  }
  [[nodiscard]] const void* tag_address(std::uint32_t slot) const noexcept {
    return wide_ ? static_cast<const void*>(&wide_tags_.of(slot).tags[within_chunk(slot)])
                 : static_cast<const void*>(&narrow_tags_.of(slot).high[within_chunk(slot)]);
  }
  void set_tag(std::uint32_t slot, std::uint32_t tag) noexcept {
    if (wide_) {
      wide_tags_.of(slot).tags[within_chunk(slot)] = tag;
    } else {
      narrow_tags_.of(slot).high[within_chunk(slot)] = static_cast<std::uint16_t>(tag >> 16);
    }
  }
  std::size_t name_heap_bytes_ = 0;  // long names' blocks (see detail::CompactName)
  // The period cells of periodic timers with rule 0 (see `Cadence`), from the first such timer on.
  struct PeriodChunk {
    std::array<Cadence, std::size_t{1} << chunk_bits> periods;
  };
  SideChunks<PeriodChunk> periods_;
  [[nodiscard]] bool has_period_cell(std::uint32_t slot) const noexcept { return periods_.has(slot); }
  [[nodiscard]] Cadence& period_at(std::uint32_t slot) const noexcept {
    return periods_.of(slot).periods[within_chunk(slot)];
  }
  // A periodic timer's interval and stop: its rule's, or else its period cell's.
  [[nodiscard]] Cadence cadence_of(std::uint32_t slot, const Node& node) const noexcept {
    const std::uint32_t rule = node.rule();
    return rule != 0 ? Cadence{rules_[rule].interval, max_ns} : period_at(slot);
  }
  // The interval rules (see `Cadence`): rules_[0] is unused (rule 0: none), a free rule has no
  // references and links to the next free one, and rule_ids_ finds a rule in use by its interval.
  std::vector<Rule> rules_;
  std::uint32_t free_rule_ = 0;
  std::unordered_map<std::int64_t, std::uint32_t> rule_ids_;
  static constexpr std::size_t rule_node_bytes = 32;  // a node of rule_ids_, with its malloc header
  // The rule of `interval` with one more reference; 0 if 16,383 other intervals have one. On
  // std::bad_alloc nothing has changed.
  [[gnu::noinline]] std::uint32_t acquire_rule(std::int64_t interval) {
    if (const auto found = rule_ids_.find(interval); found != rule_ids_.end()) {
      ++rules_[found->second].refs;
      return found->second;
    }
    const bool fresh = free_rule_ == 0;
    if (fresh && rules_.size() > max_rule) return 0;
    if (rules_.empty()) rules_.emplace_back();  // rule 0
    const std::uint32_t id = fresh ? static_cast<std::uint32_t>(rules_.size()) : free_rule_;
    if (fresh) rules_.emplace_back();
    try {
      rule_ids_.emplace(interval, id);
    } catch (...) {
      if (fresh) rules_.pop_back();
      throw;
    }
    if (!fresh) free_rule_ = rules_[id].next_free;
    rules_[id] = Rule{.interval = interval, .refs = 1, .next_free = 0};
    return id;
  }
  // Drops a reference to a rule, which is free once it has none.
  void release_rule(std::uint32_t id) noexcept {
    Rule& rule = rules_[id];
    if (--rule.refs != 0) return;
    rule_ids_.erase(rule.interval);
    rule.next_free = free_rule_;
    free_rule_ = id;
  }
  // Ticks dropped under skip and delay, counted per timer until its next event (see `Cadence`).
  struct MissedChunk {
    std::array<std::uint64_t, std::size_t{1} << chunk_bits> counts{};
  };
  SideChunks<MissedChunk> missed_;
  std::size_t missed_live_ = 0;  // cells that are not zero
  [[nodiscard]] std::uint64_t& missed_at(std::uint32_t slot) const noexcept {
    return missed_.of(slot).counts[within_chunk(slot)];
  }
  // The slot's count, 0 if it has no cell.
  [[nodiscard]] std::uint64_t missed_of(std::uint32_t slot) const noexcept {
    return missed_live_ != 0 && missed_.has(slot) ? missed_at(slot) : 0;
  }
  // The slot's cell, created if need be. On std::bad_alloc nothing has changed.
  std::uint64_t& missed_cell(std::uint32_t slot) {
    missed_.ensure(slot);
    return missed_at(slot);
  }
  // Zeroes the slot's count (reported, or dropped with its timer).
  void reset_missed(std::uint32_t slot) noexcept {
    if (missed_of(slot) == 0) return;
    missed_at(slot) = 0;
    --missed_live_;
  }
  // Deliveries of a slot past its node's count of 15 (see `Node::max_deliveries`).
  std::vector<std::uint32_t> overflowing_;
  // The free slots, most recently freed last, in a stack of 2 KiB chunks (see `SlotStack`).
  // Recycling a slot must not fail (`finish` is noexcept, and a cancel has already taken effect):
  // if the stack cannot grow, the slot goes to a list linked through the free records instead (a
  // recycled node's `realtime` holds the next, and `no_slot` ends it). The stack comes first: a
  // list walk would make each set wait for the miss on the record before (measured: 94% of
  // `insert` at 10^6 alerts set in a batch).
  //
  // When the last taken slot is recycled (the queue is empty and nothing is being delivered), the
  // stack is dropped (it keeps its first chunk) and the slots are handed out again from the first
  // (`unused_`), in order. Measured in the batch model (every alert of a round fired, then the next
  // round set): 4 to 5 bytes less per pending alert at 10^5 and 10^6, where a vector's storage sat
  // unused while the round was pending, and the in-order sets took 0.84x to 0.85x the time at 10^6.
  // Chunks, not a vector given back and grown again each round: that vector's large blocks went to
  // and from the kernel (glibc maps blocks of 128 KiB and up, and trims its heap), which made a
  // round of 10^5 named alerts take 1.2x the time.
  class SlotStack {
   public:
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] std::uint32_t back() const noexcept { return at(size_ - 1); }
    void pop_back() noexcept {
      --size_;
      if (next_ != base_) [[likely]] {
        --next_;
      } else {
        point();  // into the chunk before, or from no room
      }
    }
    // Whether `push_back` has room without a new chunk.
    [[nodiscard]] bool has_room() const noexcept { return next_ != nullptr; }
    // A store and an increment through the cursor: a fire pushes its slot here (computed from the
    // size and the chunk table, 6 more instructions a fire).
    void push_back_in_room(std::uint32_t slot) noexcept {
      *next_ = slot;
      ++size_;
      if (++next_ == end_) [[unlikely]] {
        point();  // the next chunk, if any
      }
    }
    // On std::bad_alloc the stack is unchanged.
    void push_back(std::uint32_t slot) {
      if (!has_room()) {
        chunks_.push_back(std::make_unique<Chunk>());
        point();
      }
      push_back_in_room(slot);
    }
    // Empties the stack; keeps its first chunk, gives the others back. (Giving that one back too
    // saved 2 bytes per timer at 10^3, and made batch/1000 anonymous take 1.06x the time: the
    // chunk, taken again by the next round's first fire, keeps the heap's top from being trimmed
    // and grown again each round.)
    void clear() noexcept {
      size_ = 0;
      if (chunks_.size() > 1) chunks_.resize(1);
      point();
    }
    [[nodiscard]] std::size_t bytes() const noexcept {
      return chunks_.size() * chunk * sizeof(std::uint32_t) + chunks_.capacity() * sizeof(void*);
    }

   private:
    // 2 KiB chunks: a queue of a few hundred timers that fire out of order holds one.
    static constexpr unsigned chunk_shift = 9;
    static constexpr std::size_t chunk = std::size_t{1} << chunk_shift;
    struct Chunk {
      std::array<std::uint32_t, chunk> slots;
    };
    [[nodiscard]] std::uint32_t at(std::size_t i) const noexcept {
      return chunks_[i >> chunk_shift]->slots[i & (chunk - 1)];
    }
    // Points the cursor at where the next push goes, in the chunk of entry `size_`, or at nothing
    // if that chunk does not exist yet (no room). Chunks never move, so the cursor stays valid as
    // `chunks_` grows.
    void point() noexcept {
      const std::size_t c = size_ >> chunk_shift;
      if (c < chunks_.size()) {
        base_ = chunks_[c]->slots.data();
        next_ = base_ + (size_ & (chunk - 1));
        end_ = base_ + chunk;
      } else {
        base_ = next_ = end_ = nullptr;
      }
    }
    std::vector<std::unique_ptr<Chunk>> chunks_;
    std::size_t size_ = 0;
    std::uint32_t* base_ = nullptr;  // the cursor's chunk
    std::uint32_t* next_ = nullptr;  // where the next push goes; null: no room
    std::uint32_t* end_ = nullptr;   // the cursor's chunk's end
  };
  SlotStack free_;
  std::uint32_t spilled_ = no_slot;
  std::uint32_t unused_ = 0;  // slots in [unused_, slot_count_) are free and in no list
  std::uint32_t taken_ = 0;   // slots taken and not yet recycled: pending or being delivered
  // Inline while the stack has room; out of line when it needs a chunk.
  void give_free(std::uint32_t slot) noexcept {
    if (free_.has_room()) [[likely]] {
      free_.push_back_in_room(slot);
    } else {
      give_free_growing(slot);
    }
  }
  [[gnu::noinline]] void give_free_growing(std::uint32_t slot) noexcept {
    try {
      free_.push_back(slot);
      return;
    } catch (const std::bad_alloc&) {
    }
    node_at(slot).realtime = spilled_;
    spilled_ = slot;
  }
  // Removes the slot `insert` took: free_.back(), or else the list's head.
  void take_free() noexcept {
    if (!free_.empty()) {
      free_.pop_back();
      // The next set's record, cold if timers fired in another order than they were set: its
      // write then finds the line in the cache.
      if (!free_.empty()) NAUTILUS_CLOCK_PREFETCH(&record(free_.back()));
    } else {
      spilled_ = static_cast<std::uint32_t>(node_at(spilled_).realtime);
    }
  }
  detail::TimingWheel wheel_;
  // Timers set into an empty queue, sorted together at the first read (see detail/batch_run.hpp).
  detail::BatchRun batch_;
  // Periodic timers' re-armed ticks, a lane per interval (see detail/lane.hpp): four intervals at a
  // time (a trading engine's bars, heartbeats and checks share few); others re-arm in the wheel.
  std::array<detail::Lane, 4> lanes_;
  unsigned lanes_used_ = 0;     // lanes_[0, lanes_used_) may hold ticks (reset once all are empty)
  const Entry* top_ = nullptr;  // the earliest live entry, while the wheel is unchanged (see `peek`)
  int top_lane_ = from_wheel;   // the lane `peek` found it in, or `from_wheel`, or `from_run`
  std::vector<Wide> index_;     // once `wide_`
  std::size_t zombie_bucket_ = no_bucket;  // the last zombie marked, a hint: see `bucket_of`, `validate_name`
  std::size_t named_ = 0;
  std::size_t stale_ = 0;
  std::size_t pending_ = 0;
  std::uint64_t next_seq_ = 1;
  std::uint64_t events_fired_ = 0;
  // The narrow index and the tags (see `Buckets`), last: the members above keep the places
  // they had before there were two formats (batch/1000 anonymous took 1.08x the time with these
  // among them).
  std::vector<Narrow> narrow_index_;  // while not `wide_`
  bool wide_ = false;
  SideChunks<NarrowTagChunk> narrow_tags_;  // while not `wide_`
  SideChunks<WideTagChunk> wide_tags_;      // once `wide_`
};

// A `Clock` that also runs timers: `TestClock` and `LiveClock`. Generic code that schedules work
// takes a `TimerClock`, and runs unchanged live and in a backtest.
template <class C>
concept TimerClock =
    Clock<C> && requires(C& clock, const C& const_clock, std::string name, unix_nanos t, std::chrono::nanoseconds d,
                         TimerCallback callback, TimerOptions options, TimerHandle handle, std::string_view view) {
      { clock.set_time_alert(name, t, callback) } -> std::same_as<TimerHandle>;
      { clock.set_time_alert(name, t, callback, PastDeadline::error) } -> std::same_as<TimerHandle>;
      { clock.set_timer(name, d, t, t, callback, options) } -> std::same_as<TimerHandle>;
      { clock.set_timer(name, d) } -> std::same_as<TimerHandle>;
      { clock.cancel_timer(view) } -> std::same_as<bool>;
      { clock.cancel_timer(handle) } -> std::same_as<bool>;
      { clock.cancel_timers() } -> std::same_as<std::size_t>;
      { const_clock.next_time(view) } -> std::same_as<std::optional<unix_nanos>>;
      { const_clock.next_time(handle) } -> std::same_as<std::optional<unix_nanos>>;
      { const_clock.timer_names() } -> std::same_as<std::vector<std::string>>;
      { const_clock.timer_count() } -> std::same_as<std::size_t>;
      { const_clock.has_timer(view) } -> std::same_as<bool>;
      { clock.take_events() } -> std::same_as<std::vector<TimeEvent>>;
    };

}  // namespace nautilus
