// Uses the public API through the umbrella header; prints a line the CTest test matches.
#include <nautilus/clock.hpp>

#include <chrono>
#include <cstdio>

#include <fmt/core.h>

namespace {

template <nautilus::Clock C>
nautilus::unix_nanos stamp(const C& clock) {
  return clock.now();
}

}  // namespace

int main() {
  using namespace std::chrono_literals;
  nautilus::TestClock clock{nautilus::parse_iso8601("2024-03-01T14:29:00Z")};
  clock.advance_by(1min);
  const nautilus::AnyClock any = clock;
  if (stamp(any) != clock.now()) return 1;
  fmt::print("consumer ok: {} via {}\n", stamp(clock), CONSUMER_MODE);
  return 0;
}
