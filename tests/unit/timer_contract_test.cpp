// The timer contract, run against both clocks so that they cannot drift apart: every rule here
// must hold identically under TestClock and LiveClock. No rule needs real waiting: timers are set
// hours into the past (so what is due is due, however slow the machine) or hours into the future
// (so it is not). `fire_due()` fires what is due now: `advance_time(now())` on the test clock,
// `poll()` on the live one.
#include <nautilus/clock/live_clock.hpp>
#include <nautilus/clock/test_clock.hpp>
#include <nautilus/clock/timers.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using nautilus::MissedTicks;
using nautilus::PastDeadline;
using nautilus::TimeEvent;
using nautilus::unix_nanos;
using Catch::Matchers::Contains;

namespace {

struct OnTestClock {
  nautilus::TestClock clock{nautilus::parse_iso8601("2024-03-01T12:00:00Z")};
  void fire_due() { clock.advance_time(clock.now()); }
  // Slack allowed between "now" as the test read it and as the clock read it when scheduling.
  static constexpr std::chrono::nanoseconds slack{0};
};

struct OnLiveClock {
  nautilus::LiveClock clock;
  void fire_due() { (void)clock.poll(); }
  static constexpr std::chrono::nanoseconds slack{std::chrono::seconds{60}};
};

static_assert(nautilus::TimerClock<nautilus::TestClock>);
static_assert(nautilus::TimerClock<nautilus::LiveClock>);

// Records every event its callback sees.
struct Recorder {
  std::vector<TimeEvent> events;
  nautilus::TimerCallback callback() {
    return [this](const TimeEvent& e) { events.push_back(e); };
  }
  [[nodiscard]] std::vector<unix_nanos> ts_events() const {
    std::vector<unix_nanos> out;
    for (const auto& e : events) out.push_back(e.ts_event);
    return out;
  }
};

}  // namespace

// Ticks of a 1h timer started 5h30m ago (| = tick, ^ = now):
//
//   start  +1h   +2h   +3h   +4h   +5h  ^  +6h
//   burst:  1     2     3     4     5   (all five fire now, oldest first)   then +6h
//   skip:                           5   (missed 4)                          then +6h
//   delay:                          5   (missed 4)                          then now + 1h
TEMPLATE_TEST_CASE("A periodic timer whose start is in the past follows its missed-tick policy", "[contract]",
                   OnTestClock, OnLiveClock) {
  TestType t;
  Recorder rec;
  const unix_nanos start = t.clock.now() - 5h - 30min;

  SECTION("burst emits every missed tick with its own ts_event, keeping the phase") {
    t.clock.set_timer("bars", 1h, start, std::nullopt, rec.callback());
    t.fire_due();
    REQUIRE(rec.events.size() == 5);
    for (std::size_t i = 0; i < 5; ++i) {
      CHECK(rec.events[i].ts_event == start + std::chrono::hours{i + 1});
      CHECK(rec.events[i].missed == 0);
      CHECK(rec.events[i].lateness >= 30min);
    }
    CHECK(t.clock.next_time("bars") == start + 6h);
  }
  SECTION("skip fires the latest missed tick once and keeps the phase") {
    t.clock.set_timer("bars", 1h, start, std::nullopt, rec.callback(), {.missed_ticks = MissedTicks::skip});
    t.fire_due();
    REQUIRE(rec.events.size() == 1);
    CHECK(rec.events[0].ts_event == start + 5h);
    CHECK(rec.events[0].missed == 4);
    CHECK(rec.events[0].lateness >= 30min);
    CHECK(t.clock.next_time("bars") == start + 6h);
  }
  SECTION("delay fires the latest missed tick once and re-phases from the fire time") {
    t.clock.set_timer("bars", 1h, start, std::nullopt, rec.callback(), {.missed_ticks = MissedTicks::delay});
    const unix_nanos before = t.clock.now();
    t.fire_due();
    const unix_nanos after = t.clock.now();
    REQUIRE(rec.events.size() == 1);
    CHECK(rec.events[0].ts_event == start + 5h);
    CHECK(rec.events[0].missed == 4);
    const auto next = t.clock.next_time("bars");
    REQUIRE(next);
    CHECK(*next >= before + 1h);
    CHECK(*next <= after + 1h);
  }
  SECTION("PastDeadline::error refuses the timer, naming both times, and sets nothing") {
    REQUIRE_THROWS_WITH(t.clock.set_timer("bars", 1h, start, std::nullopt, rec.callback(),
                                          {.past = PastDeadline::error}),
                        Contains("bars") && Contains("before the current time"));
    CHECK(t.clock.timer_count() == 0);
    CHECK_FALSE(t.clock.has_timer("bars"));
  }
}

TEMPLATE_TEST_CASE("A stop time that falls exactly on a tick is inclusive, then the timer expires", "[contract]",
                   OnTestClock, OnLiveClock) {
  TestType t;
  Recorder rec;
  const unix_nanos start = t.clock.now() - 5h - 30min;
  t.clock.set_timer("session", 1h, start, start + 3h, rec.callback());
  t.fire_due();
  CHECK(rec.ts_events() == std::vector<unix_nanos>{start + 1h, start + 2h, start + 3h});
  CHECK(t.clock.timer_count() == 0);
  CHECK_FALSE(t.clock.next_time("session"));
  CHECK(t.clock.timer_names().empty());
}

