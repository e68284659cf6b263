// nautilus-clock: `std::chrono`-style static clocks over a bound clock instance.
//
// `std::chrono` code and Asio's `basic_waitable_timer` take their clock as a *type*: they call the
// static `Clock::now()`, so an instance such as a `TestClock` cannot be injected into them. The
// facades here close that gap. Each is a static clock type (it meets the standard's Cpp17Clock
// requirements, `std::chrono::is_clock_v`) whose `now()` forwards to the clock instance currently
// bound to it; a `scoped_clock_binding` binds one for its lifetime.
//
//   nautilus::TestClock clock{nautilus::parse_iso8601("2024-03-01T14:30:00Z")};
//   nautilus::scoped_clock_binding<> binding{clock};
//   using steady = nautilus::bound_steady_clock<>;
//   const steady::time_point start = steady::now();
//   clock.advance_by(1h);
//   steady::now() - start;                      // == 1h
//   nautilus::bound_system_clock<>::now();      // == 2024-03-01T15:30:00Z
//
// This is the library's one piece of global mutable state: one binding slot per tag, process-wide.
// It is opt-in: nothing else in the library reads it. Prefer passing a `Clock` by reference
// (docs/design.md, principle 1); use a facade only for code that names its clock as a type and
// cannot be changed, such as `std::chrono`-generic code and Asio timers.
//
// Two facades, one per kind of time (docs/design.md, principle 3), both reading the same binding:
//   bound_system_clock<Tag>  realtime: `now()` is a `unix_nanos`, so it formats and converts like
//                            any other; not steady (it follows `TestClock::set_time`,
//                            `adjust_realtime` and NTP steps of a live host);
//   bound_steady_clock<Tag>  monotonic (`Clock::monotonic_ns()`), `is_steady`; the one to use for
//                            timers, timeouts and intervals.
//
// Tags. Each `Tag` type has its own binding, so two simulations in one process, or a library and
// the program using it, do not see each other's clock. `default_chrono_tag` is the default.
//
// Nothing bound. `now()` returns the epoch of the facade's `time_point` (the Unix epoch,
// 1970-01-01T00:00:00Z, for `bound_system_clock`; monotonic zero for `bound_steady_clock`), and
// time stands still there. It never falls back to the host's clock: that would silently mix live
// time into a backtest and break its determinism (docs/design.md, principle 5). The epoch is
// deterministic, and unmistakable in any output; `is_bound()` lets a program check at start-up.
// (`now()` is `noexcept`, as the standard requires of a steady clock's reads and as this library
// requires of every read, so it cannot throw instead.)
//
// Threads. `now()` and `is_bound()` are safe from any thread: the current binding is published
// through an atomic pointer, and the bound clock's own reads are thread-safe (`TestClock`,
// `LiveClock`). Bindings may be created and ended on any thread, in any order. One rule is the
// caller's: a binding must outlive every read through it, so stop the threads (or the
// `io_context`) that read a facade before the binding that serves them ends.
#pragma once

#include <atomic>       // std::atomic
#include <chrono>       // std::chrono::nanoseconds, std::chrono::time_point
#include <concepts>     // std::same_as
#include <cstdint>      // std::int64_t, std::uint8_t
#include <limits>       // std::numeric_limits
#include <mutex>        // std::mutex, std::lock_guard
#include <type_traits>  // std::remove_cvref_t

#include "nautilus/clock/any_clock.hpp"  // AnyClock
#include "nautilus/clock/concepts.hpp"   // Clock
#include "nautilus/clock/time.hpp"       // unix_nanos

namespace nautilus {

// The tag of the default binding slot: `bound_steady_clock<>` is `bound_steady_clock<default_chrono_tag>`.
struct default_chrono_tag {};

// How a bound clock's time moves, which decides how long an Asio timer on a facade waits for real
// time (`bound_wait_traits`):
//   real_time     the clock moves with the host's time (`LiveClock`): a wait of 1s takes 1s;
//   virtual_time  the clock moves only when told (`TestClock`): waiting for real time is pointless,
//                 since no amount of it brings a deadline closer.
enum class clock_pace : std::uint8_t { real_time, virtual_time };

// The pace a binding assumes for a clock of type `C`: `virtual_time` for a clock that is moved by
// hand (it has `advance_time(unix_nanos)`, like `TestClock`), `real_time` otherwise.
//   pace_of<TestClock> == clock_pace::virtual_time
//   pace_of<LiveClock> == clock_pace::real_time
// A wrapper that hides a `TestClock` (a user's own clock type) is taken as `real_time`; bind it
// through `AnyClock` and state its pace.
template <Clock C>
inline constexpr clock_pace pace_of = (requires(C& clock, unix_nanos t) { clock.advance_time(t); })
                                          ? clock_pace::virtual_time
                                          : clock_pace::real_time;

// Binds a clock to the facades of `Tag` for the lifetime of this object, then restores the binding
// that was current before it:
//
//   TestClock backtest;
//   {
//     scoped_clock_binding<> outer{backtest};       // facades read `backtest`
//     {
//       TestClock scenario{...};
//       scoped_clock_binding<> inner{scenario};     // facades read `scenario`
//     }                                             // facades read `backtest` again
//   }                                               // nothing bound: facades read the epoch
//
// The facades read the most recently created binding of `Tag` that is still alive. Bindings
// normally end in reverse order of creation (scopes); one that ends out of order (an
// `std::optional` reset early, another thread's binding) is simply unlinked, and the others keep
// their places.
//
// The clock is held by reference and must outlive the binding; binding a temporary does not
// compile. Not copyable or movable: the facades point at it. Binding and unbinding take a mutex
// (they are rare); reads take none.
template <class Tag = default_chrono_tag>
class scoped_clock_binding {
 public:
  // The tag whose facades this binding serves.
  using tag = Tag;

