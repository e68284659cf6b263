// Specification of nautilus/clock/time.hpp: the unix_nanos conversions, checked arithmetic, POSIX
// timespec, and the RFC 3339 formatter and parser. Each TEST_CASE states one behaviour; its
// SECTIONs are the cases, including both ends of the int64 nanosecond range.
#include "nautilus/clock/time.hpp"

#include <catch2/catch.hpp>

#include <array>             // std::array for the no-allocation output buffer
#include <chrono>            // sys_days, sys_seconds, durations, year/month/day literals
#include <cstddef>           // std::size_t
#include <cstdint>           // std::int64_t, std::uint64_t, std::uint32_t
#include <ctime>             // std::timespec, std::time_t
#include <exception>         // std::exception for the message matcher
#include <initializer_list>  // std::initializer_list of int64 inputs
#include <limits>            // std::numeric_limits
#include <random>            // std::mt19937_64 for the deterministic property inputs
#include <ratio>             // std::pico, std::femto, std::ratio
#include <string>            // std::string
#include <string_view>       // std::string_view, the sv literal
#include <utility>           // std::move
#include <vector>            // std::vector of property inputs

using namespace std::chrono_literals;
using namespace std::string_view_literals;

namespace {

using nautilus::unix_nanos;
using std::chrono::nanoseconds;
using std::chrono::sys_days;
using std::chrono::sys_seconds;
using std::chrono::sys_time;

constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t int64_min = std::numeric_limits<std::int64_t>::min();

// Matches an exception whose what() contains `part`; combine with && for several parts.
class MessageContains final : public Catch::MatcherBase<std::exception> {
 public:
  explicit MessageContains(std::string part) : part_(std::move(part)) {}

  bool match(const std::exception& error) const override {
    return std::string_view(error.what()).find(part_) != std::string_view::npos;
  }

  std::string describe() const override { return "has a message containing \"" + part_ + "\""; }

