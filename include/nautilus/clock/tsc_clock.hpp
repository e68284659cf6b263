// nautilus-clock: `TscClock`, realtime from the CPU's invariant counter, for the hot path.
//
// What a read costs, and why. `LiveClock::now_ns()` goes through the vDSO: an *ordered* counter
// read, the kernel's seqlock and its mult/shift (~16-27 ns on x86-64, more where the clocksource
// is a hypervisor's). `TscClock::now_ns()` does the same work with less: an unordered counter read
// (rdtsc, cntvct_el0), a seqlock over one cache line of read-mostly parameters that nothing else
// writes between resynchronisations, and one 64x64-bit multiply. research/performance-anchors.md
// puts the floor at a bare rdtsc (~7 ns here) and this design at 1.17-1.36x of it.
//
// How it stays on UTC. The counter is calibrated against the system clock at construction, then
// resynchronised (by a background thread every `resync_interval`, or by your own `resync()`
// calls): each resync compares the clock with a fresh, tightly bracketed system-clock sample and
// bends the slope of the next segment so that the error is gone one interval later, which follows
// NTP's slewing of the system clock. The conversion is a continuous, increasing piecewise-linear
// function of the counter, so a thread's readings never decrease, also across resyncs:
//   - a new segment starts a little in the future (`lead`) of a counter read taken once readers
//     are held off, so a reader still holding the old parameters computes exactly what the new
//     ones would, however long the resync took before it published;
//   - an error larger than `step_threshold` in the forward direction (a suspend, an NTP step
//     forward) is stepped at once, forward;
//   - an error in the backward direction (an NTP step back) is never stepped: the clock runs slower
//     by at most `max_slew` until the system clock catches up (1% absorbs a 1 s step in 100 s).
//     `LiveClock` would jump back; `TscClock` never does.
//
// Where there is no usable counter (no invariant TSC on x86-64, an unsupported platform, or
// `force_fallback`), every read is a `LiveClock` read, and `source()` says so and why.
//
// Cross-thread order: the default reads are not ordered with the loads around them (neither is
// rdtsc): two threads that hand a timestamp over through an atomic can, in principle, see the
// receiver's reading a few nanoseconds earlier. `now_ns_ordered()` fences the counter read
// (lfence / isb) for the cases that need it, at about the cost of the vDSO.
#pragma once

#include <algorithm>           // std::clamp
#include <atomic>              // std::atomic, std::memory_order
#include <chrono>              // std::chrono::nanoseconds, steady_clock
#include <cmath>               // std::llround, std::isfinite
#include <condition_variable>  // std::condition_variable_any
#include <cstdint>             // std::int64_t, std::uint64_t
#include <limits>              // std::numeric_limits
#include <mutex>               // std::mutex, std::lock_guard
#include <stop_token>          // std::stop_token
#include <string>              // std::string
#include <string_view>         // std::string_view
#include <thread>              // std::jthread, std::this_thread::sleep_for
#include <utility>             // std::move

#include "nautilus/clock/detail/platform.hpp"
#include "nautilus/clock/live_clock.hpp"  // LiveClock: the fallback, and the reference
#include "nautilus/clock/time.hpp"        // unix_nanos, clock_error

#if defined(NAUTILUS_CLOCK_ARCH_X86_64) && defined(NAUTILUS_CLOCK_HAS_COUNTER)
#include <cpuid.h>      // __get_cpuid
#include <x86intrin.h>  // __rdtsc, _mm_lfence
#elif defined(NAUTILUS_CLOCK_OS_APPLE) && defined(NAUTILUS_CLOCK_HAS_COUNTER)
#include <mach/mach_time.h>  // mach_absolute_time
#endif

