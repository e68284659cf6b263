// nautilus-clock: the host clock's health. Is it synchronised, and how far from UTC may it be?
//
// Regulators ask for a bound, not a hope: MiFID II RTS 25 requires high-frequency trading
// systems to stay within 100 us of UTC, with 1 us granularity. The kernel knows what its
// synchronisation daemon (chrony, ntpd, ptp4l through phc2sys) last told it, and `adjtimex(2)`
// reports it without changing anything:
//   - whether the clock is synchronised (STA_UNSYNC clear, and not the TIME_ERROR state);
//   - the maximum error: a worst-case bound that the daemon sets and the kernel grows by 500 us
//     per second (its largest frequency error) until the daemon updates it again;
//   - the estimated error: the daemon's own estimate of the current error;
//   - the offset still being slewed away, and the frequency correction in use;
//   - a pending leap second.
// `read_clock_health()` takes that snapshot; `check_health()` turns it into a verdict against a
// tolerance (100 us by default): the *maximum* error decides, because a compliance bound must hold
// in the worst case. Where the platform has no such call (macOS, for now), the state is `unknown`
// and the verdict says so; it is never guessed.
#pragma once

#include <cerrno>       // errno
#include <chrono>       // std::chrono::nanoseconds, microseconds
#include <cstdint>      // std::int64_t
#include <fstream>      // std::ifstream
#include <optional>     // std::optional
#include <string>       // std::string
#include <string_view>  // std::string_view
#include <system_error>  // std::generic_category

#include "nautilus/clock/detail/platform.hpp"
#include "nautilus/clock/time.hpp"  // clock_error

#if defined(NAUTILUS_CLOCK_OS_LINUX)
#include <sys/timex.h>  // adjtimex, struct timex, STA_*, TIME_*
#endif

