// nautilus-clock: time types and conversions.
//
// A point in time is `unix_nanos`: a `std::chrono::sys_time` counted in nanoseconds since the Unix
// epoch (1970-01-01T00:00:00Z), UTC, without leap seconds. Durations are `std::chrono` durations.
// Raw `std::int64_t` nanoseconds appear only at the edges (wire formats, databases), through the
// `_ns` functions below.
//
// Range. A signed 64-bit count of nanoseconds covers
//   1677-09-21T00:12:43.145224192Z ... 2262-04-11T23:47:16.854775807Z.
// Every conversion here that can leave that range checks it and throws `clock_error`; none wraps.
//
// Rounding. Conversions that lose precision round toward the past (floor), like `std::chrono::floor`,
// so a formatted or truncated time is never later than the time it came from.
#pragma once

#include <array>        // std::array for the digit tables
#include <chrono>       // sys_time, nanoseconds, year_month_day, floor
#include <concepts>     // std::integral
#include <cstddef>      // std::size_t
#include <cstdint>      // std::int64_t
#include <ctime>        // std::timespec, std::time_t
#include <limits>       // std::numeric_limits
#include <ratio>        // std::ratio_divide, std::nano
#include <stdexcept>    // std::invalid_argument
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <type_traits>  // std::conditional_t, std::is_signed_v
#include <utility>      // std::cmp_less, std::cmp_greater

#include "nautilus/clock/detail/platform.hpp"  // NAUTILUS_CLOCK_HAS_OVERFLOW_BUILTINS

