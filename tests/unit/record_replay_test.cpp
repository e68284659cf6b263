// RecordingClock and ReplayClock: a recorded live run replays to the same readings and events;
// the log format round-trips every value and names the offset of every defect; divergence and
// stream failures are reported, never lost. Nothing here sleeps or depends on timing: live timers
// are driven by spinning on poll() until enough events fired, and whatever happened is compared.
#include <nautilus/clock/detail/clock_log.hpp>
#include <nautilus/clock/live_clock.hpp>
#include <nautilus/clock/record_replay.hpp>
#include <nautilus/clock/test_clock.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using nautilus::LiveClock;
using nautilus::Reading;
using nautilus::ReadingKind;
using nautilus::RecordingClock;
using nautilus::ReplayClock;
using nautilus::TestClock;
using nautilus::TimeEvent;
using nautilus::unix_nanos;
using nautilus::detail::ClockLogKind;

static_assert(nautilus::TimerClock<RecordingClock<LiveClock>>);
static_assert(nautilus::TimerClock<RecordingClock<TestClock>>);
static_assert(nautilus::TimerClock<ReplayClock>);
// poll() only where the wrapped clock has one.
template <class C>
concept has_poll = requires(C& clock) {
  clock.poll();
};
static_assert(has_poll<RecordingClock<LiveClock>>);
static_assert(!has_poll<RecordingClock<TestClock>>);

