// nautilus-clock: the `Clock` concept.
//
// Every component of a trading platform takes its time from one injected clock that models
// `Clock`, so the same code runs live (`LiveClock`, `TscClock`) and in a backtest (`TestClock`).
#pragma once

#include <concepts>  // std::same_as
#include <cstdint>   // std::int64_t

#include "nautilus/clock/time.hpp"  // unix_nanos

namespace nautilus {

// A source of the two kinds of time (docs/design.md, principle 3):
// - `now()`: realtime, UTC nanoseconds since the Unix epoch, for timestamps that leave the
//   process. May jump (an NTP step on a live host, `TestClock::set_time`).
// - `now_ns()`: the same reading as an int64, `to_unix_ns(now())`, for wire formats.
// - `monotonic_ns()`: nanoseconds from an unspecified origin that never decrease, for intervals,
//   deadlines and timers. Only differences between two readings are meaningful.
// All three are `noexcept` and callable on a const clock: reading time never fails and never
// changes the clock observably. (`TimerClock`, a `Clock` that also runs timers, is in timers.hpp:
// this header stays light.)
template <class C>
concept Clock = requires(const C& clock) {
  { clock.now() } noexcept -> std::same_as<unix_nanos>;
  { clock.now_ns() } noexcept -> std::same_as<std::int64_t>;
  { clock.monotonic_ns() } noexcept -> std::same_as<std::int64_t>;
};

}  // namespace nautilus
