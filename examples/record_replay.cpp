// Example: record a live run, replay it exactly. A small engine loop (a 2 ms heartbeat, an order
// timeout, a reading of both clocks in every callback and after every poll) runs on the live clock
// through a RecordingClock that writes to a memory stream; the same loop then runs on a ReplayClock
// over that log, and sees the identical readings and events: a production incident, replayed in a
// test. The live run's figures differ on every run; that they match the replay does not.
#include <nautilus/clock.hpp>
#include <nautilus/clock/record_replay.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <sstream>
#include <vector>

#include <fmt/core.h>

namespace {

using namespace std::chrono_literals;

struct Seen {
  nautilus::unix_nanos start{};
  std::vector<nautilus::TimeEvent> events;
  std::vector<nautilus::Reading> readings;
  std::size_t polls = 0;
};

// The engine loop, written once over the clock: it cannot tell live from replay.
template <nautilus::TimerClock C>
Seen run_engine(C& clock) {
  Seen seen;
  seen.start = clock.now();
  auto read = [&] {
    seen.readings.push_back({nautilus::ReadingKind::now_ns, clock.now_ns()});
    seen.readings.push_back({nautilus::ReadingKind::monotonic_ns, clock.monotonic_ns()});
  };
  auto on_event = [&](const nautilus::TimeEvent& e) {
    seen.events.push_back(e);
    read();
  };
  clock.set_timer("heartbeat", 2ms, seen.start, seen.start + 6ms, on_event);
  clock.set_time_alert("order-timeout", seen.start + 5ms, on_event);
  while (seen.events.size() < 4) {  // spin on poll(): no sleep, however slow the machine
    (void)clock.poll();
    ++seen.polls;
    if (seen.polls % 1000 == 0) read();  // a reading now and then from the loop itself
  }
  return seen;
}

void print(const char* title, const Seen& seen) {
  fmt::print("{}: {} polls, {} readings\n", title, seen.polls, seen.readings.size());
  for (const auto& e : seen.events) {
    fmt::print("  #{} {:<13} due +{:<5} late {}\n", e.id, e.name, nautilus::readable(e.ts_event - seen.start),
               nautilus::readable(e.lateness));
  }
}

}  // namespace

int main() {
  std::ostringstream log;
  Seen recorded;
  std::size_t bytes = 0;
  std::size_t records = 0;
  {
    nautilus::LiveClock live;
    nautilus::RecordingClock recording{live, log};
    recorded = run_engine(recording);
    recording.close();
    bytes = recording.bytes();
    records = recording.records();
  }
  print("live (recorded)", recorded);
  fmt::print("log: {} bytes, {} records\n\n", bytes, records);

  nautilus::ReplayClock replay{log.str()};
  const Seen replayed = run_engine(replay);
  print("replayed", replayed);
  replay.check_finished();  // throws if the replay ran differently, naming the record

  const bool same = replayed.events == recorded.events && replayed.readings == recorded.readings &&
                    replayed.polls == recorded.polls && replayed.start == recorded.start;
  fmt::print("\nreplay matches the recording: {}\n", same ? "yes" : "no");
  return same ? 0 : 1;
}
