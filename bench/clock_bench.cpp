// Cost of one clock read: the library's clocks beside the clocks they wrap and their peers.
// Throughput (back-to-back calls). Two groups, each with its baseline:
//   clock/  std::chrono::system_clock::now(). Targets: LiveClock::now_ns() within 1.05x of it,
//           TscClock::now_ns() at most 0.5x (2x faster), TscClock::now_ns_ordered() at most 1x.
//   floor/  a bare read of the counter TscClock uses (rdtsc on x86-64): the physical floor.
//           Target: TscClock::now_ns() within 1.3x (docs/design.md asks 1.2x).
// Peers: CLOCK_REALTIME_COARSE (one load, but jiffy resolution: 1-10 ms), and Abseil's absl::Now()
// where libabsl-dev is installed (NAUTILUS_CLOCK_BENCH_HAS_ABSL).
#include "ratio_reporter.hpp"

#include <nautilus/clock/any_clock.hpp>
#include <nautilus/clock/live_clock.hpp>
#include <nautilus/clock/test_clock.hpp>
#include <nautilus/clock/tsc_clock.hpp>

#include <benchmark/benchmark.h>

#if defined(NAUTILUS_CLOCK_BENCH_HAS_ABSL)
#include <absl/time/clock.h>  // absl::Now
#endif

#include <chrono>
#include <string>

#include <time.h>  // clock_gettime, CLOCK_REALTIME_COARSE (Linux)

namespace {

[[maybe_unused]] const bool baseline =
    nautilus::bench::declare_baseline("clock", "clock/std::chrono::system_clock::now");

void system_clock_now(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(std::chrono::system_clock::now());
}
BENCHMARK(system_clock_now)->Name("clock/std::chrono::system_clock::now");

void steady_clock_now(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(std::chrono::steady_clock::now());
}
BENCHMARK(steady_clock_now)->Name("clock/std::chrono::steady_clock::now");

void live_now_ns(benchmark::State& state) {
  const nautilus::LiveClock clock;
  for (auto _ : state) benchmark::DoNotOptimize(clock.now_ns());
}
BENCHMARK(live_now_ns)->Name("clock/LiveClock::now_ns");

void live_now(benchmark::State& state) {
  const nautilus::LiveClock clock;
  for (auto _ : state) benchmark::DoNotOptimize(clock.now());
}
BENCHMARK(live_now)->Name("clock/LiveClock::now");

void live_monotonic_ns(benchmark::State& state) {
  const nautilus::LiveClock clock;
  for (auto _ : state) benchmark::DoNotOptimize(clock.monotonic_ns());
}
BENCHMARK(live_monotonic_ns)->Name("clock/LiveClock::monotonic_ns");

void test_now_ns(benchmark::State& state) {
  const nautilus::TestClock clock;
  for (auto _ : state) benchmark::DoNotOptimize(clock.now_ns());
}
BENCHMARK(test_now_ns)->Name("clock/TestClock::now_ns");

void any_live_now_ns(benchmark::State& state) {
  const nautilus::LiveClock live;
  const nautilus::AnyClock clock = live;
  benchmark::DoNotOptimize(&clock);  // keep the indirect call: the choice is made at run time
  for (auto _ : state) benchmark::DoNotOptimize(clock.now_ns());
}
BENCHMARK(any_live_now_ns)->Name("clock/AnyClock(LiveClock)::now_ns");

void any_test_now_ns(benchmark::State& state) {
  const nautilus::TestClock test;
  const nautilus::AnyClock clock = test;
  benchmark::DoNotOptimize(&clock);
  for (auto _ : state) benchmark::DoNotOptimize(clock.now_ns());
}
BENCHMARK(any_test_now_ns)->Name("clock/AnyClock(TestClock)::now_ns");

// ---- TscClock and the fast-timestamp peers ----

// One TscClock for the whole binary: calibration takes 20 ms. No resync thread, so that nothing
// else runs while the reads are timed (a resync every second would not show in a median anyway).
const nautilus::TscClock& tsc_clock() {
  static const nautilus::TscClock clock{nautilus::TscClockOptions{.resync_interval = std::chrono::nanoseconds::zero()}};
  return clock;
}

void tsc_now_ns(benchmark::State& state) {
  const nautilus::TscClock& clock = tsc_clock();
  state.SetLabel(std::string(nautilus::to_string(clock.source())));
  for (auto _ : state) benchmark::DoNotOptimize(clock.now_ns());
}
BENCHMARK(tsc_now_ns)->Name("clock/TscClock::now_ns");

void tsc_now_ns_ordered(benchmark::State& state) {
  const nautilus::TscClock& clock = tsc_clock();
  for (auto _ : state) benchmark::DoNotOptimize(clock.now_ns_ordered());
}
BENCHMARK(tsc_now_ns_ordered)->Name("clock/TscClock::now_ns_ordered");

#if defined(CLOCK_REALTIME_COARSE)
void realtime_coarse(benchmark::State& state) {
  for (auto _ : state) {
    ::timespec ts{};
    ::clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    benchmark::DoNotOptimize(ts);
  }
}
BENCHMARK(realtime_coarse)->Name("clock/clock_gettime(CLOCK_REALTIME_COARSE)");
#endif

#if defined(NAUTILUS_CLOCK_BENCH_HAS_ABSL)
void absl_now(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(absl::Now());
}
BENCHMARK(absl_now)->Name("clock/absl::Now");
#endif

// The floor group: the counter alone, then TscClock on it.
[[maybe_unused]] const bool floor_baseline = nautilus::bench::declare_baseline("floor", "floor/bare counter read");

void bare_counter(benchmark::State& state) {
  state.SetLabel(std::string(nautilus::to_string(tsc_clock().source())));
  for (auto _ : state) benchmark::DoNotOptimize(nautilus::detail::HostCounter::read());
}
BENCHMARK(bare_counter)->Name("floor/bare counter read");

void bare_counter_ordered(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(nautilus::detail::HostCounter::read_ordered());
}
BENCHMARK(bare_counter_ordered)->Name("floor/bare counter read, ordered");

void floor_tsc_now_ns(benchmark::State& state) {
  const nautilus::TscClock& clock = tsc_clock();
  for (auto _ : state) benchmark::DoNotOptimize(clock.now_ns());
}
BENCHMARK(floor_tsc_now_ns)->Name("floor/TscClock::now_ns");

void floor_tsc_now_ns_ordered(benchmark::State& state) {
  const nautilus::TscClock& clock = tsc_clock();
  for (auto _ : state) benchmark::DoNotOptimize(clock.now_ns_ordered());
}
BENCHMARK(floor_tsc_now_ns_ordered)->Name("floor/TscClock::now_ns_ordered");

void floor_tsc_monotonic_ns(benchmark::State& state) {
  const nautilus::TscClock& clock = tsc_clock();
  for (auto _ : state) benchmark::DoNotOptimize(clock.monotonic_ns());
}
BENCHMARK(floor_tsc_monotonic_ns)->Name("floor/TscClock::monotonic_ns");

}  // namespace
