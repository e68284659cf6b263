// TimerQueue on its own: the name index, the name store and the slab under churn, checked against a
// model.
#include <nautilus/clock/timers.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using nautilus::ClockReading;
using nautilus::TimerQueue;

namespace {

// The queue's lookups agree with a model (name -> deadline, monotonic ns): each name's next time,
// and the sorted names.
void require_agrees(const TimerQueue& queue, const std::map<std::string, std::int64_t>& model) {
  std::vector<std::string> names;
  for (const auto& [n, d] : model) {
    names.push_back(n);
    REQUIRE(queue.next_time(n) == nautilus::from_unix_ns(d));
  }
  REQUIRE(queue.timer_names() == names);
}

// Fires every one-shot alert due at `now`, each of which must be the model's, and drops it there.
void fire_due(TimerQueue& queue, std::map<std::string, std::int64_t>& model, std::int64_t now) {
  while (auto due = queue.pop_due(ClockReading{now, now})) {
    const auto it = model.find(due->event.name);
    REQUIRE(it != model.end());
    REQUIRE(nautilus::to_unix_ns(due->event.ts_event) == it->second);
    model.erase(it);
    queue.finish(*due);
  }
}

// Cancels a random third of the model's timers by name, in the queue and in the model.
void cancel_random_third(TimerQueue& queue, std::map<std::string, std::int64_t>& model,
                         std::mt19937_64& rng) {
  std::vector<std::string> names;
  for (const auto& entry : model) names.push_back(entry.first);
  std::shuffle(names.begin(), names.end(), rng);
  for (std::size_t i = 0; i < names.size() / 3; ++i) {
    REQUIRE(queue.cancel_timer(names[i]));
    model.erase(names[i]);
  }
}

}  // namespace

