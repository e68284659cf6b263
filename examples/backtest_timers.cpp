// Example: timers in a backtest. A strategy sets a one-minute bar timer for the session and a
// time alert that expires its DAY orders at the close; the backtest engine drives the TestClock
// from its market data; then an engine that dispatches the events itself. The output is identical
// on every run: that is the point.
#include <nautilus/clock.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include <fmt/core.h>

namespace {

// Strategy code is generic over TimerClock: the same class runs on LiveClock in production.
template <nautilus::TimerClock C>
class Strategy {
 public:
  Strategy(C& clock, nautilus::unix_nanos open, nautilus::unix_nanos close) : clock_(clock) {
    using namespace std::chrono_literals;
    // A lambda that captures only `this` fits a TimerCallback's 8 inline bytes: no allocation per
    // timer (a larger capture goes to a heap block; see docs/timers.md, "Callbacks").
    auto bar_closed = [this](const nautilus::TimeEvent& e) { on_bar(e); };
    static_assert(nautilus::TimerCallback::stored_inline<decltype(bar_closed)>);
    clock_.set_timer("bars-1m", 1min, open, close, bar_closed);
    clock_.set_time_alert("expire-day-orders", close, [this](const nautilus::TimeEvent& e) {
      fmt::print("  {}  #{} {}: DAY orders expired\n", clock_.now(), e.id, e.name);
    });
  }

 private:
  void on_bar(const nautilus::TimeEvent& e) {
    fmt::print("  {}  #{} {}: bar closed at {} (lateness {})\n", clock_.now(), e.id, e.name, e.ts_event,
               nautilus::readable(e.lateness));
  }
  C& clock_;
};

}  // namespace

int main() {
  using namespace std::chrono_literals;
  const auto open = nautilus::parse_iso8601("2024-03-01T14:30:00Z");
  nautilus::TestClock clock{open};
  Strategy strategy{clock, open, open + 3min};

  // The engine replays market data: before each message it advances the clock to the message's
  // time, so every timer due before it fires first, each at its own time.
  fmt::print("replaying three trades:\n");
  for (const auto ts : {open + 70s, open + 95s, open + 200s}) {
    clock.advance_time(ts);
    fmt::print("  {}  trade\n", clock.now());
  }

  // A stalled live loop, simulated deterministically: set_time jumps over ticks without firing
  // them; the next advance fires them late, under the timer's missed-tick policy.
  fmt::print("a stall of 3.5 minutes under each policy:\n");
  for (const auto policy : {nautilus::MissedTicks::burst, nautilus::MissedTicks::skip, nautilus::MissedTicks::delay}) {
    nautilus::TestClock stalled{open};
    const char* label = policy == nautilus::MissedTicks::burst ? "burst" : policy == nautilus::MissedTicks::skip ? "skip" : "delay";
    stalled.set_timer(label, 1min, std::nullopt, std::nullopt, {}, {.missed_ticks = policy});
    stalled.set_time(open + 210s);
    stalled.advance_time(open + 210s);
    for (const auto& e : stalled.take_events()) {
      fmt::print("  {:<5} tick {} fired late by {}, {} missed\n", e.name, e.ts_event, nautilus::readable(e.lateness),
                 e.missed);
    }
    fmt::print("  {:<5} next tick at {}\n", label, *stalled.next_time(label));
  }

  // An engine that dispatches events itself sets timers without callbacks and takes each step's
  // events sorted, into one buffer it clears and reuses (no allocation once it has grown).
  fmt::print("an engine dispatching its own events:\n");
  nautilus::TestClock engine_clock{open};
  engine_clock.set_timer("risk-check", 30s, std::nullopt, open + 90s);
  engine_clock.set_time_alert("cancel-stale-quotes", open + 45s);
  std::vector<nautilus::TimeEvent> due;
  for (const auto step : {open + 60s, open + 120s}) {
    due.clear();
    const std::size_t count = engine_clock.advance_time_collect(step, due);
    fmt::print("  up to {}: {} {}\n", step, count, count == 1 ? "event" : "events");
    for (const auto& e : due) fmt::print("    #{} {} at {}\n", e.id, e.name, e.ts_event);
  }
  return 0;
}
