// libFuzzer target for the clock log parser (detail/clock_log.hpp) and ReplayClock over what it
// accepts. Beyond "no crash, no UB, no unbounded allocation" it checks properties:
// - anything rejected is rejected with a clock_error that names the log and an offset;
// - anything accepted re-encodes to exactly the input (each log has one encoding);
// - with allow_truncated, a whole log parses the same, and a cut one re-encodes to the bytes of
//   its complete records;
// - a ReplayClock over an accepted log serves its readings in order, and a program that asks for
//   something else gets a divergence (clock_error), never a crash.
#include <nautilus/clock/detail/clock_log.hpp>
#include <nautilus/clock/record_replay.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using nautilus::clock_error;
using nautilus::detail::ClockLog;
using nautilus::detail::ClockLogKind;

bool parse(std::string_view bytes, bool allow_truncated, ClockLog& out) {
  try {
    out = nautilus::detail::parse_clock_log(bytes, allow_truncated);
    return true;
  } catch (const clock_error& e) {
    const std::string_view what = e.what();
    if (what.find("clock log: ") != 0 || what.find("offset ") == std::string_view::npos) std::abort();
    return false;
  }
}

// Walks the log as a program that only reads and polls would, without setting timers: readings
// must come back as recorded; anything else may diverge.
void replay(std::string_view bytes, const ClockLog& log) {
  nautilus::ReplayClock clock{bytes, {.allow_truncated = !log.complete}};
  for (const auto& record : log.records) {
    if (clock.diverged()) break;
    try {
      switch (record.kind) {
        case ClockLogKind::now_ns:
          if (clock.now_ns() != record.value && !clock.diverged()) std::abort();
          break;
        case ClockLogKind::monotonic_ns:
          if (clock.monotonic_ns() != record.value && !clock.diverged()) std::abort();
          break;
        case ClockLogKind::poll_begin: (void)clock.poll(); break;
        case ClockLogKind::taken_events: (void)clock.take_events(); break;
        default: break;  // consumed by the poll, or a firing no timer was set for
      }
    } catch (const clock_error&) {
      break;
    }
  }
  (void)clock.now_ns();
  try {
    clock.check_finished();
  } catch (const clock_error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ClockLog strict;
  const bool whole = parse(bytes, false, strict);
  if (whole && nautilus::detail::encode_clock_log(strict) != bytes) std::abort();

  ClockLog lenient;
  const bool accepted = parse(bytes, true, lenient);
  if (whole && (!accepted || !lenient.complete || lenient.records.size() != strict.records.size())) std::abort();
  if (accepted && !lenient.complete && lenient.valid_bytes > 0 &&
      nautilus::detail::encode_clock_log(lenient) != bytes.substr(0, lenient.valid_bytes)) {
    std::abort();
  }
  if (accepted) replay(bytes, lenient);
  return 0;
}
