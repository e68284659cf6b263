// Example: one generic function, run on the host's clock and on a hand-driven TestClock.
//
// `measure_fill` is written once against the Clock concept, the way every component of a trading
// engine should be: it stamps the order in realtime (UTC, for the audit trail) and measures
// order-to-fill latency in monotonic time. Live, the latency is whatever the host took; in a
// backtest, it is exactly what the simulation says, and the output is the same on every run.
#include <nautilus/clock.hpp>

#include <chrono>
#include <cstdint>
#include <string_view>

#include <fmt/core.h>

namespace {

template <nautilus::Clock C, class Work>
void measure_fill(std::string_view label, const C& clock, Work&& wait_for_fill) {
  const nautilus::unix_nanos ts_submitted = clock.now();  // leaves the process: realtime
  const std::int64_t start_ns = clock.monotonic_ns();     // for the interval: monotonic
  wait_for_fill();
  const std::chrono::nanoseconds latency{clock.monotonic_ns() - start_ns};
  fmt::print("{:<9} submitted {}  filled after {}\n", label, ts_submitted, nautilus::readable(latency));
}

}  // namespace

int main() {
  using namespace std::chrono_literals;

  // Live: the host's clocks; the "venue" is a busy loop standing in for real work.
  const nautilus::LiveClock live;
  measure_fill("live", live, [] {
    volatile std::uint64_t sink = 0;
    for (std::uint64_t i = 0; i < 200'000; ++i) sink = sink + i;
  });

  // Backtest: virtual time starts at the session open and moves only when told to.
  nautilus::TestClock test{nautilus::parse_iso8601("2024-03-01T14:30:00Z")};
  measure_fill("backtest", test, [&test] { test.advance_by(1'250us); });  // the simulated venue's latency

  // The same choice made at run time, behind one type.
  for (const bool backtest : {false, true}) {
    const nautilus::AnyClock clock = backtest ? nautilus::AnyClock{test} : nautilus::AnyClock{live};
    fmt::print("AnyClock ({}) reads {}\n", backtest ? "backtest" : "live", clock.now());
  }
  return 0;
}
