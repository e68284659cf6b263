// Cost of recording one reading: RecordingClock<C>::now_ns() beside C::now_ns(), measured in the
// same run. Two groups:
//   record_live  LiveClock: what a production engine pays per reading (the clock read, the
//                recorder's lock, the encoding, and the write to the stream amortised over its
//                64 KiB buffer);
//   record_test  TestClock, whose read is a load: the recording cost alone. Also the encoder by
//                itself on readings 250 us apart, the spacing of a busy event loop.
// The stream discards what it is given, so the figures exclude the disk. Each benchmark reports
// bytes per reading record (`bytes/reading`): back-to-back reads differ by tens of nanoseconds and
// take 2 bytes; readings 250 us apart take 4.
#include "ratio_reporter.hpp"

#include <nautilus/clock/detail/clock_log.hpp>
#include <nautilus/clock/live_clock.hpp>
#include <nautilus/clock/record_replay.hpp>
#include <nautilus/clock/test_clock.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <ostream>
#include <streambuf>
#include <string>

namespace {

[[maybe_unused]] const bool live_baseline =
    nautilus::bench::declare_baseline("record_live", "record_live/LiveClock::now_ns");
[[maybe_unused]] const bool test_baseline =
    nautilus::bench::declare_baseline("record_test", "record_test/TestClock::now_ns");

// A stream that accepts and drops everything, like /dev/null without the system call.
class DiscardBuffer : public std::streambuf {
 protected:
  int_type overflow(int_type c) override { return traits_type::not_eof(c); }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

template <class C>
void report_bytes(benchmark::State& state, const nautilus::RecordingClock<C>& recording) {
  // The 9-byte header aside, every record here is a reading.
  const auto records = recording.records();
  if (records != 0) {
    state.counters["bytes/reading"] =
        static_cast<double>(recording.bytes() - nautilus::detail::clock_log_header_bytes) /
        static_cast<double>(records);
  }
}

// The unwrapped clock: each group's baseline.
template <class C>
void plain_now_ns(benchmark::State& state) {
  const C clock;
  for (auto _ : state) benchmark::DoNotOptimize(clock.now_ns());
}

template <class C>
void recording_now_ns(benchmark::State& state) {
  C clock;
  DiscardBuffer discard;
  std::ostream out{&discard};
  const nautilus::RecordingClock recording{clock, out};
  for (auto _ : state) benchmark::DoNotOptimize(recording.now_ns());
  report_bytes(state, recording);
}

BENCHMARK(plain_now_ns<nautilus::LiveClock>)->Name("record_live/LiveClock::now_ns");
BENCHMARK(recording_now_ns<nautilus::LiveClock>)->Name("record_live/RecordingClock<LiveClock>::now_ns");
BENCHMARK(plain_now_ns<nautilus::TestClock>)->Name("record_test/TestClock::now_ns");
BENCHMARK(recording_now_ns<nautilus::TestClock>)->Name("record_test/RecordingClock<TestClock>::now_ns");

// The encoding alone (no lock, no clock), into a buffer cleared as RecordingClock's is flushed.
void encoder_reading(benchmark::State& state) {
  nautilus::detail::ClockLogEncoder encoder;
  std::string buffer;
  buffer.reserve(64 * 1024 + nautilus::detail::max_reading_record_bytes);
  std::int64_t reading = 1'700'000'000'000'000'000;
  std::uint64_t bytes = 0;
  std::uint64_t records = 0;
  for (auto _ : state) {
    reading += 250'000;
    encoder.reading(buffer, nautilus::detail::ClockLogKind::now_ns, reading);
    if (buffer.size() >= 64 * 1024) {
      bytes += buffer.size();
      buffer.clear();
    }
    ++records;
  }
  bytes += buffer.size();
  benchmark::DoNotOptimize(buffer.data());
  // The first record carries the whole value; the rest are the steady state.
  if (records > 1)
    state.counters["bytes/reading"] = static_cast<double>(bytes - 10) / static_cast<double>(records - 1);
}
BENCHMARK(encoder_reading)->Name("record_test/ClockLogEncoder::reading, 250us apart");

}  // namespace
