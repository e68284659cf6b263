#include <nautilus/clock/any_clock.hpp>
#include <nautilus/clock/chrono.hpp>
#include <nautilus/clock/live_clock.hpp>
#include <nautilus/clock/test_clock.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

// The Asio cases need standalone Asio (libasio-dev, scripts/setup); the rest does not.
#if __has_include(<asio/basic_waitable_timer.hpp>)
// g++ 12 under -fsanitize=thread warns (-Wtsan) at each atomic_thread_fence, which ThreadSanitizer
// does not model, and Asio's executors use them; -Werror would make that fatal. These cases run
// each io_context on one thread, so no report can hinge on a fence.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif
#include <asio/basic_waitable_timer.hpp>  // asio::basic_waitable_timer
#include <asio/error.hpp>                 // asio::error::operation_aborted
#include <asio/io_context.hpp>            // asio::io_context
#include <system_error>                   // std::error_code
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

using namespace std::chrono_literals;
using nautilus::AnyClock;
using nautilus::bound_steady_clock;
using nautilus::bound_system_clock;
using nautilus::bound_wait_traits;
using nautilus::clock_pace;
using nautilus::LiveClock;
using nautilus::parse_iso8601;
using nautilus::scoped_clock_binding;
using nautilus::TestClock;
using nautilus::unix_nanos;

namespace {

// Each test case binds its own tag, so no case sees another's binding (Catch may run them in any
// order, and a failed REQUIRE must not leave a binding behind for the next).
struct follow_tag {};
struct nest_tag {};
struct unbound_tag {};
struct tag_a {};
struct tag_b {};
struct threads_tag {};
struct wait_tag {};
struct asio_tag {};

const unix_nanos session_open = parse_iso8601("2024-03-01T14:30:00Z");

template <class A, class B>
concept less_than_comparable = requires(const A& a, const B& b) {
  a < b;
};

}  // namespace

TEST_CASE("The chrono facades are std::chrono clocks, one per kind of time") {
  using system = bound_system_clock<>;
  using steady = bound_steady_clock<>;
  STATIC_REQUIRE(std::chrono::is_clock_v<system>);
  STATIC_REQUIRE(std::chrono::is_clock_v<steady>);
  STATIC_REQUIRE(std::is_same_v<system::duration, std::chrono::nanoseconds>);
  STATIC_REQUIRE(std::is_same_v<steady::duration, std::chrono::nanoseconds>);
  STATIC_REQUIRE(noexcept(system::now()));
  STATIC_REQUIRE(noexcept(steady::now()));

  SECTION("realtime: not steady, and its readings are unix_nanos") {
    STATIC_REQUIRE_FALSE(system::is_steady);
    STATIC_REQUIRE(std::is_same_v<system::time_point, unix_nanos>);
  }
  SECTION("monotonic: steady, on a line of its own that does not mix with realtime") {
    STATIC_REQUIRE(steady::is_steady);
    STATIC_REQUIRE(std::is_same_v<steady::time_point::clock, steady>);
    STATIC_REQUIRE_FALSE(less_than_comparable<steady::time_point, unix_nanos>);
    STATIC_REQUIRE(less_than_comparable<steady::time_point, steady::time_point>);  // the twin
  }
  SECTION("each tag is a clock of its own") {
    STATIC_REQUIRE_FALSE(less_than_comparable<bound_steady_clock<tag_a>::time_point, steady::time_point>);
    STATIC_REQUIRE(std::is_same_v<steady, bound_steady_clock<nautilus::default_chrono_tag>>);
  }
}

TEST_CASE("A chrono binding refers to its clock and says how that clock moves") {
  using binding = scoped_clock_binding<follow_tag>;
  SECTION("pace: a clock moved by hand is virtual, the host's is real") {
    STATIC_REQUIRE(nautilus::pace_of<TestClock> == clock_pace::virtual_time);
    STATIC_REQUIRE(nautilus::pace_of<LiveClock> == clock_pace::real_time);
    TestClock test;
    const binding bound_test{test};
    CHECK(bound_test.pace() == clock_pace::virtual_time);
    CHECK(bound_test.clock().refers_to(test));
    CHECK(binding::current() == &bound_test);
    const LiveClock live;
    const binding bound_live{live};
    CHECK(bound_live.pace() == clock_pace::real_time);
  }
  SECTION("an AnyClock states its pace; a temporary does not bind") {
    STATIC_REQUIRE(std::is_constructible_v<binding, const TestClock&>);  // the twin of the next two
    STATIC_REQUIRE_FALSE(std::is_constructible_v<binding, const TestClock&&>);
    STATIC_REQUIRE_FALSE(std::is_constructible_v<binding, TestClock&&>);
    STATIC_REQUIRE(std::is_constructible_v<binding, AnyClock, clock_pace>);  // the twin of the next
    STATIC_REQUIRE_FALSE(std::is_constructible_v<binding, AnyClock&>);
    TestClock test;
    const AnyClock any = test;
    const binding bound{any, clock_pace::virtual_time};
    CHECK(bound.clock().refers_to(test));
    CHECK(bound.pace() == clock_pace::virtual_time);
  }
  SECTION("not copyable or movable: the facades point at it") {
    STATIC_REQUIRE_FALSE(std::is_copy_constructible_v<binding>);
    STATIC_REQUIRE_FALSE(std::is_move_constructible_v<binding>);
    STATIC_REQUIRE_FALSE(std::is_copy_assignable_v<binding>);
    STATIC_REQUIRE_FALSE(std::is_move_assignable_v<binding>);
  }
}

