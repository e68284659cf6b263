// nautilus-clock: `TestClock`, virtual time set and advanced by hand, with timers.
#pragma once

#include <algorithm>    // std::max
#include <atomic>       // std::atomic
#include <chrono>       // std::chrono::nanoseconds
#include <cstddef>      // std::size_t
#include <cstdint>      // std::int64_t
#include <limits>       // std::numeric_limits
#include <optional>     // std::optional
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <utility>      // std::move
#include <vector>       // std::vector

#include "nautilus/clock/time.hpp"    // unix_nanos, clock_error, format_iso8601
#include "nautilus/clock/timers.hpp"  // TimerQueue, TimeEvent, TimerCallback, TimerOptions

namespace nautilus {

// A clock that does not tick on its own: time moves only when the test or the backtest engine
// moves it, and only forward. Realtime and monotonic time are one virtual line until
// `adjust_realtime` steps the realtime reading (as NTP steps a live host's clock).
//
// Moving the clock:
//   advance_time(t)   move to `t`, stopping at every tick due on the way: each callback runs with
//                     `now() == event.ts_event`, in (deadline, order set) order, lateness zero;
//   advance_by(d)     the same, to now + d (d >= 0);
//   advance_to_next() move to the earliest pending tick only, and fire what is due there;
//   set_time(t)       jump to `t` without stopping: ticks jumped over are now late, as on a live
//                     host whose loop stalled, and fire at the next advance under each timer's
//                     missed-tick policy, with their true lateness. Models stalls deterministically.
// Moving to the current time is allowed (and fires what is due now); moving backwards throws
// `clock_error` naming both times and leaves the clock unchanged.
//
//   ticks of a 1s timer:   1    2    3    4    5
//   advance_time(5.5s):    1    2    3    4    5     each at its own time, lateness 0
//   set_time(5.5s), then advance_time(5.5s):
//     burst:               1    2    3    4    5     all at 5.5 (lateness 4.5 .. 0.5)
//     skip:                                    5     at 5.5, missed 4; next 6
//     delay:                                   5     at 5.5, missed 4; next 6.5
//
// A timer set without a callback delivers its events to `take_events()` instead.
//
// Threads: reads are lock-free and safe from any thread; everything else is for the one thread
// that drives the clock. Not copyable or movable: components hold a reference to it.
class TestClock {
 public:
  // Starts at `start`, the Unix epoch by default.
  explicit TestClock(unix_nanos start = unix_epoch) noexcept
      : realtime_ns_(to_unix_ns(start)), monotonic_ns_(to_unix_ns(start)) {}

  TestClock(const TestClock&) = delete;
  TestClock& operator=(const TestClock&) = delete;
  TestClock(TestClock&&) = delete;
  TestClock& operator=(TestClock&&) = delete;
  ~TestClock() = default;

  // ---- reads ----

  [[nodiscard]] unix_nanos now() const noexcept { return from_unix_ns(now_ns()); }
  [[nodiscard]] std::int64_t now_ns() const noexcept { return realtime_ns_.load(std::memory_order_acquire); }
  // Starts equal to `now_ns()`; differs from it by the sum of `adjust_realtime` steps.
  [[nodiscard]] std::int64_t monotonic_ns() const noexcept { return monotonic_ns_.load(std::memory_order_acquire); }

  // ---- timers (see timers.hpp for the rules) ----

  // A one-shot alert at `at`. Without a callback its event goes to `take_events()`.
  TimerHandle set_time_alert(std::string_view name, unix_nanos at, TimerCallback callback = {},
                             PastDeadline past = PastDeadline::fire_now) {
    return timers_.set_time_alert(name, at, std::move(callback), past, reading());
  }

  // An anonymous alert, cancelled by handle: no name to invent or keep unique.
  TimerHandle set_time_alert(unix_nanos at, TimerCallback callback, PastDeadline past = PastDeadline::fire_now) {
    return timers_.set_time_alert(at, std::move(callback), past, reading());
  }

