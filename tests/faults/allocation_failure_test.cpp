// What a failed allocation leaves behind, for the calls that promise to lose nothing on
// std::bad_alloc. This binary replaces the global operator new, so that a test can make
// allocations on this thread fail: every one, or the next one of a given size.
#include <nautilus/clock/detail/batch_run.hpp>
#include <nautilus/clock/detail/timing_wheel.hpp>
#include <nautilus/clock/test_clock.hpp>
#include <nautilus/clock/timers.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <new>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {
thread_local bool fail_every = false;
thread_local std::size_t fail_size = 0;    // 0: none
thread_local std::size_t fail_period = 0;  // 0: none; else one allocation in fail_period fails, at random
thread_local std::uint64_t draws = 0;      // the failures' random sequence (splitmix64), fixed-seed
thread_local std::size_t failed = 0;       // allocations made to fail so far
// The next number of a fixed-seed splitmix64 sequence: which allocations fail is random (so that a
// retried call eventually gets through) but the same in every run.
std::uint64_t draw() noexcept {
  std::uint64_t z = (draws += 0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}
}  // namespace

void* operator new(std::size_t size) {
  if (fail_every || (fail_size != 0 && size == fail_size) ||
      (fail_period != 0 && draw() % fail_period == 0)) {
    fail_size = 0;
    ++failed;
    throw std::bad_alloc();
  }
  if (void* block = std::malloc(size == 0 ? 1 : size)) return block;
  throw std::bad_alloc();
}
// The other unaligned forms too, so that every block this binary frees with free() came from
// malloc() (AddressSanitizer checks: Catch2 allocates with the nothrow form).
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return ::operator new(size);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void* operator new[](std::size_t size, const std::nothrow_t& nothrow) noexcept {
  return ::operator new(size, nothrow);
}
// Not inlined: g++ would otherwise see free() of a block from operator new (-Wmismatched-new-delete).
[[gnu::noinline]] void operator delete(void* block) noexcept { std::free(block); }
[[gnu::noinline]] void operator delete(void* block, std::size_t) noexcept { std::free(block); }
[[gnu::noinline]] void operator delete(void* block, const std::nothrow_t&) noexcept { std::free(block); }
[[gnu::noinline]] void operator delete[](void* block) noexcept { std::free(block); }
[[gnu::noinline]] void operator delete[](void* block, std::size_t) noexcept { std::free(block); }
[[gnu::noinline]] void operator delete[](void* block, const std::nothrow_t&) noexcept { std::free(block); }

using namespace std::chrono_literals;
using nautilus::TestClock;
using nautilus::TimeEvent;
using nautilus::unix_nanos;

namespace {

const unix_nanos t0 = nautilus::parse_iso8601("2024-03-01T09:30:00Z");

// Runs and finishes every tick of `queue` due at `now` (monotonic and realtime alike).
void fire_due(nautilus::TimerQueue& queue, std::int64_t now) {
  while (auto due = queue.pop_due(nautilus::ClockReading{now, now})) {
    queue.invoke(*due);
    queue.finish(*due);
  }
}

// A queue read at t0 whose alerts count their fires in `fired`.
struct CountingQueue {
  nautilus::TimerQueue queue;
  std::int64_t start = nautilus::to_unix_ns(t0);
  int fired = 0;
  // An alert at t0 + d, named `name`, or anonymous.
  nautilus::TimerHandle alert(std::string_view name, std::chrono::seconds d) {
    return queue.set_time_alert(name, t0 + d, counter(), nautilus::PastDeadline::fire_now, {start, start});
  }
  nautilus::TimerHandle alert(std::chrono::seconds d) {
    return queue.set_time_alert(t0 + d, counter(), nautilus::PastDeadline::fire_now, {start, start});
  }
  nautilus::TimerCallback counter() {
    return [this](const TimeEvent&) { ++fired; };
  }
};

// Every allocation on this thread fails while one of these lives.
struct NoAllocation {
  NoAllocation() { fail_every = true; }
  NoAllocation(const NoAllocation&) = delete;
  NoAllocation& operator=(const NoAllocation&) = delete;
  ~NoAllocation() { fail_every = false; }
};

// One allocation in `period` on this thread fails, at random, while one of these lives.
// They nest: a callback's own retried calls run inside a retried advance.
struct FailingAllocations {
  explicit FailingAllocations(std::size_t period) : saved(std::exchange(fail_period, period)) {}
  FailingAllocations(const FailingAllocations&) = delete;
  FailingAllocations& operator=(const FailingAllocations&) = delete;
  ~FailingAllocations() { fail_period = saved; }
  std::size_t saved;
};

// Runs `op` with one allocation in `period` failing, again after each std::bad_alloc, until it
// completes; returns how many attempts failed.
template <class Op>
std::size_t retry_failing(std::size_t period, Op op) {
  for (std::size_t failures = 0;; ++failures) {
    try {
      const FailingAllocations failing{period};
      op();
      return failures;
    } catch (const std::bad_alloc&) {
    }
  }
}

}  // namespace

