// The timing wheel under TimerQueue, against a model (a sorted set) through random pushes, pops,
// limits, overdue keys, ties and sweeps, over a deadline range that crosses every level.
#include <nautilus/clock/detail/timing_wheel.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <utility>
#include <vector>

using nautilus::detail::TimingWheel;
using nautilus::detail::WheelEntry;

namespace {

using Model = std::set<std::pair<std::int64_t, std::uint64_t>>;

void check_top(TimingWheel& wheel, const Model& model, std::int64_t limit) {
  const WheelEntry* top = wheel.top(limit);
  if (model.empty() || model.begin()->first > limit) {
    REQUIRE(top == nullptr);
  } else {
    REQUIRE(top != nullptr);
    REQUIRE(top->deadline == model.begin()->first);
    REQUIRE(top->order == model.begin()->second);
  }
}

// Pushes the same entry to the wheel and to the model, with the next order.
void push_both(TimingWheel& wheel, Model& model, std::int64_t deadline, std::uint64_t& order) {
  wheel.push({deadline, ++order});
  model.insert({deadline, order});
}

// Pushes `count` entries with deadlines drawn uniformly from [0, range).
void load_both(TimingWheel& wheel, Model& model, std::mt19937_64& rng, int count, std::uint64_t range,
               std::uint64_t& order) {
  for (int i = 0; i < count; ++i) push_both(wheel, model, static_cast<std::int64_t>(rng() % range), order);
}

// Pops the earliest entry of both (which must agree), with no limit; returns its deadline.
std::int64_t pop_both(TimingWheel& wheel, Model& model) {
  check_top(wheel, model, std::numeric_limits<std::int64_t>::max());
  const std::int64_t deadline = model.begin()->first;
  wheel.pop();
  model.erase(model.begin());
  return deadline;
}

// Pops both to the end.
void drain_both(TimingWheel& wheel, Model& model) {
  while (!model.empty()) pop_both(wheel, model);
  CHECK(wheel.top(std::numeric_limits<std::int64_t>::max()) == nullptr);
}

// Sweeps the entries whose order, mixed with `salt`, is a multiple of `every`, from the wheel and
// from the model; both must drop the same number.
void sweep_both(TimingWheel& wheel, Model& model, std::uint64_t salt, std::uint64_t every) {
  auto stale = [salt, every](const WheelEntry& e) { return (e.order ^ salt) % every == 0; };
  const std::size_t removed = wheel.remove_if(stale);
  std::size_t expected = 0;
  for (auto it = model.begin(); it != model.end();) {
    if ((it->second ^ salt) % every == 0) {
      it = model.erase(it);
      ++expected;
    } else {
      ++it;
    }
  }
  REQUIRE(removed == expected);
}

}  // namespace

