// A stand-in for the macOS SDK's <mach/mach_time.h>, declaring only what nautilus-clock calls, so
// that the Apple code paths can be compiled (not run) on Linux: see tests/CMakeLists.txt.
#pragma once
#include <cstdint>
extern "C" std::uint64_t mach_absolute_time(void);