TEST_CASE("TimingWheel loses and repeats no entry when allocations fail while it moves them") {
  // A hold model against a sorted set, one allocation in `period` failing: a push that throws
  // has added nothing, a `top` that throws has lost nothing (the move it cut short resumes at the
  // next call), and `pop` never throws. Loads behind the cursor make it restart now and then.
  using nautilus::detail::TimingWheel;
  using nautilus::detail::WheelEntry;
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  for (const std::size_t threshold : {std::size_t{32}, std::size_t{0}}) {
    for (const std::size_t period : {std::size_t{2}, std::size_t{3}, std::size_t{7}, std::size_t{29}}) {
      CAPTURE(threshold, period);
      TimingWheel wheel{threshold};
      std::set<std::pair<std::int64_t, std::uint64_t>> model;
      std::mt19937_64 rng{period * 1000 + threshold};
      std::uint64_t order = 0;
      std::size_t failures = 0;
      const auto push = [&](std::int64_t deadline) {
        const WheelEntry e{deadline, ++order};
        failures += retry_failing(period, [&] { wheel.push(e); });
        model.emplace(deadline, e.order);
        REQUIRE(wheel.size() == model.size());
      };
      for (int i = 0; i < 3'000; ++i) push(1 + static_cast<std::int64_t>(rng() % 10'000'000));
      std::int64_t now = 0;
      for (int fire = 1; fire <= 30'000; ++fire) {
        const WheelEntry* top = nullptr;
        failures += retry_failing(period, [&] { top = wheel.top(max); });
        REQUIRE(top != nullptr);
        REQUIRE(std::make_pair(top->deadline, top->order) == *model.begin());
        now = top->deadline;
        {
          const FailingAllocations failing{period};
          wheel.pop();
        }
        model.erase(model.begin());
        push(now + 1 + static_cast<std::int64_t>(rng() % 10'000'000));
        if (fire % 5'000 == 0) {
          // Keys behind the cursor: a quarter of the entries, enough to restart the wheel.
          const std::size_t behind = model.size() / 4 + 70;
          for (std::size_t i = 0; i < behind; ++i) push(now - 1 - static_cast<std::int64_t>(rng() % 1'000));
        }
      }
      while (!model.empty()) {
        const WheelEntry* top = nullptr;
        failures += retry_failing(period, [&] { top = wheel.top(max); });
        REQUIRE(top != nullptr);
        REQUIRE(std::make_pair(top->deadline, top->order) == *model.begin());
        wheel.pop();
        model.erase(model.begin());
      }
      CHECK(wheel.size() == 0);
      CHECK(wheel.top(max) == nullptr);
      CHECK(failures > 0);  // the failures did reach the wheel
    }
  }
}

TEST_CASE("BatchRun loses nothing when a push fails, and sorts in place when the sort gets no memory") {
  using nautilus::detail::BatchRun;
  using nautilus::detail::WheelEntry;
  BatchRun run;
  std::vector<WheelEntry> pushed;
  std::mt19937_64 rng{77};
  for (std::uint64_t order = 1; order <= 5'000; ++order) {
    const WheelEntry e{static_cast<std::int64_t>(rng() % 1'000),
                       order};               // ties: a radix sort would be stable
    retry_failing(3, [&] { run.push(e); });  // a push that throws has added nothing
    pushed.push_back(e);
    REQUIRE(run.size() == pushed.size());
  }
  {
    const NoAllocation none;
    run.settle();  // no second array: std::sort in place
  }
  std::sort(pushed.begin(), pushed.end(), nautilus::detail::entry_before);
  for (const WheelEntry& expected : pushed) {
    REQUIRE_FALSE(run.read());
    REQUIRE(run.front().deadline == expected.deadline);
    REQUIRE(run.front().order == expected.order);
    run.pop_front();
  }
  REQUIRE(run.empty());
}

TEST_CASE("advance_time_collect into a full buffer keeps the events taken and leaves the rest pending") {
  TestClock clock{t0};
  const std::vector<std::string> names{"a", "b", "c", "d", "e"};
  for (std::size_t i = 0; i < names.size(); ++i) {
    clock.set_time_alert(names[i], t0 + std::chrono::seconds{i + 1});
  }
  std::vector<TimeEvent> out;
  out.reserve(3);
  // The buffer is full after three events; growing it (doubled, to 6 events) fails.
  const std::size_t failed_before = failed;
  fail_size = 6 * sizeof(TimeEvent);
  CHECK_THROWS_AS(clock.advance_time_collect(t0 + 10s, out), std::bad_alloc);
  fail_size = 0;
  REQUIRE(failed == failed_before + 1);
  REQUIRE(out.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(out[i].name == names[i]);
    CHECK(out[i].id == i + 1);
    CHECK(out[i].ts_event == t0 + std::chrono::seconds{i + 1});
  }
  CHECK(clock.now() == t0 + 3s);  // at the last tick taken
  CHECK(clock.timer_count() == 2);
  CHECK(clock.next_deadline() == t0 + 4s);
  // Nothing lost: the next advance collects the other two, with the ids that follow.
  CHECK(clock.advance_time_collect(t0 + 10s, out) == 2);
  REQUIRE(out.size() == 5);
  CHECK(out[3].name == "d");
  CHECK(out[3].id == 4);
  CHECK(out[4].name == "e");
  CHECK(out[4].ts_event == t0 + 5s);
  CHECK(clock.now() == t0 + 10s);
}

TEST_CASE(
    "a callback that takes the outbox mid-advance leaves the next event pending if the outbox cannot grow") {
  TestClock clock{t0};
  std::vector<TimeEvent> taken;
  clock.set_time_alert("quiet-1", t0 + 1s);  // no callback: its event goes to the outbox
  clock.set_time_alert("taker", t0 + 2s, [&](const TimeEvent&) { taken = clock.take_events(); });
  clock.set_time_alert("quiet-3", t0 + 3s);
  REQUIRE(clock.advance_time(t0 + 1s) == 1);  // the outbox now has room for one event
  // The taker leaves the outbox with no storage: room for quiet-3's event must be made again before
  // its tick is taken, and that allocation (one event) fails.
  const std::size_t failed_before = failed;
  fail_size = 1 * sizeof(TimeEvent);
  CHECK_THROWS_AS(clock.advance_time(t0 + 10s), std::bad_alloc);
  fail_size = 0;
  REQUIRE(failed == failed_before + 1);
  REQUIRE(taken.size() == 1);
  CHECK(taken[0].name == "quiet-1");
  CHECK(clock.now() == t0 + 2s);  // at the last tick taken
  CHECK(clock.timer_count() == 1);
  CHECK(clock.next_time("quiet-3") == t0 + 3s);
  CHECK(clock.advance_time(t0 + 10s) == 1);
  const std::vector<TimeEvent> rest = clock.take_events();
  REQUIRE(rest.size() == 1);
  CHECK(rest[0].name == "quiet-3");
  CHECK(rest[0].id == 3);
}

TEST_CASE("TimerQueue's name index widens all or nothing when allocations fail") {
  // The 4,096th named timer of a fresh queue takes slot 4,095, where the index widens (its 4-byte
  // buckets and the tags' chunks). A set that cannot get them leaves the queue as it was, still
  // narrow; a retried one gets through with every name where it was.
  CountingQueue q;
  constexpr int narrow = 4'095;
  // Names inline and on the heap; the 4,096th ("n---4095") is inline, so that only the widening
  // allocates.
  const auto name = [](int i) {
    return "n" + std::string(static_cast<std::size_t>(i % 12), '-') + std::to_string(i);
  };
  for (int i = 0; i < narrow; ++i) q.alert(name(i), std::chrono::seconds{1 + i % 50});
  const std::size_t narrow_bytes = q.queue.bytes_per_timer();
  {
    const NoAllocation none;
    REQUIRE_THROWS_AS(q.alert(name(narrow), 60s), std::bad_alloc);
  }
  REQUIRE(q.queue.bytes_per_timer() == narrow_bytes);  // still narrow
  REQUIRE(q.queue.timer_count() == narrow);
  REQUIRE_FALSE(q.queue.has_timer(name(narrow)));
  for (int i = 0; i < narrow; i += 7)
    REQUIRE(q.queue.next_time(name(i)) == t0 + std::chrono::seconds{1 + i % 50});
  std::size_t failures = 0;
  for (int i = narrow; i < narrow + 300; ++i) failures += retry_failing(2, [&] { q.alert(name(i), 60s); });
  CHECK(failures > 0);
  REQUIRE(q.queue.timer_count() == narrow + 300);
  for (int i = 0; i < narrow + 300; ++i) REQUIRE(q.queue.has_timer(name(i)));
  REQUIRE_THROWS_AS(q.alert(name(12), 5s), nautilus::clock_error);  // still pending, found in the wide index
  for (int i = 0; i < narrow + 300; i += 2) REQUIRE(q.queue.cancel_timer(name(i)));
  fire_due(q.queue, q.start + 61'000'000'000);
  REQUIRE(q.fired == (narrow + 300) / 2);
  REQUIRE(q.queue.timer_count() == 0);
}

TEST_CASE("finishing a delivery and cancelling a timer cannot fail for lack of memory") {
  // A fired timer's slot goes back to the free list in `finish`, which is noexcept: a std::bad_alloc
  // there would end the program. A cancel must not fail after the timer is gone either. With every
  // allocation failing, the free slots go to the list through their records, and are reused.
  CountingQueue counting;
  nautilus::TimerQueue& queue = counting.queue;
  counting.alert("fires", 1s);
  counting.alert("by-name", 5s);
  const nautilus::TimerHandle by_handle = counting.alert("by-handle", 6s);
  const std::int64_t later = counting.start + 2'000'000'000;
  auto due = queue.pop_due(nautilus::ClockReading{later, later});
  REQUIRE(due);
  bool cancelled_by_name = false;
  bool cancelled_by_handle = false;
  {
    const NoAllocation none;
    queue.invoke(*due);
    queue.finish(*due);
    cancelled_by_name = queue.cancel_timer("by-name");
    cancelled_by_handle = queue.cancel_timer(by_handle);
  }
  CHECK(counting.fired == 1);
  CHECK(cancelled_by_name);
  CHECK(cancelled_by_handle);
  CHECK(queue.timer_count() == 0);
  CHECK_FALSE(queue.has_timer("fires"));
  // The recycled slots are reused and fire as new timers.
  counting.alert("again", 3s);
  counting.alert("and-again", 4s);
  fire_due(queue, counting.start + 10'000'000'000);
  CHECK(counting.fired == 3);
}

TEST_CASE("an anonymous alert's fire cannot fail for lack of memory") {
  // An anonymous alert's slot goes back to the free list as it fires, in `pop_due` (its callback
  // moves into the Due): with every allocation failing, the slot goes to the list through its
  // record, and is reused.
  CountingQueue counting;
  nautilus::TimerQueue& queue = counting.queue;
  counting.alert(1s);
  counting.alert(2s);
  const nautilus::TimerHandle later = counting.alert(5s);
  const std::int64_t mid = counting.start + 3'000'000'000;
  bool cancelled = false;
  {
    const NoAllocation none;
    fire_due(queue, mid);
    cancelled = queue.cancel_timer(later);
  }
  CHECK(counting.fired == 2);
  CHECK(cancelled);
  CHECK(queue.timer_count() == 0);
  // The recycled slots are reused and fire as new alerts.
  counting.alert(6s);
  counting.alert(7s);
  fire_due(queue, counting.start + 10'000'000'000);
  CHECK(counting.fired == 4);
  CHECK(queue.timer_count() == 0);
}

namespace {

// One line per event: everything a replay compares.
std::string line(const TimeEvent& e) {
  return e.name + " #" + std::to_string(e.id) + " @" + nautilus::format_iso8601(e.ts_event) + " init " +
         nautilus::format_iso8601(e.ts_init) + " late " + std::to_string(e.lateness.count()) + " missed " +
         std::to_string(e.missed);
}

// A backtest's worth of timers: periodic ones under each missed-tick policy, named alerts whose
// callbacks set the next one, anonymous alerts, callback-less alerts, cancels and a stall. With
// `period` non-zero, one allocation in `period` fails, at random, and each call (the callbacks' own calls
// too) is retried until it completes, as a program that survives std::bad_alloc would. Returns
// the events, in the order delivered.
std::vector<std::string> run_schedule(std::size_t period) {
  TestClock clock{t0};
  std::vector<std::string> lines;
  std::size_t failures = 0;
  const auto call = [&](auto op) {
    if (period == 0) {
      op();
    } else {
      failures += retry_failing(period, op);
    }
  };
  // Logging allocates: not under failing allocations (the code under test is the clock).
  const auto log = [&](const TimeEvent& e) {
    const std::size_t saved = fail_period;
    fail_period = 0;
    lines.push_back(line(e));
    fail_period = saved;
  };
  std::mt19937_64 rng{77};
  const nautilus::MissedTicks policies[] = {nautilus::MissedTicks::burst, nautilus::MissedTicks::skip,
                                            nautilus::MissedTicks::delay};
  for (int i = 0; i < 30; ++i) {
    nautilus::TimerOptions options;
    options.missed_ticks = policies[i % 3];
    const std::string name = "periodic-with-a-long-name-" + std::to_string(i);  // allocates
    const auto interval = std::chrono::milliseconds{1 + static_cast<std::int64_t>(rng() % 50)};
    call([&] { clock.set_timer(name, interval, std::nullopt, std::nullopt, log, options); });
  }
  std::function<void(const TimeEvent&)> chain = [&](const TimeEvent& e) {
    log(e);
    const auto next = e.ts_event + std::chrono::microseconds{1 + static_cast<std::int64_t>(e.id % 997)};
    call([&] { clock.set_time_alert(e.name, next, chain); });  // its own name, free again
  };
  for (int i = 0; i < 200; ++i) {
    const auto at = t0 + std::chrono::microseconds{static_cast<std::int64_t>(rng() % 100'000)};
    call([&] { clock.set_time_alert("alert-" + std::to_string(i), at, chain); });
    call([&] { clock.set_time_alert(at + 3us, log); });
    call([&] { clock.set_time_alert("outbox-" + std::to_string(i), at + 7us); });
  }
  for (int step = 1; step <= 40; ++step) {
    // Targets are taken before the call: a retry goes on to the same time, whatever the clock's
    // time when the attempt before it stopped.
    if (step % 10 == 0) {
      const unix_nanos stalled = clock.now() + 35ms;
      call([&] { clock.set_time(stalled); });  // a stall: ticks go late
    }
    if (step % 7 == 0) {
      call([&] { clock.cancel_timer("periodic-with-a-long-name-" + std::to_string(step)); });
    }
    const unix_nanos target = t0 + step * 5ms + (step / 10) * 35ms;
    call([&] { clock.advance_time(target); });
    std::vector<TimeEvent> taken;
    call([&] { taken = clock.take_events(); });
    for (const TimeEvent& e : taken) log(e);
  }
  if (period != 0) CHECK(failures > 0);  // the failures did reach the clock
  return lines;
}

}  // namespace

TEST_CASE("TestClock fires the same events, with the same ids, when allocations fail and calls are retried") {
  const std::vector<std::string> expected = run_schedule(0);
  REQUIRE(expected.size() > 10'000);
  for (const std::size_t period : {std::size_t{3}, std::size_t{5}, std::size_t{11}}) {
    CAPTURE(period);
    const std::vector<std::string> lines = run_schedule(period);
    REQUIRE(lines.size() == expected.size());
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (lines[i] != expected[i]) FAIL("event " << i << ": " << lines[i] << " instead of " << expected[i]);
    }
  }
}
