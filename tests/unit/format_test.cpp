// Specification of nautilus/clock/format.hpp: the {fmt} formatters for unix_nanos (RFC 3339, UTC)
// and for readable(duration) (a human scale, exact). Results are compared as strings only.
#include "nautilus/clock/format.hpp"

#include <catch2/catch.hpp>

#include <array>        // std::array of expected texts
#include <chrono>       // sys_days, durations, year/month/day
#include <cstddef>      // std::size_t
#include <iterator>     // std::back_inserter
#include <string>       // std::string
#include <string_view>  // std::string_view

using namespace std::chrono_literals;

namespace {

using std::chrono::nanoseconds;

// 2024-03-01T14:30:00.123456789Z, a time with all nine fractional digits distinct and non-zero.
constexpr nautilus::unix_nanos sample_time =
    std::chrono::sys_days{std::chrono::year{2024} / 3 / 1} + 14h + 30min + 123'456'789ns;

}  // namespace

TEST_CASE("fmt formats unix_nanos as RFC 3339 in UTC with nine fractional digits") {
  SECTION("the header's example") {
    const nautilus::unix_nanos t =
        std::chrono::sys_days{std::chrono::year{2024} / 3 / 1} + 14h + 30min + 123ns;
    REQUIRE(fmt::format("{}", t) == "2024-03-01T14:30:00.000000123Z");
  }
  SECTION("UTC with a 'Z', not {fmt}'s own local time to the second") {
    REQUIRE(fmt::format("{}", sample_time) == "2024-03-01T14:30:00.123456789Z");
    REQUIRE(fmt::format("{}", nautilus::unix_epoch) == "1970-01-01T00:00:00.000000000Z");
  }
  SECTION("before 1970 and at both ends of the range") {
    REQUIRE(fmt::format("{}", nautilus::from_unix_ns(-1)) == "1969-12-31T23:59:59.999999999Z");
    REQUIRE(fmt::format("{}", nautilus::unix_nanos_min) == "1677-09-21T00:12:43.145224192Z");
    REQUIRE(fmt::format("{}", nautilus::unix_nanos_max) == "2262-04-11T23:47:16.854775807Z");
  }
  SECTION("inside a larger format string, with fmt::format_to and with a runtime format string") {
    REQUIRE(fmt::format("at [{}] and [{}]", sample_time, nautilus::unix_epoch) ==
            "at [2024-03-01T14:30:00.123456789Z] and [1970-01-01T00:00:00.000000000Z]");
    std::string out;
    fmt::format_to(std::back_inserter(out), "{}", sample_time);
    REQUIRE(out == "2024-03-01T14:30:00.123456789Z");
    REQUIRE(fmt::format(fmt::runtime("{}"), sample_time) == "2024-03-01T14:30:00.123456789Z");
  }
}

TEST_CASE("fmt formats unix_nanos with {:.N} as N fractional digits, truncated toward the past") {
  SECTION("each N from 0 to 9") {
    constexpr std::array<std::string_view, 10> expected = {
        "2024-03-01T14:30:00Z",           "2024-03-01T14:30:00.1Z",       "2024-03-01T14:30:00.12Z",
        "2024-03-01T14:30:00.123Z",       "2024-03-01T14:30:00.1234Z",    "2024-03-01T14:30:00.12345Z",
        "2024-03-01T14:30:00.123456Z",    "2024-03-01T14:30:00.1234567Z", "2024-03-01T14:30:00.12345678Z",
        "2024-03-01T14:30:00.123456789Z",
    };
    REQUIRE(fmt::format("{:.0}", sample_time) == expected[0]);
    REQUIRE(fmt::format("{:.1}", sample_time) == expected[1]);
    REQUIRE(fmt::format("{:.2}", sample_time) == expected[2]);
    REQUIRE(fmt::format("{:.3}", sample_time) == expected[3]);
    REQUIRE(fmt::format("{:.4}", sample_time) == expected[4]);
    REQUIRE(fmt::format("{:.5}", sample_time) == expected[5]);
    REQUIRE(fmt::format("{:.6}", sample_time) == expected[6]);
    REQUIRE(fmt::format("{:.7}", sample_time) == expected[7]);
    REQUIRE(fmt::format("{:.8}", sample_time) == expected[8]);
    REQUIRE(fmt::format("{:.9}", sample_time) == expected[9]);
    for (std::size_t digits = 0; digits <= 9; ++digits) {
      CAPTURE(digits);
      REQUIRE(fmt::format(fmt::runtime("{:." + std::to_string(digits) + "}"), sample_time) ==
              expected[digits]);
    }
  }
  SECTION("truncation never rounds up, before 1970 either") {
    REQUIRE(fmt::format("{:.3}", nautilus::from_unix_ns(999'999'999)) == "1970-01-01T00:00:00.999Z");
    REQUIRE(fmt::format("{:.0}", nautilus::from_unix_ns(-1)) == "1969-12-31T23:59:59Z");
    REQUIRE(fmt::format("{:.3}", nautilus::from_unix_ns(-1)) == "1969-12-31T23:59:59.999Z");
    REQUIRE(fmt::format("{:.0}", nautilus::unix_nanos_min) == "1677-09-21T00:12:43Z");
  }
}

TEST_CASE("fmt rejects a unix_nanos format spec other than [[fill]align][width][.N] with format_error") {
  for (const char* spec : {"{:x}", "{:.}", "{:.a}", "{:.10}", "{:.3x}", "{:>40x}", "{:%Y}", "{:<<x}"}) {
    CAPTURE(spec);
    REQUIRE_THROWS_AS(fmt::format(fmt::runtime(spec), sample_time), fmt::format_error);
  }
}

