// LiveClock's timers on real time: poll(), the runner thread, many threads at once, shutdown.
// Nothing here sleeps: a test waits for an event (with a generous bound), never for time.
#include <nautilus/clock/live_clock.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using nautilus::LiveClock;
using nautilus::TimeEvent;
using Catch::Matchers::Contains;

namespace {

// Waits until `done()` holds, for at most `bound` of real time; true if it held.
template <class Pred>
bool wait_for(std::mutex& m, std::condition_variable& cv, Pred done, std::chrono::seconds bound = 20s) {
  std::unique_lock lock{m};
  return cv.wait_for(lock, bound, done);
}

// Runs `body(t, i)` for i in [0, per_thread) on each of `threads` threads at once, and joins them.
template <class Body>
void on_threads(int threads, int per_thread, Body body) {
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&body, t, per_thread] {
      for (int i = 0; i < per_thread; ++i) body(t, i);
    });
  }
  for (auto& w : workers) w.join();
}

// Yields until `done()` holds, for at most 20 s of the clock's own monotonic time.
template <class Pred>
void yield_until(const LiveClock& clock, Pred done) {
  const auto deadline = clock.monotonic_ns() + std::chrono::nanoseconds{20s}.count();
  while (!done() && clock.monotonic_ns() < deadline) std::this_thread::yield();
}

}  // namespace

TEST_CASE("LiveClock::poll fires what is due and returns the time to the next tick") {
  LiveClock clock;
  CHECK_FALSE(clock.poll());  // no timers: nothing to wait for
  int fired = 0;
  clock.set_time_alert("now", clock.now(), [&](const TimeEvent& e) {
    ++fired;
    CHECK(e.lateness >= 0ns);
    CHECK(e.ts_init >= e.ts_event);
  });
  clock.set_time_alert("in-an-hour", clock.now() + 1h);
  const auto wait = clock.poll();
  CHECK(fired == 1);
  REQUIRE(wait);
  CHECK(*wait > 59min);
  CHECK(*wait <= 1h);
}

TEST_CASE("LiveClock stamps events with the realtime they were set for") {
  LiveClock clock;
  const auto at = clock.now() - 1ms;
  clock.set_time_alert("stamp", at);
  (void)clock.poll();
  const auto events = clock.take_events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].ts_event == at);
  CHECK(events[0].lateness >= 1ms);
}

TEST_CASE("LiveClock's runner fires timers on its own thread") {
  LiveClock clock;
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> fired;
  std::thread::id runner_thread;
  auto record = [&](const TimeEvent& e) {
    std::lock_guard lock{m};
    fired.push_back(e.name);
    runner_thread = std::this_thread::get_id();
    cv.notify_all();
  };
  // Both are pending before the runner starts, so it must pick by deadline, not by the order set.
  // Set while it runs, "b" (due 2ms after its own now()) could fall due and fire before "a" is
  // even set: under qemu-user one set_time_alert call can take several ms (code translated on
  // first use), and then "b" first is the right order.
  const auto t = clock.now();
  clock.set_time_alert("b", t + 2ms, record);
  clock.set_time_alert("a", t, record);
  clock.start_runner();
  CHECK(clock.runner_running());
  CHECK_THROWS_WITH(clock.start_runner(), Contains("already running"));
  CHECK(wait_for(m, cv, [&] { return fired.size() == 2; }));
  clock.stop_runner();
  CHECK_FALSE(clock.runner_running());
  std::lock_guard lock{m};
  CHECK(fired == std::vector<std::string>{"a", "b"});
  CHECK(runner_thread != std::this_thread::get_id());
}

TEST_CASE("LiveClock's runner wakes for a timer set earlier than the one it waits for") {
  LiveClock clock;
  std::mutex m;
  std::condition_variable cv;
  bool fired = false;
  clock.set_time_alert("far", clock.now() + 1h);
  clock.start_runner();  // now waiting for an hour
  clock.set_time_alert("near", clock.now(), [&](const TimeEvent&) {
    std::lock_guard lock{m};
    fired = true;
    cv.notify_all();
  });
  CHECK(wait_for(m, cv, [&] { return fired; }));
}

