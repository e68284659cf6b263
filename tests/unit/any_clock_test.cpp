#include <nautilus/clock/any_clock.hpp>
#include <nautilus/clock/live_clock.hpp>
#include <nautilus/clock/test_clock.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <type_traits>

using namespace std::chrono_literals;
using nautilus::AnyClock;
using nautilus::LiveClock;
using nautilus::TestClock;

namespace {

// A generic component, as an adapter would be written.
template <nautilus::Clock C>
std::int64_t elapsed_ns(const C& clock, std::int64_t since_monotonic_ns) {
  return clock.monotonic_ns() - since_monotonic_ns;
}

}  // namespace

TEST_CASE("AnyClock reads the clock it refers to") {
  SECTION("a TestClock, following its moves") {
    TestClock test{nautilus::parse_iso8601("2024-03-01T14:30:00Z")};
    const AnyClock any = test;
    CHECK(any.now() == test.now());
    test.advance_by(250ms);
    CHECK(any.now() == nautilus::parse_iso8601("2024-03-01T14:30:00.25Z"));
    CHECK(any.now_ns() == test.now_ns());
    CHECK(any.monotonic_ns() == test.monotonic_ns());
    CHECK(any.refers_to(test));
  }
  SECTION("a LiveClock") {
    const LiveClock live;
    const AnyClock any = live;
    const auto a = live.monotonic_ns();
    const auto b = any.monotonic_ns();
    const auto c = live.monotonic_ns();
    CHECK(a <= b);
    CHECK(b <= c);
    CHECK(any.now() > nautilus::parse_iso8601("2020-01-01T00:00:00Z"));
  }
}

TEST_CASE("AnyClock picks live or test at run time behind one type") {
  LiveClock live;
  TestClock test;
  for (const bool backtest : {true, false}) {
    const AnyClock clock = backtest ? AnyClock{test} : AnyClock{live};
    const auto start = clock.monotonic_ns();
    if (backtest) test.advance_by(5s);
    const auto elapsed = elapsed_ns(clock, start);
    if (backtest) {
      CHECK(elapsed == 5'000'000'000);
    } else {
      CHECK(elapsed >= 0);
    }
    CHECK(clock.refers_to(test) == backtest);
    CHECK(clock.refers_to(live) == !backtest);
  }
}

TEST_CASE("AnyClock copies share the referenced clock") {
  TestClock test;
  const AnyClock a = test;
  const AnyClock b = a;  // NOLINT(performance-unnecessary-copy-initialization): the point of the test
  test.advance_by(1s);
  CHECK(b.now_ns() == 1'000'000'000);
  CHECK(b.refers_to(test));
}

TEST_CASE("AnyClock is itself a Clock and refuses temporaries") {
  STATIC_REQUIRE(nautilus::Clock<AnyClock>);
  // A reference to a temporary would dangle at the end of the full expression.
  STATIC_REQUIRE_FALSE(std::is_constructible_v<AnyClock, LiveClock&&>);
  STATIC_REQUIRE_FALSE(std::is_constructible_v<AnyClock, const LiveClock&&>);
  // Twins that must compile: lvalues, const or not.
  STATIC_REQUIRE(std::is_constructible_v<AnyClock, LiveClock&>);
  STATIC_REQUIRE(std::is_constructible_v<AnyClock, const LiveClock&>);
  STATIC_REQUIRE(std::is_constructible_v<AnyClock, TestClock&>);
  // Wrapping an AnyClock copies it rather than nesting a second indirection.
  STATIC_REQUIRE(std::is_trivially_copyable_v<AnyClock>);
}
