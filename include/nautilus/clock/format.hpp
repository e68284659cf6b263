// nautilus-clock: {fmt} formatting for time points and durations.
//
//   fmt::format("{}", t)             -> "2024-03-01T14:30:00.000000123Z"  (RFC 3339, UTC, 9 digits)
//   fmt::format("{:.3}", t)          -> "2024-03-01T14:30:00.000Z"        (0 to 9 digits, truncated)
//   fmt::format("{}", 1500ns)        -> "1500ns"                          ({fmt}'s own, exact)
//   fmt::format("{}", readable(d))   -> "1.5us", "2h3m4.000000005s"       (human scale)
//   fmt::format("{:>8}", readable(d)) -> "   1.5us"                        (aligned, for tables)
//   fmt::format("{}", event)         -> "TimeEvent(bars-1m #3 ts_event=2024-03-01T14:31:00.000000000Z
//                                        ts_init=2024-03-01T14:31:00.000000000Z lateness=0s missed=0)"
//
// Include this header in every translation unit that formats a `unix_nanos` (the umbrella
// `nautilus/clock.hpp` does). Why: `unix_nanos` is a `std::chrono::sys_time`, and {fmt} 9's own
// formatter for it prints *local* time to the second. The specialisation below replaces it, and
// C++ requires an explicit specialisation to be visible wherever it is used.
#pragma once

#include <algorithm>  // std::copy
#include <array>      // std::array
#include <chrono>     // std::chrono::nanoseconds
#include <cstdint>    // std::int64_t
#include <cstddef>    // std::size_t

#include <fmt/chrono.h>  // fmt::formatter for std::chrono durations; declared before ours below
#include <fmt/format.h>  // fmt::formatter, fmt::format_parse_context

#include "nautilus/clock/time.hpp"    // unix_nanos, format_iso8601_to
#include "nautilus/clock/timers.hpp"  // TimeEvent

namespace nautilus {

// A duration to be formatted at a human scale, in the style of Go's `Duration.String`:
//   0 -> "0s", 999ns -> "999ns", 1500ns -> "1.5us", 1'500'000ns -> "1.5ms",
//   90s -> "1m30s", 3'723'000'000'005ns -> "1h2m3.000000005s", -1500ns -> "-1.5us".
// Exact: no digit is rounded away. `nanoseconds::min()` is formatted correctly too.
struct readable_duration {
  std::chrono::nanoseconds value;
};

[[nodiscard]] constexpr readable_duration readable(std::chrono::nanoseconds d) noexcept { return {d}; }

namespace detail {

// Writes `whole` then, if `fraction` (of `scale` units, scale a power of ten) is non-zero, a point
// and its digits without trailing zeros. Returns one past the last char.
inline char* write_decimal(char* out, std::uint64_t whole, std::uint64_t fraction, std::uint64_t scale) noexcept {
  std::array<char, 20> digits{};
  std::size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + whole % 10);
    whole /= 10;
  } while (whole != 0);
  while (n != 0) *out++ = digits[--n];
  if (fraction != 0) {
    *out++ = '.';
    for (std::uint64_t unit = scale / 10; unit != 0 && fraction != 0; unit /= 10) {
      *out++ = static_cast<char>('0' + fraction / unit);
      fraction %= unit;
    }
  }
  return out;
}

// Longest output: "-2562047h47m16.854775808s" (25 chars).
inline char* write_readable(char* out, std::chrono::nanoseconds d) noexcept {
  const std::int64_t count = d.count();
  // Magnitude as unsigned so that INT64_MIN has one: 0 - (unsigned)x is defined modular arithmetic.
  const std::uint64_t mag = count < 0 ? 0 - static_cast<std::uint64_t>(count) : static_cast<std::uint64_t>(count);
  if (mag == 0) {
    *out++ = '0';
    *out++ = 's';
    return out;
  }
  if (count < 0) *out++ = '-';
  constexpr std::uint64_t us = 1'000;
  constexpr std::uint64_t ms = 1'000'000;
  constexpr std::uint64_t s = 1'000'000'000;
  if (mag < us) {
    out = write_decimal(out, mag, 0, 1);
    *out++ = 'n';
    *out++ = 's';
  } else if (mag < ms) {
    out = write_decimal(out, mag / us, mag % us, us);
    *out++ = 'u';
    *out++ = 's';
  } else if (mag < s) {
    out = write_decimal(out, mag / ms, mag % ms, ms);
    *out++ = 'm';
    *out++ = 's';
  } else {
    const std::uint64_t total_seconds = mag / s;
    const std::uint64_t hours = total_seconds / 3600;
    const std::uint64_t minutes = total_seconds / 60 % 60;
    if (hours != 0) {
      out = write_decimal(out, hours, 0, 1);
      *out++ = 'h';
    }
    if (hours != 0 || minutes != 0) {
      out = write_decimal(out, minutes, 0, 1);
      *out++ = 'm';
    }
    out = write_decimal(out, total_seconds % 60, mag % s, s);
    *out++ = 's';
  }
  return out;
}

}  // namespace detail
}  // namespace nautilus