TEST_CASE("LiveClock timers set and cancelled from several threads while the runner fires them") {
  // Under the tsan preset this is the data-race check of the timer API.
  LiveClock clock;
  std::atomic<int> fired{0};
  std::atomic<int> cancelled{0};
  constexpr int threads = 3;
  constexpr int per_thread = 300;
  clock.start_runner();
  on_threads(threads, per_thread, [&](int t, int i) {
    const std::string name = "t" + std::to_string(t) + "-" + std::to_string(i);
    // Half due at once, half an hour out (those are cancelled below or by cancel_timers).
    const auto at = clock.now() + (i % 2 == 0 ? 0ns : std::chrono::nanoseconds{30min});
    clock.set_time_alert(name, at, [&](const TimeEvent&) { fired.fetch_add(1); });
    if (i % 4 == 1 && clock.cancel_timer(name)) cancelled.fetch_add(1);
    (void)clock.next_time(name);
    (void)clock.timer_count();
  });
  // Every timer due at once fires; wait for that event, then shut down.
  yield_until(clock, [&] { return fired.load() >= threads * per_thread / 2; });
  clock.stop_runner();
  CHECK(fired.load() == threads * per_thread / 2);
  CHECK(cancelled.load() == threads * per_thread / 4);
  CHECK(clock.timer_count() == static_cast<std::size_t>(threads * per_thread / 4));
  CHECK(clock.cancel_timers() == static_cast<std::size_t>(threads * per_thread / 4));
}

TEST_CASE(
    "LiveClock anonymous alerts set and cancelled by handle from several threads while the runner fires "
    "them") {
  // Anonymous alerts fire through their own path (the callback moves into the delivery and the
  // slot is recycled at once): under the tsan preset, the data-race check of that path, with
  // callbacks that hold a heap block (a captured string) and set alerts of their own.
  LiveClock clock;
  std::atomic<int> fired{0};
  std::atomic<int> chained{0};
  std::atomic<int> cancelled{0};
  std::atomic<int> garbled{0};  // callbacks whose captured string was not their own
  constexpr int threads = 3;
  constexpr int per_thread = 300;
  clock.start_runner();
  on_threads(threads, per_thread, [&](int t, int i) {
    const std::string label = "worker-" + std::to_string(t) + "-alert-" + std::to_string(i);
    if (i % 2 == 0) {  // due at once; its callback sets one more, due at once too
      clock.set_time_alert(clock.now(), [&, label](const TimeEvent&) {
        if (label.rfind("worker-", 0) != 0) garbled.fetch_add(1);
        fired.fetch_add(1);
        clock.set_time_alert(clock.now(), [&](const TimeEvent&) { chained.fetch_add(1); });
      });
    } else {  // half an hour out, cancelled by handle
      const auto handle =
          clock.set_time_alert(clock.now() + std::chrono::nanoseconds{30min},
                               [&, label](const TimeEvent&) { fired.fetch_add(label.empty() ? 1 : 1000); });
      if (clock.cancel_timer(handle)) cancelled.fetch_add(1);
    }
  });
  constexpr int due_now = threads * per_thread / 2;
  yield_until(clock, [&] { return fired.load() >= due_now && chained.load() >= due_now; });
  clock.stop_runner();
  CHECK(fired.load() == due_now);
  CHECK(chained.load() == due_now);
  CHECK(cancelled.load() == due_now);
  CHECK(garbled.load() == 0);
  CHECK(clock.timer_count() == 0);
}

TEST_CASE("LiveClock destruction stops the runner: no callback runs afterwards") {
  std::atomic<int> ticks{0};
  std::atomic<bool> in_callback{false};
  {
    LiveClock clock;
    clock.set_timer("fast", 100us, std::nullopt, std::nullopt, [&](const TimeEvent&) {
      in_callback.store(true);
      ticks.fetch_add(1);
      in_callback.store(false);
    });
    clock.start_runner();
    yield_until(clock, [&] { return ticks.load() >= 3; });
    CHECK(ticks.load() >= 3);
  }  // ~LiveClock joins the runner here
  CHECK_FALSE(in_callback.load());
  const int after = ticks.load();
  for (int i = 0; i < 1000; ++i) std::this_thread::yield();
  CHECK(ticks.load() == after);
}

TEST_CASE("LiveClock's runner stops on a throwing callback and stop_runner rethrows it") {
  LiveClock clock;
  std::mutex m;
  std::condition_variable cv;
  bool thrown = false;
  clock.set_time_alert("bad", clock.now(), [&](const TimeEvent&) {
    {
      std::lock_guard lock{m};
      thrown = true;
    }
    cv.notify_all();
    throw std::runtime_error("callback failed");
  });
  clock.start_runner();
  CHECK(wait_for(m, cv, [&] { return thrown; }));
  CHECK_THROWS_WITH(clock.stop_runner(), "callback failed");
}

TEST_CASE("LiveClock::poll propagates a throwing callback and keeps the timer") {
  LiveClock clock;
  int calls = 0;
  clock.set_timer("flaky", 1h, clock.now() - 2h - 30min, std::nullopt, [&](const TimeEvent&) {
    if (++calls == 1) throw std::runtime_error("first call fails");
  });
  CHECK_THROWS_WITH(clock.poll(), "first call fails");
  (void)clock.poll();  // the second missed tick, with the callback handed back
  CHECK(calls == 2);
  CHECK(clock.has_timer("flaky"));
}
