// TestClock's timers: the ordering contract, re-entrancy, stepping, stalls and NTP steps.
// Timelines: `|` a tick, `^` where the clock is moved to.
#include <nautilus/clock/test_clock.hpp>
#include <nautilus/clock/timers.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using nautilus::MissedTicks;
using nautilus::TestClock;
using nautilus::TimeEvent;
using nautilus::unix_nanos;
using Catch::Matchers::Contains;

namespace {

const unix_nanos t0 = nautilus::parse_iso8601("2024-03-01T09:30:00Z");

// One line per event: what a replay comparison needs, bit for bit.
std::string line(const TimeEvent& e) {
  return e.name + " #" + std::to_string(e.id) + " @" + nautilus::format_iso8601(e.ts_event) + " init " +
         nautilus::format_iso8601(e.ts_init) + " late " + std::to_string(e.lateness.count()) + " missed " +
         std::to_string(e.missed);
}

struct Log {
  std::vector<std::string> lines;
  std::vector<TimeEvent> events;
  nautilus::TimerCallback callback() {
    return [this](const TimeEvent& e) {
      events.push_back(e);
      lines.push_back(line(e));
    };
  }
};

}  // namespace

TEST_CASE("TestClock fires timers in deadline order, then in the order they were set") {
  //   t0     +1s        +2s
  //   |      b(1) a(2)  c    (a and b both at +1s: a was set first)
  TestClock clock{t0};
  Log log;
  clock.set_time_alert("c", t0 + 2s, log.callback());
  clock.set_time_alert("a", t0 + 1s, log.callback());
  clock.set_time_alert("b", t0 + 1s, log.callback());
  CHECK(clock.advance_time(t0 + 5s) == 3);
  REQUIRE(log.events.size() == 3);
  CHECK(log.events[0].name == "a");
  CHECK(log.events[1].name == "b");
  CHECK(log.events[2].name == "c");
  CHECK(log.events[0].id == 1);
  CHECK(log.events[2].id == 3);
  CHECK(clock.now() == t0 + 5s);
}

TEST_CASE("TestClock runs each callback with now() equal to the event's time, lateness zero") {
  TestClock clock{t0};
  std::vector<unix_nanos> seen;
  clock.set_timer("bars", 1min, std::nullopt, std::nullopt, [&](const TimeEvent& e) {
    CHECK(clock.now() == e.ts_event);
    CHECK(e.ts_init == e.ts_event);
    CHECK(e.lateness == 0ns);
    CHECK(clock.monotonic_ns() == nautilus::to_unix_ns(e.ts_event));
    seen.push_back(clock.now());
  });
  clock.advance_by(3min + 30s);
  CHECK(seen == std::vector<unix_nanos>{t0 + 1min, t0 + 2min, t0 + 3min});
}

