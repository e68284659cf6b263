# Builds and runs tests/consumer/project against nautilus-clock in one of three ways (MODE):
#   find_package     - `cmake --install` of MAIN_BUILD_DIR into a fresh prefix, then find_package;
#   add_subdirectory - the source tree added as a subdirectory;
#   fetch_content    - FetchContent_Declare(SOURCE_DIR ...) + FetchContent_MakeAvailable.
# Run by ctest with -P; fails on the first step that fails.
cmake_minimum_required(VERSION 3.21)

function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer (${MODE}): ${step} failed (${rc})\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(config_args
  -G "${GENERATOR}"
  -D "CMAKE_CXX_COMPILER=${CXX_COMPILER}"
  -D "CMAKE_CXX_FLAGS=${CXX_FLAGS}"
  -D "CMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}"
  -D "CMAKE_BUILD_TYPE=${BUILD_TYPE}"
  -D "CONSUMER_MODE=${MODE}")

if(MODE STREQUAL "find_package")
  set(prefix "${WORK_DIR}/prefix")
  run("install" "${CMAKE_COMMAND}" --install "${MAIN_BUILD_DIR}" --prefix "${prefix}")
  if(NOT EXISTS "${prefix}/include/nautilus/clock.hpp")
    message(FATAL_ERROR "consumer (${MODE}): the install did not place include/nautilus/clock.hpp")
  endif()
  list(APPEND config_args -D "CMAKE_PREFIX_PATH=${prefix}" -D "EXPECTED_PREFIX=${prefix}")
else()
  list(APPEND config_args -D "NAUTILUS_CLOCK_SOURCE_DIR=${SOURCE_DIR}")
endif()

run("configure" "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/consumer/project" -B "${WORK_DIR}/build" ${config_args})
run("build" "${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
run("run" "${WORK_DIR}/build/consumer")
message("${last_output}")