TEST_CASE("The chrono facades follow the bound TestClock as it moves") {
  using system = bound_system_clock<follow_tag>;
  using steady = bound_steady_clock<follow_tag>;
  TestClock clock{session_open};
  const scoped_clock_binding<follow_tag> binding{clock};
  REQUIRE(system::is_bound());
  REQUIRE(steady::is_bound());
  CHECK(system::now() == session_open);
  CHECK(steady::now().time_since_epoch().count() == clock.monotonic_ns());
  const steady::time_point start = steady::now();

  SECTION("advance_by moves both lines") {
    clock.advance_by(1h);
    CHECK(system::now() == parse_iso8601("2024-03-01T15:30:00Z"));
    CHECK(steady::now() - start == 1h);
    clock.advance_by(1ns);
    CHECK(steady::now() - start == 1h + 1ns);
  }
  SECTION("set_time jumps both lines") {
    clock.set_time(parse_iso8601("2024-03-04T09:00:00Z"));
    CHECK(system::now() == parse_iso8601("2024-03-04T09:00:00Z"));
    CHECK(steady::now() - start == 66h + 30min);
  }
  SECTION("a realtime step moves the system facade only; the steady one does not go back") {
    clock.adjust_realtime(-2s);
    CHECK(system::now() == session_open - 2s);
    CHECK(steady::now() == start);
  }
  SECTION("a facade does not tick on its own") {
    for (int i = 0; i < 1000; ++i) REQUIRE(steady::now() == start);
  }
}

TEST_CASE("Nested chrono bindings: ending one restores the one before it") {
  using system = bound_system_clock<nest_tag>;
  using binding = scoped_clock_binding<nest_tag>;
  const TestClock backtest{parse_iso8601("2024-03-01T00:00:00Z")};
  const TestClock scenario{parse_iso8601("2030-01-01T00:00:00Z")};
  const TestClock replay{parse_iso8601("2040-01-01T00:00:00Z")};
  REQUIRE_FALSE(system::is_bound());

  SECTION("in scope order") {
    {
      const binding outer{backtest};
      CHECK(system::now() == backtest.now());
      {
        const binding inner{scenario};
        CHECK(system::now() == scenario.now());
        {
          const binding innermost{backtest};  // the same clock twice is allowed
          CHECK(system::now() == backtest.now());
          CHECK(binding::current() == &innermost);
        }
        CHECK(system::now() == scenario.now());
        CHECK(binding::current() == &inner);
      }
      CHECK(system::now() == backtest.now());
      CHECK(binding::current() == &outer);
    }
    CHECK_FALSE(system::is_bound());
  }
  SECTION("out of order: a binding that ends early is unlinked, and the others keep their places") {
    std::optional<binding> first;
    std::optional<binding> second;
    std::optional<binding> third;
    first.emplace(backtest);
    second.emplace(scenario);
    third.emplace(replay);
    second.reset();  // from the middle: the current one stays current
    CHECK(system::now() == replay.now());
    third.reset();  // ending the current one skips the one already gone
    CHECK(system::now() == backtest.now());
    first.reset();
    CHECK_FALSE(system::is_bound());
  }
  SECTION("out of order: the oldest ends first") {
    std::optional<binding> first;
    std::optional<binding> second;
    first.emplace(backtest);
    second.emplace(scenario);
    first.reset();
    CHECK(system::now() == scenario.now());
    second.reset();
    CHECK_FALSE(system::is_bound());
  }
  SECTION("made and ended on another thread") {
    const binding outer{backtest};
    bool saw_scenario = false;
    std::thread other{[&] {
      const binding on_other_thread{scenario};
      saw_scenario = system::now() == scenario.now();
    }};
    other.join();
    CHECK(saw_scenario);
    CHECK(system::now() == backtest.now());
  }
}