 private:
  std::string part_;
};

MessageContains message_contains(std::string part) { return MessageContains(std::move(part)); }

// The message of the clock_error that `call` throws, or a test failure if it throws none.
template <class Call>
std::string clock_error_message(Call&& call) {
  try {
    static_cast<void>(call());
  } catch (const nautilus::clock_error& error) {
    return error.what();
  }
  FAIL("expected a nautilus::clock_error");
  return {};
}

// parse_iso8601(text) throws, naming the text (printable here, so quoted verbatim), the 0-based
// offset of the first bad character, and the reason.
void require_parse_error(std::string_view text, std::size_t offset, const std::string& reason) {
  INFO("text: \"" << text << "\"");
  const std::string message = clock_error_message([&] { return nautilus::parse_iso8601(text); });
  INFO("message: " << message);
  CHECK_THAT(message, Catch::Matchers::StartsWith("parse_iso8601: "));
  CHECK_THAT(message, Catch::Matchers::Contains(reason));
  CHECK_THAT(message, Catch::Matchers::Contains(" at offset " + std::to_string(offset) + " in "));
  CHECK_THAT(message, Catch::Matchers::EndsWith("\"" + std::string(text) + "\""));
}

// 2024-03-01T14:30:00.123456789Z, a time with all nine fractional digits distinct and non-zero.
constexpr unix_nanos sample_time = sys_days{std::chrono::year{2024} / 3 / 1} + 14h + 30min + 123'456'789ns;

// `ns` floored to a multiple of `unit` ns (unit > 0), or false if that is below INT64_MIN.
bool floor_to_multiple(std::int64_t ns, std::int64_t unit, std::int64_t& out) {
  std::int64_t remainder = ns % unit;
  if (remainder < 0) remainder += unit;
  if (ns < int64_min + remainder) return false;
  out = ns - remainder;
  return true;
}

std::int64_t power_of_ten(int exponent) {
  std::int64_t value = 1;
  for (int i = 0; i < exponent; ++i) value *= 10;
  return value;
}

// Whether `to_unix_nanos` accepts a `T`: it is constrained to integral sys_time.
template <class T>
concept converts_to_unix_nanos = requires(T t) {
  nautilus::to_unix_nanos(t);
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Integer nanoseconds.

TEST_CASE("from_unix_ns and to_unix_ns convert every int64 nanosecond count both ways exactly") {
  using nautilus::from_unix_ns;
  using nautilus::to_unix_ns;

  SECTION("the documented example is 2023-11-14T22:13:20Z") {
    STATIC_REQUIRE(from_unix_ns(1'700'000'000'000'000'000) ==
                   sys_days{std::chrono::year{2023} / 11 / 14} + 22h + 13min + 20s);
  }
  SECTION("zero is the Unix epoch") {
    STATIC_REQUIRE(from_unix_ns(0) == nautilus::unix_epoch);
    STATIC_REQUIRE(nautilus::unix_epoch == unix_nanos{sys_days{std::chrono::year{1970} / 1 / 1}});
  }
  SECTION("negative counts are before the epoch") {
    STATIC_REQUIRE(from_unix_ns(-1) == nautilus::unix_epoch - 1ns);
  }
  SECTION("the ends of int64 are unix_nanos_min and unix_nanos_max") {
    STATIC_REQUIRE(from_unix_ns(int64_min) == nautilus::unix_nanos_min);
    STATIC_REQUIRE(from_unix_ns(int64_max) == nautilus::unix_nanos_max);
    STATIC_REQUIRE(to_unix_ns(nautilus::unix_nanos_min) == int64_min);
    STATIC_REQUIRE(to_unix_ns(nautilus::unix_nanos_max) == int64_max);
  }
  SECTION("to_unix_ns inverts from_unix_ns") {
    for (const std::int64_t ns :
         std::initializer_list<std::int64_t>{int64_min, int64_min + 1, -1'000'000'000, -1, 0, 1,
                                             1'700'000'000'000'000'000, int64_max - 1, int64_max}) {
      CAPTURE(ns);
      REQUIRE(to_unix_ns(from_unix_ns(ns)) == ns);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Checked arithmetic.

TEST_CASE("checked_add returns t + d, or throws clock_error naming both when the sum leaves the range") {
  using nautilus::checked_add;
  using nautilus::from_unix_ns;
  using nautilus::unix_nanos_max;
  using nautilus::unix_nanos_min;

  SECTION("an in-range sum is exact, in both directions") {
    REQUIRE(checked_add(nautilus::unix_epoch, 1s) == from_unix_ns(1'000'000'000));
    REQUIRE(checked_add(nautilus::unix_epoch, -1ns) == from_unix_ns(-1));
    REQUIRE(checked_add(sample_time, 0ns) == sample_time);
  }
  SECTION("the sum may reach either end of the range exactly") {
    REQUIRE(checked_add(unix_nanos_max - 1ns, 1ns) == unix_nanos_max);
    REQUIRE(checked_add(unix_nanos_min + 1ns, -1ns) == unix_nanos_min);
    REQUIRE(checked_add(unix_nanos_max, 0ns) == unix_nanos_max);
    REQUIRE(checked_add(unix_nanos_min, 0ns) == unix_nanos_min);
  }
  SECTION("the largest durations cross the whole range without overflow") {
    REQUIRE(checked_add(unix_nanos_min, nanoseconds::max()) == from_unix_ns(-1));
    REQUIRE(checked_add(unix_nanos_max, nanoseconds::min()) == from_unix_ns(-1));
  }
  SECTION("one nanosecond past the latest time throws, naming the time and the duration") {
    REQUIRE_THROWS_MATCHES(checked_add(unix_nanos_max, 1ns), nautilus::clock_error,
                           message_contains("checked_add: ") &&
                               message_contains("2262-04-11T23:47:16.854775807Z") &&
                               message_contains(" + 1ns"));
  }
  SECTION("one nanosecond before the earliest time throws, naming the time and the duration") {
    REQUIRE_THROWS_MATCHES(checked_add(unix_nanos_min, -1ns), nautilus::clock_error,
                           message_contains("1677-09-21T00:12:43.145224192Z") && message_contains(" + -1ns"));
  }
  SECTION("a large duration from an ordinary time throws at either end") {
    REQUIRE_THROWS_MATCHES(checked_add(sample_time, nanoseconds::max()), nautilus::clock_error,
                           message_contains("2024-03-01T14:30:00.123456789Z") &&
                               message_contains(std::to_string(int64_max) + "ns"));
    REQUIRE_THROWS_MATCHES(checked_add(from_unix_ns(-1), nanoseconds::min()), nautilus::clock_error,
                           message_contains("1969-12-31T23:59:59.999999999Z") &&
                               message_contains(std::to_string(int64_min) + "ns"));
  }
}

TEST_CASE("checked_sub returns a - b, or throws clock_error naming both when it does not fit int64 ns") {
  using nautilus::checked_sub;
  using nautilus::from_unix_ns;
  using nautilus::unix_epoch;
  using nautilus::unix_nanos_max;
  using nautilus::unix_nanos_min;

  SECTION("an in-range difference is exact and signed") {
    REQUIRE(checked_sub(from_unix_ns(5), from_unix_ns(3)) == 2ns);
    REQUIRE(checked_sub(from_unix_ns(3), from_unix_ns(5)) == -2ns);
    REQUIRE(checked_sub(sample_time, sample_time) == 0ns);
  }
  SECTION("the difference may be exactly nanoseconds::max() or nanoseconds::min()") {
    REQUIRE(checked_sub(unix_nanos_max, unix_epoch) == nanoseconds::max());
    REQUIRE(checked_sub(unix_nanos_min, unix_epoch) == nanoseconds::min());
    REQUIRE(checked_sub(from_unix_ns(-1), unix_nanos_max) == nanoseconds::min());
    REQUIRE(checked_sub(unix_nanos_max, from_unix_ns(0)) == nanoseconds::max());
    REQUIRE(checked_sub(unix_epoch, unix_nanos_max) == -nanoseconds::max());
  }
  SECTION("one nanosecond beyond nanoseconds::max() throws") {
    REQUIRE_THROWS_MATCHES(checked_sub(unix_nanos_max, from_unix_ns(-1)), nautilus::clock_error,
                           message_contains("checked_sub: 2262-04-11T23:47:16.854775807Z - "
                                            "1969-12-31T23:59:59.999999999Z") &&
                               message_contains("does not fit in int64 nanoseconds"));
    REQUIRE_THROWS_MATCHES(checked_sub(unix_epoch, unix_nanos_min), nautilus::clock_error,
                           message_contains("1970-01-01T00:00:00.000000000Z - "
                                            "1677-09-21T00:12:43.145224192Z"));
  }
  SECTION("one nanosecond beyond nanoseconds::min() throws") {
    REQUIRE_THROWS_MATCHES(checked_sub(from_unix_ns(-2), unix_nanos_max), nautilus::clock_error,
                           message_contains("1969-12-31T23:59:59.999999998Z - "
                                            "2262-04-11T23:47:16.854775807Z"));
  }
  SECTION("the two ends of the range are too far apart either way") {
    REQUIRE_THROWS_AS(checked_sub(unix_nanos_max, unix_nanos_min), nautilus::clock_error);
    REQUIRE_THROWS_AS(checked_sub(unix_nanos_min, unix_nanos_max), nautilus::clock_error);
  }
}

// ---------------------------------------------------------------------------------------------
// std::chrono time points.

TEST_CASE("to_unix_nanos converts seconds, days and microseconds exactly inside the range") {
  using nautilus::from_unix_ns;
  using nautilus::to_unix_nanos;
  using std::chrono::year;

  SECTION("the documented example: one second after the epoch") {
    STATIC_REQUIRE(to_unix_nanos(sys_seconds{1s}) == from_unix_ns(1'000'000'000));
  }
  SECTION("seconds before the epoch stay negative") {
    STATIC_REQUIRE(to_unix_nanos(sys_seconds{-1s}) == from_unix_ns(-1'000'000'000));
  }
  SECTION("days are whole days of nanoseconds") {
    REQUIRE(to_unix_nanos(sys_days{year{2024} / 3 / 1}) == from_unix_ns(1'709'251'200'000'000'000));
    REQUIRE(to_unix_nanos(sys_days{year{1969} / 12 / 31}) == from_unix_ns(-86'400'000'000'000));
  }
  SECTION("microseconds and milliseconds are exact, negative ones too") {
    REQUIRE(to_unix_nanos(sys_time<std::chrono::microseconds>{-1us}) == from_unix_ns(-1'000));
    REQUIRE(to_unix_nanos(sys_time<std::chrono::microseconds>{1'500us}) == from_unix_ns(1'500'000));
    REQUIRE(to_unix_nanos(sys_time<std::chrono::milliseconds>{-1'500ms}) == from_unix_ns(-1'500'000'000));
  }
  SECTION("nanoseconds pass through, including the ends of the range") {
    REQUIRE(to_unix_nanos(nautilus::unix_nanos_min) == nautilus::unix_nanos_min);
    REQUIRE(to_unix_nanos(nautilus::unix_nanos_max) == nautilus::unix_nanos_max);
  }
  SECTION("the first and last whole days and seconds of the range are accepted") {
    // 2262-04-11 is day 106'751; 1677-09-22 is day -106'751 (1677-09-21T00:00 is before the range).
    REQUIRE(to_unix_nanos(sys_days{year{2262} / 4 / 11}) == from_unix_ns(106'751 * 86'400'000'000'000));
    REQUIRE(to_unix_nanos(sys_days{year{1677} / 9 / 22}) == from_unix_ns(-106'751 * 86'400'000'000'000));
    REQUIRE(to_unix_nanos(sys_seconds{9'223'372'036s}) == from_unix_ns(9'223'372'036'000'000'000));
    REQUIRE(to_unix_nanos(sys_seconds{-9'223'372'036s}) == from_unix_ns(-9'223'372'036'000'000'000));
  }
}

TEST_CASE("to_unix_nanos throws clock_error naming the value for a time outside the int64 ns range") {
  using nautilus::to_unix_nanos;
  using std::chrono::year;

  SECTION("a day after 2262-04-11 throws") {
    // 2263-01-01 is day 107'016.
    REQUIRE_THROWS_MATCHES(to_unix_nanos(sys_days{year{2263} / 1 / 1}), nautilus::clock_error,
                           message_contains("to_unix_nanos: time point 107016 ticks") &&
                               message_contains("outside the int64 nanosecond range"));
    REQUIRE_THROWS_MATCHES(to_unix_nanos(sys_days{year{2262} / 4 / 12}), nautilus::clock_error,
                           message_contains("106752"));
    REQUIRE_THROWS_AS(to_unix_nanos(sys_days{year{2300} / 1 / 1}), nautilus::clock_error);
  }
  SECTION("a day before 1677-09-21T00:12:43 throws") {
    // 1677-01-01 is day -107'015.
    REQUIRE_THROWS_MATCHES(to_unix_nanos(sys_days{year{1677} / 1 / 1}), nautilus::clock_error,
                           message_contains("time point -107015 ticks"));
    REQUIRE_THROWS_MATCHES(to_unix_nanos(sys_days{year{1677} / 9 / 21}), nautilus::clock_error,
                           message_contains("-106752"));
  }
  SECTION("a second past either end throws") {
    REQUIRE_THROWS_MATCHES(to_unix_nanos(sys_seconds{9'223'372'037s}), nautilus::clock_error,
                           message_contains("9223372037"));
    REQUIRE_THROWS_MATCHES(to_unix_nanos(sys_seconds{-9'223'372'037s}), nautilus::clock_error,
                           message_contains("-9223372037"));
  }
  SECTION("the extreme microsecond counts throw") {
    using micro_time = sys_time<std::chrono::microseconds>;
    REQUIRE_THROWS_AS(to_unix_nanos(micro_time::max()), nautilus::clock_error);
    REQUIRE_THROWS_AS(to_unix_nanos(micro_time::min()), nautilus::clock_error);
  }
}

TEST_CASE("to_unix_nanos floors units finer than a nanosecond toward the past") {
  using nautilus::from_unix_ns;
  using nautilus::to_unix_nanos;
  using picoseconds = std::chrono::duration<std::int64_t, std::pico>;
  using pico_time = sys_time<picoseconds>;

  SECTION("positive picoseconds drop the sub-nanosecond part") {
    REQUIRE(to_unix_nanos(pico_time{picoseconds{0}}) == from_unix_ns(0));
    REQUIRE(to_unix_nanos(pico_time{picoseconds{999}}) == from_unix_ns(0));
    REQUIRE(to_unix_nanos(pico_time{picoseconds{1'000}}) == from_unix_ns(1));
    REQUIRE(to_unix_nanos(pico_time{picoseconds{1'500}}) == from_unix_ns(1));
  }
  SECTION("negative picoseconds round to the earlier nanosecond, not toward zero") {
    REQUIRE(to_unix_nanos(pico_time{picoseconds{-1}}) == from_unix_ns(-1));
    REQUIRE(to_unix_nanos(pico_time{picoseconds{-999}}) == from_unix_ns(-1));
    REQUIRE(to_unix_nanos(pico_time{picoseconds{-1'000}}) == from_unix_ns(-1));
    REQUIRE(to_unix_nanos(pico_time{picoseconds{-1'001}}) == from_unix_ns(-2));
    REQUIRE(to_unix_nanos(pico_time{picoseconds{-1'500}}) == from_unix_ns(-2));
  }
  SECTION("the extreme picosecond counts are in range") {
    REQUIRE(to_unix_nanos(pico_time::max()) == from_unix_ns(9'223'372'036'854'775));
    REQUIRE(to_unix_nanos(pico_time::min()) == from_unix_ns(-9'223'372'036'854'776));
  }
  SECTION("a tick that is not a whole fraction of a nanosecond floors too") {
    using third_ns = std::chrono::duration<std::int64_t, std::ratio<1, 3'000'000'000>>;
    REQUIRE(to_unix_nanos(sys_time<third_ns>{third_ns{4}}) == from_unix_ns(1));
    REQUIRE(to_unix_nanos(sys_time<third_ns>{third_ns{6}}) == from_unix_ns(2));
    REQUIRE(to_unix_nanos(sys_time<third_ns>{third_ns{-1}}) == from_unix_ns(-1));
    REQUIRE(to_unix_nanos(sys_time<third_ns>{third_ns{-4}}) == from_unix_ns(-2));
  }
  SECTION("a tick of 1.5 ns reaches both ends of the range exactly, and no further") {
    // -6'148'914'691'236'517'205 ticks is -9'223'372'036'854'775'807.5 ns, which floors to INT64_MIN.
    using three_halves_ns = std::chrono::duration<std::int64_t, std::ratio<3, 2'000'000'000>>;
    using three_halves_time = sys_time<three_halves_ns>;
    REQUIRE(to_unix_nanos(three_halves_time{three_halves_ns{-1}}) == from_unix_ns(-2));
    REQUIRE(to_unix_nanos(three_halves_time{three_halves_ns{-6'148'914'691'236'517'205}}) ==
            nautilus::unix_nanos_min);
    REQUIRE(to_unix_nanos(three_halves_time{three_halves_ns{6'148'914'691'236'517'205}}) ==
            nautilus::unix_nanos_max);
    REQUIRE_THROWS_MATCHES(to_unix_nanos(three_halves_time{three_halves_ns{-6'148'914'691'236'517'206}}),
                           nautilus::clock_error, message_contains("-6148914691236517206 ticks"));
    REQUIRE_THROWS_MATCHES(to_unix_nanos(three_halves_time{three_halves_ns{6'148'914'691'236'517'206}}),
                           nautilus::clock_error, message_contains("6148914691236517206 ticks"));
  }
  SECTION("a 32-bit femtosecond count converts") {
    using femto32 = std::chrono::duration<std::int32_t, std::femto>;
    REQUIRE(to_unix_nanos(sys_time<femto32>{femto32{-1}}) == from_unix_ns(-1));
    REQUIRE(to_unix_nanos(sys_time<femto32>{femto32{2'000'000}}) == from_unix_ns(2));
  }
}

TEST_CASE("to_unix_nanos accepts unsigned tick counts and throws for those past the range") {
  using nautilus::from_unix_ns;
  using nautilus::to_unix_nanos;

  SECTION("unsigned seconds and microseconds convert exactly") {
    using useconds = std::chrono::duration<std::uint64_t>;
    using umicros = std::chrono::duration<std::uint32_t, std::micro>;
    REQUIRE(to_unix_nanos(sys_time<useconds>{useconds{1}}) == from_unix_ns(1'000'000'000));
    REQUIRE(to_unix_nanos(sys_time<umicros>{umicros{std::numeric_limits<std::uint32_t>::max()}}) ==
            from_unix_ns(4'294'967'295'000));
  }
  SECTION("an unsigned nanosecond count converts up to INT64_MAX and throws one beyond") {
    using unanos = std::chrono::duration<std::uint64_t, std::nano>;
    constexpr auto last = static_cast<std::uint64_t>(int64_max);
    REQUIRE(to_unix_nanos(sys_time<unanos>{unanos{last}}) == nautilus::unix_nanos_max);
    REQUIRE_THROWS_MATCHES(to_unix_nanos(sys_time<unanos>{unanos{last + 1}}), nautilus::clock_error,
                           message_contains("9223372036854775808"));
  }
  SECTION("the largest unsigned seconds throw") {
    using useconds = std::chrono::duration<std::uint64_t>;
    REQUIRE_THROWS_MATCHES(to_unix_nanos(sys_time<useconds>{useconds::max()}), nautilus::clock_error,
                           message_contains(std::to_string(std::numeric_limits<std::uint64_t>::max())));
  }
  SECTION("unsigned picoseconds floor and fit even at their largest") {
    using upicos = std::chrono::duration<std::uint64_t, std::pico>;
    REQUIRE(to_unix_nanos(sys_time<upicos>{upicos{1'999}}) == from_unix_ns(1));
    REQUIRE(to_unix_nanos(sys_time<upicos>{upicos::max()}) == from_unix_ns(18'446'744'073'709'551));
  }
}

TEST_CASE("to_unix_nanos compiles for integral sys_time only") {
  // Each must-not-compile case beside a twin that compiles, so a typo cannot pass.
  STATIC_REQUIRE(converts_to_unix_nanos<sys_seconds>);
  STATIC_REQUIRE_FALSE(converts_to_unix_nanos<sys_time<std::chrono::duration<double>>>);
  STATIC_REQUIRE(converts_to_unix_nanos<sys_days>);
  STATIC_REQUIRE_FALSE(converts_to_unix_nanos<std::chrono::local_days>);
  STATIC_REQUIRE_FALSE(converts_to_unix_nanos<std::int64_t>);
}

// ---------------------------------------------------------------------------------------------
// POSIX timespec.

TEST_CASE("to_timespec splits into floored seconds and tv_nsec in [0, 999999999], even before 1970") {
  using nautilus::from_unix_ns;
  using nautilus::to_timespec;

  const auto require_timespec = [](unix_nanos t, std::time_t seconds, long nanos) {
    const std::timespec ts = to_timespec(t);
    CAPTURE(nautilus::to_unix_ns(t));
    CHECK(ts.tv_sec == seconds);
    CHECK(ts.tv_nsec == nanos);
  };

  SECTION("the epoch is {0, 0}") { require_timespec(nautilus::unix_epoch, 0, 0); }
  SECTION("positive times split directly") {
    require_timespec(from_unix_ns(1), 0, 1);
    require_timespec(from_unix_ns(1'500'000'000), 1, 500'000'000);
    require_timespec(from_unix_ns(1'700'000'000'000'000'000), 1'700'000'000, 0);
  }
  SECTION("-1ns is {-1, 999999999}: seconds round down, tv_nsec stays non-negative") {
    require_timespec(from_unix_ns(-1), -1, 999'999'999);
    require_timespec(from_unix_ns(-1'000'000'000), -1, 0);
    require_timespec(from_unix_ns(-1'000'000'001), -2, 999'999'999);
    require_timespec(from_unix_ns(-1'500'000'000), -2, 500'000'000);
  }
  SECTION("the ends of the range") {
    require_timespec(nautilus::unix_nanos_max, 9'223'372'036, 854'775'807);
    require_timespec(nautilus::unix_nanos_min, -9'223'372'037, 145'224'192);
  }
  SECTION("it is usable in constant expressions") {
    STATIC_REQUIRE(to_timespec(from_unix_ns(-1)).tv_sec == -1);
    STATIC_REQUIRE(to_timespec(from_unix_ns(-1)).tv_nsec == 999'999'999);
    STATIC_REQUIRE(to_timespec(nautilus::unix_nanos_min).tv_nsec == 145'224'192);
  }
}

TEST_CASE("from_timespec inverts to_timespec and throws clock_error for a bad tv_nsec or range") {
  using nautilus::from_timespec;
  using nautilus::from_unix_ns;
  using nautilus::to_timespec;

  const auto make_timespec = [](std::time_t seconds, long nanos) {
    std::timespec ts{};
    ts.tv_sec = seconds;
    ts.tv_nsec = nanos;
    return ts;
  };

  SECTION("round-trips every representable time, including both ends") {
    for (const std::int64_t ns : std::initializer_list<std::int64_t>{
             int64_min, int64_min + 1, -1'500'000'000, -1'000'000'001, -1'000'000'000, -1, 0, 1, 999'999'999,
             1'700'000'000'123'456'789, int64_max - 1, int64_max}) {
      CAPTURE(ns);
      REQUIRE(from_timespec(to_timespec(from_unix_ns(ns))) == from_unix_ns(ns));
    }
  }
  SECTION("{-1, 999999999} is -1ns") {
    REQUIRE(from_timespec(make_timespec(-1, 999'999'999)) == from_unix_ns(-1));
  }
  SECTION("tv_nsec outside [0, 999999999] throws, naming it") {
    REQUIRE_THROWS_MATCHES(from_timespec(make_timespec(0, -1)), nautilus::clock_error,
                           message_contains("from_timespec: tv_nsec -1 is outside [0, 999999999]"));
    REQUIRE_THROWS_MATCHES(from_timespec(make_timespec(0, 1'000'000'000)), nautilus::clock_error,
                           message_contains("tv_nsec 1000000000"));
    REQUIRE_THROWS_AS(from_timespec(make_timespec(-1, -1)), nautilus::clock_error);
  }
  SECTION("one nanosecond past the latest time throws, naming the value") {
    REQUIRE_THROWS_MATCHES(from_timespec(make_timespec(9'223'372'036, 854'775'808)), nautilus::clock_error,
                           message_contains("{9223372036 s, 854775808 ns} is outside"));
    REQUIRE_THROWS_AS(from_timespec(make_timespec(9'223'372'037, 0)), nautilus::clock_error);
  }
  SECTION("one nanosecond before the earliest time throws, naming the value") {
    REQUIRE_THROWS_MATCHES(from_timespec(make_timespec(-9'223'372'037, 145'224'191)), nautilus::clock_error,
                           message_contains("{-9223372037 s, 145224191 ns} is outside"));
    REQUIRE_THROWS_AS(from_timespec(make_timespec(-9'223'372'038, 999'999'999)), nautilus::clock_error);
  }
  SECTION("the extreme time_t values throw") {
    REQUIRE_THROWS_AS(from_timespec(make_timespec(std::numeric_limits<std::time_t>::max(), 0)),
                      nautilus::clock_error);
    REQUIRE_THROWS_AS(from_timespec(make_timespec(std::numeric_limits<std::time_t>::min(), 0)),
                      nautilus::clock_error);
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting.

TEST_CASE("format_iso8601 writes RFC 3339 in UTC with 0 to 9 fractional digits, truncated toward the past") {
  using nautilus::format_iso8601;
  using nautilus::from_unix_ns;

  SECTION("the default is nine digits: the documented epoch example") {
    REQUIRE(format_iso8601(nautilus::unix_epoch) == "1970-01-01T00:00:00.000000000Z");
    REQUIRE(format_iso8601(sample_time) == "2024-03-01T14:30:00.123456789Z");
  }
  SECTION("each digit count from 0 to 9 truncates the fraction") {
    constexpr std::array<std::string_view, 10> expected = {
        "2024-03-01T14:30:00Z",           "2024-03-01T14:30:00.1Z",       "2024-03-01T14:30:00.12Z",
        "2024-03-01T14:30:00.123Z",       "2024-03-01T14:30:00.1234Z",    "2024-03-01T14:30:00.12345Z",
        "2024-03-01T14:30:00.123456Z",    "2024-03-01T14:30:00.1234567Z", "2024-03-01T14:30:00.12345678Z",
        "2024-03-01T14:30:00.123456789Z",
    };
    for (int digits = 0; digits <= 9; ++digits) {
      CAPTURE(digits);
      REQUIRE(format_iso8601(sample_time, digits) == expected[static_cast<std::size_t>(digits)]);
    }
  }
  SECTION("truncation never rounds up: :00.999999999 with 3 digits is :00.999") {
    const unix_nanos t = sys_days{std::chrono::year{2024} / 12 / 31} + 23h + 59min + 59s + 999'999'999ns;
    REQUIRE(format_iso8601(t, 3) == "2024-12-31T23:59:59.999Z");
    REQUIRE(format_iso8601(t, 0) == "2024-12-31T23:59:59Z");
  }
  SECTION("before 1970 truncation is still toward the past, not toward zero") {
    REQUIRE(format_iso8601(from_unix_ns(-1)) == "1969-12-31T23:59:59.999999999Z");
    REQUIRE(format_iso8601(from_unix_ns(-1), 3) == "1969-12-31T23:59:59.999Z");
    REQUIRE(format_iso8601(from_unix_ns(-1), 0) == "1969-12-31T23:59:59Z");
    REQUIRE(format_iso8601(from_unix_ns(-1'500'000'000), 0) == "1969-12-31T23:59:58Z");
    REQUIRE(format_iso8601(from_unix_ns(-1'500'000'000), 1) == "1969-12-31T23:59:58.5Z");
    REQUIRE(format_iso8601(from_unix_ns(-86'400'000'000'000)) == "1969-12-31T00:00:00.000000000Z");
  }
  SECTION("leap days and year ends") {
    REQUIRE(format_iso8601(sys_days{std::chrono::year{2024} / 2 / 29} + 12h, 0) == "2024-02-29T12:00:00Z");
    REQUIRE(format_iso8601(sys_days{std::chrono::year{2000} / 2 / 29}, 0) == "2000-02-29T00:00:00Z");
    REQUIRE(format_iso8601(sys_days{std::chrono::year{1900} / 3 / 1} - 1ns) ==
            "1900-02-28T23:59:59.999999999Z");
  }
  SECTION("the ends of the range are iso8601_max_length chars") {
    REQUIRE(format_iso8601(nautilus::unix_nanos_max) == "2262-04-11T23:47:16.854775807Z");
    REQUIRE(format_iso8601(nautilus::unix_nanos_min) == "1677-09-21T00:12:43.145224192Z");
    REQUIRE(format_iso8601(nautilus::unix_nanos_max).size() == nautilus::iso8601_max_length);
    REQUIRE(format_iso8601(nautilus::unix_nanos_min).size() == nautilus::iso8601_max_length);
    REQUIRE(format_iso8601(nautilus::unix_nanos_min, 0) == "1677-09-21T00:12:43Z");
    REQUIRE(format_iso8601(nautilus::unix_nanos_max, 3) == "2262-04-11T23:47:16.854Z");
  }
}

TEST_CASE("format_iso8601 throws clock_error for a fractional digit count outside 0..9") {
  for (const int digits : {-1, 10, 100, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()}) {
    CAPTURE(digits);
    REQUIRE_THROWS_MATCHES(nautilus::format_iso8601(sample_time, digits), nautilus::clock_error,
                           message_contains("format_iso8601: fractional_digits " + std::to_string(digits) +
                                            " is outside [0, 9]"));
    std::array<char, nautilus::iso8601_max_length> buffer{};
    REQUIRE_THROWS_AS(nautilus::format_iso8601_to(buffer.data(), sample_time, digits), nautilus::clock_error);
  }
}

TEST_CASE("format_iso8601_to writes exactly the returned range, at most iso8601_max_length chars") {
  constexpr char untouched = '#';
  constexpr std::size_t guard = 8;

  const auto require_written = [&](unix_nanos t, int digits) {
    CAPTURE(nautilus::to_unix_ns(t), digits);
    std::array<char, guard + nautilus::iso8601_max_length + guard> buffer{};
    buffer.fill(untouched);
    char* const first = buffer.data() + guard;
    char* const last = nautilus::format_iso8601_to(first, t, digits);
    const auto length = static_cast<std::size_t>(last - first);
    // "YYYY-MM-DDTHH:MM:SS" + ("." + digits if any) + "Z"
    const std::size_t expected_length = 20 + (digits > 0 ? static_cast<std::size_t>(digits) + 1 : 0);
    REQUIRE(length == expected_length);
    REQUIRE(length <= nautilus::iso8601_max_length);
    REQUIRE(std::string_view(first, length) == nautilus::format_iso8601(t, digits));
    for (std::size_t i = 0; i < buffer.size(); ++i) {
      const bool inside = i >= guard && i < guard + length;
      if (!inside) {
        CAPTURE(i);
        REQUIRE(buffer[i] == untouched);
      }
    }
  };

  SECTION("the default writes nine digits") {
    std::array<char, nautilus::iso8601_max_length> buffer{};
    char* const last = nautilus::format_iso8601_to(buffer.data(), sample_time);
    REQUIRE(std::string_view(buffer.data(), static_cast<std::size_t>(last - buffer.data())) ==
            "2024-03-01T14:30:00.123456789Z");
  }
  SECTION("every digit count, at both ends of the range and around the epoch") {
    for (int digits = 0; digits <= 9; ++digits) {
      for (const unix_nanos t : {nautilus::unix_nanos_min, nautilus::unix_nanos_max, nautilus::unix_epoch,
                                 nautilus::from_unix_ns(-1), sample_time}) {
        require_written(t, digits);
      }
    }
  }
  SECTION("the longest text exactly fills a buffer of iso8601_max_length") {
    std::array<char, nautilus::iso8601_max_length> buffer{};
    REQUIRE(nautilus::format_iso8601_to(buffer.data(), nautilus::unix_nanos_min) ==
            buffer.data() + buffer.size());
    REQUIRE(std::string_view(buffer.data(), buffer.size()) == "1677-09-21T00:12:43.145224192Z");
    REQUIRE(nautilus::format_iso8601_to(buffer.data(), nautilus::unix_nanos_max) ==
            buffer.data() + buffer.size());
    REQUIRE(std::string_view(buffer.data(), buffer.size()) == "2262-04-11T23:47:16.854775807Z");
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing.

TEST_CASE("parse_iso8601 accepts each RFC 3339 form") {
  using nautilus::parse_iso8601;
  const unix_nanos whole_second = sys_days{std::chrono::year{2024} / 3 / 1} + 14h + 30min;

  SECTION("'Z' and 'z' mean UTC") {
    REQUIRE(parse_iso8601("2024-03-01T14:30:00Z") == whole_second);
    REQUIRE(parse_iso8601("2024-03-01T14:30:00z") == whole_second);
  }
  SECTION("the date and time may be separated by 'T', 't' or a space") {
    REQUIRE(parse_iso8601("2024-03-01t14:30:00Z") == whole_second);
    REQUIRE(parse_iso8601("2024-03-01 14:30:00Z") == whole_second);
    REQUIRE(parse_iso8601("2024-03-01t14:30:00z") == whole_second);
  }
  SECTION("1 to 9 fractional digits scale to nanoseconds") {
    constexpr std::string_view all_digits = "123456789";
    for (std::size_t count = 1; count <= 9; ++count) {
      const std::string text = "2024-03-01T14:30:00." + std::string(all_digits.substr(0, count)) + "Z";
      std::int64_t fraction = 0;
      for (std::size_t i = 0; i < 9; ++i)
        fraction = fraction * 10 + (i < count ? static_cast<std::int64_t>(i) + 1 : 0);
      CAPTURE(text, fraction);
      REQUIRE(parse_iso8601(text) == whole_second + nanoseconds{fraction});
    }
    REQUIRE(parse_iso8601("2024-03-01T14:30:00.000000001Z") == whole_second + 1ns);
    REQUIRE(parse_iso8601("2024-03-01T14:30:00.5Z") == whole_second + 500ms);
    REQUIRE(parse_iso8601("2024-03-01T14:30:00.0Z") == whole_second);
  }
  SECTION("leap days exist in 2024 and 2000") {
    REQUIRE(parse_iso8601("2024-02-29T00:00:00Z") == unix_nanos{sys_days{std::chrono::year{2024} / 2 / 29}});
    REQUIRE(parse_iso8601("2000-02-29T23:59:59.999999999Z") ==
            sys_days{std::chrono::year{2000} / 3 / 1} - 1ns);
  }
  SECTION("times before 1970") {
    REQUIRE(parse_iso8601("1969-12-31T23:59:59.999999999Z") == nautilus::from_unix_ns(-1));
    REQUIRE(parse_iso8601("1900-01-01T00:00:00Z") == unix_nanos{sys_days{std::chrono::year{1900} / 1 / 1}});
  }
  SECTION("the edge days of the calendar") {
    REQUIRE(parse_iso8601("2024-12-31T23:59:59Z") ==
            sys_days{std::chrono::year{2024} / 12 / 31} + 23h + 59min + 59s);
    REQUIRE(parse_iso8601("2024-04-30T00:00:00Z") == unix_nanos{sys_days{std::chrono::year{2024} / 4 / 30}});
  }
}

TEST_CASE("parse_iso8601 subtracts a UTC offset to give UTC") {
  using nautilus::parse_iso8601;
  const unix_nanos expected = sys_days{std::chrono::year{2024} / 3 / 1} + 14h + 30min;

  SECTION("a positive offset is ahead of UTC") {
    REQUIRE(parse_iso8601("2024-03-01T15:30:00+01:00") == expected);
    REQUIRE(parse_iso8601("2024-03-01T20:00:00+05:30") == expected);
  }
  SECTION("a negative offset is behind UTC") {
    REQUIRE(parse_iso8601("2024-03-01T09:00:00-05:30") == expected);
    REQUIRE(parse_iso8601("2024-03-01T13:30:00-01:00") == expected);
  }
  SECTION("+00:00 and -00:00 (RFC 3339's unknown offset) read as UTC") {
    REQUIRE(parse_iso8601("2024-03-01T14:30:00+00:00") == expected);
    REQUIRE(parse_iso8601("2024-03-01T14:30:00-00:00") == expected);
  }
  SECTION("the largest offsets, +23:59 and -23:59, are accepted") {
    REQUIRE(parse_iso8601("2024-03-02T14:29:00+23:59") == expected);
    REQUIRE(parse_iso8601("2024-02-29T14:31:00-23:59") == expected);
  }
  SECTION("an offset can move the time across a day and a year") {
    REQUIRE(parse_iso8601("2024-01-01T00:30:00+01:00") ==
            sys_days{std::chrono::year{2023} / 12 / 31} + 23h + 30min);
    REQUIRE(parse_iso8601("2023-12-31T23:30:00-01:00") ==
            unix_nanos{sys_days{std::chrono::year{2024} / 1 / 1}} + 30min);
  }
  SECTION("a fraction comes before the offset") {
    REQUIRE(parse_iso8601("2024-03-01T15:30:00.5+01:00") == expected + 500ms);
  }
}

TEST_CASE("parse_iso8601 accepts exactly the representable range, to the nanosecond") {
  using nautilus::parse_iso8601;

  SECTION("the earliest and latest times parse") {
    REQUIRE(parse_iso8601("1677-09-21T00:12:43.145224192Z") == nautilus::unix_nanos_min);
    REQUIRE(parse_iso8601("2262-04-11T23:47:16.854775807Z") == nautilus::unix_nanos_max);
  }
  SECTION("the ends written with an offset parse too") {
    REQUIRE(parse_iso8601("2262-04-12T00:47:16.854775807+01:00") == nautilus::unix_nanos_max);
    REQUIRE(parse_iso8601("1677-09-20T23:12:43.145224192-01:00") == nautilus::unix_nanos_min);
  }
  SECTION("one nanosecond beyond either end throws, naming the text") {
    for (const std::string_view text :
         {"2262-04-11T23:47:16.854775808Z"sv, "1677-09-21T00:12:43.145224191Z"sv,
          "2262-04-11T22:47:16.854775808-01:00"sv, "1677-09-21T01:12:43.145224191+01:00"sv}) {
      CAPTURE(text);
      REQUIRE_THROWS_MATCHES(parse_iso8601(text), nautilus::clock_error,
                             message_contains("parse_iso8601: \"" + std::string(text) + "\"") &&
                                 message_contains("outside the representable range"));
    }
  }
  SECTION("valid times far outside the range throw") {
    for (const std::string_view text :
         {"0000-01-01T00:00:00Z"sv, "1677-09-21T00:00:00Z"sv, "2262-04-12T00:00:00Z"sv,
          "9999-12-31T23:59:59.999999999Z"sv, "9999-12-31T23:59:59-23:59"sv, "0000-01-01T00:00:00+23:59"sv}) {
      CAPTURE(text);
      REQUIRE_THROWS_MATCHES(parse_iso8601(text), nautilus::clock_error,
                             message_contains("outside the representable range"));
    }
  }
  SECTION("the earliest time with no fraction is before the range") {
    // format_iso8601(unix_nanos_min, 0) floors to a whole second that cannot be represented.
    REQUIRE_THROWS_AS(parse_iso8601(nautilus::format_iso8601(nautilus::unix_nanos_min, 0)),
                      nautilus::clock_error);
  }
}

TEST_CASE("parse_iso8601 rejects malformed text, naming it and the 0-based offset of the first bad char") {
  SECTION("an empty string fails at offset 0") { require_parse_error("", 0, "expected a digit of the year"); }
  SECTION("a non-digit in the date") {
    require_parse_error("20x4-03-01T14:30:00Z", 2, "expected a digit of the year");
    require_parse_error("+2024-03-01T14:30:00Z", 0, "expected a digit of the year");
    require_parse_error("2024/03/01T14:30:00Z", 4, "expected '-'");
    require_parse_error("2024-3-01T14:30:00Z", 6, "expected a digit of the month");
    require_parse_error("2024-03-1T14:30:00Z", 9, "expected a digit of the day");
  }
  SECTION("a missing 'T' between date and time") {
    require_parse_error("2024-03-01X14:30:00Z", 10, "expected 'T' between date and time");
    require_parse_error("2024-03-0114:30:00Z", 10, "expected 'T' between date and time");
    require_parse_error("2024-03-01_14:30:00Z", 10, "expected 'T'");
  }
  SECTION("month 13 and month 00") {
    require_parse_error("2024-13-01T14:30:00Z", 5, "month 13 is outside 01..12");
    require_parse_error("2024-00-01T14:30:00Z", 5, "month 0 is outside 01..12");
  }
  SECTION("February 29 in a common year: 2023, and 1900 (divisible by 100, not 400)") {
    require_parse_error("2023-02-29T00:00:00Z", 8, "day 29 does not exist in 2023-02");
    require_parse_error("1900-02-29T00:00:00Z", 8, "day 29 does not exist in 1900-02");
    require_parse_error("2024-02-30T00:00:00Z", 8, "day 30 does not exist in 2024-02");
  }
  SECTION("day 32, day 00 and April 31") {
    require_parse_error("2024-01-32T00:00:00Z", 8, "day 32 does not exist in 2024-01");
    require_parse_error("2024-01-00T00:00:00Z", 8, "day 0 does not exist in 2024-01");
    require_parse_error("2024-04-31T00:00:00Z", 8, "day 31 does not exist in 2024-04");
  }
  SECTION("hour 24, minute 60, second 61") {
    require_parse_error("2024-03-01T24:00:00Z", 11, "hour 24 is outside 00..23");
    require_parse_error("2024-03-01T14:60:00Z", 14, "minute 60 is outside 00..59");
    require_parse_error("2024-03-01T14:30:61Z", 17, "second 61 is outside 00..59");
    require_parse_error("2024-03-01T14:30:99Z", 17, "second 99 is outside 00..59");
  }
  SECTION("a leap second :60 cannot be represented in Unix time") {
    require_parse_error("2016-12-31T23:59:60Z", 17, "leap second 60");
    require_parse_error("2016-12-31T23:59:60.5Z", 17, "leap second 60");
  }
  SECTION("a missing ':' in the time") {
    require_parse_error("2024-03-01T1430:00Z", 13, "expected ':'");
    require_parse_error("2024-03-01T14:3:00Z", 15, "expected a digit of the minute");
  }
  SECTION("ten fractional digits fail at the tenth, which would be silently lost") {
    require_parse_error("2024-03-01T14:30:00.1234567890Z", 29, "more than 9 fractional digits");
    require_parse_error("2024-03-01T14:30:00.0000000000Z", 29, "more than 9 fractional digits");
  }
  SECTION("a '.' with no digit after it") {
    require_parse_error("2024-03-01T14:30:00.Z", 20, "expected a digit after '.'");
    require_parse_error("2024-03-01T14:30:00.+01:00", 20, "expected a digit after '.'");
  }
  SECTION("a missing or unknown zone") {
    require_parse_error("2024-03-01T14:30:00", 19, "expected 'Z' or a UTC offset such as +01:00");
    require_parse_error("2024-03-01T14:30:00.5", 21, "expected 'Z' or a UTC offset");
    require_parse_error("2024-03-01T14:30:00X", 19, "expected 'Z' or a UTC offset");
    require_parse_error("2024-03-01T14:30:00 UTC", 19, "expected 'Z' or a UTC offset");
  }
  SECTION("an offset hour 24 or offset minute 60") {
    require_parse_error("2024-03-01T14:30:00+24:00", 20, "offset hour 24 is outside 00..23");
    require_parse_error("2024-03-01T14:30:00-24:00", 20, "offset hour 24 is outside 00..23");
    require_parse_error("2024-03-01T14:30:00+01:60", 23, "offset minute 60 is outside 00..59");
  }
  SECTION("a malformed offset") {
    require_parse_error("2024-03-01T14:30:00+0100", 22, "expected ':'");
    require_parse_error("2024-03-01T14:30:00+1:00", 21, "expected a digit of the offset hour");
    require_parse_error("2024-03-01T14:30:00+01:0", 24, "expected a digit of the offset minute");
  }
  SECTION("text after the zone") {
    require_parse_error("2024-03-01T14:30:00Z ", 20, "unexpected text after the time");
    require_parse_error("2024-03-01T14:30:00Zjunk", 20, "unexpected text after the time");
    require_parse_error("2024-03-01T14:30:00ZZ", 20, "unexpected text after the time");
    require_parse_error("2024-03-01T14:30:00+01:00:00", 25, "unexpected text after the time");
  }
  SECTION("leading whitespace") {
    require_parse_error(" 2024-03-01T14:30:00Z", 0, "expected a digit of the year");
  }
}

TEST_CASE("parse_iso8601 rejects every truncation of a valid text at the offset where it ends") {
  for (const std::string_view valid : {"2024-02-29T12:34:56.789+05:30"sv, "2024-02-29T12:34:56.123456789Z"sv,
                                       "1970-01-01 00:00:00-00:00"sv}) {
    CAPTURE(valid);
    REQUIRE_NOTHROW(nautilus::parse_iso8601(valid));
    for (std::size_t length = 0; length < valid.size(); ++length) {
      CAPTURE(length);
      require_parse_error(valid.substr(0, length), length, "expected");
    }
  }
}

TEST_CASE("parse_iso8601 error messages escape control and non-ASCII bytes and bound long input") {
  using nautilus::parse_iso8601;

  SECTION("a control byte is shown as \\xNN") {
    REQUIRE_THROWS_MATCHES(
        parse_iso8601("2024-03-01\n14:30:00Z"), nautilus::clock_error,
        message_contains("at offset 10") && message_contains("in \"2024-03-01\\x0a14:30:00Z\""));
    REQUIRE_THROWS_MATCHES(
        parse_iso8601("2024-03-01T14:30:00\x7f"), nautilus::clock_error,
        message_contains("at offset 19") && message_contains("\"2024-03-01T14:30:00\\x7f\""));
  }
  SECTION("a NUL byte is shown, not taken as the end of the text") {
    REQUIRE_THROWS_MATCHES(parse_iso8601("2024-03-01T14:30:00Z\0"sv), nautilus::clock_error,
                           message_contains("unexpected text after the time at offset 20") &&
                               message_contains("\"2024-03-01T14:30:00Z\\x00\""));
  }
  SECTION("non-ASCII bytes (here UTF-8 and a stray 0xff) are shown as \\xNN") {
    REQUIRE_THROWS_MATCHES(
        parse_iso8601("2024-03-01T14:30:00\xff"), nautilus::clock_error,
        message_contains("at offset 19") && message_contains("\"2024-03-01T14:30:00\\xff\""));
    // U+2212 MINUS SIGN, e2 88 92, in place of the offset's '-'.
    REQUIRE_THROWS_MATCHES(
        parse_iso8601("2024-03-01T14:30:00\xe2\x88\x92"
                      "05:00"),
        nautilus::clock_error,
        message_contains("at offset 19") && message_contains("\"2024-03-01T14:30:00\\xe2\\x88\\x9205:00\""));
  }
  SECTION("a quote and a backslash are escaped so the quoted text stays unambiguous") {
    REQUIRE_THROWS_MATCHES(parse_iso8601("2024-03-01T14:30:00\"\\"), nautilus::clock_error,
                           message_contains("\"2024-03-01T14:30:00\\x22\\x5c\""));
  }
  SECTION("a long text is cut to its first 64 bytes and its length") {
    const std::string text = "2024-03-01T14:30:00Z" + std::string(180, 'x');  // 200 bytes
    const std::string message = clock_error_message([&] { return parse_iso8601(text); });
    CAPTURE(message);
    CHECK_THAT(message, Catch::Matchers::Contains("unexpected text after the time at offset 20"));
    CHECK_THAT(message, Catch::Matchers::EndsWith("in \"" + text.substr(0, 64) + "\"... (200 bytes)"));
    CHECK_THAT(message, !Catch::Matchers::Contains(text.substr(0, 65)));
    CHECK(message.size() < 200);
  }
  SECTION("a text of exactly 64 bytes is shown whole") {
    const std::string text = "2024-03-01T14:30:00Z" + std::string(44, 'x');
    REQUIRE(text.size() == 64);
    REQUIRE_THROWS_MATCHES(parse_iso8601(text), nautilus::clock_error,
                           message_contains("\"" + text + "\"") && !message_contains("bytes)"));
  }
  SECTION("the offset is reported when the text is cut") {
    const std::string text = "9999-12-31T23:59:59." + std::string(100, '9') + "Z";
    REQUIRE_THROWS_MATCHES(parse_iso8601(text), nautilus::clock_error,
                           message_contains("more than 9 fractional digits") &&
                               message_contains("at offset 29 in") &&
                               message_contains("... (" + std::to_string(text.size()) + " bytes)"));
  }
}

TEST_CASE("parse_iso8601 inverts format_iso8601, and N digits parse as the time floored to 10^(9-N) ns") {
  // Deterministic inputs: the ends of the range, values around the epoch, and a fixed-seed stream
  // over the whole int64 range and over a narrower range with small magnitudes.
  std::vector<std::int64_t> inputs = {
      int64_min, int64_min + 1, int64_min + 999'999'999, -1'000'000'001, -1'000'000'000, -999'999'999, -1, 0,
      1,         999'999'999,   1'000'000'000,           int64_max - 1,  int64_max};
  std::mt19937_64 generator(20240301);  // fixed seed: the same inputs on every run
  for (int i = 0; i < 3000; ++i) {
    const auto bits = static_cast<std::int64_t>(generator());  // modular conversion, well defined
    inputs.push_back(i % 3 == 2 ? bits / 1'000'000 : bits);
  }

  SECTION("nine digits round-trip exactly") {
    for (const std::int64_t ns : inputs) {
      const unix_nanos t = nautilus::from_unix_ns(ns);
      const std::string text = nautilus::format_iso8601(t);
      CAPTURE(ns, text);
      REQUIRE(nautilus::parse_iso8601(text) == t);
    }
  }
  SECTION("N digits parse as the time floored to 10^(9-N) ns, or throw if that floor is out of range") {
    for (const std::int64_t ns : inputs) {
      for (int digits = 0; digits <= 9; ++digits) {
        const std::string text = nautilus::format_iso8601(nautilus::from_unix_ns(ns), digits);
        std::int64_t floored = 0;
        if (floor_to_multiple(ns, power_of_ten(9 - digits), floored)) {
          CAPTURE(ns, digits, text);
          REQUIRE(nautilus::parse_iso8601(text) == nautilus::from_unix_ns(floored));
        } else {
          CAPTURE(ns, digits, text);
          REQUIRE_THROWS_AS(nautilus::parse_iso8601(text), nautilus::clock_error);
        }
      }
    }
  }
}
