// The batch run beside the timing wheel (detail/batch_run.hpp): a batch pushed unsorted comes out in
// (deadline, order) order, whatever the spread of its deadlines, and its arrays go back once read.
#include <nautilus/clock/detail/batch_run.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

using nautilus::detail::BatchRun;
using nautilus::detail::WheelEntry;

namespace {

// Settles `run` and reads it to its end.
std::vector<WheelEntry> read_all(BatchRun& run) {
  run.settle();
  std::vector<WheelEntry> out;
  while (!run.empty()) {
    REQUIRE_FALSE(run.read());
    out.push_back(run.front());
    run.pop_front();
  }
  return out;
}

bool same(const std::vector<WheelEntry>& a, const std::vector<WheelEntry>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const WheelEntry& x, const WheelEntry& y) {
    return x.deadline == y.deadline && x.order == y.order;
  });
}

}  // namespace

TEST_CASE("BatchRun reads a batch in (deadline, order) order, whatever the spread of its deadlines") {
  std::mt19937_64 rng{20261127};
  BatchRun run;
  std::uint64_t order = 0;
  // Spreads of 0 to 64 bits: one to six radix passes (and none when every deadline is the same),
  // negative deadlines among them; sizes on both sides of the comparison sort's floor.
  for (const unsigned spread : {0U, 1U, 5U, 11U, 12U, 20U, 22U, 23U, 33U, 40U, 63U, 64U}) {
    for (const std::size_t size : {std::size_t{1}, std::size_t{2}, BatchRun::radix_floor - 1,
                                   BatchRun::radix_floor, std::size_t{1'000}, std::size_t{5'000}}) {
      CAPTURE(spread, size);
      const std::int64_t base = static_cast<std::int64_t>(rng());
      std::vector<WheelEntry> pushed;
      for (std::size_t i = 0; i < size; ++i) {
        std::uint64_t offset = spread == 64 ? rng() : spread == 0 ? 0 : rng() % (std::uint64_t{1} << spread);
        if (i % 7 == 3 && !pushed.empty()) {
          pushed.push_back({pushed[rng() % pushed.size()].deadline, ++order});  // a tie, set later
        } else {
          pushed.push_back({static_cast<std::int64_t>(static_cast<std::uint64_t>(base) + offset), ++order});
        }
        run.push(pushed.back());
      }
      REQUIRE(run.loading());
      REQUIRE(run.size() == size);
      std::vector<WheelEntry> expected = pushed;
      std::sort(expected.begin(), expected.end(), nautilus::detail::entry_before);
      REQUIRE(same(read_all(run), expected));
      REQUIRE(run.size() == 0);
    }
  }
}

TEST_CASE("BatchRun sorts by comparison an inbox whose orders do not rise") {
  BatchRun run;
  std::vector<WheelEntry> pushed;
  for (std::uint64_t i = 0; i < 500; ++i) {
    pushed.push_back({static_cast<std::int64_t>(i % 10), 1'000 - i});  // ties, orders falling
    run.push(pushed.back());
  }
  std::vector<WheelEntry> expected = pushed;
  std::sort(expected.begin(), expected.end(), nautilus::detail::entry_before);
  REQUIRE(same(read_all(run), expected));
  // The next batch rises again, and is radix-sorted.
  pushed.clear();
  for (std::uint64_t i = 0; i < 500; ++i) {
    pushed.push_back({static_cast<std::int64_t>((i * 7919) % 1'000), 2'000 + i});
    run.push(pushed.back());
  }
  expected = pushed;
  std::sort(expected.begin(), expected.end(), nautilus::detail::entry_before);
  REQUIRE(same(read_all(run), expected));
}

TEST_CASE("BatchRun drops stale entries from its inbox and its run, keeping the others in order") {
  BatchRun run;
  std::vector<WheelEntry> pushed;
  for (std::uint64_t i = 1; i <= 3'000; ++i) {
    pushed.push_back({static_cast<std::int64_t>((i * 104'729) % 100'000), i});
    run.push(pushed.back());
  }
  const auto stale = [](const WheelEntry& e) { return e.order % 3 == 0; };
  SECTION("unsorted, in the inbox") {
    REQUIRE(run.remove_if(stale) == 1'000);
    REQUIRE(run.size() == 2'000);
  }
  SECTION("sorted, in the run, part read") {
    run.settle();
    std::vector<WheelEntry> sorted = pushed;
    std::sort(sorted.begin(), sorted.end(), nautilus::detail::entry_before);
    for (int i = 0; i < 100; ++i) {
      REQUIRE(run.front().order == sorted[static_cast<std::size_t>(i)].order);
      run.pop_front();
    }
    const auto left_stale = std::count_if(sorted.begin() + 100, sorted.end(), stale);
    REQUIRE(run.remove_if(stale) == static_cast<std::size_t>(left_stale));
    pushed.clear();  // what is left to read
    for (std::size_t i = 100; i < sorted.size(); ++i) pushed.push_back(sorted[i]);
  }
  std::erase_if(pushed, stale);
  std::sort(pushed.begin(), pushed.end(), nautilus::detail::entry_before);
  REQUIRE(same(read_all(run), pushed));
  // Every entry stale: the run is empty, and takes a new batch.
  run.push({5, 10'000});
  REQUIRE(run.remove_if([](const WheelEntry&) { return true; }) == 1);
  REQUIRE(run.empty());
  REQUIRE(run.read());
}

TEST_CASE("BatchRun holds one array per batch, and gives it back once read") {
  BatchRun run;
  constexpr std::size_t size = 10'000;
  for (std::size_t batch = 0; batch < 3; ++batch) {
    for (std::size_t i = 0; i < size; ++i) {
      run.push({static_cast<std::int64_t>((i * 7'919) % 1'000'000), batch * size + i + 1});
    }
    // The first batch's inbox grew by doubling; later ones are reserved at the last batch's size.
    if (batch == 0) {
      REQUIRE(run.bytes() <= 2 * size * sizeof(WheelEntry));
    } else {
      REQUIRE(run.bytes() == size * sizeof(WheelEntry));
    }
    const std::size_t loaded = run.bytes();
    run.settle();
    REQUIRE(run.bytes() <= loaded);  // the sort's second array is gone
    std::int64_t last = std::numeric_limits<std::int64_t>::min();
    for (std::size_t i = 0; i < size; ++i) {
      REQUIRE(run.front().deadline >= last);
      last = run.front().deadline;
      run.pop_front();
    }
    REQUIRE(run.empty());
    REQUIRE(run.bytes() == 0);
  }
  // Small batches keep their array (nothing to allocate when a few timers at a time are set). The
  // first is reserved at the last batch's size, and gives that back once read.
  for (std::uint64_t batch = 0; batch < 2; ++batch) {
    run.push({1, 3 * batch + 1});
    run.push({0, 3 * batch + 2});
    REQUIRE(read_all(run).front().order == 3 * batch + 2);
  }
  REQUIRE(run.bytes() > 0);
  REQUIRE(run.bytes() <= 64 * sizeof(WheelEntry));
  run.clear();
  REQUIRE(run.empty());
}