TEMPLATE_TEST_CASE("fire_immediately puts the first tick at start", "[contract]", OnTestClock, OnLiveClock) {
  TestType t;
  Recorder rec;
  const unix_nanos start = t.clock.now() - 2h - 30min;
  t.clock.set_timer("bars", 1h, start, std::nullopt, rec.callback(), {.fire_immediately = true});
  t.fire_due();
  CHECK(rec.ts_events() == std::vector<unix_nanos>{start, start + 1h, start + 2h});
}

TEMPLATE_TEST_CASE("A past alert fires at the next chance with its true ts_event and lateness", "[contract]",
                   OnTestClock, OnLiveClock) {
  TestType t;
  Recorder rec;
  const unix_nanos at = t.clock.now() - 90min;
  t.clock.set_time_alert("expiry", at, rec.callback());
  CHECK(t.clock.next_time("expiry") == at);
  t.fire_due();
  REQUIRE(rec.events.size() == 1);
  CHECK(rec.events[0].name == "expiry");
  CHECK(rec.events[0].ts_event == at);
  CHECK(rec.events[0].lateness >= 90min);
  CHECK(rec.events[0].lateness <= 90min + TestType::slack);
  CHECK(rec.events[0].ts_init >= at + 90min);
}

TEMPLATE_TEST_CASE("A past alert with PastDeadline::error throws naming both times", "[contract]", OnTestClock,
                   OnLiveClock) {
  TestType t;
  const unix_nanos at = t.clock.now() - 1s;
  REQUIRE_THROWS_WITH(t.clock.set_time_alert("expiry", at, {}, PastDeadline::error),
                      Contains("set_time_alert") && Contains("expiry") && Contains(nautilus::format_iso8601(at)));
  CHECK(t.clock.timer_count() == 0);
}

TEMPLATE_TEST_CASE("A future tick is not fired early", "[contract]", OnTestClock, OnLiveClock) {
  TestType t;
  Recorder rec;
  const unix_nanos at = t.clock.now() + 1h;
  t.clock.set_time_alert("later", at, rec.callback());
  t.clock.set_timer("hourly", 1h, std::nullopt, std::nullopt, rec.callback());
  t.fire_due();
  CHECK(rec.events.empty());
  CHECK(t.clock.next_time("later") == at);
  CHECK(t.clock.timer_count() == 2);
}

TEMPLATE_TEST_CASE("Equal deadlines fire in the order the timers were set, with sequential ids", "[contract]",
                   OnTestClock, OnLiveClock) {
  TestType t;
  Recorder rec;
  const unix_nanos at = t.clock.now() - 1min;
  for (const char* name : {"c", "a", "d", "b"}) t.clock.set_time_alert(name, at, rec.callback());
  t.clock.set_time_alert("earlier", at - 1ns, rec.callback());
  t.fire_due();
  REQUIRE(rec.events.size() == 5);
  std::vector<std::string> order;
  for (const auto& e : rec.events) order.push_back(e.name);
  CHECK(order == std::vector<std::string>{"earlier", "c", "a", "d", "b"});
  for (std::size_t i = 1; i < rec.events.size(); ++i) CHECK(rec.events[i].id == rec.events[i - 1].id + 1);
}

TEMPLATE_TEST_CASE("Lookups of expired timers agree: gone from every view", "[contract]", OnTestClock,
                   OnLiveClock) {
  TestType t;
  Recorder rec;
  const auto handle = t.clock.set_time_alert("once", t.clock.now() - 1s, rec.callback());
  t.clock.set_time_alert("pending", t.clock.now() + 1h, rec.callback());
  CHECK(t.clock.timer_names() == std::vector<std::string>{"once", "pending"});
  t.fire_due();
  REQUIRE(rec.events.size() == 1);
  CHECK_FALSE(t.clock.next_time("once"));
  CHECK_FALSE(t.clock.next_time(handle));
  CHECK_FALSE(t.clock.has_timer("once"));
  CHECK(t.clock.timer_count() == 1);
  CHECK(t.clock.timer_names() == std::vector<std::string>{"pending"});
  CHECK_FALSE(t.clock.cancel_timer("once"));
  CHECK_FALSE(t.clock.cancel_timer(handle));
}

TEMPLATE_TEST_CASE("A name is unique while pending and free again once the timer is gone", "[contract]",
                   OnTestClock, OnLiveClock) {
  TestType t;
  Recorder rec;
  const unix_nanos original = t.clock.now() + 1h;
  t.clock.set_time_alert("x", original, rec.callback());
  SECTION("reuse while pending throws, naming the timer, and keeps the original") {
    REQUIRE_THROWS_WITH(t.clock.set_timer("x", 1s), Contains("'x' is already pending"));
    CHECK(t.clock.next_time("x") == original);
  }
  SECTION("reuse after cancel") {
    CHECK(t.clock.cancel_timer("x"));
    const unix_nanos at = t.clock.now() - 1s;
    t.clock.set_time_alert("x", at, rec.callback());
    t.fire_due();
    REQUIRE(rec.events.size() == 1);
    CHECK(rec.events[0].ts_event == at);
  }
  SECTION("reuse after expiry") {
    CHECK(t.clock.cancel_timer("x"));
    t.clock.set_time_alert("x", t.clock.now() - 2s, rec.callback());
    t.fire_due();
    t.clock.set_time_alert("x", t.clock.now() - 1s, rec.callback());
    t.fire_due();
    CHECK(rec.events.size() == 2);
  }
}