  // A periodic timer from `start` (default now) every `interval`, until `stop` (inclusive).
  TimerHandle set_timer(std::string_view name, std::chrono::nanoseconds interval,
                        std::optional<unix_nanos> start = std::nullopt,
                        std::optional<unix_nanos> stop = std::nullopt, TimerCallback callback = {},
                        TimerOptions options = {}) {
    return timers_.set_timer(name, interval, start, stop, std::move(callback), options, reading());
  }

  bool cancel_timer(std::string_view name) { return timers_.cancel_timer(name); }
  bool cancel_timer(TimerHandle handle) { return timers_.cancel_timer(handle); }
  std::size_t cancel_timers() { return timers_.cancel_timers(); }
  [[nodiscard]] std::optional<unix_nanos> next_time(std::string_view name) const { return timers_.next_time(name); }
  [[nodiscard]] std::optional<unix_nanos> next_time(TimerHandle handle) const { return timers_.next_time(handle); }
  [[nodiscard]] std::vector<std::string> timer_names() const { return timers_.timer_names(); }
  [[nodiscard]] std::size_t timer_count() const noexcept { return timers_.timer_count(); }
  [[nodiscard]] bool has_timer(std::string_view name) const { return timers_.has_timer(name); }

  // The realtime of the earliest pending tick (which may be in the past after `set_time`), or none.
  [[nodiscard]] std::optional<unix_nanos> next_deadline() {
    const auto next = timers_.next_deadline_ns();
    if (!next) return std::nullopt;
    return from_unix_ns(realtime_of(*next));
  }

  // Events of callback-less timers fired so far, oldest first; empties the buffer.
  [[nodiscard]] std::vector<TimeEvent> take_events() { return std::exchange(outbox_, {}); }

  // ---- moving ----

  // Moves to `t`, firing every tick due up to and including `t`. Returns the number of events
  // fired. Throws `clock_error` if `t` is before now. If a callback throws, the exception
  // propagates with the clock at that event's time; nothing else is lost (later ticks stay pending).
  std::size_t advance_time(unix_nanos t) { return advance("advance_time", t, Deliver::callbacks); }

  // `advance_time(now() + d)`. Throws `clock_error` if `d` is negative or the result is past 2262.
  std::size_t advance_by(std::chrono::nanoseconds d) {
    return advance("advance_by", target_of("advance_by", d), Deliver::callbacks);
  }

  // As `advance_time`, but runs no callback: every due event, sorted, is returned to the caller
  // (for engines that dispatch events themselves). Timers are re-armed as usual.
  [[nodiscard]] std::vector<TimeEvent> advance_time_collect(unix_nanos t) {
    std::vector<TimeEvent> out;
    advance("advance_time_collect", t, Deliver::collect, &out);
    return out;
  }

  // As above, appending the events to `out` (which keeps what it held: the caller clears it), so
  // that an engine advancing over and over reuses one buffer and allocates nothing once it has
  // grown. Returns the number of events appended. `out` grows before a tick is taken: if growing
  // throws `std::bad_alloc`, the events taken so far are in `out`, the tick that did not fit and
  // the later ones stay pending, and the clock stays at the last collected tick's time.
  std::size_t advance_time_collect(unix_nanos t, std::vector<TimeEvent>& out) {
    return advance("advance_time_collect", t, Deliver::collect, &out);
  }

  // Moves to the earliest pending tick (or stays, if it is already due) and fires every tick due
  // at that time, including ones its callbacks set for that same time. Returns the time moved to,
  // or none (the clock unchanged) if no timer is pending.
  std::optional<unix_nanos> advance_to_next() {
    const auto next = timers_.next_deadline_ns();
    if (!next) return std::nullopt;
    // The common case, by the monotonic line alone: a tick at or after now, whose realtime fits.
    // (A backtest calls this once per event: it skips the checked conversions of the general path.)
    check_not_dispatching("advance_to_next");
    const std::int64_t mono = monotonic_ns();
    const std::int64_t real = now_ns();
    if (*next <= mono) {
      run(real, mono, Deliver::callbacks);
      return from_unix_ns(real);
    }
    std::int64_t at = 0;  // the tick's realtime
    if (ClockReading{mono, real}.realtime_of(*next, at)) {
      run(at, *next, Deliver::callbacks);
      return from_unix_ns(at);
    }
    const unix_nanos to = from_unix_ns(realtime_of(*next));
    advance("advance_to_next", to, Deliver::callbacks);
    return to;
  }

