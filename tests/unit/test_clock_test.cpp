#include <nautilus/clock/test_clock.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

using namespace std::chrono_literals;
using nautilus::clock_error;
using nautilus::from_unix_ns;
using nautilus::parse_iso8601;
using nautilus::TestClock;
using Catch::Matchers::Contains;

TEST_CASE("TestClock starts at the Unix epoch unless given a start time") {
  SECTION("default") {
    const TestClock clock;
    CHECK(clock.now() == nautilus::unix_epoch);
    CHECK(clock.now_ns() == 0);
    CHECK(clock.monotonic_ns() == 0);
  }
  SECTION("given a start") {
    const auto start = parse_iso8601("2024-03-01T14:30:00.000000123Z");
    const TestClock clock{start};
    CHECK(clock.now() == start);
    CHECK(clock.now_ns() == nautilus::to_unix_ns(start));
  }
  SECTION("at the ends of the range") {
    CHECK(TestClock{nautilus::unix_nanos_min}.now() == nautilus::unix_nanos_min);
    CHECK(TestClock{nautilus::unix_nanos_max}.now() == nautilus::unix_nanos_max);
  }
}

TEST_CASE("TestClock does not tick on its own") {
  const TestClock clock{from_unix_ns(42)};
  for (int i = 0; i < 1000; ++i) REQUIRE(clock.now_ns() == 42);
}