TEST_CASE("TestClock honours timers that callbacks set or cancel during an advance") {
  TestClock clock{t0};
  Log log;
  SECTION("a callback chains an alert due before the next tick: it fires in between (not after)") {
    //   t0   +1s: a -> sets a2 at +1.5s   +1.5s: a2   +2s: b
    clock.set_time_alert("a", t0 + 1s, [&](const TimeEvent& e) {
      log.callback()(e);
      clock.set_time_alert("a2", clock.now() + 500ms, log.callback());
    });
    clock.set_time_alert("b", t0 + 2s, log.callback());
    clock.advance_time(t0 + 3s);
    REQUIRE(log.events.size() == 3);
    CHECK(log.events[1].name == "a2");
    CHECK(log.events[1].ts_event == t0 + 1500ms);
  }
  SECTION("a callback sets an alert for its own time: it fires in the same advance, after it") {
    clock.set_time_alert("a", t0 + 1s, [&](const TimeEvent& e) {
      log.callback()(e);
      clock.set_time_alert("same-time", clock.now(), log.callback());
    });
    clock.set_time_alert("b", t0 + 1s, log.callback());
    clock.advance_time(t0 + 1s);
    REQUIRE(log.events.size() == 3);
    CHECK(log.events[0].name == "a");
    CHECK(log.events[1].name == "b");
    CHECK(log.events[2].name == "same-time");
  }
  SECTION("a callback cancels a timer due later in the same advance: it never fires") {
    clock.set_time_alert("canceller", t0 + 1s, [&](const TimeEvent& e) {
      log.callback()(e);
      CHECK(clock.cancel_timer("victim"));
    });
    clock.set_time_alert("victim", t0 + 2s, log.callback());
    CHECK(clock.advance_time(t0 + 3s) == 1);
    REQUIRE(log.events.size() == 1);
  }
  SECTION("a periodic callback cancels itself: no further ticks") {
    int ticks = 0;
    clock.set_timer("self", 1s, std::nullopt, std::nullopt, [&](const TimeEvent&) {
      if (++ticks == 3) CHECK(clock.cancel_timer("self"));
    });
    clock.advance_by(10s);
    CHECK(ticks == 3);
    CHECK(clock.timer_count() == 0);
  }
  SECTION("a periodic callback replaces itself with a new interval") {
    std::vector<unix_nanos> seen;
    std::function<void(const TimeEvent&)> every_2s = [&](const TimeEvent& e) { seen.push_back(e.ts_event); };
    clock.set_timer("x", 1s, std::nullopt, std::nullopt, [&](const TimeEvent& e) {
      seen.push_back(e.ts_event);
      clock.cancel_timer("x");
      clock.set_timer("x", 2s, std::nullopt, std::nullopt, every_2s);
    });
    clock.advance_by(5s);
    CHECK(seen == std::vector<unix_nanos>{t0 + 1s, t0 + 3s, t0 + 5s});
  }
  SECTION("a lone periodic timer's callback sets alerts before its next tick: they fire in between") {
    // One timer in one lane and nothing else pending: each fire finds the next tick without asking
    // the queue, and an alert set meanwhile must still come first.
    clock.set_timer("bar", 1s, std::nullopt, std::nullopt, [&](const TimeEvent& e) {
      log.callback()(e);
      if (e.ts_event == t0 + 2s) {
        clock.set_time_alert(clock.now() + 500ms, log.callback());  // anonymous
        clock.set_time_alert("named", clock.now() + 250ms, log.callback());
      }
    });
    clock.advance_time(t0 + 3s);
    REQUIRE(log.events.size() == 5);
    CHECK(log.events[2].name == "named");
    CHECK(log.events[2].ts_event == t0 + 2250ms);
    CHECK(log.events[3].name.empty());
    CHECK(log.events[3].ts_event == t0 + 2500ms);
    CHECK(log.events[4].ts_event == t0 + 3s);
  }
  SECTION("a batch of anonymous alerts: one's callback sets an alert before the next: it fires in between") {
    // Alerts set into an empty queue are read in order from one sorted run; one set while it is
    // read must still come first.
    for (int i = 1; i <= 3; ++i) {
      clock.set_time_alert(t0 + i * 1s, [&, i](const TimeEvent& e) {
        log.callback()(e);
        if (i == 1) clock.set_time_alert(clock.now() + 100ms, log.callback());
      });
    }
    clock.advance_time(t0 + 4s);
    REQUIRE(log.events.size() == 4);
    CHECK(log.events[1].ts_event == t0 + 1100ms);
    CHECK(log.events[2].ts_event == t0 + 2s);
    CHECK(log.events[3].ts_event == t0 + 3s);
    for (std::size_t k = 0; k < 4; ++k) CHECK(log.events[k].id == k + 1);
  }
  SECTION("moving the clock from a callback is refused") {
    clock.set_time_alert("rogue", t0 + 1s, [&](const TimeEvent&) { clock.advance_by(1s); });
    REQUIRE_THROWS_WITH(clock.advance_time(t0 + 2s), Contains("called from a timer callback"));
  }
}