TEST_CASE("The name index's hash spreads sequential names like a random function") {
  // Names that differ in a digit or two (bar-0 ... bar-65535, and 16 to 20 bytes long): their home
  // buckets in an index of 2^16 (the hash's tag's high bits, as TimerQueue reads them) must leave
  // about 1/e of the buckets empty, as random homes would (24,109 +- 100 or so), and the 7 filter
  // bits (the tag's low ones) must take their 128 values about equally. A polynomial hash of the
  // bytes (h * 31 + byte) fails both: it left 65,501 buckets empty, and filters of 51 to 1,063.
  for (const std::string prefix : {"bar-", "order-2026-11-27-"}) {
    CAPTURE(prefix);
    constexpr std::size_t buckets = std::size_t{1} << 16;
    std::vector<std::uint32_t> homes(buckets, 0);
    std::array<std::uint32_t, 128> filters{};
    for (std::size_t i = 0; i < buckets; ++i) {
      const auto tag = static_cast<std::uint32_t>(nautilus::detail::name_hash(prefix + std::to_string(i)));
      ++homes[(std::uint64_t{tag} * buckets) >> 32];
      ++filters[tag & 127U];
    }
    const auto empty = static_cast<std::size_t>(std::count(homes.begin(), homes.end(), 0U));
    CAPTURE(empty);
    REQUIRE(empty > 23'600);
    REQUIRE(empty < 24'600);
    const auto [least, most] = std::minmax_element(filters.begin(), filters.end());
    CAPTURE(*least, *most);
    REQUIRE(*least > 400);  // 512 each on average
    REQUIRE(*most < 630);
  }
  // Equal names hash equally, whatever their storage; short ones differ from their prefixes.
  REQUIRE(nautilus::detail::name_hash(std::string("bar-1m-ESZ6")) ==
          nautilus::detail::name_hash("bar-1m-ESZ6"));
  REQUIRE(nautilus::detail::name_hash("a") != nautilus::detail::name_hash("ab"));
  REQUIRE(nautilus::detail::name_hash("") != nautilus::detail::name_hash(std::string_view("\0", 1)));
}

TEST_CASE("TimerQueue's name index agrees with a model through random sets, cancels and fires") {
  TimerQueue queue;
  std::map<std::string, std::int64_t> model;  // name -> deadline (monotonic ns)
  std::mt19937_64 rng{20261125};              // fixed seed: the same churn every run
  std::int64_t now = 0;
  for (int step = 0; step < 20'000; ++step) {
    // Few names: many collisions. Their lengths straddle the 15 bytes kept inline (CompactName).
    const std::uint64_t id = rng() % 500;
    const std::string name = std::string(id % 24, 'n') + "t" + std::to_string(id);
    const auto action = rng() % 10;
    if (action < 5) {
      const std::int64_t deadline = now + static_cast<std::int64_t>(rng() % 1000);
      if (model.count(name) != 0) {
        REQUIRE_THROWS_AS(queue.set_time_alert(name, nautilus::from_unix_ns(deadline), {},
                                               nautilus::PastDeadline::fire_now, ClockReading{now, now}),
                          nautilus::clock_error);
      } else {
        queue.set_time_alert(name, nautilus::from_unix_ns(deadline), {}, nautilus::PastDeadline::fire_now,
                             ClockReading{now, now});
        model[name] = deadline;
      }
    } else if (action < 8) {
      REQUIRE(queue.cancel_timer(name) == (model.erase(name) == 1));
    } else {
      now += static_cast<std::int64_t>(rng() % 300);
      fire_due(queue, model, now);
    }
    REQUIRE(queue.timer_count() == model.size());
    if (step % 1000 == 0) {
      require_agrees(queue, model);
    }
  }
}

TEST_CASE("TimerQueue's name index agrees with a model as it grows past its small sizes") {
  // Past 4,096 names the index grows by half (sizes that are not powers of two) and fills to five
  // eighths: tens of thousands of names, set, cancelled and fired in random order, probe runs that
  // wrap at the end of the buckets, and backward shifts across them.
  TimerQueue queue;
  std::map<std::string, std::int64_t> model;
  std::mt19937_64 rng{20261126};
  std::int64_t now = 0;
  std::uint64_t next_name = 0;
  const auto set = [&](const std::string& name, std::int64_t deadline) {
    queue.set_time_alert(name, nautilus::from_unix_ns(deadline), {}, nautilus::PastDeadline::error,
                         ClockReading{now, now});
    model[name] = deadline;
  };
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 15'000; ++i)
      set("name-" + std::to_string(next_name++), now + 1 + static_cast<std::int64_t>(rng() % 1'000'000));
    // A name already pending is refused, wherever its bucket is.
    for (int i = 0; i < 200; ++i) {
      auto it = model.begin();
      std::advance(it, static_cast<std::ptrdiff_t>(rng() % model.size()));
      REQUIRE_THROWS_AS(set(it->first, now + 5), nautilus::clock_error);
    }
    // Cancel a random third by name, and some unknown names.
    cancel_random_third(queue, model, rng);
    REQUIRE_FALSE(queue.cancel_timer("name-unknown"));
    // Fire a quarter of a millisecond's worth.
    now += 250'000;
    fire_due(queue, model, now);
    REQUIRE(queue.timer_count() == model.size());
    require_agrees(queue, model);
  }
  REQUIRE(model.size() > 10'000);
}

TEST_CASE("TimerQueue's name index keeps every name as it widens in the middle of a delivery") {
  // A queue's index starts narrow (2-byte buckets, 16-bit tags) and widens in place when a named
  // timer takes slot 4,095. Here that happens inside a delivery, while the delivered alert's name is
  // a zombie in the index: the zombie's entry must survive the widening, and be taken over by the
  // set of the same name that follows. Names of every length (inline and on the heap), and every
  // lookup checked against a model before and after.
  TimerQueue queue;
  std::map<std::string, std::int64_t> model;
  std::mt19937_64 rng{20261127};
  std::int64_t now = 0;
  const auto set = [&](const std::string& name, std::int64_t deadline) {
    queue.set_time_alert(name, nautilus::from_unix_ns(deadline), {}, nautilus::PastDeadline::error,
                         ClockReading{now, now});
    model[name] = deadline;
  };
  const auto name_of = [](char prefix, std::size_t i) {
    return prefix + std::string(i % 24, '-') + std::to_string(i);
  };
  set("hb", 5);  // slot 0
  for (std::size_t i = 0; i < 4'000; ++i)
    set(name_of('a', i), 100 + static_cast<std::int64_t>(rng() % 1'000));
  require_agrees(queue, model);
  const std::size_t narrow_bytes = queue.bytes_per_timer();

  now = 5;
  auto due = queue.pop_due(ClockReading{now, now});
  REQUIRE(due.has_value());
  REQUIRE(due->event.name == "hb");
  model.erase("hb");
  // Slots 4,001 to 4,200: the index widens at the 95th.
  for (std::size_t i = 0; i < 200; ++i) set(name_of('b', i), 100 + static_cast<std::int64_t>(rng() % 1'000));
  REQUIRE_FALSE(queue.has_timer("hb"));
  set("hb", 50);  // takes over the zombie's entry, now a wide one
  REQUIRE_THROWS_WITH(set("hb", 60), Catch::Contains("'hb' is already pending"));
  REQUIRE_THROWS_WITH(set(name_of('a', 7), 60), Catch::Contains("is already pending"));
  REQUIRE_THROWS_WITH(set(name_of('b', 199), 60), Catch::Contains("is already pending"));
  queue.finish(*due);
  require_agrees(queue, model);
  // Each name's tag and bucket are wide now: 2 more bytes of index and 2 of tag per named timer.
  CAPTURE(narrow_bytes, queue.bytes_per_timer());
  REQUIRE(queue.bytes_per_timer() > narrow_bytes);

  // Cancel a random third by name, then fire the rest in order: every erase and backward shift of
  // the wide index finds its entries' homes from the widened tags.
  cancel_random_third(queue, model, rng);
  require_agrees(queue, model);
  for (now = 50; now <= 1'100; now += 50) {
    fire_due(queue, model, now);
    REQUIRE(queue.timer_count() == model.size());
  }
  REQUIRE(model.empty());
  for (std::size_t i = 0; i < 4'000; i += 97) REQUIRE_FALSE(queue.has_timer(name_of('a', i)));
}

TEST_CASE("TimerQueue's name index widens in the set that takes over a delivered alert's name") {
  // The set that widens the index is the re-arm of the alert being delivered: its name was found as
  // a zombie in the narrow index, whose tags keep their high bits only. The new timer must still
  // get its whole tag, or its entry may be misplaced once the index grows past 16,384 buckets to
  // sizes that are not powers of two, where the low bits move a home by up to one bucket (with a
  // chance of a few tenths per name: hence 24 names, one queue each).
  for (int round = 0; round < 24; ++round) {
    const std::string hb = "hb-" + std::to_string(round);
    CAPTURE(hb);
    TimerQueue queue;
    std::map<std::string, std::int64_t> model;
    std::int64_t now = 0;
    const auto set = [&](const std::string& name, std::int64_t deadline) {
      queue.set_time_alert(name, nautilus::from_unix_ns(deadline), {}, nautilus::PastDeadline::error,
                           ClockReading{now, now});
      model[name] = deadline;
    };
    set(hb, 5);                                                               // slot 0
    for (int i = 1; i < 4'095; ++i) set("t" + std::to_string(i), 1'000 + i);  // slots 1 to 4,094
    now = 5;
    auto due = queue.pop_due(ClockReading{now, now});
    REQUIRE(due.has_value());
    model.erase(hb);
    set(hb, 500);  // slot 4,095: widens, and takes over the zombie's entry
    queue.finish(*due);
    // Past 10,240 names the index grows by half (24,576 buckets), past 15,360 again (36,864),
    // each time moving every entry by its tag.
    for (int i = 4'095; i < 16'000; ++i) set("t" + std::to_string(i), 1'000 + i);
    REQUIRE(queue.has_timer(hb));
    REQUIRE(queue.next_time(hb) == nautilus::from_unix_ns(500));
    REQUIRE_THROWS_WITH(set(hb, 600), Catch::Contains("is already pending"));
    REQUIRE(queue.cancel_timer(hb));
    model.erase(hb);
    REQUIRE_FALSE(queue.has_timer(hb));
    fire_due(queue, model, 20'000);
    REQUIRE(model.empty());
    REQUIRE(queue.timer_count() == 0);
  }
}

namespace {

// Periodic timers of `intervals`, the three missed-tick policies, stop times, one-shot alerts and
// cancels, advanced in uneven steps so that ticks are missed: every event must be the model's,
// which picks the earliest (deadline, set order) among all timers by brute force. Lanes and wheel
// must agree with it, and with each other at equal deadlines. Three seeds, each firing more than
// `min_events` events.
void require_lanes_agree_with_model(const std::vector<std::int64_t>& intervals, std::uint64_t min_events) {
  struct Timer {
    std::int64_t deadline = 0;
    std::uint64_t order = 0;
    std::int64_t interval = 0;  // 0: one-shot
    std::int64_t stop = std::numeric_limits<std::int64_t>::max();
    nautilus::MissedTicks policy = nautilus::MissedTicks::burst;
    std::uint64_t missed = 0;
  };
  constexpr std::array<nautilus::MissedTicks, 3> policies{
      nautilus::MissedTicks::burst, nautilus::MissedTicks::skip, nautilus::MissedTicks::delay};
  for (const std::uint64_t seed : {1U, 2U, 3U}) {
    CAPTURE(seed);
    TimerQueue queue;
    std::map<std::string, Timer> model;
    std::mt19937_64 rng{seed};
    std::int64_t now = 0;
    std::uint64_t set_order = 0;
    std::uint64_t events = 0;
    for (int step = 0; step < 3'000; ++step) {
      const std::string name = "t" + std::to_string(rng() % 200);
      const auto action = rng() % 16;
      if (action < 6 && model.count(name) == 0) {
        Timer timer;
        timer.interval = intervals[rng() % intervals.size()];
        timer.policy = policies[rng() % policies.size()];
        timer.deadline = now + 1 + static_cast<std::int64_t>(rng() % 3'000);
        if (rng() % 4 == 0) timer.stop = timer.deadline + static_cast<std::int64_t>(rng() % 20'000);
        timer.order = set_order++;
        queue.set_timer(name, std::chrono::nanoseconds{timer.interval},
                        nautilus::from_unix_ns(timer.deadline),
                        timer.stop == std::numeric_limits<std::int64_t>::max()
                            ? std::nullopt
                            : std::optional{nautilus::from_unix_ns(timer.stop)},
                        {}, nautilus::TimerOptions{.fire_immediately = true, .missed_ticks = timer.policy},
                        ClockReading{now, now});
        model[name] = timer;
      } else if (action < 8 && model.count(name) == 0) {
        Timer timer;
        timer.deadline = now + static_cast<std::int64_t>(rng() % 2'000);
        timer.order = set_order++;
        queue.set_time_alert(name, nautilus::from_unix_ns(timer.deadline), {}, nautilus::PastDeadline::error,
                             ClockReading{now, now});
        model[name] = timer;
      } else if (action < 10) {
        REQUIRE(queue.cancel_timer(name) == (model.erase(name) == 1));
      } else {
        now += static_cast<std::int64_t>(rng() % 400);
        const ClockReading reading{now, now};
        for (;;) {
          auto earliest = model.end();
          for (auto it = model.begin(); it != model.end(); ++it) {
            if (it->second.deadline > now) continue;
            if (earliest == model.end() || it->second.deadline < earliest->second.deadline ||
                (it->second.deadline == earliest->second.deadline &&
                 it->second.order < earliest->second.order)) {
              earliest = it;
            }
          }
          if (earliest == model.end()) break;
          Timer& timer = earliest->second;
          if (timer.interval != 0 && timer.policy != nautilus::MissedTicks::burst) {
            const std::int64_t behind = (std::min(now, timer.stop) - timer.deadline) / timer.interval;
            if (behind > 0) {  // all but the latest due tick dropped; it competes again
              timer.deadline += behind * timer.interval;
              timer.missed += static_cast<std::uint64_t>(behind);
              continue;
            }
          }
          auto due = queue.pop_due(reading);
          REQUIRE(due.has_value());
          ++events;
          REQUIRE(due->event.name == earliest->first);
          REQUIRE(nautilus::to_unix_ns(due->event.ts_event) == timer.deadline);
          REQUIRE(due->event.missed == timer.missed);
          queue.finish(*due);
          if (timer.interval == 0) {
            model.erase(earliest);
            continue;
          }
          const std::int64_t from =
              timer.policy == nautilus::MissedTicks::delay && timer.missed != 0 ? now : timer.deadline;
          timer.missed = 0;
          timer.deadline = from + timer.interval;
          if (timer.deadline > timer.stop) model.erase(earliest);
        }
        REQUIRE_FALSE(queue.pop_due(reading).has_value());
      }
      REQUIRE(queue.timer_count() == model.size());
    }
    CAPTURE(events);
    REQUIRE(events > min_events);
  }
}

}  // namespace

TEST_CASE("TimerQueue fires periodic timers of more intervals than it has lanes in the order of a model") {
  // Six intervals: the queue keeps a lane for four.
  require_lanes_agree_with_model({7, 11, 60, 1'000, 999, 4'096}, 50'000);
}

TEST_CASE("TimerQueue fires periodic timers of one interval, and alerts, in the order of a model") {
  // One lane: its front is taken at once while the wheel is empty, and compared with the wheel's
  // top while alerts (or ticks that did not fit the lane) are pending.
  require_lanes_agree_with_model({60}, 20'000);
}

TEST_CASE(
    "TimerQueue reports a timer's dropped ticks after other timers fire first, and drops them with it") {
  TimerQueue queue;
  const auto every_10 = [&](const std::string& name, std::int64_t start, nautilus::MissedTicks policy) {
    queue.set_timer(name, 10ns, nautilus::from_unix_ns(start), std::nullopt, {}, {.missed_ticks = policy},
                    ClockReading{0, 0});
  };
  every_10("a", 0, nautilus::MissedTicks::delay);  // ticks 10, 20, ...
  queue.set_time_alert("b", nautilus::from_unix_ns(12), {}, nautilus::PastDeadline::error,
                       ClockReading{0, 0});
  // The next event due at `now`, delivered: "name@ts_event missed n".
  const auto next_event = [&](std::int64_t now) {
    auto due = queue.pop_due(ClockReading{now, now});
    REQUIRE(due.has_value());
    queue.finish(*due);
    return due->event.name + "@" + std::to_string(nautilus::to_unix_ns(due->event.ts_event)) + " missed " +
           std::to_string(due->event.missed);
  };
  // At 45, a's ticks 10 to 30 are dropped for 40, which waits behind b (12): the count outlives
  // the call that dropped them.
  REQUIRE(next_event(45) == "b@12 missed 0");
  REQUIRE(next_event(45) == "a@40 missed 3");
  REQUIRE(queue.next_time("a") == nautilus::from_unix_ns(55));  // delay: re-phased from the fire at 45

  // Dropped again at 100 (55 to 85 for 95), then cancelled before its tick is delivered: a timer
  // set next, in the same slot, starts with nothing dropped, so `delay` leaves its phase alone.
  queue.set_time_alert("c", nautilus::from_unix_ns(60), {}, nautilus::PastDeadline::error,
                       ClockReading{50, 50});
  REQUIRE(next_event(100) == "c@60 missed 0");
  REQUIRE(queue.cancel_timer("a"));
  every_10("d", 100, nautilus::MissedTicks::delay);  // ticks 110, 120, ...
  REQUIRE(next_event(113) == "d@110 missed 0");
  REQUIRE(queue.next_time("d") == nautilus::from_unix_ns(120));
  REQUIRE_FALSE(queue.pop_due(ClockReading{113, 113}).has_value());
}

TEST_CASE(
    "TimerQueue fires timers of more distinct intervals than it keeps rules for, each on its own ticks") {
  // 16,383 intervals at once have a rule each; the rest, and every timer with a stop, keep theirs
  // in a cell of their own. Each timer must fire at every multiple of its interval, in
  // (deadline, set order).
  TimerQueue queue;
  constexpr std::int64_t count = 21'000;  // 16,800 without a stop
  constexpr std::int64_t base = 1'000;
  constexpr std::int64_t end = 4 * (base + count);
  const auto interval_of = [](std::int64_t i) { return base + i; };
  std::vector<std::int64_t> fired(count, 0);
  for (std::int64_t i = 0; i < count; ++i) {
    const std::optional<nautilus::unix_nanos> stop =
        i % 5 == 0 ? std::optional{nautilus::from_unix_ns(3 * interval_of(i))} : std::nullopt;
    queue.set_timer("p" + std::to_string(i), std::chrono::nanoseconds{interval_of(i)}, std::nullopt, stop, {},
                    {}, ClockReading{0, 0});
  }
  std::int64_t last_ts = 0;
  std::uint64_t last_set = 0;
  while (auto due = queue.pop_due(ClockReading{end, end})) {
    const std::int64_t i = std::stoll(due->event.name.substr(1));
    const std::int64_t ts = nautilus::to_unix_ns(due->event.ts_event);
    ++fired[static_cast<std::size_t>(i)];
    REQUIRE(ts == fired[static_cast<std::size_t>(i)] * interval_of(i));
    REQUIRE((ts > last_ts || (ts == last_ts && static_cast<std::uint64_t>(i) > last_set)));
    last_ts = ts;
    last_set = static_cast<std::uint64_t>(i);
    queue.finish(*due);
  }
  for (std::int64_t i = 0; i < count; ++i) {
    CAPTURE(i);
    REQUIRE(fired[static_cast<std::size_t>(i)] == (i % 5 == 0 ? 3 : end / interval_of(i)));
  }
  // Every rule is given back with its last timer, and taken again. Cancelled last, p1's rule (the
  // first made) is the first taken again, by x's new interval: p1's interval must not find it.
  std::size_t cancelled = 0;
  for (std::int64_t i = count - 1; i >= 0; --i)
    cancelled += queue.cancel_timer("p" + std::to_string(i)) ? 1 : 0;
  REQUIRE(cancelled == static_cast<std::size_t>(count - count / 5));
  REQUIRE(queue.timer_count() == 0);
  queue.set_timer("x", 9ns, std::nullopt, std::nullopt, {}, {}, ClockReading{end, end});
  queue.set_timer("y", std::chrono::nanoseconds{interval_of(1)}, std::nullopt, std::nullopt, {}, {},
                  ClockReading{end, end});
  std::vector<std::string> events;
  while (auto due = queue.pop_due(ClockReading{end + 2'100, end + 2'100})) {
    events.push_back(due->event.name + "@" + std::to_string(nautilus::to_unix_ns(due->event.ts_event) - end));
    queue.finish(*due);
  }
  REQUIRE(events.size() == 233 + 2);
  REQUIRE(events[111] == "y@1001");  // after x@9 to x@999
  REQUIRE(events[223] == "y@2002");
  REQUIRE(events.back() == "x@2097");
}

TEST_CASE("TimerQueue takes its lanes up again once every periodic timer in them is gone") {
  TimerQueue queue;
  const auto every = [&](const std::string& name, std::int64_t interval, std::int64_t now) {
    queue.set_timer(name, std::chrono::nanoseconds{interval}, std::nullopt, std::nullopt, {}, {},
                    ClockReading{now, now});
  };
  const auto fire_until = [&](std::int64_t now) {
    std::vector<std::string> fired;
    while (auto due = queue.pop_due(ClockReading{now, now})) {
      fired.push_back(due->event.name + "@" + std::to_string(nautilus::to_unix_ns(due->event.ts_event)));
      queue.finish(*due);
    }
    return fired;
  };
  every("a", 10, 0);
  every("b", 15, 0);
  REQUIRE(fire_until(30) == std::vector<std::string>{"a@10", "b@15", "a@20", "a@30", "b@30"});
  REQUIRE(queue.cancel_timer("a"));
  REQUIRE(queue.cancel_timer("b"));
  REQUIRE(fire_until(40).empty());  // their re-armed ticks, stale in the lanes, are dropped
  queue.set_time_alert("c", nautilus::from_unix_ns(45), {}, nautilus::PastDeadline::error,
                       ClockReading{40, 40});
  every("d", 7, 40);
  every("e", 10, 40);
  REQUIRE(fire_until(70) ==
          std::vector<std::string>{"c@45", "d@47", "e@50", "d@54", "e@60", "d@61", "d@68", "e@70"});
  REQUIRE(queue.timer_count() == 2);
}

TEST_CASE("TimerQueue::pop_due into a reused Due sets every field of a tick, and none if none is due") {
  TimerQueue queue;
  const ClockReading start{0, 1'000};    // realtime runs 1000 ns ahead of monotonic
  const std::string long_name(40, 'x');  // past CompactName's 15 inline bytes
  queue.set_time_alert("alpha", nautilus::from_unix_ns(1'010), {}, nautilus::PastDeadline::fire_now, start);
  queue.set_time_alert(
      nautilus::from_unix_ns(1'020), [](const nautilus::TimeEvent&) {}, nautilus::PastDeadline::fire_now,
      start);
  queue.set_timer(long_name, 30ns, std::nullopt, std::nullopt, {}, {}, start);
  TimerQueue::Due due;
  const auto pop = [&](std::int64_t monotonic) {
    return queue.pop_due(ClockReading{monotonic, monotonic + 1'000}, due);
  };

  REQUIRE(pop(10));
  CHECK(due.event == nautilus::TimeEvent{"alpha", 1, nautilus::from_unix_ns(1'010),
                                         nautilus::from_unix_ns(1'010), 0ns, 0});
  CHECK_FALSE(due.has_callback);
  queue.finish(due);

  // Anonymous, and 5 ns late: the previous tick's name and lateness do not linger.
  REQUIRE(pop(25));
  CHECK(due.event ==
        nautilus::TimeEvent{"", 2, nautilus::from_unix_ns(1'020), nautilus::from_unix_ns(1'025), 5ns, 0});
  CHECK(due.has_callback);
  queue.finish(due);

  REQUIRE(pop(30));
  CHECK(due.event == nautilus::TimeEvent{long_name, 3, nautilus::from_unix_ns(1'030),
                                         nautilus::from_unix_ns(1'030), 0ns, 0});
  queue.finish(due);

  const TimerQueue::Due before = due;
  CHECK_FALSE(pop(59));  // the periodic timer's next tick is at 60
  CHECK(due.event == before.event);
  CHECK(due.slot == before.slot);
  REQUIRE(pop(60));
  CHECK(due.event.id == 4);
  CHECK(due.event.name == long_name);
  queue.finish(due);
}

TEST_CASE("TimerQueue refuses a time whose monotonic deadline would leave int64, on either step") {
  constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t min = std::numeric_limits<std::int64_t>::min();
  TimerQueue queue;
  // monotonic + (at - realtime): the sum overflows (the monotonic line near its end)...
  CHECK_THROWS_WITH(queue.set_time_alert("sum", nautilus::from_unix_ns(100), {},
                                         nautilus::PastDeadline::fire_now, ClockReading{max - 10, 0}),
                    Catch::Matchers::Contains("set_time_alert: 'sum'") &&
                        Catch::Matchers::Contains("too far from the current time"));
  // ... or the difference does (realtime read near 1677, the alert near 2262).
  CHECK_THROWS_WITH(queue.set_timer("difference", 1ns, nautilus::from_unix_ns(max - 1), std::nullopt, {}, {},
                                    ClockReading{0, min + 5}),
                    Catch::Matchers::Contains("set_timer: 'difference'") &&
                        Catch::Matchers::Contains("too far from the current time"));
  CHECK(queue.timer_count() == 0);
  // At the edge, nothing overflows.
  queue.set_time_alert("edge", nautilus::from_unix_ns(10), {}, nautilus::PastDeadline::fire_now,
                       ClockReading{max - 10, 0});
  CHECK(queue.next_deadline_ns() == max);
}

TEST_CASE("TimerQueue keeps a callback alive while it runs, even if it cancels its own timer") {
  TimerQueue queue;
  int calls = 0;
  const ClockReading now{0, 0};
  queue.set_timer("self", 10ns, std::nullopt, std::nullopt,
                  [&](const nautilus::TimeEvent&) {
                    ++calls;
                    CHECK(queue.cancel_timer("self"));
                    // The slot is not reused while the callback runs: a new timer gets another.
                    queue.set_time_alert("other", nautilus::from_unix_ns(5), {}, nautilus::PastDeadline::fire_now,
                                         now);
                  },
                  {}, now);
  auto due = queue.pop_due(ClockReading{10, 10});
  REQUIRE(due);
  queue.invoke(*due);
  queue.finish(*due);
  CHECK(calls == 1);
  CHECK(queue.timer_names() == std::vector<std::string>{"other"});
  CHECK(queue.timer_count() == 1);
}

TEST_CASE("TimerQueue runs an anonymous alert's callback whole while the alerts it sets take its slot") {
  // An anonymous alert's slot is recycled as it fires, its callback moved into the Due: the alerts
  // its callback sets take that slot at once, and must not touch the running callback. A captured
  // std::string makes the callable a heap box, so a callback freed or overwritten while it runs
  // reads garbage here (and fails under ASan).
  // Copies of `Live` are counted, so a callable lost or leaked shows as a count left over.
  struct Live {
    int* count;
    explicit Live(int* c) : count(c) { ++*count; }
    Live(const Live& other) : count(other.count) { ++*count; }
    Live& operator=(const Live&) = delete;
    ~Live() { --*count; }
  };
  int live = 0;
  TimerQueue queue;
  const ClockReading start{0, 0};
  std::vector<std::string> seen;
  const std::string tag(40, 'q');  // past the small-string buffer: a heap block of its own
  nautilus::TimerHandle first;
  first = queue.set_time_alert(
      nautilus::from_unix_ns(10),
      [&, tag, counted = Live{&live}](const nautilus::TimeEvent&) {
        CHECK(*counted.count == 1);
        CHECK_FALSE(queue.next_time(first).has_value());  // fired: its handle is stale
        for (int i = 0; i < 3; ++i) {
          queue.set_time_alert(
              nautilus::from_unix_ns(20 + i),
              [&seen, i](const nautilus::TimeEvent&) { seen.push_back("set-" + std::to_string(i)); },
              nautilus::PastDeadline::fire_now, ClockReading{10, 10});
        }
        seen.push_back(tag);  // the captures are still the callback's own
      },
      nautilus::PastDeadline::fire_now, start);
  while (auto due = queue.pop_due(ClockReading{30, 30})) {
    queue.invoke(*due);
    queue.finish(*due);
  }
  CHECK(seen == std::vector<std::string>{tag, "set-0", "set-1", "set-2"});
  CHECK_FALSE(queue.cancel_timer(first));
  CHECK(queue.timer_count() == 0);
  CHECK(live == 0);  // the fired callback was released, once
}

TEST_CASE("TimerQueue: an anonymous alert's Due runs its own callback after being copied or moved") {
  // The Due holds the callback it runs: a copy or a move must run its own copy, not the source's
  // (a vector that grows moves its Dues).
  TimerQueue queue;
  std::vector<int> calls;
  for (int i = 0; i < 5; ++i) {
    const std::string label = "alert-" + std::to_string(i) + std::string(24, '-');  // boxed
    queue.set_time_alert(
        nautilus::from_unix_ns(10 + i),
        [&calls, i, label](const nautilus::TimeEvent&) { calls.push_back(i); },
        nautilus::PastDeadline::fire_now, ClockReading{0, 0});
  }
  std::vector<TimerQueue::Due> dues;
  dues.reserve(1);  // grows, moving the Dues taken so far
  while (auto due = queue.pop_due(ClockReading{100, 100})) dues.push_back(std::move(*due));
  REQUIRE(dues.size() == 5);
  TimerQueue::Due copy = dues[2];  // copy-constructed
  TimerQueue::Due assigned;
  assigned = dues[4];  // copy-assigned
  TimerQueue::Due moved_into;
  moved_into = std::move(dues[3]);  // move-assigned
  for (const std::size_t k : {0U, 1U, 2U}) queue.invoke(dues[k]);
  queue.invoke(moved_into);
  queue.invoke(dues[4]);
  queue.invoke(copy);
  queue.invoke(assigned);
  CHECK(calls == std::vector<int>{0, 1, 2, 3, 4, 2, 4});
  for (auto* due : {&dues[0], &dues[1], &dues[2], &dues[3], &dues[4], &copy, &assigned, &moved_into}) {
    queue.finish(*due);
    CHECK_FALSE(static_cast<bool>(queue.callback_of(*due)));  // released by finish
  }
  CHECK(queue.timer_count() == 0);
}

TEST_CASE("TimerQueue keeps a callback alive until its last delivery in progress finishes") {
  // Two ticks of one periodic timer taken off the queue before either is finished (two threads
  // polling a LiveClock do this), then the timer cancelled: its callback must survive the first
  // finish, and its slot be recycled only after the second.
  TimerQueue queue;
  int calls = 0;
  const ClockReading start{0, 0};
  queue.set_timer("p", 10ns, std::nullopt, std::nullopt, [&](const nautilus::TimeEvent&) { ++calls; }, {}, start);
  auto first = queue.pop_due(ClockReading{25, 25});   // tick 10 (burst: 20 is due too)
  auto second = queue.pop_due(ClockReading{25, 25});  // tick 20
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->event.ts_event == nautilus::from_unix_ns(10));
  CHECK(second->event.ts_event == nautilus::from_unix_ns(20));
  CHECK(queue.cancel_timer("p"));
  queue.invoke(*first);
  queue.finish(*first);
  // Still in delivery: the callback is intact (a recycled one would be empty).
  REQUIRE(static_cast<bool>(queue.callback_of(*second)));
  // A timer set meanwhile must not take the slot still in use.
  queue.set_time_alert("q", nautilus::from_unix_ns(30), [&](const nautilus::TimeEvent&) { calls += 100; },
                       nautilus::PastDeadline::fire_now, ClockReading{25, 25});
  queue.invoke(*second);
  queue.finish(*second);
  CHECK(calls == 2);
  auto q = queue.pop_due(ClockReading{30, 30});
  REQUIRE(q);
  queue.invoke(*q);
  queue.finish(*q);
  CHECK(calls == 102);
  CHECK(queue.timer_count() == 0);
  // Finishing a delivery twice is harmless.
  queue.finish(*q);
  CHECK(queue.timer_count() == 0);
}

TEST_CASE("TimerQueue keeps a callback alive through more deliveries in progress than its node counts") {
  // 20 ticks of one periodic timer taken off the queue before any is finished: the node counts 15,
  // the rest are listed aside. Cancelled, the timer's callback must survive 19 finishes in any
  // order, and no timer set meanwhile may take its slot.
  TimerQueue queue;
  int calls = 0;
  queue.set_timer(
      "p", 10ns, std::nullopt, std::nullopt, [&](const nautilus::TimeEvent&) { ++calls; }, {},
      ClockReading{0, 0});
  constexpr int deliveries = 20;
  std::vector<TimerQueue::Due> dues;
  for (int i = 0; i < deliveries; ++i) {
    auto due = queue.pop_due(ClockReading{1000, 1000});
    REQUIRE(due);
    dues.push_back(std::move(*due));
  }
  CHECK(queue.cancel_timer("p"));
  // Finish from both ends, so that counted and listed deliveries interleave.
  for (int i = 0; i + 1 < deliveries; ++i) {
    auto& due = dues[static_cast<std::size_t>(i % 2 == 0 ? i / 2 : deliveries - 1 - i / 2)];
    queue.invoke(due);
    queue.finish(due);
    REQUIRE(static_cast<bool>(queue.callback_of(dues[static_cast<std::size_t>(deliveries / 2)])));
    queue.set_time_alert(
        "q" + std::to_string(i), nautilus::from_unix_ns(2000), [&](const nautilus::TimeEvent&) {},
        nautilus::PastDeadline::fire_now, ClockReading{1000, 1000});
  }
  auto& last = dues[static_cast<std::size_t>(deliveries / 2)];
  queue.invoke(last);
  queue.finish(last);
  CHECK(calls == deliveries);
  CHECK(queue.timer_count() == static_cast<std::size_t>(deliveries - 1));
}

TEST_CASE("TimerQueue keeps names of every length whole, and counts long names' bytes") {
  TimerQueue queue;
  const std::string inline_name(15, 'a');  // the longest kept inline
  const std::string long_name = std::string(16, 'b') + "-and-more";
  const std::string with_nul = std::string("x\0y", 3);
  for (const std::string& name : {inline_name, long_name, with_nul}) {
    queue.set_time_alert(name, nautilus::from_unix_ns(10), {}, nautilus::PastDeadline::fire_now, ClockReading{0, 0});
  }
  REQUIRE(queue.timer_names() == std::vector<std::string>{inline_name, long_name, with_nul});
  REQUIRE(queue.has_timer(long_name));
  REQUIRE_FALSE(queue.has_timer(long_name.substr(0, 16)));  // a prefix is another name
  REQUIRE(queue.cancel_timer(inline_name));
  std::vector<std::string> fired;
  while (auto due = queue.pop_due(ClockReading{10, 10})) {
    fired.push_back(due->event.name);
    queue.finish(*due);
  }
  // The last tick's event keeps the name although the timer's storage is released.
  REQUIRE(fired == std::vector<std::string>{long_name, with_nul});
  REQUIRE(queue.timer_count() == 0);
  REQUIRE(queue.set_time_alert(inline_name, nautilus::from_unix_ns(20), {}, nautilus::PastDeadline::fire_now,
                               ClockReading{10, 10})
              .valid());  // reusable at once
}

TEST_CASE("TimerQueue's memory count includes a long name's block, until the timer is gone") {
  // Two queues that differ only in one name's length hold the same storage but for its block.
  TimerQueue short_named;
  TimerQueue long_named;
  const auto set = [](TimerQueue& queue, const std::string& name) {
    queue.set_time_alert(name, nautilus::from_unix_ns(10), {}, nautilus::PastDeadline::fire_now, ClockReading{0, 0});
  };
  set(short_named, "s");
  set(long_named, std::string(1000, 'L'));
  REQUIRE(long_named.bytes_per_timer() == short_named.bytes_per_timer() + 1000);
  REQUIRE(short_named.cancel_timer("s"));
  REQUIRE(long_named.cancel_timer(std::string(1000, 'L')));
  set(short_named, "s");
  set(long_named, "l");
  REQUIRE(long_named.bytes_per_timer() == short_named.bytes_per_timer());
}

TEST_CASE("CompactName holds up to 15 bytes inline and longer names on the heap") {
  using nautilus::detail::CompactName;
  CompactName name;
  REQUIRE(name.empty());
  REQUIRE(name.view().empty());
  for (const std::size_t size : {std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{1000}}) {
    CAPTURE(size);
    std::string text(size, 'q');
    text.back() = 'z';
    name.assign(text);
    REQUIRE(name.view() == text);
    REQUIRE(name.heap_bytes() == (size > CompactName::inline_capacity ? size : 0));
    CompactName moved{std::move(name)};
    REQUIRE(moved.view() == text);
    REQUIRE(name.empty());  // NOLINT(bugprone-use-after-move): a moved-from name is empty
    name = std::move(moved);
    REQUIRE(name.view() == text);
  }
  name.clear();
  REQUIRE(name.empty());
  REQUIRE(name.heap_bytes() == 0);
  static_assert(sizeof(CompactName) == 16);
}

TEST_CASE("TimerQueue frees a fired name at once, and keeps the index right when deliveries set names") {
  // While a timer's last tick is delivered (between pop_due and finish) its name is free: lookups
  // miss it, and setting it again takes over its index entry. Random churn of that kind, checked
  // against a model, with every lookup in between.
  TimerQueue queue;
  std::map<std::string, std::int64_t> model;
  std::mt19937_64 rng{20261126};
  std::int64_t now = 0;
  const auto name_of = [](std::uint64_t id) { return std::string(id % 20, 'z') + "n" + std::to_string(id); };
  const auto set = [&](const std::string& name, std::int64_t deadline) {
    queue.set_time_alert(name, nautilus::from_unix_ns(deadline), {}, nautilus::PastDeadline::fire_now,
                         ClockReading{now, now});
    model[name] = deadline;
  };
  for (int step = 0; step < 20'000; ++step) {
    const std::string name = name_of(rng() % 300);
    if (rng() % 2 == 0) {
      if (model.count(name) == 0) set(name, now + static_cast<std::int64_t>(rng() % 1000));
      continue;
    }
    now += static_cast<std::int64_t>(rng() % 200);
    while (auto due = queue.pop_due(ClockReading{now, now})) {
      const std::string fired = due->event.name;
      REQUIRE(model.erase(fired) == 1);
      REQUIRE_FALSE(queue.has_timer(fired));  // free at once, though still being delivered
      REQUIRE_FALSE(queue.next_time(fired).has_value());
      const auto action = rng() % 4;
      if (action == 0) {
        set(fired, now + 1 + static_cast<std::int64_t>(rng() % 1000));  // set again: takes over the entry
      } else if (action == 1) {
        const std::string other = name_of(rng() % 300);
        if (model.count(other) == 0) set(other, now + 1 + static_cast<std::int64_t>(rng() % 1000));
      } else if (action == 2) {
        set(fired, now + 1 + static_cast<std::int64_t>(rng() % 1000));
        REQUIRE(queue.cancel_timer(fired));  // and cancelled before the delivery ends
        model.erase(fired);
      }
      queue.finish(*due);
    }
    if (step % 500 == 0) {
      require_agrees(queue, model);
      for (std::uint64_t id = 0; id < 300; ++id) REQUIRE(queue.has_timer(name_of(id)) == (model.count(name_of(id)) == 1));
    }
    REQUIRE(queue.timer_count() == model.size());
  }
}

TEST_CASE("TimerQueue: a name set again from its own delivery is pending once, and only once") {
  // The re-arm a heartbeat does: the set finds the delivered alert's index entry without a probe.
  // Once taken over, that entry is a pending timer's: a second set of the name must throw.
  TimerQueue queue;
  const auto set = [&](std::string_view name, std::int64_t at) {
    return queue.set_time_alert(name, nautilus::from_unix_ns(at), {}, nautilus::PastDeadline::error,
                                ClockReading{10, 10});
  };
  set("hb", 10);
  set("other", 50);
  auto due = queue.pop_due(ClockReading{10, 10});
  REQUIRE(due.has_value());
  REQUIRE(due->event.name == "hb");
  REQUIRE_FALSE(queue.has_timer("hb"));
  set("zz", 60);  // another name while "hb" is delivered: its own entry
  set("hb", 20);  // takes over the delivered alert's entry
  REQUIRE_THROWS_WITH(set("hb", 30), Catch::Contains("'hb' is already pending"));
  REQUIRE_THROWS_WITH(set("zz", 30), Catch::Contains("'zz' is already pending"));
  REQUIRE(queue.next_time("hb") == nautilus::from_unix_ns(20));
  REQUIRE(queue.cancel_timer("hb"));
  set("hb", 40);  // free again after the cancel, still within the delivery
  REQUIRE_THROWS_WITH(set("hb", 45), Catch::Contains("'hb' is already pending"));
  queue.finish(*due);
  REQUIRE(queue.timer_names() == std::vector<std::string>{"hb", "other", "zz"});
  REQUIRE(queue.next_time("hb") == nautilus::from_unix_ns(40));
  std::vector<std::string> fired;
  while (auto next = queue.pop_due(ClockReading{100, 100})) {
    fired.push_back(next->event.name);
    queue.finish(*next);
  }
  REQUIRE(fired == std::vector<std::string>{"hb", "other", "zz"});
  REQUIRE(queue.timer_count() == 0);
}

namespace {

// The hold model of the benchmarks at `count` timers: each fire sets a replacement U(1..1e6) ns later,
// from its callback (under its own name if `named`), for 2 * count fires. Returns bytes_per_timer()
// once loaded and at the end.
std::pair<std::size_t, std::size_t> hold_model_bytes(std::size_t count, bool named, std::uint64_t seed) {
  TimerQueue queue;
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<std::int64_t> increment(1, 1'000'000);
  std::int64_t now_ns = 0;
  std::uint64_t fired = 0;
  nautilus::TimerCallback callback = [&](const nautilus::TimeEvent& event) {
    ++fired;
    const auto at = nautilus::from_unix_ns(now_ns + increment(random));
    const ClockReading now{now_ns, now_ns};
    if (named) {
      queue.set_time_alert(event.name, at, callback, nautilus::PastDeadline::error, now);
    } else {
      queue.set_time_alert(at, callback, nautilus::PastDeadline::error, now);
    }
  };
  for (std::size_t i = 0; i < count; ++i) {
    const auto at = nautilus::from_unix_ns(increment(random));
    if (named) {
      queue.set_time_alert("t" + std::to_string(i), at, callback, nautilus::PastDeadline::error,
                           ClockReading{});
    } else {
      queue.set_time_alert(at, callback, nautilus::PastDeadline::error, ClockReading{});
    }
  }
  const std::size_t loaded = queue.bytes_per_timer();
  for (std::size_t i = 0; i < 2 * count; ++i) {
    now_ns = *queue.next_deadline_ns();
    auto due = queue.pop_due(ClockReading{now_ns, now_ns});
    if (!due) FAIL("nothing due at the next deadline");
    queue.invoke(*due);
    queue.finish(*due);
  }
  REQUIRE(fired == 2 * count);
  REQUIRE(queue.timer_count() == count);
  return {loaded, queue.bytes_per_timer()};
}

}  // namespace

TEST_CASE("TimerQueue keeps a pending anonymous alert in at most 64 bytes, its callback object included") {
  // At 5 * 10^4 timers. (With a 32-byte std::function in a 64-byte record, it took 82.)
  const auto [loaded, after] = hold_model_bytes(50'000, false, 7);
  CAPTURE(loaded, after);
  REQUIRE(loaded <= 64);
  REQUIRE(after <= 64);
}

TEST_CASE("TimerQueue keeps a pending named timer in at most 80 bytes: 64 beyond its callback object") {
  // At 5 * 10^4 timers, each re-armed under its own name: the name index, the name cells and their
  // tags included. (81 before the index grew by half past 64 KiB.)
  const auto [loaded, after] = hold_model_bytes(50'000, true, 11);
  CAPTURE(loaded, after);
  REQUIRE(loaded <= 80);
  REQUIRE(after <= 80);
}

TEST_CASE("TimerQueue's fixed storage stays small beside 10^3 pending alerts") {
  // The wheel's chained levels are created as entries reach them, and below 16384 entries an
  // emptied slot gives its block back (see detail/timing_wheel.hpp, "Memory"). Built in, the
  // levels alone took 41 bytes per timer here, and the kept blocks 95 more after the run.
  const auto [anonymous_loaded, anonymous_after] = hold_model_bytes(1'000, false, 5);
  const auto [named_loaded, named_after] = hold_model_bytes(1'000, true, 9);
  CAPTURE(anonymous_loaded, anonymous_after, named_loaded, named_after);
  // Read 49, 85, 76 and 111 (named 108 and 125 with 4-byte index buckets and tags at 10^3, the
  // index's wide format; 102, 123, 139 and 161 with the wheel's levels built in).
  REQUIRE(anonymous_loaded <= 80);  // 64 beyond the 16-byte callback
  REQUIRE(anonymous_after <= 96);
  REQUIRE(named_loaded <= 80);
  REQUIRE(named_after <= 128);
}

TEST_CASE("TimerQueue keeps a pending periodic timer in at most 80 bytes, its callback object included") {
  // 2 * 10^4 named one-minute timers at random phases, re-armed into their lane for four minutes.
  // They share one interval rule, named in their records; the lane's ring grows by eighths, and
  // the emptied wheel frees its storage. It read 77; with the ring doubled and the wheel's storage
  // kept, 90; with a 24-byte rule cell per timer as well, 114; before that, 147 (32-byte rules in a vector
  // resized with the slots, the wheel's levels built in, its emptied slots keeping their blocks).
  TimerQueue queue;
  std::mt19937_64 random(13);
  std::uniform_int_distribution<std::int64_t> phase(0, 60'000'000'000 - 1);
  std::uint64_t fired = 0;
  std::int64_t last = 0;
  bool sorted = true;  // the lane's ring grows past 4,096 entries by eighths, wrapping at no power of two
  const nautilus::TimerCallback callback = [&](const nautilus::TimeEvent& e) {
    ++fired;
    sorted = sorted && nautilus::to_unix_ns(e.ts_event) >= last;
    last = nautilus::to_unix_ns(e.ts_event);
  };
  constexpr std::size_t count = 20'000;
  for (std::size_t i = 0; i < count; ++i) {
    queue.set_timer("bar-" + std::to_string(i), std::chrono::minutes(1),
                    nautilus::from_unix_ns(phase(random)), std::nullopt, callback,
                    {.missed_ticks = nautilus::MissedTicks::skip}, ClockReading{});
  }
  // Ticks at phase + 1, 2, 3 and 4 minutes: all before 5 minutes, the next one after.
  for (const std::int64_t now :
       {60'000'000'000LL, 120'000'000'000LL, 180'000'000'000LL, 240'000'000'000LL, 300'000'000'000LL - 1}) {
    while (auto due = queue.pop_due(ClockReading{now, now})) {
      queue.invoke(*due);
      queue.finish(*due);
    }
  }
  REQUIRE(fired == 4 * count);
  REQUIRE(sorted);
  REQUIRE(queue.timer_count() == count);
  CAPTURE(queue.bytes_per_timer());
  REQUIRE(queue.bytes_per_timer() <= 80);
}

TEST_CASE("TimerQueue's wheel gives back its storage once every tick has moved to a lane") {
  // 10^3 periodic timers: their first ticks fill the wheel, their re-armed ticks one lane. Once the
  // wheel's last tick has moved, its kept blocks and levels (over 64 KiB) are freed: it read 91
  // bytes per timer, against 134 with the storage kept.
  TimerQueue queue;
  constexpr std::int64_t count = 1'000;
  for (std::int64_t i = 0; i < count; ++i) {
    queue.set_timer("t" + std::to_string(i), std::chrono::nanoseconds{1'000'000},
                    nautilus::from_unix_ns(i * 997), std::nullopt, {}, {}, ClockReading{0, 0});
  }
  std::uint64_t fired = 0;
  for (std::int64_t step = 1; step <= 16; ++step) {  // ticks at 1, 2 and 3 ms + i * 997, before 4 ms
    const std::int64_t now = step * 250'000 - 1;
    while (auto due = queue.pop_due(ClockReading{now, now})) {
      REQUIRE(nautilus::to_unix_ns(due->event.ts_event) % 1'000'000 ==
              static_cast<std::int64_t>(due->event.id - 1) % count * 997);
      ++fired;
      queue.finish(*due);
    }
  }
  REQUIRE(fired == 3 * count);
  CAPTURE(queue.bytes_per_timer());
  REQUIRE(queue.bytes_per_timer() <= 96);
  // Alerts take the wheel up again, and fire among the ticks in order.
  queue.set_time_alert(nautilus::from_unix_ns(4'000'500), {}, nautilus::PastDeadline::error,
                       ClockReading{4'000'000, 4'000'000});
  std::vector<std::int64_t> times;
  while (auto due = queue.pop_due(ClockReading{4'001'000, 4'001'000})) {
    times.push_back(nautilus::to_unix_ns(due->event.ts_event));
    queue.finish(*due);
  }
  REQUIRE(times == std::vector<std::int64_t>{4'000'000, 4'000'500, 4'000'997});
}

TEST_CASE("TimerQueue drained to empty hands its slots out again in order, and keeps no free list") {
  // Every alert of a round fires, then the next round is set (a backtest's day, the batch benchmark).
  TimerQueue queue;
  std::vector<std::uint64_t> fired;
  const nautilus::TimerCallback callback = [&fired](const nautilus::TimeEvent& e) { fired.push_back(e.id); };
  constexpr std::size_t count = 20'000;
  const auto fill = [&](std::int64_t start_ns, std::int64_t now_ns) {
    std::vector<nautilus::TimerHandle> handles;
    for (std::size_t i = 0; i < count; ++i) {
      const auto offset = static_cast<std::int64_t>((i * 7919) % count);  // every offset once, shuffled
      handles.push_back(queue.set_time_alert(nautilus::from_unix_ns(start_ns + offset), callback,
                                             nautilus::PastDeadline::error, ClockReading{now_ns, now_ns}));
    }
    return handles;
  };
  const auto drain = [&] {
    while (const auto deadline = queue.next_deadline_ns()) {
      auto due = queue.pop_due(ClockReading{*deadline, *deadline});
      if (!due) FAIL("nothing due at the next deadline");
      queue.invoke(*due);
      queue.finish(*due);
    }
  };
  const std::vector<nautilus::TimerHandle> first = fill(1'000, 0);
  const std::size_t loaded = queue.bytes_per_timer();
  drain();
  REQUIRE(fired.size() == count);
  const std::vector<nautilus::TimerHandle> second = fill(100'000, 50'000);
  // The same storage as the first round, plus the wheel's kept blocks and the free stack's first
  // chunk (8 bytes a timer here): a list of the 2 * 10^4 slots the first round freed would add at
  // least 4 more (it read 14).
  CAPTURE(loaded, queue.bytes_per_timer());
  REQUIRE(queue.bytes_per_timer() <= loaded + 11);
  // The first round's handles refer to reused slots, and stay stale.
  for (std::size_t i = 0; i < count; i += 97) {
    REQUIRE_FALSE(queue.next_time(first[i]).has_value());
    REQUIRE_FALSE(queue.cancel_timer(first[i]));
    REQUIRE(queue.next_time(second[i]) ==
            nautilus::from_unix_ns(100'000 + static_cast<std::int64_t>((i * 7919) % count)));
  }
  REQUIRE(queue.timer_count() == count);
  fired.clear();
  drain();
  REQUIRE(fired.size() == count);
  REQUIRE(std::is_sorted(fired.begin(), fired.end()));
  REQUIRE(fired.front() == count + 1);
}

TEST_CASE("TimerQueue copies a name given as a std::string_view: the caller's buffer may change after") {
  TimerQueue queue;
  std::string buffer = "order-12345-expiry and more";
  const std::string_view name = std::string_view(buffer).substr(0, 18);  // not NUL-terminated
  queue.set_time_alert(name, nautilus::from_unix_ns(10), {}, nautilus::PastDeadline::fire_now,
                       ClockReading{0, 0});
  buffer.assign(buffer.size(), 'x');
  REQUIRE(queue.timer_names() == std::vector<std::string>{"order-12345-expiry"});
  REQUIRE(queue.has_timer("order-12345-expiry"));
  auto due = queue.pop_due(ClockReading{10, 10});
  REQUIRE(due);
  REQUIRE(due->event.name == "order-12345-expiry");
  queue.finish(*due);
}

namespace {

// Named alerts set into a TimerQueue and into a model, sorted by (deadline, set order); each is named
// after its set order, so an event says which one fired.
struct AlertModel {
  TimerQueue queue;
  std::map<std::pair<std::int64_t, std::uint64_t>, nautilus::TimerHandle> model;  // (deadline, set order)
  std::vector<std::pair<std::int64_t, std::uint64_t>> keys;                       // for random cancels
  std::mt19937_64 rng;
  std::uint64_t order = 0;
  std::int64_t now = 0;

  explicit AlertModel(std::uint64_t seed) : rng(seed) {}

  void set(std::int64_t deadline) {
    ++order;
    const nautilus::TimerHandle handle =
        queue.set_time_alert(std::to_string(order), nautilus::from_unix_ns(deadline), {},
                             nautilus::PastDeadline::fire_now, ClockReading{now, now});
    model.emplace(std::pair{deadline, order}, handle);
    keys.emplace_back(deadline, order);
  }
  // Cancels a random alert set before, by handle, if it is still pending.
  void cancel_one() {
    const auto key = keys[rng() % keys.size()];
    if (const auto it = model.find(key); it != model.end()) {
      REQUIRE(queue.cancel_timer(it->second));
      model.erase(it);
    }
  }
  // Cancels three pending alerts in five, by name: enough stale entries to make the queue sweep.
  void cancel_many() {
    for (auto it = model.begin(); it != model.end();) {
      if (rng() % 5 < 3) {
        REQUIRE(queue.cancel_timer(std::to_string(it->first.second)));
        it = model.erase(it);
      } else {
        ++it;
      }
    }
    REQUIRE(queue.timer_count() == model.size());
  }
  // Fires the earliest alert, which must be the model's.
  void fire_next() {
    now = model.begin()->first.first;
    auto due = queue.pop_due(ClockReading{now, now});
    REQUIRE(due.has_value());
    REQUIRE(nautilus::to_unix_ns(due->event.ts_event) == now);
    REQUIRE(due->event.name == std::to_string(model.begin()->first.second));  // set first among ties
    model.erase(model.begin());
    queue.finish(*due);
  }
};

}  // namespace

TEST_CASE("TimerQueue fires in (deadline, set order) through the wheel's staged cascades, with cancels") {
  // 20,000 alerts over 1 ms, each fire setting a replacement up to 1 ms later (one in 8 at the
  // same time: ties), one step in 16 cancelling a random pending alert by handle, and every 50,000
  // steps a burst of cancels by name, enough to make the queue sweep its stale entries. Slots
  // of every level from 2 up then hold more than the wheel's stage threshold, so they are staged
  // (detail/timing_wheel.hpp), and cancels sweep half-drained slots. The events must leave in the
  // order of a sorted model: deadline, then the order the alerts were set.
  AlertModel m{20261126};
  for (int i = 0; i < 20'000; ++i) m.set(static_cast<std::int64_t>(m.rng() % 1'000'000));
  for (int step = 0; step < 200'000; ++step) {
    if (step % 16 == 0) m.cancel_one();
    if (step % 50'000 == 25'000) {
      m.cancel_many();
      while (m.model.size() < 20'000) m.set(m.now + 1 + static_cast<std::int64_t>(m.rng() % 1'000'000));
    }
    m.fire_next();
    m.set(step % 8 == 0 ? m.now : m.now + 1 + static_cast<std::int64_t>(m.rng() % 1'000'000));
    if (m.keys.size() > 100'000) m.keys.erase(m.keys.begin(), m.keys.begin() + 50'000);
  }
  CHECK(m.queue.events_fired() == 200'000);
  CHECK(m.queue.timer_count() == m.model.size());
}

TEST_CASE(
    "TimerQueue fires batches set into an empty queue in (deadline, set order), among later sets and "
    "cancels") {
  // Rounds of 1 to 5,000 alerts set into an emptied queue: they wait, unsorted, in the batch run's
  // inbox and are sorted at the first read (detail/batch_run.hpp). While a round is read, one fire
  // in 4 sets an alert (into the wheel: at the same time as the fire, a tie with the run's entries,
  // or later), one in 16 cancels a random pending alert by handle, and once a round a burst of
  // cancels by name makes the queue sweep stale entries from the run half read. The events must
  // leave in the order of a sorted model.
  AlertModel m{20261127};
  for (int round = 0; round < 24; ++round) {
    REQUIRE(m.queue.timer_count() == 0);
    m.keys.clear();
    const std::size_t size = round % 6 == 0 ? 1 + m.rng() % 63 : 1 + m.rng() % 5'000;
    // Every other round on a coarse grid (1 us): many ties within the batch, and with alerts set at
    // the time of a fire.
    const std::int64_t grid = round % 2 == 0 ? 1 : 1'000;
    for (std::size_t i = 0; i < size; ++i) {
      m.set(m.now + static_cast<std::int64_t>(m.rng() % 1'000'000) / grid * grid);
    }
    const std::size_t burst_at = m.model.size() / 2;
    for (std::size_t step = 0; !m.model.empty(); ++step) {
      if (step % 16 == 5) m.cancel_one();
      if (step == burst_at) {
        m.cancel_many();
        if (m.model.empty()) break;
      }
      m.fire_next();
      if (step % 4 == 0) m.set(step % 8 == 0 ? m.now : m.now + static_cast<std::int64_t>(m.rng() % 2'000));
    }
    REQUIRE_FALSE(m.queue.next_deadline_ns().has_value());
    m.now += 1;
  }
  CHECK(m.queue.events_fired() > 30'000);
}
