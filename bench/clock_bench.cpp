// Cost of one clock read: the library's clocks beside the std::chrono clocks they wrap.
// Throughput (back-to-back calls). Baseline of the group:
// std::chrono::system_clock::now(). Target: LiveClock::now_ns() within 1.05x of it.
#include "ratio_reporter.hpp"

#include <nautilus/clock/any_clock.hpp>
#include <nautilus/clock/live_clock.hpp>
#include <nautilus/clock/test_clock.hpp>

#include <benchmark/benchmark.h>

#include <chrono>

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

}  // namespace
