// Example: Asio timers on virtual time. A session written against `asio::basic_waitable_timer`
// waits for an order ack (with a timeout), heartbeats every 25 minutes and closes after 1 hour.
// Under a `TestClock` the hour passes in about a millisecond of real time, and the output is the
// same on every run except for its real-time figures.
//
// Three parts make it work:
//  1. The timers' clock is `nautilus::bound_steady_clock<>`, a static `std::chrono` clock that reads
//     whichever clock is bound to it; a `scoped_clock_binding` binds the `TestClock` for `main`.
//  2. `nautilus::bound_wait_traits` tell the `io_context` how much real time to wait for a timer:
//     none, under virtual time. (With Asio's default traits, the epoll reactor would arm its timerfd
//     for real minutes and not even look at its timers when polled.)
//  3. A driving loop moves virtual time to the next expiry, then `io.poll()` completes what fell due.
//
// Where the next expiry comes from. Asio keeps its timers in a private heap and has no public query
// for the earliest expiry (chriskohlhoff/asio#430, open; the workaround there reads the reactor's
// timeout through `asio::detail`, which is not API and, with the wait traits above, is always
// zero). Stepping blindly (advance 1ms, poll, repeat) would cost 3.6 million polls for this hour
// and complete each timer up to a step late. Instead, every arm of an Asio timer also sets an alert
// for the same instant on the `TestClock`, and every cancel cancels it: the `TestClock`'s timer
// queue is the schedule of record, and `advance_to_next()` moves exactly to the earliest expiry.
// The pairing lives in one small class, `virtual_timer`, so no call site can do one without the
// other. It is checked at the end: the `io_context` must have run out of work, so an Asio timer
// armed behind the mirror's back is reported, not silently left waiting forever.
//
// Real elapsed time is read from `nautilus::LiveClock`, like every other clock read in this project.
#include <nautilus/clock/chrono.hpp>
#include <nautilus/clock/format.hpp>
#include <nautilus/clock/live_clock.hpp>
#include <nautilus/clock/test_clock.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <system_error>
#include <utility>

#include <fmt/core.h>
#include <asio/basic_waitable_timer.hpp>
#include <asio/io_context.hpp>

namespace {

using steady = nautilus::bound_steady_clock<>;
using realtime = nautilus::bound_system_clock<>;
using asio_timer = asio::basic_waitable_timer<steady, nautilus::bound_wait_traits<steady>>;

// An Asio timer whose expiry is mirrored as an alert on the `TestClock` that drives virtual time.
class virtual_timer {
 public:
  virtual_timer(asio::io_context& io, nautilus::TestClock& clock, std::string name)
      : timer_(io), clock_(clock), name_(std::move(name)) {}

  // Arms the timer to expire `delay` from now; `handler(error)` runs from `io.poll()` when it
  // expires (no error) or is cancelled (`asio::error::operation_aborted`). Re-arming replaces the
  // previous expiry, in Asio (which aborts the pending wait) and in the mirror alike.
  void wait_for(std::chrono::nanoseconds delay, std::function<void(const std::error_code&)> handler) {
    clock_.cancel_timer(alert_);
    timer_.expires_after(delay);
    // The alert only marks the instant for `advance_to_next()`; the work is the Asio handler's.
    alert_ = clock_.set_time_alert(name_, clock_.now() + delay, [](const nautilus::TimeEvent&) {});
    timer_.async_wait(std::move(handler));
  }

  void cancel() {
    timer_.cancel();
    clock_.cancel_timer(alert_);
  }

  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  asio_timer timer_;
  nautilus::TestClock& clock_;
  std::string name_;
  nautilus::TimerHandle alert_;
};

}  // namespace

int main() {
  using namespace std::chrono_literals;

  nautilus::TestClock clock{nautilus::parse_iso8601("2024-03-01T14:30:00Z")};
  // steady:: and realtime:: now read `clock`. Declared before the io_context, so it outlives
  // every read Asio makes.
  const nautilus::scoped_clock_binding<> binding{clock};
  const nautilus::LiveClock host;  // for the real-time column only
  const std::int64_t real_start_ns = host.monotonic_ns();
  const steady::time_point start = steady::now();

  fmt::print("virtual start {}: a 1h session timer, an order ack and its timeout, a heartbeat\n\n",
             realtime::now());
  fmt::print("{:<14} {:<10} {:<31} {:<10} {}\n", "timer", "outcome", "virtual time", "elapsed",
             "real elapsed");
  auto report = [&](const virtual_timer& timer, const std::error_code& error) {
    const std::chrono::nanoseconds real{host.monotonic_ns() - real_start_ns};
    fmt::print("{:<14} {:<10} {:<31} {:<10} {}\n", timer.name(), error ? "cancelled" : "expired",
               realtime::now(), fmt::format("+{}", nautilus::readable(steady::now() - start)),
               nautilus::readable(real));
  };

  asio::io_context io;
  virtual_timer session_close{io, clock, "session close"};
  virtual_timer heartbeat{io, clock, "heartbeat"};
  virtual_timer ack{io, clock, "venue ack"};
  virtual_timer ack_timeout{io, clock, "ack timeout"};

  // An order goes out now. The simulated venue acks it after 250ms, inside the 5s timeout, so the
  // ack's handler cancels the timeout.
  ack_timeout.wait_for(5s, [&](const std::error_code& error) { report(ack_timeout, error); });
  ack.wait_for(250ms, [&](const std::error_code& error) {
    report(ack, error);
    ack_timeout.cancel();
  });

  // A heartbeat every 25 minutes, re-armed by its own handler until it is cancelled.
  std::function<void(const std::error_code&)> on_heartbeat = [&](const std::error_code& error) {
    report(heartbeat, error);
    if (!error) heartbeat.wait_for(25min, on_heartbeat);
  };
  heartbeat.wait_for(25min, on_heartbeat);

  // The session closes after 1 hour, and stops the heartbeat.
  session_close.wait_for(1h, [&](const std::error_code& error) {
    report(session_close, error);
    heartbeat.cancel();
  });

  // The driving loop: jump to the earliest expiry (the TestClock knows it through the mirror), then
  // let Asio complete every wait whose expiry `steady::now()` has reached. `poll()` never blocks.
  io.poll();
  std::size_t moves = 0;
  while (clock.advance_to_next()) {
    ++moves;
    io.poll();
  }

  if (!io.stopped()) {
    fmt::print(stderr, "asio still has work that no TestClock alert mirrors: it would wait forever\n");
    return 1;
  }
  const std::chrono::nanoseconds real{host.monotonic_ns() - real_start_ns};
  fmt::print("\n{} of virtual time in {} of real time, in {} moves of the TestClock\n",
             nautilus::readable(steady::now() - start), nautilus::readable(real), moves);
  return 0;
}