  // Binds `clock` with the pace of its type, `pace_of<C>`. An `AnyClock` does not say what it
  // refers to, so it must be bound with the two-argument form below, stating its pace.
  template <Clock C>
    requires(!std::same_as<std::remove_cvref_t<C>, AnyClock>)
  [[nodiscard]] explicit scoped_clock_binding(const C& clock)
      : scoped_clock_binding(AnyClock{clock}, pace_of<C>) {}

  // A temporary would be destroyed at the end of the full expression, long before the binding.
  template <Clock C>
  scoped_clock_binding(const C&& clock) = delete;

  // Binds the clock `clock` refers to, with the stated pace: the form for a clock chosen at run
  // time, `scoped_clock_binding<> binding{any, backtest ? clock_pace::virtual_time : clock_pace::real_time}`.
  [[nodiscard]] scoped_clock_binding(AnyClock clock, clock_pace pace) : clock_(clock), pace_(pace) {
    const std::lock_guard lock{chain_mutex_};
    previous_ = current_.load(std::memory_order_relaxed);
    // Release: a reader that sees this pointer sees `clock_` and `pace_` fully constructed.
    current_.store(this, std::memory_order_release);
  }

  scoped_clock_binding(const scoped_clock_binding&) = delete;
  scoped_clock_binding& operator=(const scoped_clock_binding&) = delete;
  scoped_clock_binding(scoped_clock_binding&&) = delete;
  scoped_clock_binding& operator=(scoped_clock_binding&&) = delete;

  // Ends the binding: if it is current, the one before it becomes current (or none); otherwise it
  // is unlinked from the chain of older bindings and nothing visible changes.
  ~scoped_clock_binding() {
    const std::lock_guard lock{chain_mutex_};
    if (current_.load(std::memory_order_relaxed) == this) {
      current_.store(previous_, std::memory_order_release);
      return;
    }
    // Ended out of order: a younger binding is current. Find the one whose predecessor this is.
    for (scoped_clock_binding* younger = current_.load(std::memory_order_relaxed); younger != nullptr;
         younger = younger->previous_) {
      if (younger->previous_ == this) {
        younger->previous_ = previous_;
        return;
      }
    }
  }

  // The bound clock.
  [[nodiscard]] const AnyClock& clock() const noexcept { return clock_; }

  // The pace stated or deduced when binding.
  [[nodiscard]] clock_pace pace() const noexcept { return pace_; }

  // The binding the facades of `Tag` read now, or null if none. The pointer stays valid only while
  // that binding lives (see "Threads" above).
  [[nodiscard]] static const scoped_clock_binding* current() noexcept {
    return current_.load(std::memory_order_acquire);
  }

 private:
  // Written under `chain_mutex_` only; readers never follow it.
  scoped_clock_binding* previous_ = nullptr;
  AnyClock clock_;
  clock_pace pace_;

  // Both constant-initialised (constexpr constructors), so a binding made during another
  // translation unit's static initialisation finds them ready.
  inline static std::atomic<scoped_clock_binding*> current_{nullptr};
  // Serialises changes to the chain of bindings; never taken by a read.
  inline static std::mutex chain_mutex_;
};

// A static realtime clock reading the clock bound to `Tag`: `now()` is the bound clock's `now()`,
// UTC nanoseconds since the Unix epoch. Its `time_point` is `unix_nanos`, a `system_clock` time
// point (the standard allows a clock to use another clock's time point when they share an epoch),
// so its readings mix freely with every other realtime value of the library.
//
// Not steady: the reading jumps with `TestClock::set_time` and `adjust_realtime`, with NTP steps
// of a live host, and when a binding with a different time begins or ends. Use
// `bound_steady_clock` to measure intervals or to run timers.
template <class Tag = default_chrono_tag>
class bound_system_clock {
 public:
  using binding = scoped_clock_binding<Tag>;
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = unix_nanos;
  static constexpr bool is_steady = false;