  // Jumps to `t` without firing anything (see the class comment). Throws `clock_error` if `t` is
  // before now.
  void set_time(unix_nanos t) {
    check_not_dispatching("set_time");
    const std::int64_t target = to_unix_ns(t);
    check_forward("set_time", target);
    store(monotonic_at(target, "set_time"), target);
  }

  // Steps the realtime reading by `delta` (either sign), as NTP steps a live host's clock:
  // monotonic time and pending timers do not move, and ticks keep their `ts_event`. Throws
  // `clock_error` if the realtime would leave the int64 range. Allowed in a callback: the advance
  // running it goes on along the monotonic line, its later ticks and its end read realtime moved
  // by `delta` (an advance whose end would then leave the int64 range throws `clock_error` at the
  // step's tick).
  void adjust_realtime(std::chrono::nanoseconds delta) {
    const unix_nanos stepped = checked_add(now(), delta);
    realtime_ns_.store(to_unix_ns(stepped), std::memory_order_release);
  }

 private:
  enum class Deliver { callbacks, collect };

  [[nodiscard]] ClockReading reading() const noexcept { return {monotonic_ns(), now_ns()}; }

  void store(std::int64_t monotonic, std::int64_t realtime) noexcept {
    monotonic_ns_.store(monotonic, std::memory_order_release);
    realtime_ns_.store(realtime, std::memory_order_release);
  }

  void check_not_dispatching(const char* operation) const {
    if (dispatching_) {
      throw clock_error(std::string("TestClock::") + operation +
                        ": called from a timer callback; the clock is already being advanced");
    }
  }

  void check_forward(const char* operation, std::int64_t target) const {
    const std::int64_t current = now_ns();
    if (target < current) {
      throw clock_error(std::string("TestClock::") + operation + ": " + format_iso8601(from_unix_ns(target)) +
                        " is before the current time " + format_iso8601(from_unix_ns(current)) +
                        "; a clock never moves backwards");
    }
  }

  // The realtime that goes with monotonic time `monotonic`: now + (monotonic - now's monotonic),
  // saturated at the ends of the int64 range rather than wrapping.
  [[nodiscard]] std::int64_t realtime_of(std::int64_t monotonic) const noexcept {
    const ClockReading now = reading();
    std::int64_t at = 0;
    if (now.realtime_of(monotonic, at)) return at;
    return monotonic < now.monotonic_ns ? std::numeric_limits<std::int64_t>::min()
                                        : std::numeric_limits<std::int64_t>::max();
  }

  // The monotonic time that goes with realtime `target` (>= now): monotonic + (target - now),
  // checked, since both steps can leave int64 (a jump from 1677 to 2262, or after a large
  // adjust_realtime).
  [[nodiscard]] std::int64_t monotonic_at(std::int64_t target, const char* operation) const {
    const ClockReading now = reading();
    std::int64_t monotonic = 0;
    if (!now.monotonic_of(target, monotonic)) {
      throw clock_error(std::string("TestClock::") + operation + ": moving from " +
                        format_iso8601(from_unix_ns(now.realtime_ns)) + " to " +
                        format_iso8601(from_unix_ns(target)) +
                        " leaves the int64 nanosecond range of the clock's monotonic time");
    }
    return monotonic;
  }

  [[nodiscard]] unix_nanos target_of(const char* operation, std::chrono::nanoseconds d) const {
    if (d < std::chrono::nanoseconds::zero()) {
      throw clock_error(std::string("TestClock::") + operation + ": negative duration " +
                        std::to_string(d.count()) + "ns; a clock never moves backwards");
    }
    std::int64_t target = 0;
    if (detail::add_overflows(to_unix_ns(now()), d.count(), target)) {
      throw clock_error(std::string("TestClock::") + operation + ": " + format_iso8601(now()) + " + " +
                        std::to_string(d.count()) + "ns is outside the int64 nanosecond range (1677-09-21 to 2262-04-11)");
    }
    return from_unix_ns(target);
  }

