// nautilus-clock: the umbrella header. Includes the whole core; include single headers from
// `nautilus/clock/` instead to pay only for what you use.
#pragma once

#include "nautilus/clock/any_clock.hpp"   // IWYU pragma: export
#include "nautilus/clock/concepts.hpp"    // IWYU pragma: export
#include "nautilus/clock/format.hpp"      // IWYU pragma: export
#include "nautilus/clock/health.hpp"      // IWYU pragma: export
#include "nautilus/clock/live_clock.hpp"  // IWYU pragma: export
#include "nautilus/clock/record_replay.hpp"  // IWYU pragma: export
#include "nautilus/clock/test_clock.hpp"  // IWYU pragma: export
#include "nautilus/clock/time.hpp"        // IWYU pragma: export
#include "nautilus/clock/timers.hpp"      // IWYU pragma: export
#include "nautilus/clock/tsc_clock.hpp"   // IWYU pragma: export