TEST_CASE("TestClock periodic start and stop edges") {
  TestClock clock{t0};
  Log log;
  SECTION("the first tick is start + interval; stop one nanosecond before a tick excludes it") {
    //   t0  +1s  +2s  (+3s - 1ns = stop)  +3s
    //        |    |                        x
    clock.set_timer("t", 1s, t0, t0 + 3s - 1ns, log.callback());
    clock.advance_by(10s);
    REQUIRE(log.events.size() == 2);
    CHECK(log.events[1].ts_event == t0 + 2s);
  }
  SECTION("fire_immediately with stop == start: exactly one tick, at start") {
    clock.set_timer("once", 1s, t0 + 5s, t0 + 5s, log.callback(), {.fire_immediately = true});
    clock.advance_by(1min);
    REQUIRE(log.events.size() == 1);
    CHECK(log.events[0].ts_event == t0 + 5s);
    CHECK(clock.timer_count() == 0);
  }
  SECTION("a start in the future: nothing until start + interval") {
    clock.set_timer("later", 10s, t0 + 1min, std::nullopt, log.callback());
    clock.advance_by(1min + 9s);
    CHECK(log.events.empty());
    clock.advance_by(1s);
    CHECK(log.events.size() == 1);
  }
  SECTION("an alert exactly at now fires on the next advance, even to the same time") {
    clock.set_time_alert("now", t0, log.callback());
    CHECK(clock.advance_time(t0) == 1);
  }
}

TEST_CASE("TestClock::set_time jumps over ticks; the next advance applies each timer's policy") {
  // Ticks of three 1s timers; set_time(t0 + 5.5s) then advance_time(t0 + 5.5s):
  //   t0  1  2  3  4  5  ^5.5  6   6.5
  //   burst  |  |  |  |  |  (all at 5.5)   then 6
  //   skip               |  (missed 4)     then 6
  //   delay              |  (missed 4)         then 6.5
  TestClock clock{t0};
  Log log;
  clock.set_timer("burst", 1s, std::nullopt, std::nullopt, log.callback());
  clock.set_timer("skip", 1s, std::nullopt, std::nullopt, log.callback(), {.missed_ticks = MissedTicks::skip});
  clock.set_timer("delay", 1s, std::nullopt, std::nullopt, log.callback(), {.missed_ticks = MissedTicks::delay});
  clock.set_time(t0 + 5500ms);
  CHECK(log.events.empty());  // set_time fires nothing
  CHECK(clock.advance_time(t0 + 5500ms) == 7);
  CHECK(log.lines == std::vector<std::string>{
                         "burst #1 @2024-03-01T09:30:01.000000000Z init 2024-03-01T09:30:05.500000000Z late 4500000000 missed 0",
                         "burst #2 @2024-03-01T09:30:02.000000000Z init 2024-03-01T09:30:05.500000000Z late 3500000000 missed 0",
                         "burst #3 @2024-03-01T09:30:03.000000000Z init 2024-03-01T09:30:05.500000000Z late 2500000000 missed 0",
                         "burst #4 @2024-03-01T09:30:04.000000000Z init 2024-03-01T09:30:05.500000000Z late 1500000000 missed 0",
                         "burst #5 @2024-03-01T09:30:05.000000000Z init 2024-03-01T09:30:05.500000000Z late 500000000 missed 0",
                         "skip #6 @2024-03-01T09:30:05.000000000Z init 2024-03-01T09:30:05.500000000Z late 500000000 missed 4",
                         "delay #7 @2024-03-01T09:30:05.000000000Z init 2024-03-01T09:30:05.500000000Z late 500000000 missed 4",
                     });
  CHECK(clock.next_time("burst") == t0 + 6s);
  CHECK(clock.next_time("skip") == t0 + 6s);
  CHECK(clock.next_time("delay") == t0 + 6500ms);
}

TEST_CASE("TestClock::set_time over a day costs one fire under skip, one per tick under burst") {
  TestClock clock{t0};
  clock.set_timer("skip", 1s, std::nullopt, std::nullopt, {}, {.missed_ticks = MissedTicks::skip});
  clock.set_time(t0 + 24h);
  CHECK(clock.advance_time(t0 + 24h) == 1);
  const auto events = clock.take_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].missed == 86'399);
  CHECK(events[0].ts_event == t0 + 24h);
}

TEST_CASE("TestClock::advance_to_next steps to the next deadline only") {
  TestClock clock{t0};
  Log log;
  CHECK_FALSE(clock.advance_to_next());
  CHECK(clock.now() == t0);
  clock.set_time_alert("b", t0 + 2s, log.callback());
  clock.set_time_alert("a", t0 + 1s, [&](const TimeEvent& e) {
    log.callback()(e);
    clock.set_time_alert("a-chained", clock.now(), log.callback());  // same time: same step
  });
  CHECK(clock.advance_to_next() == t0 + 1s);
  CHECK(clock.now() == t0 + 1s);
  CHECK(log.events.size() == 2);
  CHECK(clock.advance_to_next() == t0 + 2s);
  CHECK(log.events.size() == 3);
  CHECK_FALSE(clock.advance_to_next());
}

