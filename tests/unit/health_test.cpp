#include <nautilus/clock/detail/platform.hpp>
#include <nautilus/clock/health.hpp>

#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <string>

using namespace std::chrono_literals;
using nautilus::KernelTimex;
using nautilus::SyncState;
using nautilus::Verdict;

namespace {
constexpr int sta_pll = 0x0001, sta_unsync = 0x0040, sta_nano = 0x2000;
}

TEST_CASE("interpret_kernel_timex reads the kernel's units") {
  SECTION("a synchronised clock, microsecond offsets") {
    const auto h = nautilus::interpret_kernel_timex(
        KernelTimex{.state = 0, .status = sta_pll, .offset = -12, .freq = 3 * 65536 + 32768, .maxerror_us = 40, .esterror_us = 2});
    CHECK(h.state == SyncState::synchronised);
    CHECK(h.maximum_error == 40us);
    CHECK(h.estimated_error == 2us);
    CHECK(h.offset == -12us);
    CHECK(h.frequency_ppm == Approx(3.5));
    CHECK(h.leap == nautilus::LeapSecond::none);
    CHECK(h.source == "adjtimex");
  }
  SECTION("STA_NANO: the offset is in nanoseconds") {
    const auto h = nautilus::interpret_kernel_timex(KernelTimex{.status = sta_pll | sta_nano, .offset = 1500});
    CHECK(h.offset == 1500ns);
  }
  SECTION("STA_UNSYNC or TIME_ERROR: unsynchronised") {
    CHECK(nautilus::interpret_kernel_timex(KernelTimex{.status = sta_unsync}).state == SyncState::unsynchronised);
    CHECK(nautilus::interpret_kernel_timex(KernelTimex{.state = 5, .status = sta_pll}).state ==
          SyncState::unsynchronised);
  }
  SECTION("leap seconds") {
    CHECK(nautilus::interpret_kernel_timex(KernelTimex{.state = 1}).leap == nautilus::LeapSecond::insert);
    CHECK(nautilus::interpret_kernel_timex(KernelTimex{.state = 2}).leap == nautilus::LeapSecond::remove);
    CHECK(nautilus::interpret_kernel_timex(KernelTimex{.state = 3}).leap == nautilus::LeapSecond::in_progress);
    CHECK(nautilus::interpret_kernel_timex(KernelTimex{.state = 4}).leap == nautilus::LeapSecond::none);
  }
  SECTION("values the kernel never returns are errors, naming them") {
    CHECK_THROWS_WITH(nautilus::interpret_kernel_timex(KernelTimex{.state = 9}), Catch::Contains("unknown state 9"));
    CHECK_THROWS_WITH(nautilus::interpret_kernel_timex(KernelTimex{.maxerror_us = -1}),
                      Catch::Contains("negative error") && Catch::Contains("maxerror -1 us"));
  }
}

TEST_CASE("check_health: the maximum error decides, against 100 us by default") {
  const auto synced = [](std::int64_t max_us, std::int64_t est_us) {
    return nautilus::interpret_kernel_timex(KernelTimex{.status = sta_pll, .maxerror_us = max_us, .esterror_us = est_us});
  };
  SECTION("within") {
    const auto check = nautilus::check_health(synced(100, 3));
    CHECK(check.verdict == Verdict::within_tolerance);
    CHECK(check.ok());
    CHECK(check.tolerance == nautilus::mifid2_hft_tolerance);
    CHECK(check.explanation == "within tolerance: maximum error 100.000 us, estimated 3.000 us, within the 100.000 us tolerance");
  }
  SECTION("beyond: a good estimate does not save a bad bound") {
    const auto check = nautilus::check_health(synced(101, 1));
    CHECK(check.verdict == Verdict::outside_tolerance);
    CHECK_FALSE(check.ok());
    CHECK(check.explanation == "outside tolerance: maximum error 101.000 us, estimated 1.000 us, beyond the 100.000 us tolerance");
  }
  SECTION("a tolerance of the caller's choosing") {
    CHECK(nautilus::check_health(synced(900, 10), 1ms).ok());
    CHECK(nautilus::check_health(synced(900, 10), 1500ns).verdict == Verdict::outside_tolerance);
  }
  SECTION("unsynchronised: no bound") {
    const auto check =
        nautilus::check_health(nautilus::interpret_kernel_timex(KernelTimex{.status = sta_unsync, .maxerror_us = 5}));
    CHECK(check.verdict == Verdict::unsynchronised);
    CHECK(check.explanation.find("unsynchronised") == 0);
  }
  SECTION("unknown stays unknown") {
    nautilus::ClockHealth unknown;
    unknown.source = "not available on this platform";
    const auto check = nautilus::check_health(unknown);
    CHECK(check.verdict == Verdict::unknown);
    CHECK(check.explanation == "unknown: not available on this platform");
  }
  SECTION("a tolerance that is not positive is an error") {
    CHECK_THROWS_WITH(nautilus::check_health(synced(1, 1), 0ns), Catch::Contains("tolerance must be positive, got 0ns"));
  }
}

#if defined(NAUTILUS_CLOCK_OS_LINUX)
TEST_CASE("read_clock_health asks this host's kernel") {
  const nautilus::ClockHealth h = nautilus::read_clock_health();
  INFO(nautilus::to_string(h.state) << ", clocksource " << h.clocksource << ": " << nautilus::check_health(h).explanation);
  CHECK(h.state != SyncState::unknown);
  CHECK(h.source == "adjtimex");
  REQUIRE(h.maximum_error.has_value());
  REQUIRE(h.estimated_error.has_value());
  CHECK(*h.maximum_error >= 0ns);
  CHECK(*h.estimated_error >= 0ns);
  CHECK_FALSE(h.clocksource.empty());
}

TEST_CASE("read_clock_health: a failing kernel call is a clear error") {
  const auto failing = [](::timex&) {
    errno = EPERM;
    return -1;
  };
  CHECK_THROWS_WITH(nautilus::read_clock_health(failing),
                    Catch::Contains("adjtimex failed") && Catch::Contains("errno " + std::to_string(EPERM)));
  // A stand-in that answers: its values go through the same interpretation.
  const auto answering = [](::timex& t) {
    t.status = sta_pll;
    t.maxerror = 250;
    t.esterror = 7;
    return 0;
  };
  const auto h = nautilus::read_clock_health(answering);
  CHECK(h.state == SyncState::synchronised);
  CHECK(nautilus::check_health(h).verdict == Verdict::outside_tolerance);
}
#endif