namespace nautilus {

// Where a `TscClock`'s readings come from.
enum class CounterSource : std::uint8_t {
  tsc,                 // x86-64 rdtsc, invariant (cpuid 0x80000007 EDX bit 8)
  cntvct,              // arm64 generic timer, cntvct_el0 (Linux)
  mach_absolute_time,  // Apple: the 24 MHz system counter, through the commpage
  live_clock,          // the fallback: every read is a LiveClock read
  simulated,           // a test's counter (tests only)
};

[[nodiscard]] constexpr std::string_view to_string(CounterSource source) noexcept {
  switch (source) {
    case CounterSource::tsc: return "tsc";
    case CounterSource::cntvct: return "cntvct_el0";
    case CounterSource::mach_absolute_time: return "mach_absolute_time";
    case CounterSource::live_clock: return "live_clock";
    case CounterSource::simulated: return "simulated";
  }
  return "unknown";
}

struct TscClockOptions {
  // How long the initial calibration measures the counter's rate against the system clock. One
  // bracketed sample is good to ~0.1 us, so 20 ms gives a rate good to ~10 ppm, which the first
  // resync then corrects. Longer costs start-up time.
  std::chrono::nanoseconds calibration = std::chrono::milliseconds{20};
  // The background thread's period, and the horizon over which each resync removes the error it
  // found. Zero: no thread; call `resync()` yourself (from a housekeeping thread of your own, say,
  // to keep every thread of the process pinned where you put it).
  std::chrono::nanoseconds resync_interval = std::chrono::seconds{1};
  // A forward error larger than this is stepped at once instead of slewed away.
  std::chrono::nanoseconds step_threshold = std::chrono::milliseconds{1};
  // The largest relative change of rate a resync uses to absorb an error (0.01 = 1%).
  double max_slew = 0.01;
  // Read through LiveClock even where a counter exists (to compare, or on a host whose counter
  // is not trusted).
  bool force_fallback = false;
};

// What one resync found and did.
struct TscSyncReport {
  // System clock minus TscClock at the sample, before the correction: positive when TscClock was
  // behind.
  std::chrono::nanoseconds error{};
  // The width of the bracket around the system-clock read (counter ticks converted to ns): the
  // sample's own uncertainty.
  std::chrono::nanoseconds window{};
  // The counter's rate the reference ran at since the previous sample, relative to nominal - 1,
  // in parts per million (NTP's slew shows here).
  double rate_ppm = 0;
  bool stepped = false;  // the error was stepped forward rather than slewed
};

// TscClock's error against the system clock, measured now.
struct TscError {
  // TscClock minus the system clock at the same instant.
  std::chrono::nanoseconds offset{};
  // Half the width of the bracket around the system-clock read: |true offset - offset| is within
  // this, give or take the system clock's own read jitter.
  std::chrono::nanoseconds uncertainty{};
};

namespace detail {

// The host's counter and the reference it is calibrated against.
struct HostCounter {
  [[nodiscard]] static CounterSource detect([[maybe_unused]] std::string& why_not) {
#if defined(NAUTILUS_CLOCK_ARCH_X86_64) && defined(NAUTILUS_CLOCK_HAS_COUNTER)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid(0x80000000U, &a, &b, &c, &d) == 0 || a < 0x80000007U) {
      why_not = "cpuid has no leaf 0x80000007: cannot tell whether the TSC is invariant";
      return CounterSource::live_clock;
    }
    __get_cpuid(0x80000007U, &a, &b, &c, &d);
    if ((d & (1U << 8U)) == 0) {
      why_not = "the TSC is not invariant (cpuid 0x80000007 EDX bit 8 clear): its rate follows P-states";
      return CounterSource::live_clock;
    }
    return CounterSource::tsc;
#elif defined(NAUTILUS_CLOCK_OS_APPLE) && defined(NAUTILUS_CLOCK_HAS_COUNTER)
    return CounterSource::mach_absolute_time;
#elif defined(NAUTILUS_CLOCK_ARCH_ARM64) && defined(NAUTILUS_CLOCK_HAS_COUNTER)
    return CounterSource::cntvct;
#else
    why_not = "no supported counter on this platform";
    return CounterSource::live_clock;
#endif
  }

  [[nodiscard]] static std::uint64_t read() noexcept {
#if defined(NAUTILUS_CLOCK_ARCH_X86_64) && defined(NAUTILUS_CLOCK_HAS_COUNTER)
    return __rdtsc();
#elif defined(NAUTILUS_CLOCK_OS_APPLE) && defined(NAUTILUS_CLOCK_HAS_COUNTER)
    return mach_absolute_time();
#elif defined(NAUTILUS_CLOCK_ARCH_ARM64) && defined(NAUTILUS_CLOCK_HAS_COUNTER)
    std::uint64_t ticks = 0;
    __asm__ volatile("mrs %0, cntvct_el0" : "=r"(ticks));
    return ticks;
#else
    return 0;
#endif
  }