TEST_CASE("TimingWheel pops in (deadline, order) order, like a sorted set, at every scale") {
  // Threshold 0 stages every chained slot's cascade (the default, only slots of more than 32).
  const std::size_t threshold = GENERATE(TimingWheel::default_stage_threshold, std::size_t{0});
  CAPTURE(threshold);
  for (const std::int64_t span : {std::int64_t{100}, std::int64_t{1} << 20, std::int64_t{1} << 40,
                                  std::numeric_limits<std::int64_t>::max() / 4}) {
    CAPTURE(span);
    TimingWheel wheel{threshold};
    Model model;
    std::mt19937_64 rng{static_cast<std::uint64_t>(span)};
    std::uint64_t order = 0;
    std::int64_t now = -span / 2;  // negative deadlines too
    // now + a random offset below `range`, saturating at INT64_MAX (the offset is drawn in
    // unsigned arithmetic, where the distance to INT64_MAX always fits).
    auto ahead = [&](std::int64_t range) {
      const std::uint64_t room = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) -
                                 static_cast<std::uint64_t>(now);
      const std::uint64_t bound = std::min(static_cast<std::uint64_t>(range), room);
      return bound == 0 ? now : static_cast<std::int64_t>(static_cast<std::uint64_t>(now) + rng() % bound);
    };
    for (int step = 0; step < 30'000; ++step) {
      const auto action = rng() % 10;
      if (action < 5) {
        // Mostly ahead of now; some at now (ties), some behind (overdue).
        std::int64_t deadline = ahead(span);
        if (action == 0) deadline = now;
        if (action == 1) deadline = now - static_cast<std::int64_t>(rng() % 1000);
        wheel.push({deadline, ++order});
        model.insert({deadline, order});
      } else if (action < 9) {
        const std::int64_t limit = ahead(span / 8 + 1);
        check_top(wheel, model, limit);
        if (!model.empty() && model.begin()->first <= limit) {
          now = std::max(now, model.begin()->first);
          wheel.pop();
          model.erase(model.begin());
        }
      } else {
        sweep_both(wheel, model, rng(), 3);  // a random third, as stale entries are swept
      }
      REQUIRE(wheel.size() == model.size());
    }
    while (!model.empty()) {
      check_top(wheel, model, std::numeric_limits<std::int64_t>::max());
      wheel.pop();
      model.erase(model.begin());
    }
    CHECK(wheel.top(std::numeric_limits<std::int64_t>::max()) == nullptr);
  }
}