TEMPLATE_TEST_CASE("Cancelling an unknown name or a stale handle returns false and changes nothing",
                   "[contract]", OnTestClock, OnLiveClock) {
  TestType t;
  t.clock.set_time_alert("kept", t.clock.now() + 1h);
  CHECK_FALSE(t.clock.cancel_timer("never-set"));
  CHECK_FALSE(t.clock.cancel_timer(nautilus::TimerHandle{}));
  CHECK(t.clock.timer_count() == 1);
  CHECK(t.clock.cancel_timers() == 1);
  CHECK(t.clock.cancel_timers() == 0);
}

TEMPLATE_TEST_CASE("A cancelled timer never fires", "[contract]", OnTestClock, OnLiveClock) {
  TestType t;
  Recorder rec;
  const auto handle = t.clock.set_time_alert("by-handle", t.clock.now() - 1s, rec.callback());
  t.clock.set_time_alert("by-name", t.clock.now() - 1s, rec.callback());
  t.clock.set_time_alert("kept", t.clock.now() - 1s, rec.callback());
  CHECK(t.clock.cancel_timer(handle));
  CHECK(t.clock.cancel_timer("by-name"));
  t.fire_due();
  REQUIRE(rec.events.size() == 1);
  CHECK(rec.events[0].name == "kept");
}

TEMPLATE_TEST_CASE("Bad timer arguments throw clock_error naming the value", "[contract]", OnTestClock,
                   OnLiveClock) {
  TestType t;
  const unix_nanos now = t.clock.now();
  CHECK_THROWS_WITH(t.clock.set_time_alert("", now + 1s), Contains("name is empty"));
  CHECK_THROWS_WITH(t.clock.set_timer("", 1s), Contains("name is empty"));
  CHECK_THROWS_WITH(t.clock.set_timer("zero", 0s), Contains("'zero'") && Contains("must be positive, got 0ns"));
  CHECK_THROWS_WITH(t.clock.set_timer("neg", -5ns), Contains("must be positive, got -5ns"));
  CHECK_THROWS_WITH(t.clock.set_timer("backwards", 1s, now + 1h, now + 1min),
                    Contains("'backwards'") && Contains("before its start"));
  CHECK_THROWS_WITH(t.clock.set_timer("no-tick", 1h, now + 1h, now + 90min),
                    Contains("'no-tick' has no tick at or before its stop"));
  CHECK(t.clock.timer_count() == 0);
}

TEMPLATE_TEST_CASE("Timers without a callback deliver their events to take_events", "[contract]", OnTestClock,
                   OnLiveClock) {
  TestType t;
  const unix_nanos at = t.clock.now() - 1min;
  t.clock.set_time_alert("quiet", at);
  t.clock.set_timer("quiet-bars", 20s, at - 1min, at);
  t.fire_due();
  const auto events = t.clock.take_events();
  REQUIRE(events.size() == 4);
  CHECK(events[0].name == "quiet-bars");
  CHECK(events[0].ts_event == at - 40s);
  CHECK(events[2].name == "quiet");  // due with the last bar, but set first
  CHECK(events[2].ts_event == at);
  CHECK(events[3].name == "quiet-bars");
  CHECK(events[3].ts_event == at);
  CHECK(t.clock.take_events().empty());
}

TEMPLATE_TEST_CASE("Anonymous alerts are counted, unnamed, and cancelled by handle", "[contract]", OnTestClock,
                   OnLiveClock) {
  TestType t;
  Recorder rec;
  const unix_nanos at = t.clock.now() - 1s;
  const auto kept = t.clock.set_time_alert(at, rec.callback());
  const auto cancelled = t.clock.set_time_alert(at, rec.callback());
  t.clock.set_time_alert("named", at, rec.callback());
  CHECK(t.clock.timer_count() == 3);
  CHECK(t.clock.timer_names() == std::vector<std::string>{"named"});
  CHECK(t.clock.next_time(kept) == at);
  CHECK(t.clock.cancel_timer(cancelled));
  CHECK_FALSE(t.clock.cancel_timer(cancelled));
  t.fire_due();
  REQUIRE(rec.events.size() == 2);
  CHECK(rec.events[0].name.empty());
  CHECK(rec.events[0].ts_event == at);
  CHECK(rec.events[1].name == "named");
  CHECK(t.clock.timer_count() == 0);
  CHECK_THROWS_WITH(t.clock.set_time_alert(at, {}, PastDeadline::error), Contains("anonymous alert"));
}
