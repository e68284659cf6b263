#include <nautilus/clock/live_clock.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace {

std::int64_t system_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE("LiveClock realtime reads the system clock") {
  const nautilus::LiveClock clock;
  // Bracketed by two reads of std::chrono::system_clock. Realtime can be stepped by NTP between
  // the reads, so retry a few times before calling a miss a failure.
  bool bracketed = false;
  for (int attempt = 0; attempt < 5 && !bracketed; ++attempt) {
    const std::int64_t before = system_ns();
    const std::int64_t live = clock.now_ns();
    const std::int64_t after = system_ns();
    bracketed = before <= live && live <= after;
  }
  CHECK(bracketed);
  // A plausible present: after 2020-01-01 and, being int64 ns, before 2262.
  CHECK(clock.now() > nautilus::parse_iso8601("2020-01-01T00:00:00Z"));
}

TEST_CASE("LiveClock::now is now_ns as a time point") {
  const nautilus::LiveClock clock;
  const std::int64_t a = clock.now_ns();
  const auto t = clock.now();
  const std::int64_t b = clock.now_ns();
  CHECK(a <= nautilus::to_unix_ns(t));
  CHECK(nautilus::to_unix_ns(t) <= b + 1'000'000);  // allow a small NTP slew between reads
}

TEST_CASE("LiveClock monotonic time reads the steady clock and never decreases") {
  const nautilus::LiveClock clock;
  const std::int64_t before = steady_ns();
  const std::int64_t live = clock.monotonic_ns();
  const std::int64_t after = steady_ns();
  CHECK(before <= live);
  CHECK(live <= after);

  std::int64_t last = clock.monotonic_ns();
  int decreases = 0;
  for (int i = 0; i < 100'000; ++i) {
    const std::int64_t now = clock.monotonic_ns();
    if (now < last) ++decreases;
    last = now;
  }
  CHECK(decreases == 0);
}

TEST_CASE("LiveClock reads are noexcept and safe from many threads") {
  const nautilus::LiveClock clock;
  STATIC_REQUIRE(noexcept(clock.now()));
  STATIC_REQUIRE(noexcept(clock.now_ns()));
  STATIC_REQUIRE(noexcept(clock.monotonic_ns()));
  std::atomic<int> decreases{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::int64_t last = clock.monotonic_ns();
      for (int i = 0; i < 10'000; ++i) {
        const std::int64_t now = clock.monotonic_ns();
        if (now < last) decreases.fetch_add(1);
        last = now;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(decreases.load() == 0);
}