  // A read that waits for the instructions before it (lfence / isb): ordered like a load.
  [[nodiscard]] static std::uint64_t read_ordered() noexcept {
#if defined(NAUTILUS_CLOCK_ARCH_X86_64) && defined(NAUTILUS_CLOCK_HAS_COUNTER)
    _mm_lfence();
    return __rdtsc();
#elif defined(NAUTILUS_CLOCK_OS_APPLE) && defined(NAUTILUS_CLOCK_HAS_COUNTER)
    return mach_absolute_time();
#elif defined(NAUTILUS_CLOCK_ARCH_ARM64) && defined(NAUTILUS_CLOCK_HAS_COUNTER)
    std::uint64_t ticks = 0;
    __asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(ticks) : : "memory");
    return ticks;
#else
    return 0;
#endif
  }

  [[nodiscard]] static std::int64_t realtime_ns() noexcept { return LiveClock::realtime_now_ns(); }
  [[nodiscard]] static std::int64_t monotonic_ns() noexcept { return LiveClock::monotonic_now_ns(); }
  static void wait(std::chrono::nanoseconds d) { std::this_thread::sleep_for(d); }
};

// g++ and clang++ have a 128-bit integer (every platform this header supports); `__extension__`
// keeps -Wpedantic quiet about it.
__extension__ typedef __int128 int128;  // NOLINT(modernize-use-using): __extension__ needs typedef

// A counter value's time on one segment of the conversion: base_ns + (counter - base) * mult / 2^32,
// exact to the nanosecond for any signed distance from the base that fits 64 bits.
struct Segment {
  std::uint64_t base_counter = 0;
  std::int64_t base_ns = 0;
  std::uint64_t mult = 0;  // nanoseconds per tick, times 2^32

  [[nodiscard]] std::int64_t at(std::uint64_t counter) const noexcept {
    const auto ticks = static_cast<std::int64_t>(counter - base_counter);
    const int128 scaled = static_cast<int128>(ticks) * static_cast<int128>(mult);
    return base_ns + static_cast<std::int64_t>(scaled >> 32);
  }
};

[[nodiscard]] inline std::uint64_t mult_of(double ns_per_tick) noexcept {
  return static_cast<std::uint64_t>(std::llround(ns_per_tick * 4294967296.0));
}

}  // namespace detail

// `Counter` is the counter and its reference: `detail::HostCounter` for `TscClock`; tests put a
// simulated one in its place to drive the resync logic deterministically. It provides
// `detect(std::string&)`, `read()`, `read_ordered()`, `realtime_ns()`, `monotonic_ns()` and
// `wait(duration)`.
template <class Counter>
class BasicTscClock {
 public:
  // Calibrates (blocking for `options.calibration`) and starts the resync thread unless
  // `options.resync_interval` is zero. Throws `clock_error` for options out of range.
  explicit BasicTscClock(TscClockOptions options = {}, Counter counter = {})
      : options_(options), counter_(std::move(counter)) {
    check_options(options_);
    source_ = options_.force_fallback ? CounterSource::live_clock : counter_.detect(why_not_);
    if (options_.force_fallback) why_not_ = "forced by TscClockOptions::force_fallback";
    if (source_ != CounterSource::live_clock) calibrate();
    published_.fallback = source_ == CounterSource::live_clock;
    if (!published_.fallback && options_.resync_interval > std::chrono::nanoseconds::zero()) {
      resync_thread_ = std::jthread{[this](std::stop_token stop) { resync_loop(stop); }};
    }
  }

  BasicTscClock(const BasicTscClock&) = delete;
  BasicTscClock& operator=(const BasicTscClock&) = delete;
  BasicTscClock(BasicTscClock&&) = delete;
  BasicTscClock& operator=(BasicTscClock&&) = delete;
  // Stops the resync thread.
  ~BasicTscClock() {
    if (resync_thread_.joinable()) {
      resync_thread_.request_stop();
      resync_thread_.join();
    }
  }

  // ---- reads (the Clock concept) ----

  // Realtime UTC nanoseconds from the counter. Lock-free; never decreases on one thread.
  [[nodiscard]] std::int64_t now_ns() const noexcept {
    if (published_.fallback) return counter_.realtime_ns();
    return convert([this] { return counter_.read(); });
  }

  [[nodiscard]] unix_nanos now() const noexcept { return from_unix_ns(now_ns()); }

  // As `now_ns()`, with the counter read ordered after the loads and stores before it.
  [[nodiscard]] std::int64_t now_ns_ordered() const noexcept {
    if (published_.fallback) return counter_.realtime_ns();
    return convert([this] { return counter_.read_ordered(); });
  }