TEST_CASE("TestClock::advance_to_next stops at 2262 when a realtime step puts the next tick past it") {
  TestClock clock{t0};
  Log log;
  clock.set_time_alert("far", nautilus::parse_iso8601("2250-01-01T00:00:00Z"), log.callback());
  // 20 years ahead on the realtime line: the tick, 226 years away on the monotonic line, would
  // read 2270, past the last representable time. The clock goes as far as it can, without
  // wrapping back to 1677 or firing the tick.
  clock.adjust_realtime(std::chrono::hours{24 * 365 * 20});
  const unix_nanos end = nautilus::from_unix_ns(std::numeric_limits<std::int64_t>::max());
  CHECK(clock.advance_to_next() == end);
  CHECK(clock.now() == end);
  CHECK(log.events.empty());
  CHECK(clock.timer_names() == std::vector<std::string>{"far"});
}

TEST_CASE("TestClock::advance_to_next: a tick already late, a stepped realtime, a call from a callback") {
  TestClock clock{t0};
  Log log;
  clock.set_time_alert("late", t0 + 1s, log.callback());
  clock.set_time(t0 + 5s);  // jumps over the alert without firing it
  // The tick is due already: the clock stays at now and fires it late.
  CHECK(clock.advance_to_next() == t0 + 5s);
  REQUIRE(log.events.size() == 1);
  CHECK(log.events[0].ts_event == t0 + 1s);
  CHECK(log.events[0].ts_init == t0 + 5s);
  CHECK(log.events[0].lateness == 4s);
  // After a realtime step the deadline stays on the monotonic line: 10 s from the alert's setting,
  // which reads 30 s earlier in realtime now.
  clock.set_time_alert("after-step", t0 + 15s, log.callback());
  clock.adjust_realtime(-30s);
  CHECK(clock.advance_to_next() == t0 - 15s);
  CHECK(clock.now() == t0 - 15s);
  REQUIRE(log.events.size() == 2);
  CHECK(log.events[1].name == "after-step");
  CHECK(log.events[1].lateness == 0s);
  // From a callback: refused, as every other way of moving the clock is.
  clock.set_time_alert("nested", t0, [&](const TimeEvent&) { clock.advance_to_next(); });
  clock.set_time_alert("next", t0 + 1s, log.callback());
  CHECK_THROWS_WITH(clock.advance_to_next(), Contains("advance_to_next: called from a timer callback"));
  CHECK(clock.timer_count() == 1);  // "next" is still pending
}

TEST_CASE("TestClock::next_deadline follows every change made after it was asked") {
  // The engine keeps the earliest entry between queries; each change must be seen.
  TestClock clock{t0};
  Log log;
  const auto a = clock.set_time_alert("a", t0 + 2s, log.callback());
  clock.set_time_alert("b", t0 + 3s, log.callback());
  CHECK(clock.next_deadline() == t0 + 2s);
  clock.set_time_alert("c", t0 + 1s, log.callback());  // earlier than the one found
  CHECK(clock.next_deadline() == t0 + 1s);
  CHECK(clock.cancel_timer("c"));  // the one found, cancelled by name
  CHECK(clock.next_deadline() == t0 + 2s);
  CHECK(clock.cancel_timer(a));  // and by handle
  CHECK(clock.next_deadline() == t0 + 3s);
  CHECK(clock.advance_to_next() == t0 + 3s);
  REQUIRE(log.events.size() == 1);
  CHECK(log.events[0].name == "b");
  clock.set_time_alert("d", t0 + 4s, log.callback());
  CHECK(clock.next_deadline() == t0 + 4s);
  CHECK(clock.cancel_timers() == 1);
  CHECK_FALSE(clock.next_deadline());
  CHECK_FALSE(clock.advance_to_next());
}