namespace {

constexpr std::int64_t int64_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();
const unix_nanos t0 = nautilus::parse_iso8601("2024-03-01T09:30:00Z");

// What a program saw, in order: enough to tell two runs apart.
struct Trace {
  std::vector<Reading> readings;
  std::vector<TimeEvent> events;  // delivered to callbacks
  std::vector<TimeEvent> taken;   // handed out by take_events()
  std::vector<std::optional<std::chrono::nanoseconds>> polls;
  std::size_t pending_at_end = 0;
};

template <class C>
void read_both(C& clock, Trace& trace) {
  trace.readings.push_back({ReadingKind::now_ns, clock.now_ns()});
  trace.readings.push_back({ReadingKind::monotonic_ns, clock.monotonic_ns()});
}

// The small live program of the issue, written once over the clock type: a periodic timer, a
// named and an anonymous alert with callbacks, a callback-less alert, readings in the callbacks
// and in the loop, driven by spinning on poll() until `events` callback events fired.
template <class C>
Trace small_program(C& clock, std::size_t events = 8) {
  Trace trace;
  const unix_nanos start = clock.now();
  trace.readings.push_back({ReadingKind::now_ns, nautilus::to_unix_ns(start)});
  auto on_event = [&](const TimeEvent& e) {
    trace.events.push_back(e);
    read_both(clock, trace);
  };
  clock.set_timer("heartbeat", 200us, start, std::nullopt, on_event);
  clock.set_time_alert("order-timeout", start + 300us, on_event);
  clock.set_time_alert(start + 500us, on_event);    // anonymous
  clock.set_time_alert("snapshot", start + 100us);  // no callback: take_events()
  while (trace.events.size() < events) {
    trace.polls.push_back(clock.poll());
    trace.readings.push_back({ReadingKind::monotonic_ns, clock.monotonic_ns()});
    for (TimeEvent& e : clock.take_events()) trace.taken.push_back(std::move(e));
  }
  trace.pending_at_end = clock.timer_count();
  clock.cancel_timers();
  return trace;
}

// A log with every record kind and the extreme values of each field, written by the encoder.
std::string extreme_log() {
  using nautilus::detail::ClockLogEncoder;
  std::string out;
  ClockLogEncoder encoder;
  ClockLogEncoder::header(out);
  for (const std::int64_t v :
       {std::int64_t{0}, int64_max, int64_min, std::int64_t{-1}, int64_max, std::int64_t{1}}) {
    encoder.reading(out, ClockLogKind::now_ns, v);
  }
  for (const std::int64_t v : {int64_min, int64_max, std::int64_t{0}, int64_min}) {
    encoder.reading(out, ClockLogKind::monotonic_ns, v);
  }
  encoder.poll_begin(out);
  encoder.firing(out, 1,
                 TimeEvent{"", 0, nautilus::unix_nanos_min, nautilus::unix_nanos_max,
                           std::chrono::nanoseconds{int64_min}, 0});
  encoder.firing(out, std::numeric_limits<std::uint64_t>::max(),
                 TimeEvent{std::string(10'000, 'x'), std::numeric_limits<std::uint64_t>::max(),
                           nautilus::unix_nanos_max, nautilus::unix_nanos_min,
                           std::chrono::nanoseconds{int64_max}, std::numeric_limits<std::uint64_t>::max()});
  encoder.poll_end(out, std::chrono::nanoseconds{int64_max});
  encoder.poll_begin(out);
  encoder.poll_end(out, std::chrono::nanoseconds{int64_min});
  encoder.poll_begin(out);
  encoder.poll_end(out, std::nullopt);
  encoder.poll_begin(out);
  encoder.poll_thrown(out);
  encoder.taken_events(out, {});
  encoder.taken_events(out, {TimeEvent{"a", 7, t0, t0 - 1ns, -5ns, 3},
                             TimeEvent{std::string("b\0c", 3), 6, t0 - 1h, t0, 0ns, 0}});
  encoder.end(out);
  return out;
}

// Where each record of a valid log ends (the next record's offset; the last, where the end
// record starts).
std::vector<std::size_t> record_ends(const std::string& bytes) {
  const auto log = nautilus::detail::parse_clock_log(bytes);
  std::vector<std::size_t> ends;
  for (std::size_t i = 1; i < log.records.size(); ++i) ends.push_back(log.records[i].offset);
  // The end record is the last byte's record: its kind byte and a varint of the count.
  std::size_t end_offset = bytes.size() - 1;
  while (end_offset > 0 && static_cast<unsigned char>(bytes[end_offset - 1]) >= 0x80) --end_offset;
  ends.push_back(end_offset - 1);
  return ends;
}

// A streambuf whose writes fail, like a full disk.
struct FailingBuffer : std::streambuf {
  int_type overflow(int_type) override { return traits_type::eof(); }
  std::streamsize xsputn(const char*, std::streamsize) override { return 0; }
};

}  // namespace

TEST_CASE("A live poll-driven run replays under ReplayClock to the identical readings and events") {
  LiveClock live;
  std::ostringstream log;
  Trace recorded;
  {
    RecordingClock recording{live, log};
    recorded = small_program(recording);
    recording.close();
    INFO("log: " << recording.bytes() << " bytes, " << recording.records() << " records");
  }
  ReplayClock replay{log.str()};
  const Trace replayed = small_program(replay);

  REQUIRE(recorded.events.size() >= 8);
  CHECK(replayed.readings.size() == recorded.readings.size());
  CHECK(replayed.readings == recorded.readings);
  CHECK(replayed.events == recorded.events);
  CHECK(replayed.taken == recorded.taken);
  CHECK(replayed.polls == recorded.polls);
  CHECK(replayed.pending_at_end == recorded.pending_at_end);
  CHECK(replay.readings() == recorded.readings);  // the log holds exactly what the program read
  CHECK_NOTHROW(replay.check_finished());
  // The program saw each kind of timer fire.
  const auto named = [&](const std::string& name) {
    return std::count_if(recorded.events.begin(), recorded.events.end(),
                         [&](const TimeEvent& e) { return e.name == name; });
  };
  CHECK(named("heartbeat") >= 5);
  CHECK(named("order-timeout") == 1);
  CHECK(named("") == 1);
  REQUIRE(recorded.taken.size() == 1);
  CHECK(recorded.taken[0].name == "snapshot");
}

TEST_CASE("RecordingClock<TestClock> records a deterministic run that ReplayClock serves back") {
  // Ticks (| heartbeat every 1s from t0, A the alert at +1.5s):
  //   t0    +1s   +1.5s  +2s   +3s    advance_time(+3s), then take_events()
  //         |      A     |     |
  // Each callback reads both lines; firings outside poll() are delivered by the replay's next read.
  auto program = [](auto& clock, auto&& advance) {
    Trace trace;
    auto on_event = [&](const TimeEvent& e) {
      trace.events.push_back(e);
      read_both(clock, trace);
    };
    read_both(clock, trace);
    clock.set_timer("heartbeat", 1s, std::nullopt, t0 + 3s, on_event);
    clock.set_time_alert(t0 + 1500ms, on_event);
    clock.set_time_alert("quiet", t0 + 2500ms);
    advance();
    read_both(clock, trace);
    trace.taken = clock.take_events();
    trace.pending_at_end = clock.timer_count();
    return trace;
  };

  TestClock test{t0};
  std::ostringstream log;
  Trace recorded;
  {
    RecordingClock recording{test, log};
    recorded = program(recording, [&] { test.advance_time(t0 + 3s); });
  }  // the destructor closes the log
  REQUIRE(recorded.events.size() == 4);
  CHECK(recorded.events[1].name.empty());
  CHECK(recorded.events[1].ts_event == t0 + 1500ms);
  CHECK(recorded.readings[3].value == nautilus::to_unix_ns(t0 + 1s));  // read inside the first callback
  REQUIRE(recorded.taken.size() == 1);
  CHECK(recorded.pending_at_end == 0);

  ReplayClock replay{log.str()};
  const Trace replayed = program(replay, [] {});
  CHECK(replayed.readings == recorded.readings);
  CHECK(replayed.events == recorded.events);
  CHECK(replayed.taken == recorded.taken);
  CHECK(replayed.pending_at_end == 0);
  CHECK(replay.delivered_events().size() == 5);
  CHECK_NOTHROW(replay.check_finished());

  SECTION("firings recorded outside poll() can also be delivered without a read") {
    ReplayClock again{log.str()};
    Trace trace;
    (void)again.now_ns();
    (void)again.monotonic_ns();
    again.set_timer("heartbeat", 1s, std::nullopt, t0 + 3s,
                    [&](const TimeEvent& e) { trace.events.push_back(e); });
    CHECK(again.next_time("heartbeat") == t0 + 1s);  // its next recorded firing
    CHECK(again.deliver_runner_firings() == 1);
    CHECK(again.next_time("heartbeat") == t0 + 2s);
    CHECK(trace.events.size() == 1);
    CHECK(again.deliver_runner_firings() == 0);  // the callback's reads come first
    CHECK(again.now_ns() == nautilus::to_unix_ns(t0 + 1s));
  }
}

TEST_CASE("The clock log round-trips every record kind and extreme value") {
  const std::string bytes = extreme_log();
  const auto log = nautilus::detail::parse_clock_log(bytes);
  CHECK(log.complete);
  CHECK(log.valid_bytes == bytes.size());
  CHECK(nautilus::detail::encode_clock_log(log) == bytes);  // one encoding per log

  ReplayClock replay{bytes};
  const std::vector<std::int64_t> now = {0, int64_max, int64_min, -1, int64_max, 1};
  const std::vector<std::int64_t> mono = {int64_min, int64_max, 0, int64_min};
  std::vector<Reading> expected;
  for (const auto v : now) expected.push_back({ReadingKind::now_ns, v});
  for (const auto v : mono) expected.push_back({ReadingKind::monotonic_ns, v});
  CHECK(replay.readings() == expected);
  for (const auto v : now) CHECK(replay.now_ns() == v);
  for (const auto v : mono) CHECK(replay.monotonic_ns() == v);

  REQUIRE(replay.events().size() == 4);
  const TimeEvent& empty = replay.events()[0];
  CHECK(empty.name.empty());
  CHECK(empty.ts_event == nautilus::unix_nanos_min);
  CHECK(empty.ts_init == nautilus::unix_nanos_max);
  CHECK(empty.lateness.count() == int64_min);
  const TimeEvent& longest = replay.events()[1];
  CHECK(longest.name == std::string(10'000, 'x'));
  CHECK(longest.id == std::numeric_limits<std::uint64_t>::max());
  CHECK(longest.missed == std::numeric_limits<std::uint64_t>::max());
  CHECK(longest.lateness.count() == int64_max);
  CHECK(replay.events()[2] == TimeEvent{"a", 7, t0, t0 - 1ns, -5ns, 3});
  CHECK(replay.events()[3] == TimeEvent{std::string("b\0c", 3), 6, t0 - 1h, t0, 0ns, 0});

  SECTION("a reading is a kind byte and a short varint") {
    std::string out;
    nautilus::detail::ClockLogEncoder encoder;
    encoder.reading(out, ClockLogKind::monotonic_ns, 1'000'000'000'000);  // the first: the whole value
    const std::size_t first = out.size();
    encoder.reading(out, ClockLogKind::monotonic_ns, 1'000'000'250'000);  // +250 us
    CHECK(out.size() - first == 1 + 3);
    encoder.reading(out, ClockLogKind::monotonic_ns, 1'000'000'249'999);  // -1 ns
    CHECK(out.size() - first == 1 + 3 + 1 + 1);
  }
}

TEST_CASE(
    "Every truncation of a valid log is an error naming an offset, or with allow_truncated its complete "
    "prefix") {
  const std::string bytes = extreme_log();
  const auto full = nautilus::detail::parse_clock_log(bytes);
  const std::vector<std::size_t> ends = record_ends(bytes);
  REQUIRE(ends.size() == full.records.size());
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    INFO("log cut to " << size << " of " << bytes.size() << " bytes");
    const std::string cut = bytes.substr(0, size);
    try {
      (void)nautilus::detail::parse_clock_log(cut);
      FAIL("a truncated log parsed");
    } catch (const nautilus::clock_error& e) {
      const std::string what = e.what();
      CHECK_THAT(what, Contains("clock log: truncated: ") && Contains("offset"));
    }
    const auto prefix = nautilus::detail::parse_clock_log(cut, true);
    CHECK_FALSE(prefix.complete);
    const auto whole = static_cast<std::size_t>(
        std::count_if(ends.begin(), ends.end(), [&](std::size_t end) { return end <= size; }));
    REQUIRE(prefix.records.size() == whole);
    for (std::size_t i = 0; i < prefix.records.size(); ++i) {
      CHECK(prefix.records[i].kind == full.records[i].kind);
      CHECK(prefix.records[i].value == full.records[i].value);
    }
    CHECK(prefix.events.size() <= full.events.size());
    CHECK(std::equal(prefix.events.begin(), prefix.events.end(), full.events.begin()));
  }

  SECTION("a crashed recording replays up to its last record, then diverges") {
    std::string crashed;
    {
      nautilus::detail::ClockLogEncoder encoder;
      nautilus::detail::ClockLogEncoder::header(crashed);
      encoder.reading(crashed, ClockLogKind::now_ns, 42);
      encoder.reading(crashed, ClockLogKind::now_ns, 43);
      crashed.pop_back();  // half of the second record: the process died mid-write
    }
    CHECK_THROWS_WITH(ReplayClock{crashed}, Contains("truncated: now_ns delta: varint at offset 12 cut off"));
    ReplayClock replay{crashed, {.allow_truncated = true}};
    CHECK_FALSE(replay.complete());
    CHECK(replay.now_ns() == 42);
    CHECK(replay.now_ns() == 42);  // past the end: the last value, and a divergence
    CHECK_THROWS_WITH(replay.check(),
                      Contains("where the log has the end of the log (1 records, truncated)"));
  }
  SECTION("a log without its end record names where the last complete record ends") {
    std::string open_log;
    nautilus::detail::ClockLogEncoder encoder;
    nautilus::detail::ClockLogEncoder::header(open_log);
    encoder.reading(open_log, ClockLogKind::monotonic_ns, 5);
    CHECK_THROWS_WITH(nautilus::detail::parse_clock_log(open_log),
                      "clock log: truncated: no end record after offset 11 (the end of the last complete "
                      "record; 1 records)");
  }
}

TEST_CASE("A corrupt log is an error naming the offset and the defect") {
  const std::string bytes = extreme_log();
  const auto log = nautilus::detail::parse_clock_log(bytes);
  using nautilus::detail::parse_clock_log;

  SECTION("an unknown kind byte at any record") {
    for (const auto& record : log.records) {
      for (const int kind : {0x00, 0x0A, 0x7F, 0xFF}) {
        std::string flipped = bytes;
        flipped[record.offset] = static_cast<char>(kind);
        char hex[5];
        std::snprintf(hex, sizeof hex, "0x%02x", kind);
        CHECK_THROWS_WITH(parse_clock_log(flipped), std::string("clock log: unknown record kind ") + hex +
                                                        " at offset " + std::to_string(record.offset));
        // The crash option forgives a cut, not damage.
        CHECK_THROWS_WITH(parse_clock_log(flipped, true), Contains("unknown record kind"));
      }
    }
  }
  SECTION("bad magic and an unknown version") {
    std::string bad = bytes;
    bad[3] = 'X';
    CHECK_THROWS_WITH(
        parse_clock_log(bad),
        "clock log: bad magic (not a nautilus clock log): byte 0x58, expected 0x4c at offset 3");
    CHECK_THROWS_WITH(parse_clock_log("hello"), Contains("bad magic") && Contains("at offset 0"));
    bad = bytes;
    bad[8] = 2;
    CHECK_THROWS_WITH(parse_clock_log(bad),
                      "clock log: unknown format version 2 (this reader knows version 1) at offset 8");
  }
  const std::string header = bytes.substr(0, nautilus::detail::clock_log_header_bytes);
  SECTION("over-long, overflowing and non-canonical varints") {
    CHECK_THROWS_WITH(parse_clock_log(header + "\x01" + std::string(9, '\x80') + "\x80\x01"),
                      "clock log: now_ns delta: varint longer than 10 bytes at offset 10");
    CHECK_THROWS_WITH(parse_clock_log(header + "\x02" + std::string(9, '\xff') + "\x02"),
                      "clock log: monotonic_ns delta: varint overflows 64 bits at offset 10");
    CHECK_THROWS_WITH(parse_clock_log(header + std::string("\x01\x80\x00", 3)),
                      "clock log: now_ns delta: varint has a redundant trailing zero byte at offset 10");
    // The largest value: 9 bytes of 0xff and a final 0x01.
    CHECK_NOTHROW(parse_clock_log(header + "\x01" + std::string(9, '\xff') + std::string("\x01\x09\x01", 3)));
  }
  SECTION("a name running past the end, a poll end without a begin, a wrong count, trailing bytes") {
    CHECK_THROWS_WITH(
        parse_clock_log(header + "\x03\x01\x7f" + "abc"),
        Contains("truncated: the name at offset 11 is 127 bytes long and runs past the end of the log"));
    CHECK_THROWS_WITH(parse_clock_log(header + "\x01\x02\x07"),
                      "clock log: poll end (idle) without a poll begin at offset 11");
    CHECK_THROWS_WITH(parse_clock_log(header + std::string("\x05\x07\x09\x03", 4)),
                      "clock log: end record counts 3 records, the log holds 2 at offset 11");
    CHECK_THROWS_WITH(parse_clock_log(bytes + "\x01"),
                      "clock log: 1 byte after the end record at offset " + std::to_string(bytes.size()));
  }
}

TEST_CASE("ReplayClock reports the first divergence and throws it from every call that can throw") {
  // Recorded: read now_ns, then a poll that delivered one firing of 'tick' whose callback read
  // monotonic_ns once, then read now_ns.
  LiveClock live;
  std::ostringstream log;
  {
    RecordingClock recording{live, log};
    const unix_nanos start = recording.now();
    recording.set_time_alert("tick", start - 1h, [&](const TimeEvent&) { (void)recording.monotonic_ns(); });
    (void)recording.poll();
    (void)recording.now_ns();
  }
  const std::string bytes = log.str();

  SECTION("the same program replays cleanly") {
    ReplayClock replay{bytes};
    const unix_nanos start = replay.now();
    replay.set_time_alert("tick", start - 1h, [&](const TimeEvent&) { (void)replay.monotonic_ns(); });
    CHECK(replay.has_timer("tick"));
    CHECK(replay.next_time("tick") == start - 1h);
    (void)replay.poll();
    CHECK_FALSE(replay.has_timer("tick"));  // its only tick was delivered
    (void)replay.now_ns();
    CHECK_NOTHROW(replay.check_finished());
  }
  SECTION("a read where the log has a poll: reads keep their last value, poll() throws") {
    ReplayClock replay{bytes};
    const std::int64_t first = replay.now_ns();
    replay.set_time_alert("tick", nautilus::from_unix_ns(first) - 1h, [](const TimeEvent&) {});
    CHECK(replay.now_ns() == first);
    CHECK(replay.diverged());
    CHECK(replay.monotonic_ns() == 0);  // none served yet
    CHECK_THROWS_WITH(replay.poll(),
                      "ReplayClock: divergence at record 1: the program read now_ns where the log "
                      "has a poll begin at record 1, offset " +
                          std::to_string(nautilus::detail::parse_clock_log(bytes).records[1].offset));
    CHECK_THROWS_AS(replay.check(), nautilus::clock_error);
    CHECK_THROWS_AS(replay.set_timer("late", 1s), nautilus::clock_error);
  }
  SECTION("take_events() where the log has a reading") {
    std::istringstream in{bytes};
    ReplayClock replay{in};
    CHECK_THROWS_WITH(replay.take_events(),
                      "ReplayClock: divergence at record 0: the program called take_events() "
                      "where the log has a now_ns reading at record 0, offset 9");
  }
  SECTION("a firing for a timer the program never set") {
    ReplayClock replay{bytes};
    (void)replay.now_ns();
    CHECK_THROWS_WITH(replay.poll(), Contains("the log has a firing of 'tick' for timer 1") &&
                                         Contains("the program has made 0 set_* calls"));
  }
  SECTION("a firing for a timer the program cancelled") {
    ReplayClock replay{bytes};
    replay.set_time_alert("tick", replay.now() - 1h, [](const TimeEvent&) {});
    CHECK(replay.cancel_timer("tick"));
    CHECK_THROWS_WITH(replay.poll(), Contains("is no longer pending"));
  }
  SECTION("a callback that reads less, or more, than recorded") {
    ReplayClock fewer{bytes};
    fewer.set_time_alert("tick", fewer.now() - 1h, [](const TimeEvent&) {});
    CHECK_THROWS_WITH(fewer.poll(),
                      Contains("poll() expected a firing or the end of the poll where the log has a "
                               "monotonic_ns reading") &&
                          Contains("fewer clock calls than recorded"));
    ReplayClock more{bytes};
    more.set_time_alert("tick", more.now() - 1h, [&](const TimeEvent&) {
      (void)more.monotonic_ns();
      (void)more.monotonic_ns();
    });
    CHECK_THROWS_WITH(more.poll(), Contains("the program read monotonic_ns where the log has a poll end"));
  }
  SECTION("reads past the end, and a program that stops early") {
    ReplayClock early{bytes};
    CHECK_THROWS_WITH(early.check_finished(), Contains("stopped at record 0 of 6"));
    ReplayClock replay{bytes};
    replay.set_time_alert("tick", replay.now() - 1h, [&](const TimeEvent&) { (void)replay.monotonic_ns(); });
    (void)replay.poll();
    const std::int64_t last = replay.now_ns();
    CHECK(replay.now_ns() == last);
    CHECK_THROWS_WITH(replay.check(),
                      Contains("the program read now_ns where the log has the end of the log (6 records)"));
  }
}

TEST_CASE("A callback's exception inside poll() is recorded and replayed") {
  LiveClock live;
  std::ostringstream log;
  auto program = [](auto& clock) {
    std::vector<std::string> fired;
    const unix_nanos start = clock.now();
    clock.set_time_alert("a", start - 2h, [&](const TimeEvent& e) { fired.push_back(e.name); });
    clock.set_time_alert("b", start - 1h, [&](const TimeEvent&) { throw std::runtime_error("b failed"); });
    clock.set_time_alert("c", start - 1h, [&](const TimeEvent& e) { fired.push_back(e.name); });
    CHECK_THROWS_WITH(clock.poll(), "b failed");
    (void)clock.poll();  // c, left pending by the throw
    return fired;
  };
  std::vector<std::string> recorded;
  {
    RecordingClock recording{live, log};
    recorded = program(recording);
  }
  CHECK(recorded == std::vector<std::string>{"a", "c"});
  ReplayClock replay{log.str()};
  CHECK(program(replay) == recorded);
  CHECK_NOTHROW(replay.check_finished());
}

TEST_CASE(
    "RecordingClock keeps a stream failure from a read and throws it from the next call that can throw") {
  TestClock test{t0};
  FailingBuffer failing;
  std::ostream out{&failing};
  RecordingClock recording{test, out, {.buffer_bytes = 24}};
  CHECK(recording.now_ns() == nautilus::to_unix_ns(t0));        // header 9 + 10 bytes: below the threshold
  CHECK(recording.monotonic_ns() == nautilus::to_unix_ns(t0));  // the buffer fills: the write fails
  CHECK_FALSE(recording.recording());
  CHECK(recording.now_ns() == nautilus::to_unix_ns(t0));  // reads go on
  CHECK_THROWS_WITH(
      recording.set_timer("bars", 1min),
      "RecordingClock: writing 29 bytes at log offset 0 to the stream failed; recording stopped, "
      "the log is incomplete");
  CHECK_FALSE(recording.has_timer("bars"));  // the call that threw did nothing
  // Reported once: the clock is a plain forwarder from here on.
  CHECK_NOTHROW(recording.set_timer("bars", 1min));
  CHECK_NOTHROW(recording.close());

  SECTION("a stream that throws is reported the same way") {
    FailingBuffer broken;
    std::ostream throwing{&broken};
    throwing.exceptions(std::ios::badbit | std::ios::failbit);
    RecordingClock throws{test, throwing, {.buffer_bytes = 1}};
    (void)throws.now_ns();
    CHECK_THROWS_WITH(throws.flush(), Contains("to the stream threw"));
  }
}

TEST_CASE("RecordingClock writes a file that ReplayClock::open reads") {
  const auto path = std::filesystem::temp_directory_path() /
                    ("nautilus_clock_record_replay_" +
                     std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id())) + ".log");
  TestClock test{t0};
  {
    RecordingClock recording{test, path};
    (void)recording.now_ns();
    test.advance_by(1s);
    (void)recording.monotonic_ns();
  }
  {
    auto replay = ReplayClock::open(path);
    CHECK(replay.now_ns() == nautilus::to_unix_ns(t0));
    CHECK(replay.monotonic_ns() == nautilus::to_unix_ns(t0 + 1s));
    CHECK_NOTHROW(replay.check_finished());
  }
  std::filesystem::remove(path);
  CHECK_THROWS_WITH(ReplayClock::open(path), Contains("cannot open"));
  CHECK_THROWS_WITH((RecordingClock{test, path / "no" / "such" / "dir"}), Contains("cannot open"));
}