TEST_CASE("With nothing bound, the chrono facades read the epoch and stand still, never the host's clock") {
  using system = bound_system_clock<unbound_tag>;
  using steady = bound_steady_clock<unbound_tag>;
  CHECK_FALSE(system::is_bound());
  CHECK_FALSE(steady::is_bound());
  CHECK(scoped_clock_binding<unbound_tag>::current() == nullptr);
  CHECK(system::now() == nautilus::unix_epoch);
  CHECK(steady::now() == steady::time_point{});
  const LiveClock host;
  REQUIRE(host.now() > parse_iso8601("2020-01-01T00:00:00Z"));  // so the epoch is not the host's time
  CHECK(system::now() == nautilus::unix_epoch);

  SECTION("and again once the last binding has ended") {
    {
      const TestClock clock{session_open};
      const scoped_clock_binding<unbound_tag> binding{clock};
      CHECK(system::now() == session_open);
    }
    CHECK(system::now() == nautilus::unix_epoch);
    CHECK(steady::now() == steady::time_point{});
  }
}

TEST_CASE("Each tag has its own chrono binding") {
  const TestClock a{parse_iso8601("2024-03-01T00:00:00Z")};
  const TestClock b{parse_iso8601("2025-03-01T00:00:00Z")};
  const scoped_clock_binding<tag_a> binding_a{a};
  CHECK(bound_system_clock<tag_a>::now() == a.now());
  CHECK_FALSE(bound_system_clock<tag_b>::is_bound());
  CHECK_FALSE(bound_system_clock<>::is_bound());
  const scoped_clock_binding<tag_b> binding_b{b};
  CHECK(bound_system_clock<tag_a>::now() == a.now());
  CHECK(bound_system_clock<tag_b>::now() == b.now());
}

TEST_CASE(
    "Reads of a chrono facade from other threads are race-free while the main thread advances the clock") {
  using steady = bound_steady_clock<threads_tag>;
  using system = bound_system_clock<threads_tag>;
  constexpr int steps = 20'000;
  TestClock clock{session_open};
  const scoped_clock_binding<threads_tag> binding{clock};
  const steady::time_point start = steady::now();

  // Catch's assertions are for the main thread: each reader records, the main thread checks.
  struct Readings {
    std::int64_t reads = 0;
    std::int64_t went_back = 0;
    std::int64_t out_of_range = 0;
    std::chrono::nanoseconds last{};
  };
  std::atomic<bool> done{false};
  auto read_until_done = [&](Readings& out) {
    steady::time_point previous = steady::now();
    for (;;) {
      const bool finished = done.load(std::memory_order_acquire);  // before the read: see the end
      const steady::time_point now = steady::now();
      const unix_nanos wall = system::now();
      ++out.reads;
      if (now < previous) ++out.went_back;
      if (now - start < 0ns || now - start > steps * 1us || wall < session_open) ++out.out_of_range;
      previous = now;
      if (finished) break;
    }
    out.last = previous - start;
  };
  Readings first;
  Readings second;
  std::thread reader_1{read_until_done, std::ref(first)};
  std::thread reader_2{read_until_done, std::ref(second)};
  for (int i = 0; i < steps; ++i) clock.advance_by(1us);
  done.store(true, std::memory_order_release);
  reader_1.join();
  reader_2.join();

  for (const Readings* r : {&first, &second}) {
    CHECK(r->reads > 0);
    CHECK(r->went_back == 0);
    CHECK(r->out_of_range == 0);
    CHECK(r->last == steps * 1us);  // the read after `done` sees every advance
  }
}