TEST_CASE("TestClock::advance_time_collect returns the due events sorted and runs no callback") {
  TestClock clock{t0};
  int callbacks = 0;
  clock.set_timer("bars", 1min, std::nullopt, std::nullopt, [&](const TimeEvent&) { ++callbacks; });
  clock.set_time_alert("expiry", t0 + 90s, [&](const TimeEvent&) { ++callbacks; });
  const auto events = clock.advance_time_collect(t0 + 2min);
  CHECK(callbacks == 0);
  REQUIRE(events.size() == 3);
  CHECK(events[0].ts_event == t0 + 1min);
  CHECK(events[1].name == "expiry");
  CHECK(events[2].ts_event == t0 + 2min);
  CHECK(clock.next_time("bars") == t0 + 3min);  // re-armed as usual
  clock.advance_by(1min);
  CHECK(callbacks == 1);  // the callback was kept
}

TEST_CASE("TestClock::adjust_realtime steps realtime only, as NTP steps a live host") {
  TestClock clock{t0};
  Log log;
  std::vector<unix_nanos> now_in_callback;
  clock.set_time_alert("at-10s", t0 + 10s, [&](const TimeEvent& e) {
    log.callback()(e);
    now_in_callback.push_back(clock.now());
  });
  const auto monotonic_before = clock.monotonic_ns();
  clock.adjust_realtime(+1s);
  CHECK(clock.now() == t0 + 1s);
  CHECK(clock.monotonic_ns() == monotonic_before);
  CHECK(clock.next_time("at-10s") == t0 + 10s);  // the timer keeps its ts_event
  // Ten seconds of monotonic time pass: realtime reads t0 + 11s when the tick is due.
  CHECK(clock.advance_time(t0 + 10s) == 0);
  CHECK(clock.advance_time(t0 + 11s) == 1);
  REQUIRE(log.events.size() == 1);
  CHECK(log.events[0].ts_event == t0 + 10s);
  CHECK(log.events[0].ts_init == t0 + 11s);
  CHECK(log.events[0].lateness == 0ns);  // on time on the monotonic line
  CHECK(now_in_callback == std::vector<unix_nanos>{t0 + 11s});
  SECTION("a step backwards is allowed: realtime may go back, monotonic never") {
    clock.adjust_realtime(-30s);
    CHECK(clock.now() == t0 - 19s);
    CHECK_THROWS_AS(clock.advance_time(t0 - 20s), nautilus::clock_error);
  }
}

TEST_CASE("TestClock: a realtime step made by a callback holds for the rest of the advance") {
  TestClock clock{t0};
  const std::int64_t monotonic_start = clock.monotonic_ns();
  const auto step = GENERATE(std::chrono::nanoseconds{1h}, std::chrono::nanoseconds{-90s});
  CAPTURE(step.count());
  std::vector<TimeEvent> events;
  std::vector<unix_nanos> now_in_callback;
  const auto record = [&](const TimeEvent& e) {
    events.push_back(e);
    now_in_callback.push_back(clock.now());
  };
  clock.set_time_alert("stepper", t0 + 10s, [&](const TimeEvent& e) {
    record(e);
    clock.adjust_realtime(step);
  });
  clock.set_time_alert("same-tick", t0 + 10s, record);
  clock.set_time_alert("later", t0 + 20s, record);
  CHECK(clock.advance_time(t0 + 30s) == 3);
  REQUIRE(events.size() == 3);
  CHECK(now_in_callback[0] == t0 + 10s);
  // The events keep the ts_event they were set for and fire on time on the monotonic line; they
  // are stamped, and the clock reads, realtime moved by the step.
  CHECK(events[1].name == "same-tick");
  CHECK(events[1].ts_event == t0 + 10s);
  CHECK(events[1].ts_init == t0 + 10s + step);
  CHECK(now_in_callback[1] == t0 + 10s + step);
  CHECK(events[2].name == "later");
  CHECK(events[2].ts_event == t0 + 20s);
  CHECK(events[2].ts_init == t0 + 20s + step);
  CHECK(events[2].lateness == 0ns);
  CHECK(now_in_callback[2] == t0 + 20s + step);
  // The advance ends 30 s later on the monotonic line.
  CHECK(clock.monotonic_ns() == monotonic_start + std::chrono::nanoseconds{30s}.count());
  CHECK(clock.now() == t0 + 30s + step);
}

