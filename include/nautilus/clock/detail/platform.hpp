// nautilus-clock: platform detection.
//
// The only header of the library that defines macros: everything else tests these, never the
// compiler's own predefined macros, so a new platform is added in one place.
#pragma once

#if defined(__linux__)
#define NAUTILUS_CLOCK_OS_LINUX 1
#elif defined(__APPLE__) && defined(__MACH__)
#define NAUTILUS_CLOCK_OS_APPLE 1
#endif

#if defined(__unix__) || defined(NAUTILUS_CLOCK_OS_APPLE)
// clock_gettime(CLOCK_REALTIME) gives nanoseconds on every POSIX system we support, whereas
// std::chrono::system_clock is microseconds on libc++ (macOS), which would lose three digits.
#define NAUTILUS_CLOCK_HAS_CLOCK_GETTIME 1
#endif

#if defined(__x86_64__) || defined(_M_X64)
#define NAUTILUS_CLOCK_ARCH_X86_64 1
#elif defined(__aarch64__) || defined(_M_ARM64)
#define NAUTILUS_CLOCK_ARCH_ARM64 1
#endif

// A CPU counter TscClock can read: rdtsc (x86-64), mach_absolute_time (Apple), cntvct_el0 (arm64),
// with g++ or clang++ (the intrinsics and inline assembly are theirs).
#if (defined(__GNUC__) || defined(__clang__)) && \
    (defined(NAUTILUS_CLOCK_ARCH_X86_64) || defined(NAUTILUS_CLOCK_ARCH_ARM64) || defined(NAUTILUS_CLOCK_OS_APPLE))
#define NAUTILUS_CLOCK_HAS_COUNTER 1
#endif

#if defined(__GNUC__) || defined(__clang__)
// A hint to fetch the cache line at `address` for reading; a no-op where unsupported.
#define NAUTILUS_CLOCK_PREFETCH(address) __builtin_prefetch(address)
// __builtin_add_overflow and __builtin_sub_overflow (detail::add_overflows in time.hpp).
#define NAUTILUS_CLOCK_HAS_OVERFLOW_BUILTINS 1
#else
#define NAUTILUS_CLOCK_PREFETCH(address) static_cast<void>(address)
#endif