  // `target` moved as the realtime reading was stepped, from `before` to `after`. Throws
  // `clock_error` if it leaves the int64 range (the advance then stops at the current tick).
  [[gnu::noinline]] static std::int64_t stepped(std::int64_t target, std::int64_t before,
                                                std::int64_t after) {
    std::int64_t delta = 0;
    std::int64_t moved = 0;
    if (detail::sub_overflows(after, before, delta) || detail::add_overflows(target, delta, moved)) {
      throw clock_error(
          "TestClock: a realtime step of " + std::to_string(after) + " - " + std::to_string(before) +
          "ns made by a callback puts the end of the advance outside the int64 nanosecond range");
    }
    return moved;
  }

  // `collected` receives the events under Deliver::collect.
  std::size_t advance(const char* operation, unix_nanos t, Deliver deliver,
                      std::vector<TimeEvent>* collected = nullptr) {
    check_not_dispatching(operation);
    const std::int64_t target = to_unix_ns(t);
    check_forward(operation, target);
    // Realtime and monotonic differ by a fixed offset between adjustments; the target is reached
    // on both lines together.
    const std::int64_t target_monotonic = monotonic_at(target, operation);
    return run(target, target_monotonic, deliver, collected);
  }

  // Fires every tick due up to `target_monotonic`, then sets the clock to (target_monotonic,
  // target); `target` is the realtime that goes with it, and neither is before now (checked by
  // the caller). A callback's `adjust_realtime` moves `target` with it. Returns the number of
  // events fired.
  std::size_t run(std::int64_t target, std::int64_t target_monotonic, Deliver deliver,
                  std::vector<TimeEvent>* collected = nullptr) {
    std::size_t fired = 0;
    dispatching_ = true;
    struct Reset {
      bool& flag;
      ~Reset() { flag = false; }
    } reset{dispatching_};
    TimerQueue::Due& due = due_;  // one for every fire (and every run): no event built or destroyed
    // The events with no callback go here (all of them when collected).
    std::vector<TimeEvent>& sink = deliver == Deliver::collect ? *collected : outbox_;
    ClockReading now = reading();
    for (;;) {
      const auto next = timers_.next_deadline_ns();
      if (!next || *next > target_monotonic) break;
      // Room for the event before its tick is taken (a callback may have taken the outbox's
      // storage): a std::bad_alloc then loses nothing. From one event, doubling: a clock whose
      // timers all have callbacks holds one (72 bytes), not sixteen.
      if (sink.size() == sink.capacity()) sink.reserve(std::max<std::size_t>(1, sink.capacity() * 2));
      // Step to the tick, never back: a tick already late (after set_time) fires at the current time.
      // The tick's realtime is target - (target_monotonic - tick): the difference lies within
      // (0, target - now], so nothing overflows even when the two lines are far apart.
      if (*next > now.monotonic_ns) {
        now = {*next, target - (target_monotonic - *next)};
        store(now.monotonic_ns, now.realtime_ns);
      }
      if (!timers_.pop_due(now, due)) break;  // not reached: the tick is due
      ++fired;
      struct Finish {
        TimerQueue& timers;
        TimerQueue::Due& due;
        ~Finish() { timers.finish(due); }
      } finish{timers_, due};
      if (deliver == Deliver::callbacks && due.has_callback) {
        timers_.invoke(due);
        // The callback may have stepped the realtime line (`adjust_realtime`; nothing else moves
        // the clock while dispatching). The step holds for the rest of the advance, which goes on
        // along the monotonic line: later ticks and the end read realtime moved by the same amount.
        if (const std::int64_t real = now_ns(); real != now.realtime_ns) [[unlikely]] {
          target = stepped(target, now.realtime_ns, real);
          now.realtime_ns = real;
        }
      } else {
        sink.push_back(std::move(due.event));  // no allocation: room was made above
      }
    }
    store(target_monotonic, target);
    return fired;
  }

  std::atomic<std::int64_t> realtime_ns_;
  std::atomic<std::int64_t> monotonic_ns_;
  TimerQueue timers_;
  std::vector<TimeEvent> outbox_;
  // `run`'s tick, kept between runs: `advance_to_next` runs once per fire. `run` does not nest
  // (`dispatching_`), so one is enough.
  TimerQueue::Due due_;
  bool dispatching_ = false;
};

}  // namespace nautilus
