// nautilus-clock: `TestClock`, virtual time set and advanced by hand.
#pragma once

#include <atomic>   // std::atomic
#include <chrono>   // std::chrono::nanoseconds
#include <cstdint>  // std::int64_t
#include <string>   // std::string

#include "nautilus/clock/time.hpp"  // unix_nanos, clock_error, format_iso8601

namespace nautilus {

// A clock that does not tick on its own: time moves only when the test or the backtest engine
// moves it, and only forward. One virtual time serves both kinds: `monotonic_ns() == now_ns()`.
//
// Moving the clock:
//   set_time(t)       jump to `t`, an absolute time at or after now;
//   advance_time(t)   move to `t`, an absolute time at or after now;
//   advance_by(d)     move forward by `d >= 0`.
// Moving to the current time is allowed and changes nothing; moving backwards throws
// `clock_error` naming both times and leaves the clock unchanged. Today `set_time` and
// `advance_time` do the same; they differ once timers exist: `advance_*` will fire what falls due
// on the way, while `set_time` only positions the clock.
//
// Threads: reads are lock-free and safe from any thread (a reader sees either the old or the new
// time, never a torn value); the moves are meant for the single thread that drives the test.
// Not copyable or movable: components hold a reference to the clock they were given.
class TestClock {
 public:
  // Starts at `start`, the Unix epoch by default.
  explicit TestClock(unix_nanos start = unix_epoch) noexcept : now_ns_(to_unix_ns(start)) {}

  TestClock(const TestClock&) = delete;
  TestClock& operator=(const TestClock&) = delete;
  TestClock(TestClock&&) = delete;
  TestClock& operator=(TestClock&&) = delete;
  ~TestClock() = default;

  // The current virtual time.
  [[nodiscard]] unix_nanos now() const noexcept { return from_unix_ns(now_ns()); }
  [[nodiscard]] std::int64_t now_ns() const noexcept { return now_ns_.load(std::memory_order_acquire); }
  // Equal to `now_ns()`: virtual time has one line.
  [[nodiscard]] std::int64_t monotonic_ns() const noexcept { return now_ns(); }

  // Jumps to `t`. Throws `clock_error` if `t` is before now.
  void set_time(unix_nanos t) { move_to(t, "set_time"); }

  // Moves to `t`. Throws `clock_error` if `t` is before now.
  void advance_time(unix_nanos t) { move_to(t, "advance_time"); }

  // Moves forward by `d`. Throws `clock_error` if `d` is negative or now + d is past
  // 2262-04-11T23:47:16.854775807Z. `advance_by(0ns)` changes nothing.
  void advance_by(std::chrono::nanoseconds d) {
    if (d < std::chrono::nanoseconds::zero()) {
      throw clock_error("TestClock::advance_by: negative duration " + std::to_string(d.count()) +
                        "ns; a clock never moves backwards");
    }
    if (d > nautilus::unix_nanos_max - now()) {
      throw clock_error("TestClock::advance_by: " + format_iso8601(now()) + " + " + std::to_string(d.count()) +
                        "ns is outside the int64 nanosecond range (1677-09-21 to 2262-04-11)");
    }
    move_to(now() + d, "advance_by");
  }

 private:
  void move_to(unix_nanos t, const char* operation) {
    const std::int64_t current = now_ns();
    const std::int64_t target = to_unix_ns(t);
    if (target < current) {
      throw clock_error(std::string("TestClock::") + operation + ": " + format_iso8601(t) +
                        " is before the current time " + format_iso8601(from_unix_ns(current)) +
                        "; a clock never moves backwards");
    }
    now_ns_.store(target, std::memory_order_release);
  }

  std::atomic<std::int64_t> now_ns_;
};

}  // namespace nautilus
