// Example: stamping market data with TscClock, and asking the host whether its clock can be trusted.
//
// `TscClock` is a `Clock` like the others, so the stamping code is the same generic code a backtest
// runs on `TestClock`; it only reads faster (the CPU's counter instead of the vDSO). The clock health
// check is what a trading system logs at start-up and exports as a metric: MiFID II RTS 25 asks
// high-frequency traders to stay within 100 us of UTC, and the kernel knows how far it may be off.
#include <nautilus/clock.hpp>  // TscClock, read_clock_health, check_health

#include <array>
#include <chrono>
#include <cstdint>

#include <fmt/core.h>

namespace {

struct Quote {
  std::int64_t ts_recv_ns = 0;  // realtime, for the audit trail and the wire
  double bid = 0;
  double ask = 0;
};

// Written once against the concept: the same code stamps live (TscClock) and in a backtest.
template <nautilus::Clock C>
Quote on_quote(const C& clock, double bid, double ask) {
  return Quote{clock.now_ns(), bid, ask};
}

}  // namespace

int main() {
  using namespace std::chrono_literals;

  // Calibrates for 20 ms, then a background thread resynchronises every second.
  const nautilus::TscClock clock;
  if (clock.is_fallback()) {
    fmt::print("TscClock: no usable counter ({}); reading LiveClock instead\n", clock.fallback_reason());
  } else {
    fmt::print("TscClock: counter {} at {:.6f} GHz\n", nautilus::to_string(clock.source()), clock.counter_hz() / 1e9);
  }

  std::array<Quote, 4> quotes{};
  double bid = 100.00;
  for (Quote& q : quotes) {
    q = on_quote(clock, bid, bid + 0.01);
    bid += 0.01;
  }
  for (const Quote& q : quotes) {
    fmt::print("  quote {:.2f}/{:.2f} received {}\n", q.bid, q.ask, nautilus::from_unix_ns(q.ts_recv_ns));
  }
  bool ordered = true;
  for (std::size_t i = 1; i < quotes.size(); ++i) ordered = ordered && quotes[i - 1].ts_recv_ns <= quotes[i].ts_recv_ns;
  fmt::print("stamps in order: {}\n", ordered ? "yes" : "NO");

  const nautilus::TscError error = clock.measure_error();
  fmt::print("TscClock - system clock: {} ns (+- {} ns)\n", error.offset.count(), error.uncertainty.count());

  // The host's own answer: synchronised? how far from UTC may it be?
  const nautilus::ClockHealth health = nautilus::read_clock_health();
  const nautilus::HealthCheck check = nautilus::check_health(health);  // 100 us: MiFID II HFT
  fmt::print("host clock: {} (clocksource {})\n", nautilus::to_string(health.state),
             health.clocksource.empty() ? "unknown" : health.clocksource);
  fmt::print("health verdict: {}\n", check.explanation);
}
