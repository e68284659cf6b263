// nautilus-clock: `LiveClock`, the host's clocks.
#pragma once

#include <chrono>   // std::chrono::steady_clock, system_clock
#include <cstdint>  // std::int64_t

#include "nautilus/clock/detail/platform.hpp"
#include "nautilus/clock/time.hpp"  // unix_nanos

#if defined(NAUTILUS_CLOCK_HAS_CLOCK_GETTIME)
#include <time.h>  // clock_gettime, CLOCK_REALTIME (POSIX, not in <ctime>)
#endif

namespace nautilus {

// Reads the host's clocks:
// - realtime from the system clock (`CLOCK_REALTIME`, nanoseconds on every POSIX host; plain
//   `std::chrono::system_clock` elsewhere). It follows NTP, so it can step backwards;
// - monotonic from `std::chrono::steady_clock` (`CLOCK_MONOTONIC` on Linux, the uptime clock on
//   macOS), which never decreases.
// Stateless and cheap to copy: the reads cost what the vDSO costs (~16-20 ns on x86-64 Linux).
// Thread-safe.
class LiveClock {
 public:
  // Realtime UTC now.
  [[nodiscard]] unix_nanos now() const noexcept { return from_unix_ns(now_ns()); }

  // Realtime UTC now, in nanoseconds since the Unix epoch.
  [[nodiscard]] std::int64_t now_ns() const noexcept {
#if defined(NAUTILUS_CLOCK_HAS_CLOCK_GETTIME)
    ::timespec ts{};
    // Cannot fail: CLOCK_REALTIME is always supported and `ts` is a valid address.
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
#else
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
#endif
  }

  // Monotonic nanoseconds from an unspecified origin (boot, on Linux).
  [[nodiscard]] std::int64_t monotonic_ns() const noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace nautilus
