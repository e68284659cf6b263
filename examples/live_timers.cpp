// Example: timers on the live clock. A heartbeat every 20 ms and a one-shot alert, fired by the
// clock's runner thread; the main thread waits for the events it expects (it does not sleep).
// Events carry the realtime they were due (ts_event), when they fired (ts_init) and how late.
#include <nautilus/clock.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include <fmt/core.h>

int main() {
  using namespace std::chrono_literals;
  nautilus::LiveClock clock;
  std::mutex mutex;
  std::condition_variable done;
  std::vector<nautilus::TimeEvent> events;
  auto record = [&](const nautilus::TimeEvent& e) {
    std::lock_guard lock{mutex};
    events.push_back(e);
    done.notify_all();
  };

  const auto start = clock.now();
  clock.set_timer("heartbeat", 20ms, start, start + 60ms, record);
  clock.set_time_alert("order-timeout", start + 50ms, record);
  clock.start_runner();
  {
    std::unique_lock lock{mutex};
    done.wait_for(lock, 10s, [&] { return events.size() == 4; });
  }
  clock.stop_runner();

  std::lock_guard lock{mutex};
  for (const auto& e : events) {
    fmt::print("#{} {:<13} due +{:<5} fired {} late\n", e.id, e.name, nautilus::readable(e.ts_event - start),
               nautilus::readable(e.lateness));
  }
  fmt::print("{} events, in deadline order: {}\n", events.size(),
             events.size() == 4 && events[2].name == "order-timeout" ? "yes" : "no");
  return events.size() == 4 ? 0 : 1;
}
