// The Clock concept, and the mix-ups the types make impossible. Each must-not-compile case sits
// beside a twin that must compile, so a typo in the check cannot pass for a rejection.
#include <nautilus/clock/any_clock.hpp>
#include <nautilus/clock/concepts.hpp>
#include <nautilus/clock/live_clock.hpp>
#include <nautilus/clock/test_clock.hpp>
#include <nautilus/clock/time.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <type_traits>

using namespace std::chrono_literals;
using nautilus::Clock;
using nautilus::unix_nanos;

namespace {

struct GoodClock {
  unix_nanos now() const noexcept { return {}; }
  std::int64_t now_ns() const noexcept { return 0; }
  std::int64_t monotonic_ns() const noexcept { return 0; }
};
struct ThrowingRead {  // now() may throw
  unix_nanos now() const { return {}; }
  std::int64_t now_ns() const noexcept { return 0; }
  std::int64_t monotonic_ns() const noexcept { return 0; }
};
struct RawNow {  // now() returns a bare integer
  std::int64_t now() const noexcept { return 0; }
  std::int64_t now_ns() const noexcept { return 0; }
  std::int64_t monotonic_ns() const noexcept { return 0; }
};
struct NoMonotonic {
  unix_nanos now() const noexcept { return {}; }
  std::int64_t now_ns() const noexcept { return 0; }
};
struct MutatingRead {  // reads need a non-const clock
  unix_nanos now() noexcept { return {}; }
  std::int64_t now_ns() noexcept { return 0; }
  std::int64_t monotonic_ns() noexcept { return 0; }
};
struct MicrosecondNow {  // a coarser time point is a different type
  std::chrono::sys_time<std::chrono::microseconds> now() const noexcept { return {}; }
  std::int64_t now_ns() const noexcept { return 0; }
  std::int64_t monotonic_ns() const noexcept { return 0; }
};

// The checks are concepts over template parameters: a requires-expression with no template
// parameter is checked eagerly, and a mistake would be a hard error rather than `false`.
template <class A, class B>
concept addable = requires(A a, B b) { a + b; };
template <class A, class B>
concept less_comparable = requires(A a, B b) { a < b; };
template <class C, class D>
concept can_advance_by = requires(C& c, D d) { c.advance_by(d); };
template <class C, class T>
concept can_advance_time = requires(C& c, T t) { c.advance_time(t); };
template <class C, class T>
concept can_set_time = requires(C& c, T t) { c.set_time(t); };

}  // namespace

TEST_CASE("Clock is modelled by the library's clocks") {
  STATIC_REQUIRE(Clock<nautilus::LiveClock>);
  STATIC_REQUIRE(Clock<nautilus::TestClock>);
  STATIC_REQUIRE(Clock<nautilus::AnyClock>);
  STATIC_REQUIRE(Clock<GoodClock>);
}

TEST_CASE("Clock rejects reads that can throw, bare integers, missing or mutating reads") {
  STATIC_REQUIRE_FALSE(Clock<ThrowingRead>);
  STATIC_REQUIRE_FALSE(Clock<RawNow>);
  STATIC_REQUIRE_FALSE(Clock<NoMonotonic>);
  STATIC_REQUIRE_FALSE(Clock<MutatingRead>);
  STATIC_REQUIRE_FALSE(Clock<MicrosecondNow>);
  STATIC_REQUIRE_FALSE(Clock<int>);
}

TEST_CASE("Time arithmetic that makes no sense does not compile") {
  SECTION("two time points cannot be added; a time point and a duration can") {
    STATIC_REQUIRE_FALSE(addable<unix_nanos, unix_nanos>);
    STATIC_REQUIRE(addable<unix_nanos, std::chrono::nanoseconds>);
  }
  SECTION("the difference of two time points is a duration, not a time point") {
    STATIC_REQUIRE(std::is_same_v<decltype(unix_nanos{} - unix_nanos{}), std::chrono::nanoseconds>);
  }
  SECTION("a time point does not compare with a bare integer; with another time point it does") {
    STATIC_REQUIRE_FALSE(less_comparable<unix_nanos, std::int64_t>);
    STATIC_REQUIRE(less_comparable<unix_nanos, unix_nanos>);
  }
  SECTION("a bare integer is not a time point; from_unix_ns says what it means") {
    STATIC_REQUIRE_FALSE(std::is_convertible_v<std::int64_t, unix_nanos>);
    STATIC_REQUIRE(std::is_same_v<decltype(nautilus::from_unix_ns(0)), unix_nanos>);
  }
}

TEST_CASE("TestClock takes durations and time points, not bare integers") {
  SECTION("advance_by") {
    STATIC_REQUIRE_FALSE(can_advance_by<nautilus::TestClock, int>);
    STATIC_REQUIRE_FALSE(can_advance_by<nautilus::TestClock, std::int64_t>);
    STATIC_REQUIRE(can_advance_by<nautilus::TestClock, std::chrono::nanoseconds>);
    STATIC_REQUIRE(can_advance_by<nautilus::TestClock, std::chrono::minutes>);
  }
  SECTION("advance_time and set_time") {
    STATIC_REQUIRE_FALSE(can_advance_time<nautilus::TestClock, std::int64_t>);
    STATIC_REQUIRE(can_advance_time<nautilus::TestClock, unix_nanos>);
    STATIC_REQUIRE_FALSE(can_set_time<nautilus::TestClock, std::int64_t>);
    STATIC_REQUIRE(can_set_time<nautilus::TestClock, unix_nanos>);
  }
  SECTION("construction") {
    STATIC_REQUIRE_FALSE(std::is_constructible_v<nautilus::TestClock, std::int64_t>);
    STATIC_REQUIRE(std::is_constructible_v<nautilus::TestClock, unix_nanos>);
  }
  SECTION("a coarser time point converts implicitly, exactly (seconds to nanoseconds)") {
    STATIC_REQUIRE(can_advance_time<nautilus::TestClock, std::chrono::sys_seconds>);
    // ...but a finer one, which would lose digits, does not.
    STATIC_REQUIRE_FALSE(can_advance_time<nautilus::TestClock, std::chrono::sys_time<std::chrono::duration<std::int64_t, std::pico>>>);
  }
}
