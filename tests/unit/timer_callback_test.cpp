// TimerCallback: a 16-byte callable that holds what std::function<void(const TimeEvent&)> holds.
#include <nautilus/clock/timers.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nautilus/clock/test_clock.hpp>

using nautilus::TimeEvent;
using nautilus::TimerCallback;

namespace {

// Counts the live copies of a callable, so a leak or a double destruction shows.
struct Counted {
  explicit Counted(int* live, std::vector<std::uint64_t>* seen) : live_(live), seen_(seen) { ++*live_; }
  Counted(const Counted& other) : live_(other.live_), seen_(other.seen_) { ++*live_; }
  Counted& operator=(const Counted&) = delete;
  ~Counted() { --*live_; }
  void operator()(const TimeEvent& event) const { seen_->push_back(event.id); }

  int* live_;
  std::vector<std::uint64_t>* seen_;
};

TimeEvent event_with_id(std::uint64_t id) {
  TimeEvent event;
  event.id = id;
  return event;
}

void record_id(const TimeEvent& event);
std::vector<std::uint64_t> recorded;
void record_id(const TimeEvent& event) { recorded.push_back(event.id); }

std::vector<int> counts;  // what the counters below report (an inline counter has no room for a pointer)

}  // namespace

TEST_CASE("TimerCallback is 16 bytes and keeps a pointer-sized capture inline") {
  STATIC_REQUIRE(sizeof(TimerCallback) == 16);
  int calls = 0;
  auto by_reference = [&calls](const TimeEvent&) { ++calls; };
  STATIC_REQUIRE(TimerCallback::stored_inline<decltype(by_reference)>);
  auto two_words = [&calls, id = std::uint64_t{7}](const TimeEvent&) { calls += static_cast<int>(id); };
  STATIC_REQUIRE_FALSE(TimerCallback::stored_inline<decltype(two_words)>);
  auto owns_string = [name = std::string("x")](const TimeEvent&) {};
  STATIC_REQUIRE_FALSE(TimerCallback::stored_inline<decltype(owns_string)>);

  TimerCallback inline_callback = by_reference;
  TimerCallback boxed_callback = two_words;
  inline_callback(event_with_id(1));
  boxed_callback(event_with_id(2));
  REQUIRE(calls == 8);
}

TEST_CASE("TimerCallback copies, moves and destroys what it holds exactly once") {
  int live = 0;
  std::vector<std::uint64_t> seen;
  {
    TimerCallback original = Counted{&live, &seen};
    REQUIRE(live == 1);  // the temporary is gone, its boxed copy is not
    SECTION("a copy is a second callable; both run") {
      TimerCallback copy = original;
      REQUIRE(live == 2);
      copy(event_with_id(1));
      original(event_with_id(2));
      REQUIRE(seen == std::vector<std::uint64_t>{1, 2});
      copy = nullptr;
      REQUIRE(live == 1);
      REQUIRE(copy == nullptr);
    }
    SECTION("a move takes the callable and leaves the source empty") {
      TimerCallback moved = std::move(original);
      REQUIRE(live == 1);
      REQUIRE_FALSE(original);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
      REQUIRE(moved);
      moved(event_with_id(3));
      REQUIRE(seen == std::vector<std::uint64_t>{3});
      TimerCallback assigned;
      assigned = std::move(moved);
      REQUIRE(live == 1);
      REQUIRE_FALSE(moved);  // NOLINT(bugprone-use-after-move)
    }
    SECTION("assignment releases the old callable") {
      TimerCallback other = Counted{&live, &seen};
      REQUIRE(live == 2);
      other = original;
      REQUIRE(live == 2);
      other = [](const TimeEvent&) {};
      REQUIRE(live == 1);
      auto& self = original;
      original = self;  // self-assignment keeps it
      REQUIRE(live == 1);
      original(event_with_id(4));
      REQUIRE(seen == std::vector<std::uint64_t>{4});
    }
    SECTION("swap exchanges an inline and a boxed callable") {
      int calls = 0;
      TimerCallback small = [&calls](const TimeEvent&) { ++calls; };
      small.swap(original);
      small(event_with_id(5));
      original(event_with_id(6));
      REQUIRE(seen == std::vector<std::uint64_t>{5});
      REQUIRE(calls == 1);
      REQUIRE(live == 1);
    }
  }
  REQUIRE(live == 0);
}

namespace {

// Runs `callback` (a fresh counter reporting to `counts`) twice, a copy of it once, then it again:
// each keeps its own count, advanced in place even through a const callback (as std::function).
void require_own_state_per_copy(const TimerCallback& callback) {
  counts.clear();
  callback(event_with_id(1));
  callback(event_with_id(2));
  const TimerCallback copy = callback;
  copy(event_with_id(3));
  callback(event_with_id(4));
  REQUIRE(counts == std::vector<int>{1, 2, 3, 3});
}

}  // namespace

TEST_CASE("TimerCallback runs a mutable lambda's state in place; a copy has its own") {
  SECTION("inline") {
    auto counter = [n = 0](const TimeEvent&) mutable { counts.push_back(++n); };
    STATIC_REQUIRE(TimerCallback::stored_inline<decltype(counter)>);
    require_own_state_per_copy(counter);
  }
  SECTION("boxed") {
    auto counter = [n = 0, pad = std::string(40, 'x')](const TimeEvent&) mutable {
      counts.push_back(++n + static_cast<int>(pad.size()) - 40);
    };
    STATIC_REQUIRE_FALSE(TimerCallback::stored_inline<decltype(counter)>);
    require_own_state_per_copy(counter);
  }
}

TEST_CASE("TimerCallback takes function pointers and std::function; null ones make it empty") {
  recorded.clear();
  TimerCallback from_pointer = &record_id;
  from_pointer(event_with_id(9));
  REQUIRE(recorded == std::vector<std::uint64_t>{9});

  void (*null_pointer)(const TimeEvent&) = nullptr;
  const TimerCallback from_null_pointer = null_pointer;
  REQUIRE_FALSE(from_null_pointer);

  const std::function<void(const TimeEvent&)> empty_function;
  const TimerCallback from_empty_function = empty_function;
  REQUIRE_FALSE(from_empty_function);

  std::uint64_t last = 0;
  const std::function<void(const TimeEvent&)> function = [&last](const TimeEvent& e) { last = e.id; };
  const TimerCallback from_function = function;
  REQUIRE(from_function);
  from_function(event_with_id(11));
  REQUIRE(last == 11);
}

TEST_CASE("Calling an empty TimerCallback throws std::bad_function_call") {
  const TimerCallback empty;
  REQUIRE_FALSE(empty);
  REQUIRE(empty == nullptr);
  REQUIRE_THROWS_AS(empty(event_with_id(1)), std::bad_function_call);
}

TEST_CASE("A boxed callback's captures live as long as its timer, and no longer") {
  nautilus::TestClock clock;
  const auto owner = std::make_shared<int>(42);
  int seen = 0;
  clock.set_time_alert("order-expiry", clock.now() + std::chrono::seconds(1),
                       [owner, &seen](const TimeEvent&) { seen = *owner; });
  clock.set_time_alert("cancelled", clock.now() + std::chrono::seconds(2),
                       [owner, &seen](const TimeEvent&) { seen = -1; });
  REQUIRE(owner.use_count() == 3);
  REQUIRE(clock.cancel_timer("cancelled"));
  REQUIRE(owner.use_count() == 2);
  clock.advance_time(clock.now() + std::chrono::seconds(5));
  REQUIRE(seen == 42);
  REQUIRE(owner.use_count() == 1);
}