namespace nautilus {

enum class SyncState : std::uint8_t {
  synchronised,    // the kernel's clock is disciplined by a synchronisation daemon
  unsynchronised,  // no daemon is disciplining it (STA_UNSYNC), or it lost sync (TIME_ERROR)
  unknown,         // this platform does not say
};

enum class LeapSecond : std::uint8_t { none, insert, remove, in_progress };

[[nodiscard]] constexpr std::string_view to_string(SyncState s) noexcept {
  switch (s) {
    case SyncState::synchronised: return "synchronised";
    case SyncState::unsynchronised: return "unsynchronised";
    case SyncState::unknown: return "unknown";
  }
  return "unknown";
}

// What the kernel's `adjtimex` returned, in its own units: the portable input of
// `interpret_kernel_timex`, so that every rule below is tested on fixed values.
struct KernelTimex {
  int state = 0;                 // the return value: TIME_OK (0) ... TIME_ERROR (5)
  int status = 0;                // STA_* bits
  std::int64_t offset = 0;       // us, or ns when STA_NANO is set
  std::int64_t freq = 0;         // ppm with a 16-bit fraction
  std::int64_t maxerror_us = 0;
  std::int64_t esterror_us = 0;
};

// A snapshot of the host clock's health.
struct ClockHealth {
  SyncState state = SyncState::unknown;
  // The kernel's worst-case bound on |host clock - UTC|, and the daemon's estimate of it.
  std::optional<std::chrono::nanoseconds> maximum_error;
  std::optional<std::chrono::nanoseconds> estimated_error;
  // The offset the kernel is still slewing away (positive: the clock is being moved forward).
  std::optional<std::chrono::nanoseconds> offset;
  // The frequency correction in use, in ppm.
  std::optional<double> frequency_ppm;
  LeapSecond leap = LeapSecond::none;
  // The kernel's clocksource ("tsc", "kvm-clock", ...): where LiveClock's reads come from.
  // Empty where not known.
  std::string clocksource;
  // Where the snapshot came from ("adjtimex"), or why there is none.
  std::string source;
};

enum class Verdict : std::uint8_t {
  within_tolerance,   // synchronised, and the maximum error is within the tolerance
  outside_tolerance,  // synchronised, but the maximum error exceeds the tolerance
  unsynchronised,     // no bound holds at all
  unknown,            // the platform does not say
};

[[nodiscard]] constexpr std::string_view to_string(Verdict v) noexcept {
  switch (v) {
    case Verdict::within_tolerance: return "within tolerance";
    case Verdict::outside_tolerance: return "outside tolerance";
    case Verdict::unsynchronised: return "unsynchronised";
    case Verdict::unknown: return "unknown";
  }
  return "unknown";
}

struct HealthCheck {
  Verdict verdict = Verdict::unknown;
  std::chrono::nanoseconds tolerance{};
  // One line for a log or an alert: the verdict and the figures behind it.
  std::string explanation;
  [[nodiscard]] bool ok() const noexcept { return verdict == Verdict::within_tolerance; }
};

// MiFID II RTS 25, table 2: high-frequency algorithmic trading, 100 us divergence from UTC.
inline constexpr std::chrono::nanoseconds mifid2_hft_tolerance = std::chrono::microseconds{100};

// Turns the kernel's answer into a `ClockHealth` (without `clocksource`). Throws `clock_error` for
// values the kernel never returns: an unknown state, a negative error.
[[nodiscard]] inline ClockHealth interpret_kernel_timex(const KernelTimex& k) {
  // The constants of <sys/timex.h>, repeated so that this function compiles (and is tested) on
  // every platform.
  constexpr int time_ok = 0, time_ins = 1, time_del = 2, time_oop = 3, time_error = 5;  // TIME_WAIT = 4
  constexpr int sta_unsync = 0x0040, sta_nano = 0x2000;
  if (k.state < time_ok || k.state > time_error) {
    throw clock_error("clock health: adjtimex returned the unknown state " + std::to_string(k.state));
  }
  if (k.maxerror_us < 0 || k.esterror_us < 0) {
    throw clock_error("clock health: adjtimex returned a negative error (maxerror " + std::to_string(k.maxerror_us) +
                      " us, esterror " + std::to_string(k.esterror_us) + " us)");
  }
  ClockHealth h;
  h.source = "adjtimex";
  const bool unsynced = (k.status & sta_unsync) != 0 || k.state == time_error;
  h.state = unsynced ? SyncState::unsynchronised : SyncState::synchronised;
  h.maximum_error = std::chrono::microseconds{k.maxerror_us};
  h.estimated_error = std::chrono::microseconds{k.esterror_us};
  h.offset = (k.status & sta_nano) != 0 ? std::chrono::nanoseconds{k.offset}
                                        : std::chrono::nanoseconds{std::chrono::microseconds{k.offset}};
  h.frequency_ppm = static_cast<double>(k.freq) / 65536.0;
  switch (k.state) {
    case time_ins: h.leap = LeapSecond::insert; break;
    case time_del: h.leap = LeapSecond::remove; break;
    case time_oop: h.leap = LeapSecond::in_progress; break;
    default: break;  // TIME_OK; TIME_WAIT (a leap second has just passed); TIME_ERROR (above)
  }
  return h;
}

namespace detail {

[[nodiscard]] inline std::string current_clocksource() {
  std::ifstream file{"/sys/devices/system/clocksource/clocksource0/current_clocksource"};
  std::string name;
  if (file) std::getline(file, name);
  return name;
}

#if defined(NAUTILUS_CLOCK_OS_LINUX)
struct Adjtimex {
  int operator()(::timex& t) const noexcept { return ::adjtimex(&t); }
};
#endif

}  // namespace detail

#if defined(NAUTILUS_CLOCK_OS_LINUX)
// Reads the host clock's health with `call` (`adjtimex` by default; a test passes a stand-in to
// exercise failures). Read-only: `modes` is zero, so it needs no privilege. Throws `clock_error`
// naming the errno if the call fails.
template <class Call = detail::Adjtimex>
[[nodiscard]] ClockHealth read_clock_health(Call call = {}) {
  ::timex t{};
  t.modes = 0;
  errno = 0;
  const int state = call(t);
  if (state == -1) {
    const int error = errno;
    // generic_category().message: strerror's text, without strerror's shared buffer.
    throw clock_error("clock health: adjtimex failed: " + std::generic_category().message(error) + " (errno " +
                      std::to_string(error) + ")");
  }
  ClockHealth h = interpret_kernel_timex(KernelTimex{state, t.status, t.offset, t.freq, t.maxerror, t.esterror});
  h.clocksource = detail::current_clocksource();
  return h;
}
#else
// No adjtimex here: the state is `unknown`, and `source` says why.
[[nodiscard]] inline ClockHealth read_clock_health() {
  ClockHealth h;
  h.source = "not available on this platform (adjtimex is Linux's)";
  return h;
}
#endif

namespace detail {
[[nodiscard]] inline std::string micros(std::chrono::nanoseconds d) {
  // "123.456 us": microsecond granularity with the nanoseconds kept, as RTS 25 reports. Appended
  // piece by piece: g++ 12 at -O3 warns falsely (-Wrestrict, GCC bug 105329) on "literal" + string.
  const std::int64_t ns = d.count();
  const std::int64_t whole = ns / 1000;
  const std::int64_t frac = ns % 1000 < 0 ? -(ns % 1000) : ns % 1000;
  std::string out;
  if (ns < 0 && whole == 0) out += '-';
  out += std::to_string(whole);
  out += '.';
  const std::string digits = std::to_string(frac);
  out.append(3 - digits.size(), '0');
  out += digits;
  out += " us";
  return out;
}
}  // namespace detail

// The verdict on `health` against `tolerance` (100 us by default, MiFID II's HFT bound). Throws
// `clock_error` for a tolerance that is not positive.
[[nodiscard]] inline HealthCheck check_health(const ClockHealth& health,
                                              std::chrono::nanoseconds tolerance = mifid2_hft_tolerance) {
  if (tolerance <= std::chrono::nanoseconds::zero()) {
    throw clock_error("check_health: the tolerance must be positive, got " + std::to_string(tolerance.count()) +
                      "ns");
  }
  HealthCheck check;
  check.tolerance = tolerance;
  const std::string limit = " the " + detail::micros(tolerance) + " tolerance";
  switch (health.state) {
    case SyncState::unknown:
      check.verdict = Verdict::unknown;
      check.explanation = "unknown: " + health.source;
      return check;
    case SyncState::unsynchronised:
      check.verdict = Verdict::unsynchronised;
      check.explanation = "unsynchronised: no daemon is disciplining the clock, so no bound holds against" + limit;
      return check;
    case SyncState::synchronised: break;
  }
  const std::chrono::nanoseconds maximum = health.maximum_error.value_or(std::chrono::nanoseconds::max());
  const std::string figures = "maximum error " + detail::micros(maximum) +
                              (health.estimated_error ? ", estimated " + detail::micros(*health.estimated_error) : "");
  if (maximum <= tolerance) {
    check.verdict = Verdict::within_tolerance;
    check.explanation = "within tolerance: " + figures + ", within" + limit;
  } else {
    check.verdict = Verdict::outside_tolerance;
    check.explanation = "outside tolerance: " + figures + ", beyond" + limit;
  }
  return check;
}

}  // namespace nautilus