  // The counter at the calibrated rate, from the steady clock's origin: never decreases or jumps,
  // and is not bent by resyncs; it runs at the calibration's rate, so it drifts from the steady
  // clock by that rate's error (ppm). The fallback reads the steady clock.
  [[nodiscard]] std::int64_t monotonic_ns() const noexcept {
    if (published_.fallback) return counter_.monotonic_ns();
    return monotonic_.at(counter_.read());
  }

  // ---- what it is and how well it does ----

  [[nodiscard]] CounterSource source() const noexcept { return source_; }
  [[nodiscard]] bool is_fallback() const noexcept { return published_.fallback; }
  // Why the clock fell back to LiveClock; empty when it did not.
  [[nodiscard]] const std::string& fallback_reason() const noexcept { return why_not_; }
  // The counter's calibrated frequency in Hz (zero under the fallback).
  [[nodiscard]] double counter_hz() const noexcept { return counter_hz_; }
  // Resyncs done so far (by the background thread and by `resync()`).
  [[nodiscard]] std::uint64_t resyncs() const noexcept { return resyncs_.load(std::memory_order_relaxed); }

  // Compares the clock with the system clock now, bracketing the system-clock read between two
  // counter reads (the tightest of a few tries). Zero under the fallback.
  [[nodiscard]] TscError measure_error() const {
    if (published_.fallback) return {};
    std::lock_guard lock{writer_};
    const Sample s = sample();
    const std::int64_t ours = convert([&] { return s.counter; });
    return {std::chrono::nanoseconds{ours - s.realtime_ns},
            std::chrono::nanoseconds{static_cast<std::int64_t>(static_cast<double>(s.window) * ns_per_tick_ / 2)}};
  }

  // Resynchronises with the system clock now (see the header comment); safe from any thread,
  // concurrently with readers. The background thread calls it every `resync_interval`.
  TscSyncReport resync() {
    std::lock_guard lock{writer_};
    if (published_.fallback) return {};
    // The current segment must have begun, so that it can become the previous one (a resync
    // follows the last one by far more than `lead`, except in tests that call it back to back).
    while (counter_.read() < current_.base_counter) {
    }
    const Sample s = sample();
    TscSyncReport report;
    report.window = std::chrono::nanoseconds{static_cast<std::int64_t>(static_cast<double>(s.window) * ns_per_tick_)};
    // The rate since the last sample, against the steady clock: NTP's frequency correction slews
    // it exactly as it slews the system clock, but a step moves only the system clock (the step
    // is the error below, not a rate). Measured only over at least `rate_baseline` (two brackets
    // of ~100 ns make that good to ~0.02 ppm); a rate beyond any slew NTP applies means the host
    // misbehaved (slept, migrated): keep the old one.
    double rate = ns_per_tick_;
    const double elapsed_ns = static_cast<double>(s.counter - last_.counter) * ns_per_tick_;
    if (s.counter > last_.counter && elapsed_ns >= static_cast<double>(rate_baseline.count())) {
      const double measured = static_cast<double>(s.monotonic_ns - last_.monotonic_ns) /
                              static_cast<double>(s.counter - last_.counter);
      if (std::isfinite(measured) && measured > nominal_ns_per_tick_ * (1 - rate_sanity) &&
          measured < nominal_ns_per_tick_ * (1 + rate_sanity)) {
        rate = measured;
      }
      last_ = s;
    }
    report.rate_ppm = (rate / nominal_ns_per_tick_ - 1) * 1e6;
    report.error = std::chrono::nanoseconds{s.realtime_ns - current_.at(s.counter)};
    ns_per_tick_ = rate;

    // The next segment starts `lead` ahead of a counter read taken once readers are held off, so
    // that no reader can have read past its start with the old parameters: a resync thread
    // preempted between its sample and its publication (or slowed down, as under emulation)
    // cannot make a reading go back.
    const auto lead_ticks = static_cast<std::uint64_t>(static_cast<double>(lead.count()) / rate) + 1;
    begin_publish();
    const std::uint64_t start = counter_.read_ordered() + lead_ticks;
    const std::int64_t start_ns = current_.at(start);
    // Integer nanoseconds: a double holds a 2023 timestamp only to 256 ns.
    const std::int64_t reference_at_start =
        s.realtime_ns +
        static_cast<std::int64_t>(std::llround(static_cast<double>(static_cast<std::int64_t>(start - s.counter)) * rate));
    const std::int64_t error_at_start = reference_at_start - start_ns;
    detail::Segment next{start, start_ns, 0};
    if (error_at_start > options_.step_threshold.count()) {
      next.base_ns = reference_at_start;  // forward only
      next.mult = detail::mult_of(rate);
      report.stepped = true;
    } else {
      // Aim to meet the reference one horizon later; bend by at most max_slew.
      const double horizon_ticks = static_cast<double>(horizon().count()) / rate;
      const double slope = std::clamp(rate + static_cast<double>(error_at_start) / horizon_ticks,
                                      rate * (1 - options_.max_slew), rate * (1 + options_.max_slew));
      next.mult = detail::mult_of(slope);
    }
    end_publish(current_, next);
    resyncs_.fetch_add(1, std::memory_order_relaxed);
    return report;
  }