TEST_CASE("RecordingClock serialises readings from several threads while the runner fires timers") {
  // Under the tsan preset this is the data-race check of the recorder. Monotonic readings are taken
  // under the recorder's lock, so in log order they never decrease.
  LiveClock live;
  std::ostringstream log;
  constexpr int threads = 3;
  constexpr int per_thread = 2000;
  std::mutex m;
  std::condition_variable cv;
  int fired = 0;
  {
    RecordingClock recording{live, log, {.buffer_bytes = 512}};
    recording.set_timer("tick", 100us, std::nullopt, std::nullopt, [&](const TimeEvent&) {
      (void)recording.monotonic_ns();
      std::lock_guard lock{m};
      ++fired;
      cv.notify_all();
    });
    live.start_runner();
    std::vector<std::thread> readers;
    for (int t = 0; t < threads; ++t) {
      readers.emplace_back([&] {
        for (int i = 0; i < per_thread; ++i) {
          (void)recording.monotonic_ns();
          (void)recording.now_ns();
        }
      });
    }
    for (auto& reader : readers) reader.join();
    {
      std::unique_lock lock{m};
      CHECK(cv.wait_for(lock, 20s, [&] { return fired >= 3; }));
    }
    live.stop_runner();
    recording.close();
  }
  const auto parsed = nautilus::detail::parse_clock_log(log.str());
  std::int64_t previous = int64_min;
  std::size_t monotonic = 0;
  std::size_t firings = 0;
  std::uint64_t last_id = 0;
  for (const auto& r : parsed.records) {
    if (r.kind == ClockLogKind::monotonic_ns) {
      CHECK(r.value >= previous);
      previous = r.value;
      ++monotonic;
    } else if (r.kind == ClockLogKind::firing) {
      CHECK(parsed.events[r.first_event].id > last_id);
      last_id = parsed.events[r.first_event].id;
      ++firings;
    }
  }
  CHECK(firings >= 3);
  CHECK(monotonic == threads * per_thread + firings);  // each callback read once
}