TEST_CASE("The chrono wait traits wait no real time under virtual time, and the true time under real time") {
  using steady = bound_steady_clock<wait_tag>;
  using system = bound_system_clock<wait_tag>;
  using traits = bound_wait_traits<steady>;
  STATIC_REQUIRE(noexcept(traits::to_wait_duration(std::declval<const steady::duration&>())));
  STATIC_REQUIRE(noexcept(traits::to_wait_duration(std::declval<const steady::time_point&>())));

  SECTION("bound to a TestClock: zero, so the io_context looks again at once") {
    TestClock clock{session_open};
    const scoped_clock_binding<wait_tag> binding{clock};
    CHECK(traits::to_wait_duration(1h) == 0ns);
    CHECK(traits::to_wait_duration(1ns) == 0ns);
    CHECK(traits::to_wait_duration(-1s) == 0ns);
    CHECK(traits::to_wait_duration(steady::now() + 1h) == 0ns);
    CHECK(bound_wait_traits<system>::to_wait_duration(system::now() + 1h) == 0ns);
  }
  SECTION("bound to a LiveClock: the wait itself, as Asio's own traits") {
    const LiveClock live;
    const scoped_clock_binding<wait_tag> binding{live};
    CHECK(traits::to_wait_duration(1h) == 1h);
    CHECK(traits::to_wait_duration(-5ms) == -5ms);  // expired: passed through for Asio to see
    const std::chrono::nanoseconds wait = traits::to_wait_duration(steady::now() + 1h);
    CHECK(wait <= 1h);
    CHECK(wait > 59min);
  }
  SECTION("the binding's pace decides, not the clock's type") {
    TestClock clock{session_open};
    const scoped_clock_binding<wait_tag> binding{AnyClock{clock}, clock_pace::real_time};
    CHECK(traits::to_wait_duration(1h) == 1h);
    CHECK(traits::to_wait_duration(steady::now() + 1h) == 1h);  // exact: the clock does not move
  }
  SECTION("t - now saturates instead of overflowing") {
    SECTION("near the earliest time, towards the latest") {
      const TestClock clock{nautilus::unix_nanos_min + 1s};
      const scoped_clock_binding<wait_tag> binding{AnyClock{clock}, clock_pace::real_time};
      CHECK(traits::to_wait_duration(steady::time_point::max()) == std::chrono::nanoseconds::max());
      CHECK(traits::to_wait_duration(steady::time_point::min()) == -1s);
    }
    SECTION("near the latest time, towards the earliest") {
      const TestClock clock{nautilus::unix_nanos_max - 1s};
      const scoped_clock_binding<wait_tag> binding{AnyClock{clock}, clock_pace::real_time};
      CHECK(traits::to_wait_duration(steady::time_point::min()) == std::chrono::nanoseconds::min());
      CHECK(traits::to_wait_duration(steady::time_point::max()) == 1s);
    }
  }
  SECTION("nothing bound: zero (time stands still at the epoch)") {
    REQUIRE_FALSE(steady::is_bound());
    CHECK(traits::to_wait_duration(1h) == 0ns);
    CHECK(traits::to_wait_duration(steady::now() + 1h) == 0ns);
  }
}

#if __has_include(<asio/basic_waitable_timer.hpp>)

TEST_CASE("An Asio timer on the steady chrono facade expires when the TestClock reaches its expiry") {
  using steady = bound_steady_clock<asio_tag>;
  using timer_type = asio::basic_waitable_timer<steady, bound_wait_traits<steady>>;
  TestClock clock{session_open};
  const scoped_clock_binding<asio_tag> binding{clock};
  asio::io_context io;
  timer_type timer{io, 1h};
  CHECK(timer.expiry() == steady::now() + 1h);
  bool expired = false;
  std::error_code error = asio::error::would_block;
  timer.async_wait([&](const std::error_code& e) {
    expired = true;
    error = e;
  });

  SECTION("poll() after each advance: not a nanosecond early, at once when due") {
    //   virtual time:  0 ............................ 1h - 1ns   1h
    //   poll():        not expired                    not expired  expired
    io.poll();
    CHECK_FALSE(expired);
    clock.advance_by(1h - 1ns);
    io.poll();
    CHECK_FALSE(expired);
    clock.advance_by(1ns);
    io.poll();
    CHECK(expired);
    CHECK_FALSE(error);
    CHECK(io.stopped());  // out of work: nothing else was waiting
  }
  SECTION("run() returns once another thread has advanced the clock, without waiting the hour") {
    std::thread driver{[&] {
      for (int minute = 0; minute < 60; ++minute) clock.advance_by(1min);
    }};
    io.run();
    driver.join();
    CHECK(expired);
    CHECK_FALSE(error);
  }
  SECTION("cancel() completes the wait with operation_aborted, without moving time") {
    timer.cancel();
    io.poll();
    CHECK(expired);
    CHECK(error == asio::error::operation_aborted);
    CHECK(clock.now() == session_open);
  }
}

TEST_CASE("An Asio timer on the steady chrono facade waits real time when a LiveClock is bound") {
  using steady = bound_steady_clock<asio_tag>;
  const LiveClock live;
  const scoped_clock_binding<asio_tag> binding{live};
  asio::io_context io;
  const std::int64_t start_ns = live.monotonic_ns();  // before the timer takes now() + 2ms
  asio::basic_waitable_timer<steady, bound_wait_traits<steady>> timer{io, 2ms};
  bool expired = false;
  timer.async_wait([&](const std::error_code&) { expired = true; });
  io.run();
  CHECK(expired);
  CHECK(std::chrono::nanoseconds{live.monotonic_ns() - start_ns} >= 2ms);
}

#endif