namespace nautilus {

// The one exception type of the library: a bad argument, a malformed text, a value out of range, or
// a clock asked to move backwards. The message names the offending value.
class clock_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A UTC point in time with nanosecond resolution, counted from the Unix epoch.
using unix_nanos = std::chrono::sys_time<std::chrono::nanoseconds>;

// 1970-01-01T00:00:00Z.
inline constexpr unix_nanos unix_epoch{};
// 1677-09-21T00:12:43.145224192Z, the earliest representable time.
inline constexpr unix_nanos unix_nanos_min = unix_nanos::min();
// 2262-04-11T23:47:16.854775807Z, the latest representable time.
inline constexpr unix_nanos unix_nanos_max = unix_nanos::max();

// ---------------------------------------------------------------------------------------------
// Integer nanoseconds (the edge representation).

// `from_unix_ns(1'700'000'000'000'000'000)` is 2023-11-14T22:13:20Z. Every int64 is valid.
[[nodiscard]] constexpr unix_nanos from_unix_ns(std::int64_t ns) noexcept {
  return unix_nanos{std::chrono::nanoseconds{ns}};
}

// The inverse of `from_unix_ns`. Never fails.
[[nodiscard]] constexpr std::int64_t to_unix_ns(unix_nanos t) noexcept {
  return t.time_since_epoch().count();
}

namespace detail {

inline constexpr std::int64_t ns_per_second = 1'000'000'000;
inline constexpr std::int64_t seconds_per_day = 86'400;

// INT64_MAX = 9'223'372'036 s + 854'775'807 ns; INT64_MIN = -9'223'372'037 s + 145'224'192 ns.
inline constexpr std::int64_t max_whole_seconds = std::numeric_limits<std::int64_t>::max() / ns_per_second;
inline constexpr std::int64_t min_whole_seconds = -max_whole_seconds - 1;  // -9'223'372'037
static_assert(max_whole_seconds == 9'223'372'036);

// Seconds plus a sub-second part in [0, 1e9) as int64 nanoseconds, or false if out of range.
// Intermediates: for seconds in [min_whole_seconds + 1, max_whole_seconds] the product
// seconds * 1e9 stays within [-9'223'372'036e9, 9'223'372'036e9], which fits; the last second
// at each end is handled without forming the out-of-range product.
[[nodiscard]] constexpr bool combine_seconds(std::int64_t seconds, std::int64_t subsecond_ns,
                                             std::int64_t& out) noexcept {
  if (seconds > max_whole_seconds || seconds < min_whole_seconds) return false;
  if (seconds == max_whole_seconds) {
    if (subsecond_ns > std::numeric_limits<std::int64_t>::max() - seconds * ns_per_second) return false;
    out = seconds * ns_per_second + subsecond_ns;
    return true;
  }
  if (seconds == min_whole_seconds) {
    // (seconds + 1) * 1e9 fits; subtracting (1e9 - subsecond) must stay above INT64_MIN.
    const std::int64_t base = (seconds + 1) * ns_per_second;
    const std::int64_t back = ns_per_second - subsecond_ns;  // in (0, 1e9]
    if (base < std::numeric_limits<std::int64_t>::min() + back) return false;
    out = base - back;
    return true;
  }
  out = seconds * ns_per_second + subsecond_ns;
  return true;
}

// Floor division and its non-negative remainder, for splitting ns into seconds (no overflow:
// |q| <= |a|).
[[nodiscard]] constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
  const std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

[[nodiscard]] inline std::string quote_for_message(std::string_view text) {
  // Keeps messages readable and bounded for arbitrary input (the parser is fuzzed).
  constexpr std::size_t max_shown = 64;
  std::string out = "\"";
  const std::size_t shown = text.size() < max_shown ? text.size() : max_shown;
  for (std::size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      constexpr std::string_view hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4U];
      out += hex[c & 0xfU];
    }
  }
  out += '"';
  if (shown < text.size()) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

// `out = a + b` and `out = a - b` on int64, true (with `out` unspecified) if the result does not
// fit: one add and a flag test where the compiler has the builtins.
[[nodiscard]] inline bool add_overflows(std::int64_t a, std::int64_t b, std::int64_t& out) noexcept {
#if defined(NAUTILUS_CLOCK_HAS_OVERFLOW_BUILTINS)
  return __builtin_add_overflow(a, b, &out);
#else
  if ((b > 0 && a > std::numeric_limits<std::int64_t>::max() - b) ||
      (b < 0 && a < std::numeric_limits<std::int64_t>::min() - b)) {
    return true;
  }
  out = a + b;
  return false;
#endif
}

[[nodiscard]] inline bool sub_overflows(std::int64_t a, std::int64_t b, std::int64_t& out) noexcept {
#if defined(NAUTILUS_CLOCK_HAS_OVERFLOW_BUILTINS)
  return __builtin_sub_overflow(a, b, &out);
#else
  if ((b < 0 && a > std::numeric_limits<std::int64_t>::max() + b) ||
      (b > 0 && a < std::numeric_limits<std::int64_t>::min() + b)) {
    return true;
  }
  out = a - b;
  return false;
#endif
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Checked arithmetic. `unix_nanos + nanoseconds` from <chrono> wraps silently on overflow (it is
// undefined behaviour on the signed count); these throw instead.

// `t + d`, or `clock_error` naming both if the result is outside [unix_nanos_min, unix_nanos_max].
[[nodiscard]] unix_nanos checked_add(unix_nanos t, std::chrono::nanoseconds d);

// `a - b` as a duration, or `clock_error` if it does not fit in int64 nanoseconds (the two times
// are more than ~292 years apart).
[[nodiscard]] std::chrono::nanoseconds checked_sub(unix_nanos a, unix_nanos b);

// ---------------------------------------------------------------------------------------------
// std::chrono time points.

// Converts any integral `sys_time` to `unix_nanos`. Coarser units (seconds, days) are exact when
// in range; finer units (picoseconds) round toward the past. Out of range (for example
// `sys_days{2300y/1/1}`) throws `clock_error` naming the value.
//
//   to_unix_nanos(std::chrono::sys_seconds{1s}) == from_unix_ns(1'000'000'000)
//   to_unix_nanos(std::chrono::sys_days{2263y/1/1})  // throws: past 2262-04-11
template <class Rep, class Period>
  requires std::integral<Rep>
[[nodiscard]] constexpr unix_nanos to_unix_nanos(
    std::chrono::sys_time<std::chrono::duration<Rep, Period>> t) {
  using ratio = std::ratio_divide<Period, std::nano>;  // nanoseconds per tick, as num/den
  constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t min = std::numeric_limits<std::int64_t>::min();
  const Rep count = t.time_since_epoch().count();
  if constexpr (ratio::den == 1) {
    // Ticks are whole multiples of a nanosecond: the range is [min / num, max / num] ticks.
    static_assert(ratio::num <= max, "tick longer than the whole int64 nanosecond range");
    constexpr std::int64_t num = static_cast<std::int64_t>(ratio::num);
    if (std::cmp_greater(count, max / num) || std::cmp_less(count, min / num)) {
      throw clock_error("to_unix_nanos: time point " + std::to_string(count) + " ticks of " +
                        std::to_string(ratio::num) +
                        " ns is outside the int64 nanosecond range (1677-09-21 to 2262-04-11)");
    }
    return from_unix_ns(static_cast<std::int64_t>(count) * num);
  } else {
    // Finer than (or not a multiple of) a nanosecond: floor(count * num / den). Split count to
    // keep the product in range: count = q * den + r with 0 <= r < den.
    static_assert(ratio::num <= 1'000'000'000 && ratio::den <= max / 1'000'000'000,
                  "unsupported tick period");
    using wide = std::conditional_t<std::is_signed_v<Rep>, std::int64_t, std::uint64_t>;
    if (std::cmp_greater(count, std::numeric_limits<wide>::max()) ||
        std::cmp_less(count, std::numeric_limits<wide>::min())) {
      throw clock_error("to_unix_nanos: tick count " + std::to_string(count) + " does not fit in 64 bits");
    }
    constexpr std::int64_t num = static_cast<std::int64_t>(ratio::num);
    constexpr std::int64_t den = static_cast<std::int64_t>(ratio::den);
    std::int64_t q = 0;
    std::int64_t r = 0;
    if constexpr (std::is_signed_v<Rep>) {
      const auto c = static_cast<std::int64_t>(count);
      q = detail::floor_div(c, den);
      // The remainder, not c - q * den: q * den is below INT64_MIN when c is near it.
      r = c % den;
      if (r < 0) r += den;
    } else {
      const auto c = static_cast<std::uint64_t>(count);
      if (c / static_cast<std::uint64_t>(den) > static_cast<std::uint64_t>(max)) {
        throw clock_error("to_unix_nanos: tick count " + std::to_string(count) +
                          " is outside the int64 nanosecond range");
      }
      q = static_cast<std::int64_t>(c / static_cast<std::uint64_t>(den));
      r = static_cast<std::int64_t>(c % static_cast<std::uint64_t>(den));
    }
    // result = q * num + floor(r * num / den); r * num < den * 1e9 fits by the static_assert.
    const std::int64_t part = (r * num) / den;  // in [0, num)
    // min / num truncates toward zero, so for q == min / num - 1 the product q * num is below
    // INT64_MIN while the result may not be (1.5 ns ticks reach INT64_MIN this way): it is then
    // (q + 1) * num - (num - part), formed without the out-of-range product, as in combine_seconds.
    const bool low_edge = q < min / num && q + 1 == min / num;
    if (q > max / num || (q < min / num && !low_edge) || (!low_edge && q * num > max - part) ||
        (low_edge && (q + 1) * num < min + (num - part))) {
      throw clock_error("to_unix_nanos: time point " + std::to_string(count) +
                        " ticks is outside the int64 nanosecond range (1677-09-21 to 2262-04-11)");
    }
    return from_unix_ns(low_edge ? (q + 1) * num - (num - part) : q * num + part);
  }
}

// ---------------------------------------------------------------------------------------------
// POSIX timespec.

// Splits `t` into whole seconds (floor) and `tv_nsec` in [0, 999'999'999], as POSIX requires even
// before the epoch: -1ns is {tv_sec = -1, tv_nsec = 999'999'999}.
[[nodiscard]] constexpr std::timespec to_timespec(unix_nanos t) noexcept {
  const std::int64_t ns = to_unix_ns(t);
  const std::int64_t seconds = detail::floor_div(ns, detail::ns_per_second);
  // The remainder, not ns - seconds * 1e9: that product overflows for the earliest second
  // (-9'223'372'037e9 < INT64_MIN). ns % 1e9 is in (-1e9, 1e9).
  std::int64_t subsecond = ns % detail::ns_per_second;
  if (subsecond < 0) subsecond += detail::ns_per_second;
  std::timespec ts{};
  ts.tv_sec = static_cast<std::time_t>(seconds);
  ts.tv_nsec = static_cast<long>(subsecond);
  return ts;
}

// The inverse of `to_timespec`. Throws `clock_error` if `tv_nsec` is outside [0, 999'999'999] or
// the time is outside the int64 nanosecond range.
[[nodiscard]] constexpr unix_nanos from_timespec(const std::timespec& ts) {
  if (ts.tv_nsec < 0 || ts.tv_nsec >= detail::ns_per_second) {
    throw clock_error("from_timespec: tv_nsec " + std::to_string(ts.tv_nsec) +
                      " is outside [0, 999999999]");
  }
  std::int64_t ns = 0;
  if (std::cmp_greater(ts.tv_sec, std::numeric_limits<std::int64_t>::max()) ||
      std::cmp_less(ts.tv_sec, std::numeric_limits<std::int64_t>::min()) ||
      !detail::combine_seconds(static_cast<std::int64_t>(ts.tv_sec), ts.tv_nsec, ns)) {
    throw clock_error("from_timespec: {" + std::to_string(ts.tv_sec) + " s, " + std::to_string(ts.tv_nsec) +
                      " ns} is outside the int64 nanosecond range (1677-09-21 to 2262-04-11)");
  }
  return from_unix_ns(ns);
}

// ---------------------------------------------------------------------------------------------
// ISO-8601 / RFC 3339 text.

// The longest text `format_iso8601` writes: "2262-04-11T23:47:16.854775807Z".
inline constexpr std::size_t iso8601_max_length = 30;

// Writes `t` as RFC 3339 in UTC, "YYYY-MM-DDTHH:MM:SS[.f]Z", with exactly `fractional_digits`
// digits after the point (0 to 9; 0 writes no point). Truncates toward the past: with 3 digits,
// ...:00.999999999Z is written ...:00.999Z. (So with fewer than 9 digits, a time within the last
// unit after `unix_nanos_min` is written as a time before it, which `parse_iso8601` rejects:
// "1677-09-21T00:12:43.14522419Z" for `unix_nanos_min` at 8 digits.) Writes at most
// `iso8601_max_length` chars to `out`
// and returns one past the last; allocates nothing. Throws `clock_error` if `fractional_digits`
// is outside [0, 9].
char* format_iso8601_to(char* out, unix_nanos t, int fractional_digits = 9);

// As `format_iso8601_to`, into a string: format_iso8601(unix_epoch) == "1970-01-01T00:00:00.000000000Z".
[[nodiscard]] std::string format_iso8601(unix_nanos t, int fractional_digits = 9);

// Parses RFC 3339 (the ISO-8601 profile used on the wire):
//   YYYY-MM-DD ("T" | "t" | " ") hh:mm:ss [ "." 1*9DIGIT ] ( "Z" | "z" | ("+" | "-") hh:mm )
// An offset is subtracted to give UTC ("-00:00", RFC 3339's "unknown offset", reads as UTC).
// Throws `clock_error` naming the text and the 0-based offset of the first bad character for:
// a missing or extra character, a month, day, hour, minute or offset out of range (including
// February 29 in a common year), more than 9 fractional digits (they would be silently lost), and
// a leap second ":60" (Unix time has no leap seconds; the time cannot be represented). A valid
// time outside 1677-09-21T00:12:43.145224192Z..2262-04-11T23:47:16.854775807Z also throws.
[[nodiscard]] unix_nanos parse_iso8601(std::string_view text);

// ---------------------------------------------------------------------------------------------
// Implementation.

inline unix_nanos checked_add(unix_nanos t, std::chrono::nanoseconds d) {
  std::int64_t sum = 0;
  if (detail::add_overflows(to_unix_ns(t), d.count(), sum)) {
    throw clock_error("checked_add: " + format_iso8601(t) + " + " + std::to_string(d.count()) +
                      "ns is outside the int64 nanosecond range (1677-09-21 to 2262-04-11)");
  }
  return from_unix_ns(sum);
}

inline std::chrono::nanoseconds checked_sub(unix_nanos a, unix_nanos b) {
  std::int64_t difference = 0;
  if (detail::sub_overflows(to_unix_ns(a), to_unix_ns(b), difference)) {
    throw clock_error("checked_sub: " + format_iso8601(a) + " - " + format_iso8601(b) +
                      " does not fit in int64 nanoseconds");
  }
  return std::chrono::nanoseconds{difference};
}

namespace detail {

inline char* write_digits(char* out, std::int64_t value, int width) noexcept {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return out + width;
}

}  // namespace detail

inline char* format_iso8601_to(char* out, unix_nanos t, int fractional_digits) {
  if (fractional_digits < 0 || fractional_digits > 9) {
    throw clock_error("format_iso8601: fractional_digits " + std::to_string(fractional_digits) +
                      " is outside [0, 9]");
  }
  using namespace std::chrono;
  // floor<days> of any int64 ns is within +-106'752 days, well inside year_month_day's range;
  // every representable year (1677..2262) has four digits. The time of day is the remainder of
  // the count, not t - floor<days>(t): the start of day -106'752 (the day of unix_nanos_min) is
  // -9'223'372'800e9 ns, below INT64_MIN, so converting that day to nanoseconds overflows.
  constexpr std::int64_t ns_per_day = detail::seconds_per_day * detail::ns_per_second;
  const std::int64_t ns = to_unix_ns(t);
  std::int64_t in_day_ns = ns % ns_per_day;    // (-86'400e9, 86'400e9)
  if (in_day_ns < 0) in_day_ns += ns_per_day;  // [0, 86'400e9)
  const year_month_day ymd{sys_days{days{detail::floor_div(ns, ns_per_day)}}};
  const std::int64_t secs = in_day_ns / detail::ns_per_second;
  const std::int64_t frac = in_day_ns % detail::ns_per_second;
  out = detail::write_digits(out, static_cast<int>(ymd.year()), 4);
  *out++ = '-';
  out = detail::write_digits(out, static_cast<unsigned>(ymd.month()), 2);
  *out++ = '-';
  out = detail::write_digits(out, static_cast<unsigned>(ymd.day()), 2);
  *out++ = 'T';
  out = detail::write_digits(out, secs / 3600, 2);
  *out++ = ':';
  out = detail::write_digits(out, secs / 60 % 60, 2);
  *out++ = ':';
  out = detail::write_digits(out, secs % 60, 2);
  if (fractional_digits > 0) {
    *out++ = '.';
    std::int64_t scaled = frac;
    for (int i = fractional_digits; i < 9; ++i) scaled /= 10;  // truncate: floor for frac >= 0
    out = detail::write_digits(out, scaled, fractional_digits);
  }
  *out++ = 'Z';
  return out;
}

inline std::string format_iso8601(unix_nanos t, int fractional_digits) {
  std::array<char, iso8601_max_length> buffer{};
  char* end = format_iso8601_to(buffer.data(), t, fractional_digits);
  return std::string(buffer.data(), end);
}

namespace detail {

class iso8601_parser {
 public:
  explicit iso8601_parser(std::string_view text) noexcept : text_(text) {}

  unix_nanos parse() {
    using namespace std::chrono;
    const std::int64_t y = digits(4, "year");
    expect('-');
    const std::size_t month_at = pos_;
    const std::int64_t mo = digits(2, "month");
    expect('-');
    const std::size_t day_at = pos_;
    const std::int64_t d = digits(2, "day");
    if (mo < 1 || mo > 12) fail(month_at, "month " + std::to_string(mo) + " is outside 01..12");
    const year_month_day ymd{year{static_cast<int>(y)}, month{static_cast<unsigned>(mo)},
                             day{static_cast<unsigned>(d)}};
    if (!ymd.ok()) {
      fail(day_at, "day " + std::to_string(d) + " does not exist in " + std::to_string(y) + "-" +
                       (mo < 10 ? "0" : "") + std::to_string(mo));
    }
    if (at_end() || (peek() != 'T' && peek() != 't' && peek() != ' ')) {
      fail(pos_, "expected 'T' between date and time");
    }
    ++pos_;
    const std::int64_t h = bounded_digits("hour", 23);
    expect(':');
    const std::int64_t mi = bounded_digits("minute", 59);
    expect(':');
    const std::size_t second_at = pos_;
    const std::int64_t s = digits(2, "second");
    if (s == 60) {
      fail(second_at, "leap second 60 cannot be represented in Unix time (no leap seconds)");
    }
    if (s > 59) fail(second_at, "second " + std::to_string(s) + " is outside 00..59");

    std::int64_t frac = 0;
    if (!at_end() && peek() == '.') {
      ++pos_;
      const std::size_t frac_at = pos_;
      int count = 0;
      while (!at_end() && is_digit(peek())) {
        if (count == 9) fail(pos_, "more than 9 fractional digits (nanosecond precision)");
        frac = frac * 10 + (peek() - '0');
        ++count;
        ++pos_;
      }
      if (count == 0) fail(frac_at, "expected a digit after '.'");
      for (int i = count; i < 9; ++i) frac *= 10;
    }

    std::int64_t offset_seconds = 0;
    if (at_end()) fail(pos_, "expected 'Z' or a UTC offset such as +01:00");
    const char sign = peek();
    if (sign == 'Z' || sign == 'z') {
      ++pos_;
    } else if (sign == '+' || sign == '-') {
      ++pos_;
      const std::int64_t oh = bounded_digits("offset hour", 23);
      expect(':');
      const std::int64_t om = bounded_digits("offset minute", 59);
      offset_seconds = (oh * 3600 + om * 60) * (sign == '-' ? -1 : 1);
    } else {
      fail(pos_, "expected 'Z' or a UTC offset such as +01:00");
    }
    if (!at_end()) fail(pos_, "unexpected text after the time");

    // days: years 0000..9999 give |days| < 4e6, so seconds stay below 4e11: no overflow here.
    const std::int64_t day_count = sys_days{ymd}.time_since_epoch().count();
    const std::int64_t seconds = day_count * seconds_per_day + h * 3600 + mi * 60 + s - offset_seconds;
    std::int64_t ns = 0;
    if (!combine_seconds(seconds, frac, ns)) {
      throw clock_error("parse_iso8601: " + quote_for_message(text_) +
                        " is outside the representable range "
                        "1677-09-21T00:12:43.145224192Z..2262-04-11T23:47:16.854775807Z "
                        "(int64 nanoseconds)");
    }
    return from_unix_ns(ns);
  }

 private:
  [[nodiscard]] bool at_end() const noexcept { return pos_ >= text_.size(); }
  [[nodiscard]] char peek() const noexcept { return text_[pos_]; }
  [[nodiscard]] static bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

  [[noreturn]] void fail(std::size_t at, const std::string& what) const {
    throw clock_error("parse_iso8601: " + what + " at offset " + std::to_string(at) + " in " +
                      quote_for_message(text_));
  }

  void expect(char c) {
    if (at_end() || peek() != c) fail(pos_, std::string("expected '") + c + "'");
    ++pos_;
  }

  std::int64_t digits(int n, const char* field) {
    std::int64_t value = 0;
    for (int i = 0; i < n; ++i) {
      if (at_end() || !is_digit(peek())) {
        fail(pos_, std::string("expected a digit of the ") + field);
      }
      value = value * 10 + (peek() - '0');
      ++pos_;
    }
    return value;
  }

  // Two digits of `field`, at most `max` (a two-digit bound), else an error at their offset.
  std::int64_t bounded_digits(const char* field, std::int64_t max) {
    const std::size_t at = pos_;
    const std::int64_t value = digits(2, field);
    if (value > max) {
      fail(at, std::string(field) + " " + std::to_string(value) + " is outside 00.." + std::to_string(max));
    }
    return value;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace detail

inline unix_nanos parse_iso8601(std::string_view text) {
  return detail::iso8601_parser{text}.parse();
}

}  // namespace nautilus