// `{}` or `{:.N}` with N in 0..9 fractional digits, optionally after a string's fill, align and
// width: `{:>32.3}`, `{:*<31}`. Any other spec is a format error (at compile time when the format
// string is a literal).
template <>
struct fmt::formatter<nautilus::unix_nanos, char> {
  int fractional_digits = 9;
  char fill = ' ';
  char align = '<';
  std::size_t width = 0;

  constexpr auto parse(fmt::format_parse_context& ctx) -> fmt::format_parse_context::iterator {
    auto it = ctx.begin();
    const auto end = ctx.end();
    auto is_align = [](char c) { return c == '<' || c == '>' || c == '^'; };
    if (it != end && it + 1 != end && is_align(*(it + 1)) && *it != '}') {
      fill = *it;
      align = *(it + 1);
      it += 2;
    } else if (it != end && is_align(*it)) {
      align = *it;
      ++it;
    }
    while (it != end && *it >= '0' && *it <= '9') {
      width = width * 10 + static_cast<std::size_t>(*it - '0');
      ++it;
    }
    if (it != end && *it == '.') {
      ++it;
      if (it == end || *it < '0' || *it > '9') {
        throw fmt::format_error("unix_nanos: expected a digit 0-9 after '.' in the format spec");
      }
      fractional_digits = *it - '0';
      ++it;
    }
    if (it != end && *it != '}') {
      throw fmt::format_error("unix_nanos: the format spec is [[fill]align][width][.N], N in 0..9");
    }
    return it;
  }

  template <class FormatContext>
  auto format(nautilus::unix_nanos t, FormatContext& ctx) const -> decltype(ctx.out()) {
    std::array<char, nautilus::iso8601_max_length> buffer{};
    char* last = nautilus::format_iso8601_to(buffer.data(), t, fractional_digits);
    const auto size = static_cast<std::size_t>(last - buffer.data());
    const std::size_t pad = width > size ? width - size : 0;
    const std::size_t before = align == '>' ? pad : align == '^' ? pad / 2 : 0;
    auto out = ctx.out();
    for (std::size_t i = 0; i < before; ++i) *out++ = fill;
    out = std::copy(buffer.data(), last, out);
    for (std::size_t i = before; i < pad; ++i) *out++ = fill;
    return out;
  }
};

// `{}`, or the fill, align and width of a string (`{:>8}`, `{:*<10}`), for tables.
template <>
struct fmt::formatter<nautilus::readable_duration, char> : fmt::formatter<fmt::string_view, char> {
  template <class FormatContext>
  auto format(nautilus::readable_duration d, FormatContext& ctx) const -> decltype(ctx.out()) {
    std::array<char, 32> buffer{};
    char* last = nautilus::detail::write_readable(buffer.data(), d.value);
    return fmt::formatter<fmt::string_view, char>::format(
        fmt::string_view(buffer.data(), static_cast<std::size_t>(last - buffer.data())), ctx);
  }
};

// `{}` only: one line with every field of the event.
template <>
struct fmt::formatter<nautilus::TimeEvent, char> {
  constexpr auto parse(fmt::format_parse_context& ctx) -> fmt::format_parse_context::iterator {
    auto it = ctx.begin();
    if (it != ctx.end() && *it != '}') throw fmt::format_error("TimeEvent: takes no format spec");
    return it;
  }

  template <class FormatContext>
  auto format(const nautilus::TimeEvent& e, FormatContext& ctx) const -> decltype(ctx.out()) {
    return fmt::format_to(ctx.out(), "TimeEvent({} #{} ts_event={} ts_init={} lateness={} missed={})",
                          e.name.empty() ? "(anonymous)" : e.name, e.id, e.ts_event, e.ts_init,
                          nautilus::readable(e.lateness), e.missed);
  }
};
