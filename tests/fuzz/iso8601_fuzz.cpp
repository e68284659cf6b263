// libFuzzer target for parse_iso8601. Beyond "no crash, no UB" it checks properties:
// - anything accepted formats back to text that parses to the same time (round trip);
// - with N fractional digits the formatted time is the input floored to 10^(9-N) ns (which,
//   within 10^(9-N) ns of unix_nanos_min, is before the range and must then be rejected);
// - anything rejected is rejected with a clock_error that names the parser.
#include <nautilus/clock/time.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  nautilus::unix_nanos t{};
  try {
    t = nautilus::parse_iso8601(text);
  } catch (const nautilus::clock_error& e) {
    if (std::string_view(e.what()).find("parse_iso8601: ") != 0) std::abort();
    return 0;
  }
  if (nautilus::parse_iso8601(nautilus::format_iso8601(t)) != t) std::abort();
  std::int64_t unit = 1;
  for (int digits = 9; digits >= 0; --digits, unit *= 10) {
    const std::string text_out = nautilus::format_iso8601(t, digits);
    nautilus::unix_nanos back{};
    try {
      back = nautilus::parse_iso8601(text_out);
    } catch (const nautilus::clock_error&) {
      // Only truncation below unix_nanos_min may name an unrepresentable time (documented).
      if (nautilus::to_unix_ns(t) - nautilus::to_unix_ns(nautilus::unix_nanos_min) >= unit) std::abort();
      continue;
    }
    const std::int64_t lost = nautilus::to_unix_ns(t) - nautilus::to_unix_ns(back);
    if (lost < 0 || lost >= unit) std::abort();
  }
  return 0;
}