 private:
  static constexpr std::chrono::nanoseconds lead{20'000};  // 20 us
  static constexpr double rate_sanity = 0.001;             // 1000 ppm: twice the kernel's largest slew (MAXFREQ)
  static constexpr std::chrono::nanoseconds rate_baseline{10'000'000};  // 10 ms

  struct Sample {
    std::uint64_t counter = 0;  // the middle of the bracket
    std::int64_t realtime_ns = 0;
    std::int64_t monotonic_ns = 0;
    std::uint64_t window = 0;  // bracket width, ticks
  };

  // The parameters readers load: one cache line, written only by resyncs, under a seqlock. The
  // fields are atomics loaded with acquire (plain loads on x86-64), so there is no data race and
  // no fence; a writer makes `seq` odd, stores the fields with release, then makes it even.
  struct alignas(64) Published {
    std::atomic<std::uint64_t> seq{0};
    std::atomic<std::uint64_t> prev_counter{0};
    std::atomic<std::int64_t> prev_ns{0};
    std::atomic<std::uint64_t> prev_mult{0};
    std::atomic<std::uint64_t> counter{0};
    std::atomic<std::int64_t> ns{0};
    std::atomic<std::uint64_t> mult{0};
    bool fallback = true;  // set once, before any reader exists
  };

  static void check_options(const TscClockOptions& o) {
    if (o.calibration < std::chrono::microseconds{100} || o.calibration > std::chrono::seconds{10}) {
      throw clock_error("TscClock: calibration must be within [100us, 10s], got " +
                        std::to_string(o.calibration.count()) + "ns");
    }
    if (o.resync_interval < std::chrono::nanoseconds::zero() ||
        (o.resync_interval > std::chrono::nanoseconds::zero() && o.resync_interval < std::chrono::milliseconds{1})) {
      throw clock_error("TscClock: resync_interval must be zero (no thread) or at least 1ms, got " +
                        std::to_string(o.resync_interval.count()) + "ns");
    }
    if (o.step_threshold <= std::chrono::nanoseconds::zero()) {
      throw clock_error("TscClock: step_threshold must be positive, got " +
                        std::to_string(o.step_threshold.count()) + "ns");
    }
    if (!(o.max_slew > 0 && o.max_slew <= 0.1)) {
      throw clock_error("TscClock: max_slew must be within (0, 0.1], got " + std::to_string(o.max_slew));
    }
  }

  [[nodiscard]] std::chrono::nanoseconds horizon() const noexcept {
    return options_.resync_interval > std::chrono::nanoseconds::zero() ? options_.resync_interval
                                                                      : std::chrono::seconds{1};
  }

  template <class Read>
  [[nodiscard]] std::int64_t convert(Read read) const noexcept {
    for (;;) {
      const std::uint64_t seq = published_.seq.load(std::memory_order_acquire);
      const std::uint64_t base = published_.counter.load(std::memory_order_acquire);
      const std::int64_t ns = published_.ns.load(std::memory_order_acquire);
      const std::uint64_t mult = published_.mult.load(std::memory_order_acquire);
      const std::uint64_t prev_base = published_.prev_counter.load(std::memory_order_acquire);
      const std::int64_t prev_ns = published_.prev_ns.load(std::memory_order_acquire);
      const std::uint64_t prev_mult = published_.prev_mult.load(std::memory_order_acquire);
      const std::uint64_t counter = read();
      if ((seq & 1U) != 0 || published_.seq.load(std::memory_order_acquire) != seq) continue;
      // Below the current segment's start the previous segment holds (the two meet there).
      const detail::Segment segment = static_cast<std::int64_t>(counter - base) >= 0
                                          ? detail::Segment{base, ns, mult}
                                          : detail::Segment{prev_base, prev_ns, prev_mult};
      return segment.at(counter);
    }
  }

  // A publication: readers retry from `begin_publish` until `end_publish`. A reader that completes
  // with the old parameters saw the even sequence, so it read its counter before the odd one became
  // visible: at most a store buffer's drain (nanoseconds, far below `lead`) after `resync` reads
  // the counter that places the next segment. (No fence: TSan does not model them.)
  void begin_publish() noexcept {
    const std::uint64_t seq = published_.seq.load(std::memory_order_relaxed);
    published_.seq.store(seq + 1, std::memory_order_relaxed);
  }

  void publish(const detail::Segment& previous, const detail::Segment& next) noexcept {
    begin_publish();
    end_publish(previous, next);
  }

  void end_publish(const detail::Segment& previous, const detail::Segment& next) noexcept {
    const std::uint64_t seq = published_.seq.load(std::memory_order_relaxed);  // odd
    published_.prev_counter.store(previous.base_counter, std::memory_order_release);
    published_.prev_ns.store(previous.base_ns, std::memory_order_release);
    published_.prev_mult.store(previous.mult, std::memory_order_release);
    published_.counter.store(next.base_counter, std::memory_order_release);
    published_.ns.store(next.base_ns, std::memory_order_release);
    published_.mult.store(next.mult, std::memory_order_release);
    published_.seq.store(seq + 1, std::memory_order_release);
    current_ = next;
  }

  // The tightest of a few (counter, system clock, counter) brackets.
  [[nodiscard]] Sample sample() const noexcept {
    Sample best;
    best.window = std::numeric_limits<std::uint64_t>::max();
    for (int attempt = 0; attempt < 7; ++attempt) {
      const std::uint64_t before = counter_.read_ordered();
      const std::int64_t realtime = counter_.realtime_ns();
      const std::int64_t monotonic = counter_.monotonic_ns();
      const std::uint64_t after = counter_.read_ordered();
      if (after < before) continue;
      if (after - before < best.window) best = Sample{before + (after - before) / 2, realtime, monotonic, after - before};
    }
    return best;
  }

  void calibrate() {
    for (int attempt = 0; attempt < 3; ++attempt) {
      const Sample first = sample();
      counter_.wait(options_.calibration);
      const Sample second = sample();
      if (second.counter <= first.counter || second.monotonic_ns <= first.monotonic_ns) continue;
      // The rate against the steady clock (which NTP slews by at most 500 ppm but never steps),
      // so that a step of the system clock during calibration cannot skew it.
      const double rate = static_cast<double>(second.monotonic_ns - first.monotonic_ns) /
                          static_cast<double>(second.counter - first.counter);
      if (!std::isfinite(rate) || rate <= 0) continue;
      nominal_ns_per_tick_ = rate;
      ns_per_tick_ = rate;
      counter_hz_ = 1e9 / rate;
      last_ = second;
      const detail::Segment segment{second.counter, second.realtime_ns, detail::mult_of(rate)};
      monotonic_ = detail::Segment{second.counter, second.monotonic_ns, detail::mult_of(rate)};
      publish(segment, segment);
      return;
    }
    source_ = CounterSource::live_clock;
    why_not_ = "calibration failed three times: the counter or the steady clock did not advance";
  }

  void resync_loop(const std::stop_token& stop) {
    std::mutex mutex;
    std::condition_variable_any wake;
    std::unique_lock lock{mutex};
    while (!stop.stop_requested()) {
      // Returns at the interval, or at once when a stop is requested.
      static_cast<void>(wake.wait_for(lock, stop, options_.resync_interval, [] { return false; }));
      if (stop.stop_requested()) return;
      resync();
    }
  }

  Published published_;
  TscClockOptions options_;
  [[no_unique_address]] Counter counter_;
  CounterSource source_ = CounterSource::live_clock;
  std::string why_not_;
  double nominal_ns_per_tick_ = 1;
  double ns_per_tick_ = 1;
  double counter_hz_ = 0;
  detail::Segment monotonic_;
  // The writer's side, under `writer_`.
  mutable std::mutex writer_;
  detail::Segment current_;
  Sample last_;
  std::atomic<std::uint64_t> resyncs_{0};
  std::jthread resync_thread_;
};

// The host's counter: rdtsc on x86-64, cntvct_el0 on arm64 Linux, mach_absolute_time on Apple.
using TscClock = BasicTscClock<detail::HostCounter>;

}  // namespace nautilus