TEST_CASE("TestClock: a realtime step made by a callback that puts the end of the advance past 2262 throws") {
  const unix_nanos late = nautilus::from_unix_ns(std::numeric_limits<std::int64_t>::max() - 100'000'000'000);
  TestClock clock{late};
  clock.set_time_alert("stepper", late + 1s, [&](const TimeEvent&) { clock.adjust_realtime(50s); });
  clock.set_time_alert("after", late + 2s);
  // The step itself fits (late + 51 s); the advance's end, late + 99 s + 50 s, does not.
  CHECK_THROWS_MATCHES(
      clock.advance_time(late + 99s), nautilus::clock_error,
      Catch::Matchers::Message(
          "TestClock: a realtime step of " + std::to_string(nautilus::to_unix_ns(late + 51s)) + " - " +
          std::to_string(nautilus::to_unix_ns(late + 1s)) +
          "ns made by a callback puts the end of the advance outside the int64 nanosecond range"));
  CHECK(clock.now() == late + 51s);  // stopped at the stepper's tick, the step kept
  CHECK(clock.timer_count() == 1);   // "after" is still pending
}

TEST_CASE("TestClock: a throwing callback loses nothing") {
  TestClock clock{t0};
  int ticks = 0;
  clock.set_timer("flaky", 1s, std::nullopt, std::nullopt, [&](const TimeEvent&) {
    if (++ticks == 2) throw std::runtime_error("handler failed");
  });
  clock.set_time_alert("later", t0 + 5s);
  REQUIRE_THROWS_WITH(clock.advance_time(t0 + 10s), "handler failed");
  CHECK(clock.now() == t0 + 2s);  // stopped at the event that threw
  CHECK(clock.next_time("flaky") == t0 + 3s);
  CHECK(clock.has_timer("later"));
  clock.advance_time(t0 + 10s);  // the callback was kept: it runs again
  CHECK(ticks == 10);
  CHECK(clock.take_events().size() == 1);
}

TEST_CASE("TestClock: the same schedule run twice gives the identical event sequence") {
  auto run = [] {
    TestClock clock{t0};
    Log log;
    std::uint64_t seed = 12345;  // a fixed LCG: the schedule is data, not chance
    auto next = [&seed] {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      return seed >> 33;
    };
    for (int i = 0; i < 200; ++i) {
      const auto offset = std::chrono::milliseconds{static_cast<std::int64_t>(next() % 5000)};
      if (i % 3 == 0) {
        clock.set_timer("p" + std::to_string(i), offset + 1ms, std::nullopt, t0 + 20s, log.callback(),
                        {.missed_ticks = static_cast<MissedTicks>((i / 3) % 3)});
      } else {
        clock.set_time_alert("a" + std::to_string(i), t0 + offset, [&clock, &log, i](const TimeEvent& e) {
          log.callback()(e);
          if (i % 7 == 0) clock.set_time_alert("chain" + std::to_string(e.id), clock.now() + 250ms, log.callback());
          if (i % 11 == 0) clock.cancel_timer("p" + std::to_string(i + 1));
        });
      }
    }
    clock.advance_time(t0 + 7s);
    clock.set_time(t0 + 12s);  // a stall
    clock.advance_time(t0 + 30s);
    return log.lines;
  };
  const auto first = run();
  const auto second = run();
  CHECK(first.size() > 1000);
  CHECK(first == second);
}

TEST_CASE("TestClock timer queries") {
  TestClock clock{t0};
  clock.set_timer("zeta", 1s);
  clock.set_timer("alpha", 2s);
  const auto handle = clock.set_time_alert("mid", t0 + 500ms);
  CHECK(clock.timer_names() == std::vector<std::string>{"alpha", "mid", "zeta"});
  CHECK(clock.timer_count() == 3);
  CHECK(clock.next_time("alpha") == t0 + 2s);
  CHECK(clock.next_time(handle) == t0 + 500ms);
  CHECK(clock.next_deadline() == t0 + 500ms);
  CHECK(handle.valid());
  CHECK_FALSE(nautilus::TimerHandle{}.valid());
}