TEST_CASE("TimingWheel keeps ties in order even when they arrive through different levels") {
  TimingWheel wheel;
  wheel.push({1'000'000, 1});   // far: a high level, cascaded later
  wheel.push({10, 2});
  REQUIRE(wheel.top(10)->order == 2);
  wheel.pop();                  // the cursor is now at 10
  wheel.push({1'000'000, 3});   // the same deadline, placed from a nearer cursor
  wheel.push({999'999, 4});
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  REQUIRE(wheel.top(max)->order == 4);
  wheel.pop();
  REQUIRE(wheel.top(max)->order == 1);
  wheel.pop();
  REQUIRE(wheel.top(max)->order == 3);
  wheel.pop();
  REQUIRE(wheel.top(max) == nullptr);
}

TEST_CASE("TimingWheel restarts from the earliest key when most entries arrive behind its cursor") {
  // Timers loaded latest first: every push after the first is behind the cursor.
  TimingWheel wheel;
  std::uint64_t order = 0;
  for (std::int64_t d = 100'000; d > 0; d -= 7) wheel.push({d, ++order});
  for (std::int64_t d = 100'000; d > 0; d -= 7) wheel.push({d, ++order});  // ties, set later
  std::int64_t last = 0;
  std::uint64_t last_order = 0;
  std::size_t popped = 0;
  while (const WheelEntry* top = wheel.top(std::numeric_limits<std::int64_t>::max())) {
    // Sorted by deadline; equal deadlines by order (the second load's orders are higher).
    REQUIRE((top->deadline > last || (top->deadline == last && top->order > last_order)));
    last = top->deadline;
    last_order = top->order;
    wheel.pop();
    ++popped;
  }
  CHECK(popped == 2 * 14'286);
  CHECK(wheel.size() == 0);
}

TEST_CASE("TimingWheel's near heap takes a lone far slot whole, and later pushes inside its span") {
  // One entry 2^30 ns ahead sits alone in a high-level slot: it goes to the near heap without
  // cascading. Entries pushed afterwards inside that slot's span (a tie set later, one just before
  // it, one just after) must still leave in (deadline, order) order, and one past the span after them.
  TimingWheel wheel;
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  const std::int64_t far = std::int64_t{1} << 30;
  wheel.push({0, 1});
  wheel.push({far, 2});
  REQUIRE(wheel.top(max)->order == 1);
  wheel.pop();
  REQUIRE(wheel.top(max)->order == 2);             // the lone slot is now the near heap
  wheel.push({far, 3});                            // a tie, set later
  wheel.push({far - 1, 4});                        // earlier, inside the span
  wheel.push({far + (std::int64_t{1} << 36), 5});  // beyond the span: into the wheel
  wheel.push({far + 1, 6});
  for (const std::uint64_t expected : {4U, 2U, 3U, 6U, 5U}) {
    const WheelEntry* top = wheel.top(max);
    REQUIRE(top != nullptr);
    CHECK(top->order == expected);
    wheel.pop();
  }
  CHECK(wheel.top(max) == nullptr);
  CHECK(wheel.size() == 0);
}

TEST_CASE("TimingWheel's storage stays within its entries and a block per slot over a long run") {
  // A hold model: 10^4 entries, each popped one re-pushed up to 1 ms later. The cursor visits every
  // slot of the levels in use many times over (a level-3 slot spans 262 us; 64 of them, 16.8 ms,
  // pass every ~330,000 pops); a wheel that kept every slot's largest storage would end with about
  // 64 busy slots' worth per level, some 30 times its entries.
  TimingWheel wheel;
  std::mt19937_64 rng{7};
  std::uint64_t order = 0;
  constexpr std::size_t entries = 10'000;
  for (std::size_t i = 0; i < entries; ++i) {
    wheel.push({static_cast<std::int64_t>(rng() % 1'000'000), ++order});
  }
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  std::size_t most = 0;
  for (int pop = 0; pop < 1'500'000; ++pop) {
    const WheelEntry top = *wheel.top(max);
    wheel.pop();
    wheel.push({top.deadline + 1 + static_cast<std::int64_t>(rng() % 1'000'000), ++order});
    most = std::max(most, wheel.capacity());
  }
  CHECK(wheel.size() == entries);
  // The entries themselves, a sixteenth more in the block pool, one part-filled (or kept) block
  // per chained slot (9 levels of 64, 15 entries each), and a little in the vector levels: it
  // measured 12,860. (Vector slots ended near 40,000; keeping every slot's largest storage, near
  // 600,000.)
  INFO("most storage: " << most << " entries");
  CHECK(most <= entries * 17 / 16 + 9 * 64 * 15 + 1024);
}

TEST_CASE("TimingWheel gives back its kept storage once empty, and works on as new") {
  TimingWheel wheel;
  const TimingWheel fresh;
  Model model;
  std::mt19937_64 rng{11};
  std::uint64_t order = 0;
  load_both(wheel, model, rng, 20'000, 1'000'000'000, order);  // levels 0 to 4, many blocks
  for (int i = 0; i < 10'000; ++i) pop_both(wheel, model);
  const std::size_t held = wheel.bytes();
  wheel.release_storage();  // not empty: nothing happens
  REQUIRE(wheel.bytes() == held);
  drain_both(wheel, model);
  REQUIRE(wheel.bytes() > fresh.bytes() + 64 * 1024);  // emptied, it keeps its pool and levels
  wheel.release_storage();
  REQUIRE(wheel.bytes() == fresh.bytes());
  REQUIRE(wheel.capacity() == 0);
  // As new: it fills and drains again in order, over every level.
  load_both(wheel, model, rng, 5'000, std::uint64_t{1} << 62, order);
  drain_both(wheel, model);
}

TEST_CASE("TimingWheel holds no slots until its first push: a queue whose timers never reach it pays none") {
  TimingWheel wheel;
  REQUIRE(wheel.bytes() == sizeof(TimingWheel));
  // Swept and cleared before any push: nothing to visit, nothing made.
  REQUIRE(wheel.remove_if([](const WheelEntry&) { return true; }) == 0);
  wheel.clear();
  wheel.release_storage();
  REQUIRE(wheel.bytes() == sizeof(TimingWheel));
  REQUIRE(wheel.top(std::numeric_limits<std::int64_t>::max()) == nullptr);
  // The first push makes levels 0 and 1 (three sets of 64 slots).
  Model model;
  std::uint64_t order = 0;
  push_both(wheel, model, 5, order);
  REQUIRE(wheel.bytes() >= sizeof(TimingWheel) + 3 * 64 * sizeof(std::vector<WheelEntry>));
  push_both(wheel, model, 70, order);  // level 1
  REQUIRE(wheel.remove_if([](const WheelEntry& e) { return e.deadline == 70; }) == 1);
  model.erase({70, 2});
  drain_both(wheel, model);
  wheel.release_storage();  // gives them back
  REQUIRE(wheel.bytes() == sizeof(TimingWheel));
  push_both(wheel, model, 3, order);  // and makes them again
  drain_both(wheel, model);
}

TEST_CASE("TimingWheel hands a cascaded level-1 slot's entries to on_batch: the next to leave") {
  TimingWheel wheel;
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  wheel.push({0, 1});
  // Three deadlines within one 64 ns level-1 slot (1024..1087), one later (a different slot).
  wheel.push({1030, 2});
  wheel.push({1080, 3});
  wheel.push({1031, 4});
  wheel.push({5000, 5});
  REQUIRE(wheel.top(max)->order == 1);
  wheel.pop();
  std::vector<std::uint64_t> batch;
  const auto collect = [&](const WheelEntry* first, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) batch.push_back(first[i].order);
  };
  std::vector<std::uint64_t> popped;
  while (popped.size() < 3) {
    const WheelEntry* top = wheel.top(max, collect);
    REQUIRE(top != nullptr);
    popped.push_back(top->order);
    wheel.pop();
  }
  CHECK(popped == std::vector<std::uint64_t>{2, 4, 3});
  std::sort(batch.begin(), batch.end());
  CHECK(batch == std::vector<std::uint64_t>{2, 3, 4});
}

TEST_CASE("TimingWheel loaded in random order keeps at most an eighth of its entries in the near heap") {
  // The first key sets the cursor; keys below it go to the near heap, a binary heap whose pops
  // descend through cold levels. Here 45% of the keys fall below the first: the wheel must restart
  // from the earliest key rather than leave them there (at a threshold of a half it left them all).
  std::mt19937_64 rng{20261126};
  TimingWheel wheel;
  Model model;
  constexpr std::int64_t span = 1'000'000'000;
  const auto push = [&](std::int64_t deadline) {
    const auto order = static_cast<std::uint64_t>(model.size());
    wheel.push(WheelEntry{deadline, order});
    model.emplace(deadline, order);
    REQUIRE(wheel.near_size() <= std::max<std::size_t>(64, wheel.size() / 8));
  };
  push(span * 45 / 100);
  for (int i = 1; i < 100'000; ++i) push(1 + static_cast<std::int64_t>(rng() % span));
  // And the order is still exact.
  while (!model.empty()) {
    check_top(wheel, model, std::numeric_limits<std::int64_t>::max());
    wheel.pop();
    model.erase(model.begin());
  }
  REQUIRE(wheel.size() == 0);
}

TEST_CASE("TimingWheel sweeps chained slots of many blocks, and is reusable after clear") {
  // 1,000 entries in a few level-3 slots (262 us wide): chains of many 15-entry blocks. A sweep of
  // every third entry compacts each chain across its blocks; then every survivor leaves in order.
  TimingWheel wheel;
  Model model;
  std::uint64_t order = 0;
  wheel.push({0, ++order});  // the cursor starts at 0
  model.emplace(0, order);
  for (std::int64_t i = 0; i < 1000; ++i) {
    const std::int64_t deadline = 300'000 + (i * 7919) % 500'000;  // level 3, shuffled
    wheel.push({deadline, ++order});
    model.emplace(deadline, order);
  }
  const std::size_t removed = wheel.remove_if([](const WheelEntry& e) { return e.order % 3 == 0; });
  std::erase_if(model, [](const auto& key) { return key.second % 3 == 0; });
  CHECK(removed == 1001 - model.size());
  CHECK(wheel.size() == model.size());
  for (int i = 0; i < 100; ++i) {  // pushes after the sweep go to the compacted chains' tails
    const std::int64_t deadline = 300'000 + i * 4999;
    wheel.push({deadline, ++order});
    model.emplace(deadline, order);
  }
  while (!model.empty()) {
    check_top(wheel, model, std::numeric_limits<std::int64_t>::max());
    wheel.pop();
    model.erase(model.begin());
  }
  CHECK(wheel.top(std::numeric_limits<std::int64_t>::max()) == nullptr);
  for (std::int64_t i = 0; i < 500; ++i) wheel.push({1'000'000 + i * 1000, ++order});
  wheel.clear();
  CHECK(wheel.size() == 0);
  CHECK(wheel.top(std::numeric_limits<std::int64_t>::max()) == nullptr);
  wheel.push({5, ++order});
  REQUIRE(wheel.top(std::numeric_limits<std::int64_t>::max()) != nullptr);
  CHECK(wheel.top(std::numeric_limits<std::int64_t>::max())->order == order);
}

namespace {

// A hold model of `entries` entries over 1 ms (pop the earliest, push a replacement up to 1 ms
// later), checked against a sorted set at every pop; returns the most entries one call moved at
// once after the first `warm_up` pops.
std::size_t hold_largest_cascade(std::size_t threshold, std::size_t entries, int pops, int warm_up) {
  TimingWheel wheel{threshold};
  Model model;
  std::mt19937_64 rng{11};
  std::uint64_t order = 0;
  for (std::size_t i = 0; i < entries; ++i) {
    const auto deadline = static_cast<std::int64_t>(rng() % 1'000'000);
    push_both(wheel, model, deadline, order);
  }
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  for (int pop = 0; pop < pops; ++pop) {
    if (pop == warm_up) wheel.reset_largest_cascade();
    const WheelEntry* top = wheel.top(max);
    REQUIRE(top != nullptr);
    REQUIRE(top->deadline == model.begin()->first);
    REQUIRE(top->order == model.begin()->second);
    const std::int64_t now = top->deadline;
    wheel.pop();
    model.erase(model.begin());
    // Every eighth replacement ties with the entry just popped (a deadline staged or not yet).
    const std::int64_t deadline = pop % 8 == 0 ? now : now + 1 + static_cast<std::int64_t>(rng() % 1'000'000);
    push_both(wheel, model, deadline, order);
  }
  return wheel.largest_cascade();
}

}  // namespace

TEST_CASE(
    "TimingWheel stages its cascades: in a hold model no call moves more than a slot it would not stage") {
  // 10^4 entries over 1 ms: a level-3 slot (262 us) holds some 2,600 of them and a level-2 slot
  // (4.1 us) some 40. Both are staged, and so is the first slot of each bank, which would become
  // the earliest the moment the bank is swapped in; what may still move at once is a slot of up to
  // the threshold's 32 entries.
  const std::size_t staged = hold_largest_cascade(TimingWheel::default_stage_threshold, 10'000, 150'000, 20'000);
  INFO("largest cascade, staged: " << staged);
  CHECK(staged <= TimingWheel::default_stage_threshold);
  // Nothing staged: whole level-3 slots move at once.
  const std::size_t whole = hold_largest_cascade(std::numeric_limits<std::size_t>::max(), 10'000, 150'000, 20'000);
  INFO("largest cascade, not staged: " << whole);
  CHECK(whole >= 1'000);
}

TEST_CASE("TimingWheel sweeps and restarts with slots staged, their entries half in a bank") {
  // Every chained slot staged (threshold 0); a sweep or a restart while slots are half drained
  // must neither lose nor duplicate an entry.
  TimingWheel wheel{0};
  Model model;
  std::mt19937_64 rng{5};
  std::uint64_t order = 0;
  load_both(wheel, model, rng, 5'000, 10'000'000, order);
  for (int round = 0; round < 40; ++round) {
    for (int pop = 0; pop < 50; ++pop) pop_both(wheel, model);
    if (round % 2 == 0) {
      sweep_both(wheel, model, rng(), 7);
    } else {
      // Keys behind the cursor, enough to restart the wheel (an eighth of its entries).
      const std::int64_t now = model.begin()->first;
      for (std::size_t i = 0; i < model.size() / 4 + 70; ++i) {
        const std::int64_t deadline = now - 1 - static_cast<std::int64_t>(rng() % 1'000);
        push_both(wheel, model, deadline, order);
      }
    }
    REQUIRE(wheel.size() == model.size());
  }
  drain_both(wheel, model);
}

TEST_CASE("TimingWheel sweeps slots half drained into their banks, losing and repeating nothing") {
  // A hold model with every chained slot staged (threshold 0) and a sweep every 37 pops: most
  // sweeps find a staged slot part moved (its head block's first entries in the bank already),
  // and must neither drop those from the bank nor keep them in the slot as well.
  TimingWheel wheel{0};
  Model model;
  std::mt19937_64 rng{3};
  std::uint64_t order = 0;
  load_both(wheel, model, rng, 10'000, 1'000'000, order);
  for (int pop = 1; pop <= 60'000; ++pop) {
    const std::int64_t now = pop_both(wheel, model);
    const std::int64_t deadline = now + 1 + static_cast<std::int64_t>(rng() % 1'000'000);
    push_both(wheel, model, deadline, order);
    if (pop % 37 == 0) {
      sweep_both(wheel, model, rng(), 11);
      while (model.size() < 10'000) {  // back to 10^4 entries
        const std::int64_t refill = now + 1 + static_cast<std::int64_t>(rng() % 1'000'000);
        push_both(wheel, model, refill, order);
      }
    }
    REQUIRE(wheel.size() == model.size());
  }
  drain_both(wheel, model);
}

TEST_CASE("TimingWheel emptied by a sweep with slots staged starts afresh, wherever its next entries fall") {
  // Every chained slot staged (threshold 0). A sweep that removes every entry leaves staged slots
  // marked; the next push starts the empty wheel at a new cursor (its floor, or the key), and the
  // entries pushed then must pop in exact order, whether they fall before, inside or after the old
  // range.
  std::mt19937_64 rng{11};
  for (const std::int64_t base : {std::int64_t{0}, std::int64_t{5'000'000}, std::int64_t{40'000'000}}) {
    for (const bool floor : {false, true}) {
      CAPTURE(base, floor);
      TimingWheel wheel{0};
      Model model;
      std::uint64_t order = 0;
      load_both(wheel, model, rng, 3'000, 20'000'000, order);
      for (int pop = 0; pop < 700; ++pop) pop_both(wheel, model);
      sweep_both(wheel, model, 0, 1);  // every entry
      REQUIRE(wheel.size() == 0);
      for (int i = 0; i < 3'000; ++i) {
        const std::int64_t deadline = base + static_cast<std::int64_t>(rng() % 20'000'000);
        wheel.push({deadline, ++order}, floor ? base : std::numeric_limits<std::int64_t>::max());
        model.insert({deadline, order});
      }
      drain_both(wheel, model);
    }
  }
}

TEST_CASE("TimingWheel started at its floor keeps entries set after it, in any order, out of the near heap") {
  // A clock's current time as the floor of an empty wheel: N alerts set at random times after it
  // all go into the wheel (none behind the cursor), so the wheel never restarts for them.
  TimingWheel wheel;
  Model model;
  std::mt19937_64 rng{12};
  std::uint64_t order = 0;
  const std::int64_t now = 1'000'000;
  for (int i = 0; i < 10'000; ++i) {
    const std::int64_t deadline = now + static_cast<std::int64_t>(rng() % 1'000'000);
    wheel.push({deadline, ++order}, now);
    model.insert({deadline, order});
    REQUIRE(wheel.near_size() == 0);
  }
  drain_both(wheel, model);
}