  // The bound clock's realtime now; the Unix epoch (1970-01-01T00:00:00Z) if nothing is bound.
  [[nodiscard]] static time_point now() noexcept {
    const binding* current = binding::current();
    return current != nullptr ? current->clock().now() : time_point{};
  }

  // True if a clock is bound to `Tag`.
  [[nodiscard]] static bool is_bound() noexcept { return binding::current() != nullptr; }
};

// A static monotonic clock reading the clock bound to `Tag`: `now()` is the bound clock's
// `monotonic_ns()` as a time point of this clock, from the bound clock's unspecified origin (a
// `TestClock`'s monotonic line starts equal to its realtime; a `LiveClock`'s at boot). Only
// differences between two readings mean anything. Its time points do not mix with `unix_nanos`:
// `steady::now() < unix_nanos{}` does not compile.
//
// Steady while one binding is current: a bound clock's monotonic time never decreases. A change of
// binding (a nested binding begins or ends) switches to another clock's line, which may be behind,
// so bind before the first read and keep the binding for the run.
template <class Tag = default_chrono_tag>
class bound_steady_clock {
 public:
  using binding = scoped_clock_binding<Tag>;
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<bound_steady_clock, duration>;
  static constexpr bool is_steady = true;

  // The bound clock's monotonic time now; `time_point{}` (zero) if nothing is bound.
  [[nodiscard]] static time_point now() noexcept {
    const binding* current = binding::current();
    return current != nullptr ? time_point{duration{current->clock().monotonic_ns()}} : time_point{};
  }

  // True if a clock is bound to `Tag`.
  [[nodiscard]] static bool is_bound() noexcept { return binding::current() != nullptr; }
};

namespace detail {

template <class F>
concept bound_facade = std::same_as<F, bound_system_clock<typename F::binding::tag>> ||
                       std::same_as<F, bound_steady_clock<typename F::binding::tag>>;

}  // namespace detail

// Wait traits for Asio's timers on a facade, the second parameter of
// `asio::basic_waitable_timer<Facade, bound_wait_traits<Facade>>` (Asio's WaitTraits
// requirements; this header does not include Asio). They tell the `io_context` how much *real*
// time to wait before it reads `Facade::now()` again to see whether a timer expired:
//
//   binding's pace  to_wait_duration(d)           effect
//   real_time       d (as Asio's own wait_traits)   the reactor sleeps until the deadline
//   virtual_time    zero                            the reactor re-reads the clock at once
//   nothing bound   zero                            (time stands still at the epoch)
//
// So one timer type serves live and backtest: the binding decides. Under virtual time, drive the
// `io_context` from the loop that moves the clock: advance the `TestClock`, then `poll()`, which
// completes every timer whose expiry the clock has reached and never blocks. The zero wait is
// what makes that work: with Asio's default traits, Linux's epoll reactor arms its timerfd for the
// virtual wait (capped at 5 minutes) of *real* time and looks at its timers only when that fires,
// so a `poll()` after advancing 1 hour would miss the expired timer. `run()` also works (another
// thread advancing the clock), but spins a core while it waits, as the reactor is told to look
// again at once.
//
// Asio has no public query for a timer queue's earliest expiry (chriskohlhoff/asio#430): the
// driving loop must learn the next deadline elsewhere (examples/asio_virtual_time.cpp mirrors each
// expiry as a `TestClock` alert).
template <class Facade>
  requires detail::bound_facade<Facade>
struct bound_wait_traits {
  // The real time to wait for a timer that expires `d` from now, by the facade's clock: `d` when
  // the bound clock moves in real time (negative `d`, an expired timer, is passed through, as Asio
  // expects); zero under virtual time or when nothing is bound.
  [[nodiscard]] static typename Facade::duration to_wait_duration(
      const typename Facade::duration& d) noexcept {
    return waits_in_real_time() ? d : Facade::duration::zero();
  }

  // The real time to wait for a timer that expires at `t`: `t - Facade::now()` when the bound
  // clock moves in real time, saturated to the duration's range rather than overflowing (as Asio's
  // own wait_traits); zero under virtual time or when nothing is bound.
  [[nodiscard]] static typename Facade::duration to_wait_duration(
      const typename Facade::time_point& t) noexcept {
    if (!waits_in_real_time()) return Facade::duration::zero();
    using rep = typename Facade::rep;
    constexpr rep max = std::numeric_limits<rep>::max();
    constexpr rep min = std::numeric_limits<rep>::min();
    const rep to = t.time_since_epoch().count();
    const rep from = Facade::now().time_since_epoch().count();
    // to - from leaves [min, max] only when the operands have opposite signs.
    if (from < 0 && to > max + from) return typename Facade::duration{max};
    if (from > 0 && to < min + from) return typename Facade::duration{min};
    return typename Facade::duration{to - from};
  }

 private:
  [[nodiscard]] static bool waits_in_real_time() noexcept {
    const auto* current = Facade::binding::current();
    return current != nullptr && current->pace() == clock_pace::real_time;
  }
};

}  // namespace nautilus