TEST_CASE("TestClock moves forward by set_time, advance_time and advance_by") {
  TestClock clock{parse_iso8601("2024-03-01T00:00:00Z")};
  SECTION("advance_time to a later time") {
    clock.advance_time(parse_iso8601("2024-03-01T09:30:00Z"));
    CHECK(clock.now() == parse_iso8601("2024-03-01T09:30:00Z"));
  }
  SECTION("set_time to a later time") {
    clock.set_time(parse_iso8601("2024-03-04T00:00:00Z"));
    CHECK(clock.now() == parse_iso8601("2024-03-04T00:00:00Z"));
  }
  SECTION("advance_by a duration, by one nanosecond") {
    clock.advance_by(90min);
    CHECK(clock.now() == parse_iso8601("2024-03-01T01:30:00Z"));
    clock.advance_by(1ns);
    CHECK(clock.now() == parse_iso8601("2024-03-01T01:30:00.000000001Z"));
  }
  SECTION("monotonic time moves with it, one virtual line") {
    const auto before = clock.monotonic_ns();
    clock.advance_by(1s);
    CHECK(clock.monotonic_ns() - before == 1'000'000'000);
    CHECK(clock.monotonic_ns() == clock.now_ns());
  }
}

TEST_CASE("TestClock accepts a move to the current time and changes nothing") {
  TestClock clock{from_unix_ns(1'000)};
  clock.advance_time(from_unix_ns(1'000));
  clock.set_time(from_unix_ns(1'000));
  clock.advance_by(0ns);
  CHECK(clock.now_ns() == 1'000);
}

TEST_CASE("TestClock refuses to move backwards, naming both times") {
  TestClock clock{parse_iso8601("2024-03-01T12:00:00Z")};
  const auto earlier = parse_iso8601("2024-03-01T11:59:59.999999999Z");
  SECTION("advance_time") {
    REQUIRE_THROWS_MATCHES(clock.advance_time(earlier), clock_error,
                           Catch::Matchers::Predicate<clock_error>([](const clock_error& e) {
                             const std::string what = e.what();
                             return what.find("advance_time") != std::string::npos &&
                                    what.find("2024-03-01T11:59:59.999999999Z") != std::string::npos &&
                                    what.find("2024-03-01T12:00:00.000000000Z") != std::string::npos;
                           }));
  }
  SECTION("set_time") {
    REQUIRE_THROWS_WITH(clock.set_time(earlier), Contains("set_time") && Contains("before the current time"));
  }
  SECTION("advance_by a negative duration") {
    REQUIRE_THROWS_WITH(clock.advance_by(-1ns), Contains("negative duration -1ns"));
  }
  // A refused move leaves the clock where it was.
  CHECK(clock.now() == parse_iso8601("2024-03-01T12:00:00Z"));
}

TEST_CASE("TestClock::advance_by past 2262-04-11 throws instead of wrapping") {
  TestClock clock{nautilus::unix_nanos_max - 5ns};
  clock.advance_by(5ns);
  CHECK(clock.now() == nautilus::unix_nanos_max);
  REQUIRE_THROWS_AS(clock.advance_by(1ns), clock_error);
  CHECK(clock.now() == nautilus::unix_nanos_max);
  TestClock later{from_unix_ns(1)};
  REQUIRE_THROWS_WITH(later.advance_by(std::chrono::nanoseconds::max()),
                      Contains("outside the int64 nanosecond range"));
  CHECK(later.now_ns() == 1);
}

TEST_CASE("TestClock reads are noexcept and the clock is neither copyable nor movable") {
  const TestClock clock;
  STATIC_REQUIRE(noexcept(clock.now()));
  STATIC_REQUIRE(noexcept(clock.now_ns()));
  STATIC_REQUIRE(noexcept(clock.monotonic_ns()));
  STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<TestClock>);
  STATIC_REQUIRE_FALSE(std::is_move_constructible_v<TestClock>);
  STATIC_REQUIRE_FALSE(std::is_copy_assignable_v<TestClock>);
}

TEST_CASE("TestClock readers on other threads never see time go backwards or tear") {
  // One driver thread advances; readers check each reading is one the driver wrote and never
  // less than their previous one. Under the tsan preset this is also a data-race check.
  TestClock clock;
  constexpr std::int64_t steps = 20'000;
  std::atomic<bool> done{false};
  std::atomic<int> violations{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      std::int64_t last = 0;
      while (!done.load(std::memory_order_acquire)) {
        const std::int64_t now = clock.now_ns();
        // The driver only writes multiples of 1000 in [0, steps * 1000].
        if (now < last || now % 1000 != 0 || now > steps * 1000) violations.fetch_add(1);
        last = now;
      }
    });
  }
  for (std::int64_t i = 1; i <= steps; ++i) clock.advance_by(1us);
  done.store(true, std::memory_order_release);
  for (auto& t : readers) t.join();
  CHECK(violations.load() == 0);
  CHECK(clock.now_ns() == steps * 1000);
}

TEST_CASE("TestClock refuses a move whose span does not fit int64 nanoseconds, without overflow") {
  // 1677 to 2262 is more than 2^63 ns: the monotonic line cannot follow.
  TestClock clock{nautilus::unix_nanos_min};
  REQUIRE_THROWS_WITH(clock.set_time(nautilus::unix_nanos_max),
                      Contains("set_time") && Contains("leaves the int64 nanosecond range"));
  REQUIRE_THROWS_WITH(clock.advance_time(nautilus::unix_nanos_max), Contains("advance_time"));
  CHECK(clock.now() == nautilus::unix_nanos_min);
  // INT64_MAX nanoseconds fit exactly: min + max = -1.
  clock.advance_time(from_unix_ns(-1));
  CHECK(clock.now_ns() == -1);
  CHECK(clock.monotonic_ns() == -1);
  clock.advance_by(1ns);  // both lines move to 0: in range (this once overflowed in a range check)
  CHECK(clock.now() == nautilus::unix_epoch);
  CHECK(clock.monotonic_ns() == 0);
  // After a large realtime step the lines are far apart; moves are still checked, not wrapped.
  TestClock stepped{nautilus::unix_epoch};
  stepped.adjust_realtime(-std::chrono::hours{24 * 365 * 250});
  CHECK(stepped.monotonic_ns() == 0);
  stepped.set_time(nautilus::unix_epoch);
  CHECK(stepped.monotonic_ns() == std::chrono::nanoseconds{std::chrono::hours{24 * 365 * 250}}.count());
  CHECK_THROWS_AS(stepped.advance_time(nautilus::unix_nanos_max), clock_error);
}