TEST_CASE("fmt still formats a plain std::chrono duration with its own unit suffix") {
  REQUIRE(fmt::format("{}", 1500ns) == "1500ns");
  REQUIRE(fmt::format("{}", nanoseconds{-1}) == "-1ns");
  REQUIRE(fmt::format("{}", 90s) == "90s");
}

TEST_CASE("readable formats a duration at a human scale without rounding any digit away") {
  const auto readable = [](nanoseconds d) { return fmt::format("{}", nautilus::readable(d)); };

  SECTION("zero is 0s") { REQUIRE(readable(0ns) == "0s"); }
  SECTION("below a microsecond: whole nanoseconds") {
    REQUIRE(readable(1ns) == "1ns");
    REQUIRE(readable(999ns) == "999ns");
  }
  SECTION("below a millisecond: microseconds with an exact fraction") {
    REQUIRE(readable(1us) == "1us");
    REQUIRE(readable(1500ns) == "1.5us");
    REQUIRE(readable(1001ns) == "1.001us");
    REQUIRE(readable(999'999ns) == "999.999us");
  }
  SECTION("below a second: milliseconds with an exact fraction") {
    REQUIRE(readable(1ms) == "1ms");
    REQUIRE(readable(1'000'001ns) == "1.000001ms");
    REQUIRE(readable(1'500'000ns) == "1.5ms");
    REQUIRE(readable(999'999'999ns) == "999.999999ms");
  }
  SECTION("a second and more: hours, minutes and seconds, as Go's Duration.String") {
    REQUIRE(readable(1s) == "1s");
    REQUIRE(readable(1'500ms) == "1.5s");
    REQUIRE(readable(59s) == "59s");
    REQUIRE(readable(60s) == "1m0s");
    REQUIRE(readable(90s) == "1m30s");
    REQUIRE(readable(3600s) == "1h0m0s");
    REQUIRE(readable(3'723'000'000'005ns) == "1h2m3.000000005s");
    REQUIRE(readable(48h) == "48h0m0s");
  }
  SECTION("the largest duration") { REQUIRE(readable(nanoseconds::max()) == "2562047h47m16.854775807s"); }
}

TEST_CASE("readable formats a negative duration with a leading minus, nanoseconds::min() included") {
  const auto readable = [](nanoseconds d) { return fmt::format("{}", nautilus::readable(d)); };

  REQUIRE(readable(-1ns) == "-1ns");
  REQUIRE(readable(-999ns) == "-999ns");
  REQUIRE(readable(-1500ns) == "-1.5us");
  REQUIRE(readable(-1'500'000ns) == "-1.5ms");
  REQUIRE(readable(-90s) == "-1m30s");
  REQUIRE(readable(-3'723'000'000'005ns) == "-1h2m3.000000005s");
  REQUIRE(readable(nanoseconds::min()) == "-2562047h47m16.854775808s");
  REQUIRE(readable(-nanoseconds::max()) == "-2562047h47m16.854775807s");
}

TEST_CASE("readable takes a string's fill, align and width, and rejects other specs") {
  REQUIRE(fmt::format(fmt::runtime("{}"), nautilus::readable(1500ns)) == "1.5us");
  CHECK(fmt::format("{:>8}", nautilus::readable(1500ns)) == "   1.5us");
  CHECK(fmt::format("{:*<8}", nautilus::readable(1500ns)) == "1.5us***");
  CHECK(fmt::format("{:^7}", nautilus::readable(1s)) == "  1s   ");
  CHECK(fmt::format("{:3}", nautilus::readable(1500ns)) == "1.5us");  // a width never truncates
  for (const char* spec : {"{:x}", "{:d}", "{:%H}"}) {
    CAPTURE(spec);
    REQUIRE_THROWS_AS(fmt::format(fmt::runtime(spec), nautilus::readable(1500ns)), fmt::format_error);
  }
}

TEST_CASE("fmt formats a TimeEvent on one line with every field") {
  nautilus::TimeEvent e;
  e.name = "bars-1m";
  e.id = 3;
  e.ts_event = nautilus::parse_iso8601("2024-03-01T14:31:00Z");
  e.ts_init = e.ts_event + 1500ns;
  e.lateness = 1500ns;
  e.missed = 2;
  CHECK(fmt::format("{}", e) ==
        "TimeEvent(bars-1m #3 ts_event=2024-03-01T14:31:00.000000000Z ts_init=2024-03-01T14:31:00.000001500Z "
        "lateness=1.5us missed=2)");
  e.name.clear();
  CHECK(fmt::format("{}", e).rfind("TimeEvent((anonymous) #3", 0) == 0);
  CHECK_THROWS_AS(fmt::format(fmt::runtime("{:x}"), e), fmt::format_error);
}

TEST_CASE("fmt pads a unix_nanos with a string's fill, align and width") {
  const auto t = nautilus::parse_iso8601("2024-03-01T14:31:00Z");
  CHECK(fmt::format("{:<26.0}|", t) == "2024-03-01T14:31:00Z      |");
  CHECK(fmt::format("{:>26.0}|", t) == "      2024-03-01T14:31:00Z|");
  CHECK(fmt::format("{:*^24.0}|", t) == "**2024-03-01T14:31:00Z**|");
  CHECK(fmt::format("{:10}", t) == "2024-03-01T14:31:00.000000000Z");  // a width never truncates
  CHECK(fmt::format("{:32.3}|", t) == "2024-03-01T14:31:00.000Z        |");
}
