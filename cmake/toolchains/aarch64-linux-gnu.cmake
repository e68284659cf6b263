# Linux arm64 (aarch64), cross-compiled on a Debian x86-64 machine with Debian's cross toolchain
# (g++-aarch64-linux-gnu) and run under qemu-user (qemu-aarch64). scripts/setup installs both.
# Used by the arm64 preset (CMakePresets.json); docs/portability.md says what it covers.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Debian's cross packages (libc6-dev-arm64-cross, libstdc++-12-dev-arm64-cross) install the arm64
# libc, libstdc++ and dynamic loader under this prefix rather than in a full sysroot.
set(NAUTILUS_AARCH64_PREFIX /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH "${NAUTILUS_AARCH64_PREFIX}")
# Programs (qemu, the host's tools) run on the build machine: never look for them in the target's tree.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# Libraries are machine code: only the target's, so an x86-64 library can never be linked by mistake.
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
# Headers and CMake package files: the target's first, then the build machine's. The project's
# dependencies there are header-only and architecture-independent (Catch2 v2, standalone Asio, and
# fmt in its header-only mode, which the arm64 preset selects with NAUTILUS_CLOCK_FMT_TARGET).
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# No include flags are needed for those: Debian's aarch64-linux-gnu-g++ searches /usr/include last,
# after its arm64 libstdc++ and libc directories (`aarch64-linux-gnu-g++ -E -v -x c++ /dev/null`),
# so the arm64 headers always win and only what they lack (fmt/, catch2/, asio.hpp) comes from
# there. CMake counts /usr/include as implicit and never passes it as -isystem, which would put the
# x86-64 libc headers ahead of the arm64 ones.

# Debian installs fmt's CMake package under the build machine's multiarch directory
# (/usr/lib/x86_64-linux-gnu/cmake/fmt), which a search for an aarch64 package never visits. Only
# its header-only target is usable for arm64 (fmt::fmt points at the x86-64 libfmt.so, and linking
# it fails loudly). An arm64 fmt (multiarch libfmt-dev:arm64), or fmt_DIR set by the user, wins.
if(NOT DEFINED fmt_DIR AND NOT EXISTS /usr/lib/aarch64-linux-gnu/cmake/fmt/fmt-config.cmake)
  execute_process(COMMAND g++ -print-multiarch OUTPUT_VARIABLE nautilus_host_multiarch
                  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(nautilus_host_multiarch AND EXISTS "/usr/lib/${nautilus_host_multiarch}/cmake/fmt/fmt-config.cmake")
    set(fmt_DIR "/usr/lib/${nautilus_host_multiarch}/cmake/fmt" CACHE PATH "fmt's CMake package")
  endif()
endif()

# qemu-user runs each arm64 program: ctest's tests, and catch_discover_tests listing the tests at
# build time (both read the CROSSCOMPILING_EMULATOR target property this initialises). -L points
# qemu at the arm64 dynamic loader and libraries; binfmt_misc is not needed, nor assumed.
find_program(NAUTILUS_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static
             DOC "qemu-user for aarch64 (Debian package qemu-user)")
if(NOT NAUTILUS_QEMU_AARCH64)
  message(FATAL_ERROR "qemu-aarch64 not found: install qemu-user (scripts/setup)")
endif()
set(CMAKE_CROSSCOMPILING_EMULATOR "${NAUTILUS_QEMU_AARCH64};-L;${NAUTILUS_AARCH64_PREFIX}")
