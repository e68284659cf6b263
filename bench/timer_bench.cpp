// Cost of the timer engine: `TestClock` (and `TimerQueue`, its engine) beside peers doing the same
// work in the same run. Each group's baseline is a hand-written `std::priority_queue` scheduler
// (the skip group's is the same clock firing every missed tick). Targets: research/performance-anchors.md
// section 5.
//
//   batch/<N>      schedule N one-shot alerts at now + U(1..1e6) ns, then advance past all of them (1 ms);
//                  each round draws another set of deadlines. One iteration = one alert scheduled and fired.
//   hold/<N>       N pending one-shot timers; fire the earliest, schedule its replacement at its fire
//                  time + U(1..1e6) ns (the classic hold model). One iteration = one fired timer.
//   periodic/<N>   N timers every minute, random phases, advanced a simulated minute at a time (N fires
//                  per step; a day is 1440 identical steps). One iteration = one fired event.
//   cancel/<N>     schedule N one-shot timers, then cancel half of them. One iteration = one operation
//                  (schedule or cancel); counters split the two. Peers: also libevent's and libuv's
//                  timers, where their packages are installed.
//   skip           one 1 s periodic timer, `set_time(now + 24h)` then `advance_time(now)`. One iteration
//                  = one jump; `burst` fires 86,400 ticks, `skip` and `delay` fire one.
//   tail/<N>       the hold model, each fire (with the replacement its handler schedules) timed on its
//                  own with TscClock: the median, p99, p99.9 and worst, and p99.9 over the median (the
//                  target is at most 4: no cascade spikes). One iteration = one fire.
//
// Fairness. Every peer fires in deadline order, and each event runs a handler before the next fires;
// every input (deadlines, increments, phases, cancel order) comes from fixed-seed std::mt19937_64 and is
// built outside the timed loop. A model (the queue and its N timers) is built once, outside the timed
// region, and kept across Google Benchmark's calls of the same benchmark (its state is the steady state
// being measured); building the next benchmark's model frees it first, so one model is alive at a time.
//
// Counters.
//   bytes_per_timer  heap bytes in use after building the model minus before, over N, read with glibc's
//                    mallinfo2() (malloc_zone_statistics() on macOS) (uordblks + hblkhd: live blocks with
//                    their malloc headers). Not the process RSS (page-granular, and keeps pages freed by
//                    earlier benchmarks), and not a counting operator new, which would miss Asio's per-wait
//                    operations (they come from std::aligned_alloc). Includes the vectors' growth slack, as a
//                    real program pays it.
//   bytes_per_timer_after  the same, measured after the timed loop (the steady state; the model is kept
//                    across Google Benchmark's calls, so this grows with the run if the queue's does).
//   allocs_per_fire  calls of the global operator new in the timed region, over the events fired,
//                    counted by the replacement below (a thread-local increment). Asio's operations
//                    bypass it (std::aligned_alloc), but Asio recycles them per thread anyway.
#include "ratio_reporter.hpp"

#include <nautilus/clock/test_clock.hpp>  // TestClock
#include <nautilus/clock/time.hpp>        // unix_nanos, from_unix_ns, to_unix_ns
#include <nautilus/clock/timers.hpp>      // TimerQueue, TimeEvent, TimerHandle, TimerOptions, MissedTicks
#include <nautilus/clock/tsc_clock.hpp>   // TscClock

// Asio is a system header (/usr/include), so its own warnings stay out of -Werror.
#include <asio/basic_waitable_timer.hpp>  // asio::basic_waitable_timer
#include <asio/error_code.hpp>            // asio::error_code
#include <asio/io_context.hpp>            // asio::io_context, ASIO_CONCURRENCY_HINT_UNSAFE

#include <benchmark/benchmark.h>
#if defined(NAUTILUS_CLOCK_BENCH_HAS_LIBEVENT)
#include <event2/event.h>  // event_base, evtimer_new, evtimer_add, evtimer_del
#endif
#if defined(NAUTILUS_CLOCK_BENCH_HAS_LIBUV)
#include <uv.h>  // uv_loop_t, uv_timer_t, uv_timer_start, uv_timer_stop
#endif
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>  // mallinfo2 (glibc >= 2.33)
#elif defined(__APPLE__)
#include <malloc/malloc.h>  // malloc_zone_statistics
#endif

#include <algorithm>    // std::shuffle, std::clamp
#include <chrono>       // std::chrono::nanoseconds, steady_clock
#include <compare>      // operator<=>
#include <concepts>     // std::same_as
#include <cstddef>      // std::size_t
#include <cstdint>      // std::int64_t, std::uint64_t, std::uint32_t
#include <cstdio>       // std::fprintf
#include <cstdlib>      // std::malloc, std::free, std::abort
#include <functional>   // std::greater
#include <limits>       // std::numeric_limits
#include <map>          // std::map
#include <memory>       // std::unique_ptr
#include <new>          // std::bad_alloc, std::get_new_handler
#include <numeric>      // std::iota
#include <optional>     // std::nullopt
#include <queue>        // std::priority_queue
#include <random>       // std::mt19937_64, std::uniform_int_distribution
#include <string>       // std::string, std::to_string
#include <type_traits>  // std::is_same_v
#include <unordered_map>  // std::unordered_map
#include <utility>      // std::move
#include <vector>       // std::vector

namespace {
// Calls of the global operator new by this thread (Google Benchmark runs every benchmark here on the
// main thread). Thread-local, so the count costs no atomic instruction on the allocation path.
thread_local std::uint64_t operator_new_calls = 0;
}  // namespace

// The replacement global allocation functions of this benchmark binary only: malloc/free plus a count.
void* operator new(std::size_t size) {
  ++operator_new_calls;
  for (;;) {
    if (void* block = std::malloc(size == 0 ? 1 : size)) return block;
    const std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}
// Not inlined: g++ would otherwise see free() of a block from operator new (-Wmismatched-new-delete).
[[gnu::noinline]] void operator delete(void* block) noexcept { std::free(block); }
[[gnu::noinline]] void operator delete(void* block, std::size_t) noexcept { std::free(block); }

namespace {

using namespace std::chrono_literals;
using nautilus::ClockReading;
using nautilus::TestClock;
using nautilus::TimeEvent;
using nautilus::TimerCallback;
using nautilus::TimerHandle;
using nautilus::TimerOptions;
using nautilus::TimerQueue;
using nautilus::unix_nanos;

// 2024-01-01T00:00:00Z: every model starts here (the skip group starts at the epoch, see there).
constexpr std::int64_t start_ns = 1'704'067'200'000'000'000;
constexpr std::int64_t minute_ns = 60'000'000'000;
// The hold model's increment: U(1..1e6) ns.
constexpr std::int64_t max_increment_ns = 1'000'000;
// Increments are read from a table of 2^20 (8 MiB, read sequentially): the k-th fire of a run takes
// entry k mod 2^20, whichever timer fires.
constexpr std::size_t increment_count = std::size_t{1} << 20;
constexpr std::uint64_t increment_mask = increment_count - 1;

[[nodiscard]] unix_nanos at_ns(std::int64_t ns) noexcept { return nautilus::from_unix_ns(ns); }

// ---------------------------------------------------------------------------------------------
// Measurement helpers.

// Heap bytes in use, live blocks and mmapped chunks, with their malloc headers.
[[nodiscard]] std::size_t heap_bytes_in_use() noexcept {
#if defined(__GLIBC__)
  const struct mallinfo2 info = ::mallinfo2();
  return info.uordblks + info.hblkhd;
#elif defined(__APPLE__)
  // macOS: the default zones' bytes in use (what Homebrew builds of this benchmark report).
  malloc_statistics_t stats{};
  ::malloc_zone_statistics(nullptr, &stats);
  return stats.size_in_use;
#else
  return 0;  // unknown allocator: bytes_per_timer reads 0
#endif
}

// Fixed-seed inputs for N timers, shared by every peer of a group.
struct Inputs {
  std::vector<std::string> names;              // "t0", "t1", ...: short enough for the SSO buffer
  std::vector<std::int64_t> first_offsets_ns;  // hold and cancel: first deadline - start, U(1..1e6)
  std::vector<std::int64_t> phases_ns;         // periodic: first tick - start, U(1..60 s)
  std::vector<std::uint32_t> cancel_order;     // cancel: a random half of the ids, in random order
  // batch: `batch_sets` sets of N offsets U(1..1e6), one per round in turn (see `batch_sets_for`).
  std::vector<std::int64_t> batch_offsets_ns;
  std::size_t batch_sets = 0;
  [[nodiscard]] const std::int64_t* batch_offsets(std::uint64_t round) const noexcept {
    return batch_offsets_ns.data() + (round % batch_sets) * names.size();
  }
};

// How many distinct rounds the batch model cycles through. One set of deadlines repeated every round
// lets the branch predictor learn a heap's whole pattern of sifts at 10^3: measured with a bare 4-ary
// heap of 16-byte entries, 12.6 ns per alert with one set, 13.6 with two, 43.5 with four, 58.5 with 16
// and 58.9 with 64 (where a timing wheel's 25.5 did not move). A backtest does not replay one schedule
// over and over, so the model does not either: 64 sets at 10^3, fewer (about 2^21 offsets, 16 MiB in
// all) from 10^5 up, where no predictor holds a round's pattern anyway.
[[nodiscard]] std::size_t batch_sets_for(std::size_t n) noexcept {
  return std::clamp<std::size_t>((std::size_t{1} << 21) / std::max<std::size_t>(n, 1), 2, 64);
}

[[nodiscard]] const std::vector<std::int64_t>& increments() {
  static const std::vector<std::int64_t> table = [] {
    std::mt19937_64 random{20241124};
    std::uniform_int_distribution<std::int64_t> increment{1, max_increment_ns};
    std::vector<std::int64_t> values(increment_count);
    for (auto& value : values) value = increment(random);
    return values;
  }();
  return table;
}

[[nodiscard]] const Inputs& inputs(std::size_t n) {
  static std::map<std::size_t, Inputs> by_count;
  const auto found = by_count.find(n);
  if (found != by_count.end()) return found->second;
  Inputs in;
  std::mt19937_64 random{42};
  std::uniform_int_distribution<std::int64_t> offset{1, max_increment_ns};
  std::uniform_int_distribution<std::int64_t> phase{1, minute_ns};
  in.names.reserve(n);
  in.first_offsets_ns.reserve(n);
  in.phases_ns.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    in.names.push_back("t" + std::to_string(i));
    in.first_offsets_ns.push_back(offset(random));
    in.phases_ns.push_back(phase(random));
  }
  {
    std::mt19937_64 batch_random{43};  // its own stream: the other models' inputs stay as they were
    in.batch_sets = batch_sets_for(n);
    in.batch_offsets_ns.resize(in.batch_sets * n);
    for (auto& value : in.batch_offsets_ns) value = offset(batch_random);
  }
  std::vector<std::uint32_t> ids(n);
  std::iota(ids.begin(), ids.end(), std::uint32_t{0});
  std::shuffle(ids.begin(), ids.end(), random);
  ids.resize(n / 2);
  in.cancel_order = std::move(ids);
  return by_count.emplace(n, std::move(in)).first->second;
}

// The model of one benchmark: a queue and its pending timers.
class Model {
 public:
  Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  virtual ~Model() = default;
  double bytes_per_timer = 0;
  std::size_t heap_before = 0;  // heap bytes in use before it was built
  std::size_t timers = 0;
};

// The one model alive, and the benchmark it belongs to.
struct ModelSlot {
  std::string key;
  std::unique_ptr<Model> model;
};

[[nodiscard]] ModelSlot& model_slot() {
  static ModelSlot slot;
  return slot;
}

// The model of benchmark `key`, built from `args` (and its heap bytes measured) unless it is alive
// already. Building one frees the previous model first.
template <class M, class... Args>
[[nodiscard]] M& cached_model(const std::string& key, std::size_t timers, const Args&... args) {
  ModelSlot& slot = model_slot();
  if (slot.key != key || slot.model == nullptr) {
    slot.model.reset();
    slot.key.clear();
    static_cast<void>(increments());  // shared inputs are built first: not the model's bytes
    const std::size_t before = heap_bytes_in_use();
    auto model = std::make_unique<M>(args...);
    const std::size_t after = heap_bytes_in_use();
    model->heap_before = before;
    model->timers = timers;
    model->bytes_per_timer =
        after > before ? static_cast<double>(after - before) / static_cast<double>(timers) : 0.0;
    slot.model = std::move(model);
    slot.key = key;
  }
  return static_cast<M&>(*slot.model);
}

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "timer_bench: %s\n", what);
  std::abort();
}

// ---------------------------------------------------------------------------------------------
// The baseline: a hand-written scheduler on std::priority_queue, ordered by (deadline, sequence, id)
// with std::greater, so deadline ties fire in the order they were scheduled (FIFO), as TestClock's do.

struct QueueEntry {
  std::int64_t deadline_ns;
  std::uint64_t seq;
  std::uint32_t id;
  friend auto operator<=>(const QueueEntry&, const QueueEntry&) = default;
};
using MinQueue = std::priority_queue<QueueEntry, std::vector<QueueEntry>, std::greater<QueueEntry>>;

// ---------------------------------------------------------------------------------------------
// Asio on virtual time.
//
// Asio reads a timer's clock through a static `now()`, so the virtual time is global (state of this
// benchmark only). The wait traits return zero, so the reactor never sleeps, and they record the
// earliest expiry: Asio asks them for "earliest expiry - now" (timer_queue::wait_duration_usec) every
// time its earliest timer may have changed: after collecting the due timers, and when a new timer goes
// first. Asio has no public next-expiry query (asio#430); this one costs it nothing it does not do
// anyway. The driver sets the virtual time to that expiry and calls io_context::poll(), which runs the
// handlers of every timer due by then.
//
// What poll() costs beyond the timer heap is Asio's: each pass through its reactor is an epoll_wait
// (timeout 0), and after collecting due timers it re-arms its timerfd (timerfd_settime); a handler is
// queued as an operation and run by the scheduler. The configuration is Asio's most favourable for one
// thread: ASIO_CONCURRENCY_HINT_UNSAFE (no scheduler or reactor locks) and io_context::executor_type
// (no type-erased any_io_executor). Asio recycles the per-wait operation through a per-thread cache, so
// a re-armed wait allocates nothing.
struct VirtualTime {
  static inline std::int64_t now_ns = 0;
  static inline std::int64_t earliest_ns = std::numeric_limits<std::int64_t>::max();
};

struct VirtualClock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<VirtualClock>;
  [[maybe_unused]] static constexpr bool is_steady = true;  // Cpp17Clock; Asio does not read it
  static time_point now() noexcept { return time_point{duration{VirtualTime::now_ns}}; }
};

struct VirtualWaitTraits {
  static VirtualClock::duration to_wait_duration(const VirtualClock::duration& until_earliest) noexcept {
    VirtualTime::earliest_ns = VirtualTime::now_ns + until_earliest.count();
    return VirtualClock::duration::zero();
  }
  static VirtualClock::duration to_wait_duration(const VirtualClock::time_point& earliest) noexcept {
    VirtualTime::earliest_ns = earliest.time_since_epoch().count();
    return VirtualClock::duration::zero();
  }
};

using VirtualTimer =
    asio::basic_waitable_timer<VirtualClock, VirtualWaitTraits, asio::io_context::executor_type>;

[[nodiscard]] VirtualClock::time_point virtual_at(std::int64_t ns) noexcept {
  return VirtualClock::time_point{std::chrono::nanoseconds{ns}};
}

// Starts a model's virtual time; its constructor's async_waits then report the earliest expiry.
void reset_virtual_time(std::int64_t now_ns) noexcept {
  VirtualTime::now_ns = now_ns;
  VirtualTime::earliest_ns = std::numeric_limits<std::int64_t>::max();
}

// One poll at the earliest expiry; at least one handler must run (else the hook above is broken).
void poll_earliest(asio::io_context& io) {
  VirtualTime::now_ns = VirtualTime::earliest_ns;
  if (io.poll() == 0) fail("asio: poll() at the earliest expiry ran no handler");
}

// ---------------------------------------------------------------------------------------------
// The like-for-like peer: a hand-written scheduler on the same std::priority_queue that does the work
// TestClock does for one-shot alerts, and no more. Each timer keeps its callback (a TimerCallback, as
// TestClock's) and, if `Named`, its name, unique, in a std::unordered_map (for cancel by name and the
// duplicate check); a handle is (id, sequence); a cancel releases the callback and leaves the queue
// entry to be skipped when it reaches the top (lazy deletion); a fire hands the callback a TimeEvent
// with a sequential id, and the timer's id is free again before its callback runs. A periodic timer
// (`schedule_every`) is re-armed before its callback runs, keeps its name and callback, and is
// ordered among equal deadlines by when it was re-armed, as TestClock's are. What it does not do that
// TestClock does: validate anything (past deadlines, overflow, a stop time), keep realtime and
// monotonic time apart, or apply a missed-tick policy.
template <bool Named>
class PriorityQueueScheduler {
 public:
  struct Handle {
    std::uint32_t id = 0;
    std::uint64_t seq = 0;
  };

  explicit PriorityQueueScheduler(std::int64_t now_ns) : now_ns_(now_ns) {}

  Handle schedule(std::string name, std::int64_t at_ns, TimerCallback callback) {
    std::uint32_t id = 0;
    if (!free_.empty()) {
      id = free_.back();
      free_.pop_back();
    } else {
      id = static_cast<std::uint32_t>(timers_.size());
      timers_.emplace_back();
    }
    Timer& timer = timers_[id];
    timer.seq = next_seq_++;
    timer.callback = std::move(callback);
    if constexpr (Named) {
      if (!names_.emplace(name, id).second) fail("scheduler: duplicate name");
      timer.name = std::move(name);
    }
    queue_.push({at_ns, timer.seq, id});
    return {id, timer.seq};
  }

  // A named periodic timer, every `interval_ns` from `first_ns`.
  Handle schedule_every(std::string name, std::int64_t first_ns, std::int64_t interval_ns, TimerCallback callback) {
    const Handle handle = schedule(std::move(name), first_ns, std::move(callback));
    timers_[handle.id].interval_ns = interval_ns;
    return handle;
  }

  bool cancel(Handle handle) {
    if (handle.id >= timers_.size() || timers_[handle.id].seq != handle.seq) return false;
    release(handle.id);
    return true;
  }

  bool cancel(const std::string& name) {
    const auto found = names_.find(name);
    if (found == names_.end()) return false;
    release(found->second);
    return true;
  }

  // Fires the earliest live timer if it is due at or before `limit_ns`; false if none is.
  bool fire_next(std::int64_t limit_ns = std::numeric_limits<std::int64_t>::max()) {
    while (!queue_.empty() && queue_.top().deadline_ns <= limit_ns) {
      const QueueEntry top = queue_.top();
      queue_.pop();
      Timer& timer = timers_[top.id];
      if (timer.seq != top.seq) continue;  // cancelled
      now_ns_ = top.deadline_ns;
      TimeEvent event{{}, ++fired_, at_ns(top.deadline_ns), at_ns(now_ns_), {}, 0};
      if (timer.interval_ns != 0) {
        // Re-armed first (a new sequence: ties fire in the order timers were last armed). The
        // callback is moved out while it runs, so that timers it schedules may grow `timers_`,
        // and moved back unless it cancelled its own timer.
        timer.seq = next_seq_++;
        queue_.push({top.deadline_ns + timer.interval_ns, timer.seq, top.id});
        event.name = timer.name;
        const std::uint64_t armed = timer.seq;
        TimerCallback callback = std::move(timer.callback);
        if (callback) callback(event);
        Timer& after = timers_[top.id];
        if (after.seq == armed) after.callback = std::move(callback);
        return true;
      }
      if constexpr (Named) {
        names_.erase(timer.name);
        event.name = std::move(timer.name);
      }
      // The id is free before the callback runs (it may schedule a timer that takes it).
      const TimerCallback callback = std::move(timer.callback);
      timer.seq = 0;
      free_.push_back(top.id);
      if (callback) callback(event);
      return true;
    }
    return false;
  }

  void clear() {
    queue_ = {};
    timers_.clear();
    free_.clear();
    names_.clear();
  }

 private:
  struct Timer {
    std::uint64_t seq = 0;  // 0: free
    std::int64_t interval_ns = 0;  // 0: one-shot
    TimerCallback callback;
    std::string name;
  };

  void release(std::uint32_t id) {
    Timer& timer = timers_[id];
    if constexpr (Named) {
      names_.erase(timer.name);
      timer.name.clear();
    }
    timer.callback = nullptr;
    timer.seq = 0;
    timer.interval_ns = 0;
    free_.push_back(id);
  }

  MinQueue queue_;
  std::vector<Timer> timers_;
  std::vector<std::uint32_t> free_;
  std::unordered_map<std::string, std::uint32_t> names_;
  std::int64_t now_ns_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t fired_ = 0;
};

// TestClock's anonymous alerts (no name to hash), where the header in this tree has them.
template <class Clock>
concept AnonymousAlerts = requires(Clock& clock, unix_nanos at, TimerCallback callback) {
  { clock.set_time_alert(at, std::move(callback)) } -> std::same_as<TimerHandle>;
};

// =============================================================================================
// hold/<N>: N pending one-shot timers; each fire schedules its replacement at its fire time +
// U(1..1e6) ns. `fire_until(target)` fires until `fired() >= target`; the clocks fire every timer due
// at one deadline together, so they may end a few fires past it.

class HoldPriorityQueue final : public Model {
 public:
  HoldPriorityQueue(const Inputs& in, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      queue_.push({start_ns + in.first_offsets_ns[i], next_seq_++, static_cast<std::uint32_t>(i)});
    }
  }
  [[nodiscard]] std::uint64_t fired() const noexcept { return fired_; }
  void fire_until(std::uint64_t target) {
    while (fired_ < target) {
      const QueueEntry due = queue_.top();
      queue_.pop();
      // The handler: schedule the replacement.
      queue_.push({due.deadline_ns + increments_[fired_++ & increment_mask], next_seq_++, due.id});
    }
  }

 private:
  const std::int64_t* increments_ = increments().data();
  MinQueue queue_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t fired_ = 0;
};

// The like-for-like peer of the two TestClock models below: the same callbacks, names (if `Named`)
// and events, on the hand-written scheduler above.
template <bool Named>
class HoldScheduler final : public Model {
 public:
  HoldScheduler(const Inputs& in, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      scheduler_.schedule(Named ? in.names[i] : std::string{}, start_ns + in.first_offsets_ns[i], callback());
    }
  }
  [[nodiscard]] std::uint64_t fired() const noexcept { return fired_; }
  void fire_until(std::uint64_t target) {
    while (fired_ < target) scheduler_.fire_next();
  }

 private:
  TimerCallback callback() {
    return [this](const TimeEvent& event) { on_fire(event); };
  }
  void on_fire(const TimeEvent& event) {
    const std::int64_t increment = increments_[fired_++ & increment_mask];
    scheduler_.schedule(event.name, nautilus::to_unix_ns(event.ts_event) + increment, callback());
  }

  const std::int64_t* increments_ = increments().data();
  PriorityQueueScheduler<Named> scheduler_{start_ns};
  std::uint64_t fired_ = 0;
};

// The fair TestClock counterpart of the loop above: the fired alert's callback sets its replacement
// (under the same name: a one-shot alert's name is free again before its callback runs), and
// advance_to_next() moves the clock to the earliest deadline, so each callback runs with now() at its
// own deadline. Both do one pop and one push per fire, in the same order.
class HoldTestClockCallbacks final : public Model {
 public:
  HoldTestClockCallbacks(const Inputs& in, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      clock_.set_time_alert(in.names[i], at_ns(start_ns + in.first_offsets_ns[i]), callback());
    }
  }
  [[nodiscard]] std::uint64_t fired() const noexcept { return fired_; }
  void fire_until(std::uint64_t target) {
    while (fired_ < target) clock_.advance_to_next();
  }

 private:
  TimerCallback callback() {
    return [this](const TimeEvent& event) { on_fire(event); };
  }
  void on_fire(const TimeEvent& event) {
    const std::chrono::nanoseconds increment{increments_[fired_++ & increment_mask]};
    clock_.set_time_alert(event.name, event.ts_event + increment, callback());
  }

  const std::int64_t* increments_ = increments().data();
  TestClock clock_{at_ns(start_ns)};
  std::uint64_t fired_ = 0;
};

// As above with anonymous alerts (cancelled by handle only): what the name map costs.
template <class Clock>
class HoldTestClockAnonymous final : public Model {
 public:
  HoldTestClockAnonymous(const Inputs& in, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
      clock_.set_time_alert(at_ns(start_ns + in.first_offsets_ns[i]), callback());
  }
  [[nodiscard]] std::uint64_t fired() const noexcept { return fired_; }
  void fire_until(std::uint64_t target) {
    while (fired_ < target) clock_.advance_to_next();
  }

 private:
  TimerCallback callback() {
    return [this](const TimeEvent& event) { on_fire(event); };
  }
  void on_fire(const TimeEvent& event) {
    const std::chrono::nanoseconds increment{increments_[fired_++ & increment_mask]};
    clock_.set_time_alert(event.ts_event + increment, callback());
  }

  const std::int64_t* increments_ = increments().data();
  Clock clock_{at_ns(start_ns)};
  std::uint64_t fired_ = 0;
};

// Callback-less alerts, for an engine that dispatches events itself: advance_time_collect() to the
// earliest deadline appends the events due there to a buffer the driver reuses, and the driver
// schedules each replacement. The replacement cannot be set until its alert has fired, so the clock is
// advanced one deadline at a time, as with callbacks.
class HoldTestClockCollect final : public Model {
 public:
  HoldTestClockCollect(const Inputs& in, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
      clock_.set_time_alert(in.names[i], at_ns(start_ns + in.first_offsets_ns[i]));
  }
  [[nodiscard]] std::uint64_t fired() const noexcept { return fired_; }
  void fire_until(std::uint64_t target) {
    while (fired_ < target) {
      const auto next = clock_.next_deadline();
      due_.clear();
      clock_.advance_time_collect(*next, due_);
      for (const TimeEvent& event : due_) {
        const std::chrono::nanoseconds increment{increments_[fired_++ & increment_mask]};
        clock_.set_time_alert(event.name, event.ts_event + increment);
      }
    }
  }

 private:
  const std::int64_t* increments_ = increments().data();
  TestClock clock_{at_ns(start_ns)};
  std::vector<TimeEvent> due_;
  std::uint64_t fired_ = 0;
};

// TestClock's engine alone (what TestClock::advance does per event, minus the clock): where the time
// goes between the heap and the clock around it.
class HoldTimerQueue final : public Model {
 public:
  HoldTimerQueue(const Inputs& in, std::size_t n) {
    const ClockReading now{start_ns, start_ns};
    for (std::size_t i = 0; i < n; ++i) {
      queue_.set_time_alert(in.names[i], at_ns(start_ns + in.first_offsets_ns[i]), {},
                            nautilus::PastDeadline::fire_now, now);
    }
  }
  [[nodiscard]] std::uint64_t fired() const noexcept { return fired_; }
  void fire_until(std::uint64_t target) {
    while (fired_ < target) {
      const std::int64_t deadline_ns = *queue_.next_deadline_ns();
      const ClockReading now{deadline_ns, deadline_ns};
      while (auto due = queue_.pop_due(now)) {
        const std::chrono::nanoseconds increment{increments_[fired_++ & increment_mask]};
        queue_.set_time_alert(due->event.name, due->event.ts_event + increment, {},
                              nautilus::PastDeadline::fire_now, now);
        queue_.finish(*due);
      }
    }
  }
  [[nodiscard]] std::size_t engine_bytes_per_timer() const noexcept { return queue_.bytes_per_timer(); }

 private:
  const std::int64_t* increments_ = increments().data();
  TimerQueue queue_;
  std::uint64_t fired_ = 0;
};

class HoldAsio final : public Model {
 public:
  HoldAsio(const Inputs& in, std::size_t n) {
    reset_virtual_time(start_ns);
    timers_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      timers_.emplace_back(io_.get_executor(), virtual_at(start_ns + in.first_offsets_ns[i]));
      timers_.back().async_wait(Handler{this, static_cast<std::uint32_t>(i)});
    }
  }
  [[nodiscard]] std::uint64_t fired() const noexcept { return fired_; }
  void fire_until(std::uint64_t target) {
    while (fired_ < target) poll_earliest(io_);
  }

 private:
  struct Handler {
    HoldAsio* model;
    std::uint32_t id;
    void operator()(const asio::error_code& error) const {
      if (!error) model->on_fire(id);
    }
  };
  void on_fire(std::uint32_t id) {
    VirtualTimer& timer = timers_[id];
    timer.expires_at(timer.expiry() + std::chrono::nanoseconds{increments_[fired_++ & increment_mask]});
    timer.async_wait(Handler{this, id});
  }

  const std::int64_t* increments_ = increments().data();
  asio::io_context io_{ASIO_CONCURRENCY_HINT_UNSAFE};
  std::vector<VirtualTimer> timers_;
  std::uint64_t fired_ = 0;
};

// =============================================================================================
// periodic/<N>: N timers every minute, first ticks at start + U(1 ns..60 s). `advance_minute()` moves
// the time on by one minute, firing each timer exactly once, each at its own deadline, through a
// handler that folds the event into `handled_` (the same trivial work for every peer).

class PeriodicPriorityQueue final : public Model {
 public:
  PeriodicPriorityQueue(const Inputs& in, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      queue_.push({start_ns + in.phases_ns[i], next_seq_++, static_cast<std::uint32_t>(i)});
    }
  }
  [[nodiscard]] std::uint64_t fired() const noexcept { return fired_; }
  void advance_minute() {
    now_ns_ += minute_ns;
    while (queue_.top().deadline_ns <= now_ns_) {
      const QueueEntry due = queue_.top();
      queue_.pop();
      handled_ += due.id;
      ++fired_;
      queue_.push({due.deadline_ns + minute_ns, next_seq_++, due.id});  // re-arm
    }
    benchmark::DoNotOptimize(handled_);
  }

 private:
  MinQueue queue_;
  std::int64_t now_ns_ = start_ns;
  std::uint64_t next_seq_ = 1;
  std::uint64_t fired_ = 0;
  std::uint64_t handled_ = 0;
};

// The like-for-like peer of the TestClock rows: named periodic timers with callbacks and events, on
// the hand-written scheduler.
class PeriodicScheduler final : public Model {
 public:
  PeriodicScheduler(const Inputs& in, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      scheduler_.schedule_every(in.names[i], start_ns + in.phases_ns[i], minute_ns, [this](const TimeEvent& event) {
        handled_ += event.id;
        ++fired_;
      });
    }
  }
  [[nodiscard]] std::uint64_t fired() const noexcept { return fired_; }
  void advance_minute() {
    now_ns_ += minute_ns;
    while (scheduler_.fire_next(now_ns_)) {
    }
    benchmark::DoNotOptimize(handled_);
  }

 private:
  PriorityQueueScheduler<true> scheduler_{start_ns};
  std::int64_t now_ns_ = start_ns;
  std::uint64_t fired_ = 0;
  std::uint64_t handled_ = 0;
};

[[nodiscard]] TimerOptions first_tick_at_start() {
  TimerOptions options;
  options.fire_immediately = true;
  return options;
}

class PeriodicTestClockCallbacks final : public Model {
 public:
  PeriodicTestClockCallbacks(const Inputs& in, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      clock_.set_timer(
          in.names[i], 1min, at_ns(start_ns + in.phases_ns[i]), std::nullopt,
          [this](const TimeEvent& event) {
            handled_ += event.id;
            ++fired_;
          },
          first_tick_at_start());
    }
  }
  [[nodiscard]] std::uint64_t fired() const noexcept { return fired_; }
  void advance_minute() {
    clock_.advance_by(1min);
    benchmark::DoNotOptimize(handled_);
  }

 private:
  TestClock clock_{at_ns(start_ns)};
  std::uint64_t fired_ = 0;
  std::uint64_t handled_ = 0;
};

// Callback-less timers: one advance_time_collect() per minute appends the minute's N events, sorted,
// to a buffer the driver reuses.
class PeriodicTestClockCollect final : public Model {
 public:
  PeriodicTestClockCollect(const Inputs& in, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      clock_.set_timer(in.names[i], 1min, at_ns(start_ns + in.phases_ns[i]), std::nullopt, {},
                       first_tick_at_start());
    }
  }
  [[nodiscard]] std::uint64_t fired() const noexcept { return fired_; }
  void advance_minute() {
    due_.clear();
    clock_.advance_time_collect(clock_.now() + 1min, due_);
    for (const TimeEvent& event : due_) {
      handled_ += event.id;
      ++fired_;
    }
    benchmark::DoNotOptimize(handled_);
  }

 private:
  TestClock clock_{at_ns(start_ns)};
  std::vector<TimeEvent> due_;
  std::uint64_t fired_ = 0;
  std::uint64_t handled_ = 0;
};

class PeriodicTimerQueue final : public Model {
 public:
  PeriodicTimerQueue(const Inputs& in, std::size_t n) {
    const ClockReading now{start_ns, start_ns};
    for (std::size_t i = 0; i < n; ++i) {
      queue_.set_timer(in.names[i], 1min, at_ns(start_ns + in.phases_ns[i]), std::nullopt, {},
                       first_tick_at_start(), now);
    }
  }
  [[nodiscard]] std::uint64_t fired() const noexcept { return fired_; }
  void advance_minute() {
    now_ns_ += minute_ns;
    for (;;) {
      const auto next = queue_.next_deadline_ns();
      if (!next || *next > now_ns_) break;
      auto due = queue_.pop_due(ClockReading{*next, *next});
      handled_ += due->event.id;
      ++fired_;
      queue_.finish(*due);
    }
    benchmark::DoNotOptimize(handled_);
  }

 private:
  TimerQueue queue_;
  std::int64_t now_ns_ = start_ns;
  std::uint64_t fired_ = 0;
  std::uint64_t handled_ = 0;
};

class PeriodicAsio final : public Model {
 public:
  PeriodicAsio(const Inputs& in, std::size_t n) {
    reset_virtual_time(start_ns);
    timers_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      timers_.emplace_back(io_.get_executor(), virtual_at(start_ns + in.phases_ns[i]));
      timers_.back().async_wait(Handler{this, static_cast<std::uint32_t>(i)});
    }
  }
  [[nodiscard]] std::uint64_t fired() const noexcept { return fired_; }
  void advance_minute() {
    now_ns_ += minute_ns;
    while (VirtualTime::earliest_ns <= now_ns_) poll_earliest(io_);
    VirtualTime::now_ns = now_ns_;
    benchmark::DoNotOptimize(handled_);
  }

 private:
  struct Handler {
    PeriodicAsio* model;
    std::uint32_t id;
    void operator()(const asio::error_code& error) const {
      if (!error) model->on_fire(id);
    }
  };
  void on_fire(std::uint32_t id) {
    handled_ += id;
    ++fired_;
    VirtualTimer& timer = timers_[id];
    timer.expires_at(timer.expiry() + 1min);  // re-arm
    timer.async_wait(Handler{this, id});
  }

  asio::io_context io_{ASIO_CONCURRENCY_HINT_UNSAFE};
  std::vector<VirtualTimer> timers_;
  std::int64_t now_ns_ = start_ns;
  std::uint64_t fired_ = 0;
  std::uint64_t handled_ = 0;
};

// =============================================================================================
// batch/<N>: schedule N one-shot alerts at now + U(1..1e6) ns (`batch_offsets`), then advance the
// time past all of them (1 ms), firing each at its own deadline through a handler that folds its
// event into the model's `BatchCounts` (the same trivial work for every peer). One iteration = one
// alert scheduled and fired. A model runs one round when built and then schedules the next N, so its
// containers are at their steady-state capacity and bytes_per_timer counts N pending alerts; a timed
// round fires those N, then schedules the next N.
//
// `Batch<Peer>` runs the rounds; a peer schedules alert `i` at a deadline (`schedule`) and fires every
// alert due by a time (`fire_until`), each one through `counts.fire(id)`.

struct BatchCounts {
  std::uint64_t fired = 0;
  std::uint64_t handled = 0;
  void fire(std::uint64_t id) noexcept {
    handled += id;
    ++fired;
  }
  // The handler of the peers that take a callback: it captures one reference, stored inline.
  [[nodiscard]] TimerCallback callback() {
    return [this](const TimeEvent& event) { fire(event.id); };
  }
};

template <class Peer>
class Batch final : public Model {
 public:
  Batch(const Inputs& in, std::size_t n) : in_(in), n_(n), peer_(n) {
    schedule_all();
    round();
  }
  [[nodiscard]] std::uint64_t fired() const noexcept { return counts_.fired; }
  void round() {
    const std::int64_t end_ns = now_ns_ + max_increment_ns;
    peer_.fire_until(end_ns, counts_);
    now_ns_ = end_ns;
    benchmark::DoNotOptimize(counts_.handled);
    schedule_all();
  }

 private:
  void schedule_all() {
    const std::int64_t* offsets = in_.batch_offsets(rounds_scheduled_++);
    for (std::size_t i = 0; i < n_; ++i) peer_.schedule(in_, i, now_ns_ + offsets[i], counts_);
  }

  const Inputs& in_;
  std::size_t n_;
  Peer peer_;
  BatchCounts counts_;
  std::int64_t now_ns_ = start_ns;
  std::uint64_t rounds_scheduled_ = 0;
};

class BatchPriorityQueue {
 public:
  explicit BatchPriorityQueue(std::size_t) {}
  void schedule(const Inputs&, std::size_t i, std::int64_t deadline_ns, BatchCounts&) {
    queue_.push({deadline_ns, next_seq_++, static_cast<std::uint32_t>(i)});
  }
  void fire_until(std::int64_t end_ns, BatchCounts& counts) {
    while (!queue_.empty() && queue_.top().deadline_ns <= end_ns) {
      counts.fire(queue_.top().id);
      queue_.pop();
    }
  }

 private:
  MinQueue queue_;
  std::uint64_t next_seq_ = 1;
};

// The like-for-like peer of the TestClock rows: callbacks, events and, if `Named`, unique names.
template <bool Named>
class BatchScheduler {
 public:
  explicit BatchScheduler(std::size_t) {}
  void schedule(const Inputs& in, std::size_t i, std::int64_t deadline_ns, BatchCounts& counts) {
    scheduler_.schedule(Named ? in.names[i] : std::string{}, deadline_ns, counts.callback());
  }
  void fire_until(std::int64_t end_ns, BatchCounts&) {
    while (scheduler_.fire_next(end_ns)) {
    }
  }

 private:
  PriorityQueueScheduler<Named> scheduler_{start_ns};
};

// TestClock: set_time_alert (named, or anonymous where `Named` is false), then one advance_time.
template <class Clock, bool Named>
class BatchTestClock {
 public:
  explicit BatchTestClock(std::size_t) {}
  void schedule(const Inputs& in, std::size_t i, std::int64_t deadline_ns, BatchCounts& counts) {
    if constexpr (Named) {
      clock_.set_time_alert(in.names[i], at_ns(deadline_ns), counts.callback());
    } else {
      clock_.set_time_alert(at_ns(deadline_ns), counts.callback());
    }
  }
  void fire_until(std::int64_t end_ns, BatchCounts&) { clock_.advance_time(at_ns(end_ns)); }

 private:
  Clock clock_{at_ns(start_ns)};
};

// Callback-less named alerts: one advance_time_collect() appends the round's N events, sorted, to a
// buffer the driver reuses.
class BatchTestClockCollect {
 public:
  explicit BatchTestClockCollect(std::size_t) {}
  void schedule(const Inputs& in, std::size_t i, std::int64_t deadline_ns, BatchCounts&) {
    clock_.set_time_alert(in.names[i], at_ns(deadline_ns));
  }
  void fire_until(std::int64_t end_ns, BatchCounts& counts) {
    due_.clear();
    clock_.advance_time_collect(at_ns(end_ns), due_);
    for (const TimeEvent& event : due_) counts.fire(event.id);
  }

 private:
  TestClock clock_{at_ns(start_ns)};
  std::vector<TimeEvent> due_;
};

// Asio: N waits, then one poll() per distinct deadline (each handler runs at its own virtual time, as
// TestClock's callbacks do), until the round's N have run.
class BatchAsio {
 public:
  explicit BatchAsio(std::size_t n) {
    reset_virtual_time(start_ns);
    timers_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) timers_.emplace_back(io_.get_executor());
  }
  void schedule(const Inputs&, std::size_t i, std::int64_t deadline_ns, BatchCounts& counts) {
    if (i == 0) {
      io_.restart();  // the last round's poll() ran out of work and stopped the io_context
      VirtualTime::earliest_ns = std::numeric_limits<std::int64_t>::max();
    }
    timers_[i].expires_at(virtual_at(deadline_ns));
    timers_[i].async_wait(Handler{&counts, static_cast<std::uint32_t>(i)});
  }
  void fire_until(std::int64_t end_ns, BatchCounts& counts) {
    const std::uint64_t target = counts.fired + timers_.size();
    while (counts.fired < target) poll_earliest(io_);
    VirtualTime::now_ns = end_ns;
  }

 private:
  struct Handler {
    BatchCounts* counts;
    std::uint32_t id;
    void operator()(const asio::error_code& error) const {
      if (!error) counts->fire(id);
    }
  };
  asio::io_context io_{ASIO_CONCURRENCY_HINT_UNSAFE};
  std::vector<VirtualTimer> timers_;
};

// =============================================================================================
// cancel/<N>: a round schedules N one-shot timers at start + U(1..1e6) ns, then cancels a random
// half of them (`cancel_order`); `clear()` (outside the timed region) drops the rest. Each model runs
// one round when built, so its containers are at their steady-state capacity. A lazy cancel (the
// baseline's, TestClock's) leaves the deadline's entry in its queue, to be skipped or swept later;
// that later work is not in this group's time (TestClock sweeps once stale entries outnumber live
// ones: a visit per stale entry). libevent's, libuv's and Asio's cancels take the entry out of their
// heaps at once.

// The baseline: lazy deletion. A cancel stamps the id's live sequence to 0; a stale entry would be
// skipped when it reaches the top.
class CancelPriorityQueue final : public Model {
 public:
  CancelPriorityQueue(const Inputs& in, std::size_t n) : in_(in), live_seq_(n) {
    schedule_all();
    cancel_half();
    clear();
  }
  void schedule_all() {
    for (std::size_t i = 0; i < live_seq_.size(); ++i) {
      const std::uint64_t seq = next_seq_++;
      queue_.push({start_ns + in_.first_offsets_ns[i], seq, static_cast<std::uint32_t>(i)});
      live_seq_[i] = seq;
    }
  }
  void cancel_half() {
    for (const std::uint32_t id : in_.cancel_order) live_seq_[id] = 0;
  }
  void clear() { queue_.clear(); }

 private:
  class ClearableQueue : public MinQueue {
   public:
    void clear() noexcept { c.clear(); }
  };
  const Inputs& in_;
  ClearableQueue queue_;
  std::vector<std::uint64_t> live_seq_;
  std::uint64_t next_seq_ = 1;
};

enum class CancelBy { name, handle };

// The like-for-like peer of TestClock's cancels: named timers on the hand-written scheduler,
// cancelled by handle or by name (releasing the callback and the name at once).
template <CancelBy by>
class CancelScheduler final : public Model {
 public:
  CancelScheduler(const Inputs& in, std::size_t n) : in_(in), handles_(n) {
    schedule_all();
    cancel_half();
    clear();
  }
  void schedule_all() {
    for (std::size_t i = 0; i < handles_.size(); ++i) {
      handles_[i] = scheduler_.schedule(in_.names[i], start_ns + in_.first_offsets_ns[i], TimerCallback{});
    }
  }
  void cancel_half() {
    for (const std::uint32_t id : in_.cancel_order) {
      if constexpr (by == CancelBy::handle) {
        scheduler_.cancel(handles_[id]);
      } else {
        scheduler_.cancel(in_.names[id]);
      }
    }
  }
  void clear() { scheduler_.clear(); }

 private:
  const Inputs& in_;
  PriorityQueueScheduler<true> scheduler_{start_ns};
  std::vector<PriorityQueueScheduler<true>::Handle> handles_;
};

template <CancelBy by>
class CancelTestClock final : public Model {
 public:
  CancelTestClock(const Inputs& in, std::size_t n) : in_(in), handles_(n) {
    schedule_all();
    cancel_half();
    clear();
  }
  void schedule_all() {
    for (std::size_t i = 0; i < handles_.size(); ++i) {
      const unix_nanos at = at_ns(start_ns + in_.first_offsets_ns[i]);
      if constexpr (by == CancelBy::handle) {
        handles_[i] = clock_.set_time_alert(in_.names[i], at);
      } else {
        clock_.set_time_alert(in_.names[i], at);
      }
    }
  }
  void cancel_half() {
    for (const std::uint32_t id : in_.cancel_order) {
      if constexpr (by == CancelBy::handle) {
        clock_.cancel_timer(handles_[id]);
      } else {
        clock_.cancel_timer(in_.names[id]);
      }
    }
  }
  void clear() { clock_.cancel_timers(); }

 private:
  const Inputs& in_;
  TestClock clock_{at_ns(start_ns)};
  std::vector<TimerHandle> handles_;
};

template <class Clock>
class CancelTestClockAnonymous final : public Model {
 public:
  CancelTestClockAnonymous(const Inputs& in, std::size_t n) : in_(in), handles_(n) {
    schedule_all();
    cancel_half();
    clear();
  }
  void schedule_all() {
    for (std::size_t i = 0; i < handles_.size(); ++i) {
      handles_[i] = clock_.set_time_alert(at_ns(start_ns + in_.first_offsets_ns[i]), TimerCallback{});
    }
  }
  void cancel_half() {
    for (const std::uint32_t id : in_.cancel_order) clock_.cancel_timer(handles_[id]);
  }
  void clear() { clock_.cancel_timers(); }

 private:
  const Inputs& in_;
  Clock clock_{at_ns(start_ns)};
  std::vector<TimerHandle> handles_;
};

// Asio completes a cancelled wait by running its handler with operation_aborted, through the
// scheduler: the round's poll() that runs those handlers is part of the cancel cost.
class CancelAsio final : public Model {
 public:
  CancelAsio(const Inputs& in, std::size_t n) : in_(in) {
    reset_virtual_time(start_ns);
    timers_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) timers_.emplace_back(io_.get_executor());
    schedule_all();
    cancel_half();
    clear();
  }
  void schedule_all() {
    for (std::size_t i = 0; i < timers_.size(); ++i) {
      timers_[i].expires_at(virtual_at(start_ns + in_.first_offsets_ns[i]));
      timers_[i].async_wait(Handler{this});
    }
  }
  void cancel_half() {
    for (const std::uint32_t id : in_.cancel_order) timers_[id].cancel();
    io_.poll();
  }
  void clear() {
    for (VirtualTimer& timer : timers_) timer.cancel();
    io_.poll();
    io_.restart();  // out of work: poll() stopped the io_context
  }

 private:
  struct Handler {
    CancelAsio* model;
    void operator()(const asio::error_code& error) const {
      if (error) ++model->aborted_;
    }
  };
  const Inputs& in_;
  asio::io_context io_{ASIO_CONCURRENCY_HINT_UNSAFE};
  std::vector<VirtualTimer> timers_;
  std::uint64_t aborted_ = 0;
};

#if defined(NAUTILUS_CLOCK_BENCH_HAS_LIBEVENT)
// libevent 2.1 (Debian's libevent-dev): evtimer_add and evtimer_del on one event per timer (an array
// min-heap of event pointers, each event keeping its heap index). Its timeouts are relative and in
// microseconds: timer i's offset is read as microseconds, so its heap orders the same keys as the
// other peers'. The adds run inside a loop callback, where libevent reads its cached time, as a
// program's callbacks do (outside the loop, each add would also read the system clock). The events
// are allocated when the model is built, as Asio's timers are.
class CancelLibevent final : public Model {
 public:
  CancelLibevent(const Inputs& in, std::size_t n) : in_(in), base_(event_base_new()) {
    if (base_ == nullptr) fail("libevent: event_base_new failed");
    events_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      events_.push_back(evtimer_new(base_, &CancelLibevent::on_timeout, nullptr));
      if (events_.back() == nullptr) fail("libevent: evtimer_new failed");
    }
    schedule_all();
    cancel_half();
    clear();
  }
  CancelLibevent(const CancelLibevent&) = delete;
  CancelLibevent& operator=(const CancelLibevent&) = delete;
  ~CancelLibevent() override {
    for (event* e : events_) event_free(e);
    event_base_free(base_);
  }
  void schedule_all() {
    // One pass of the loop: a zero timeout whose callback adds the N timers, then the loop returns.
    const timeval now{0, 0};
    if (event_base_once(base_, -1, EV_TIMEOUT, &CancelLibevent::add_all, this, &now) != 0 ||
        event_base_loop(base_, EVLOOP_ONCE) != 0 || added_ != events_.size()) {
      fail("libevent: the round's adds did not run");
    }
  }
  void cancel_half() {
    for (const std::uint32_t id : in_.cancel_order) evtimer_del(events_[id]);
  }
  void clear() {
    for (event* e : events_) evtimer_del(e);
    added_ = 0;
  }

 private:
  static void on_timeout(evutil_socket_t, short, void*) { fail("libevent: a timer fired"); }
  static void add_all(evutil_socket_t, short, void* self) {
    auto& model = *static_cast<CancelLibevent*>(self);
    for (std::size_t i = 0; i < model.events_.size(); ++i) {
      const std::int64_t us = model.in_.first_offsets_ns[i];
      const timeval after{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
      if (evtimer_add(model.events_[i], &after) != 0) fail("libevent: evtimer_add failed");
    }
    model.added_ = model.events_.size();
  }
  const Inputs& in_;
  event_base* base_;
  std::vector<event*> events_;
  std::size_t added_ = 0;
};
#endif

#if defined(NAUTILUS_CLOCK_BENCH_HAS_LIBUV)
// libuv 1.44 (Debian's libuv1-dev): uv_timer_start and uv_timer_stop on one uv_timer_t per timer (a
// pointer-linked min-heap keyed on (timeout, start order), the timeout from the loop's cached time).
// Its timeouts are in milliseconds: timer i's offset is read as milliseconds, so its heap orders the
// same keys as the other peers'. The handles are initialised when the model is built.
class CancelLibuv final : public Model {
 public:
  CancelLibuv(const Inputs& in, std::size_t n) : in_(in), timers_(n) {
    if (uv_loop_init(&loop_) != 0) fail("libuv: uv_loop_init failed");
    for (uv_timer_t& timer : timers_) {
      if (uv_timer_init(&loop_, &timer) != 0) fail("libuv: uv_timer_init failed");
    }
    schedule_all();
    cancel_half();
    clear();
  }
  CancelLibuv(const CancelLibuv&) = delete;
  CancelLibuv& operator=(const CancelLibuv&) = delete;
  ~CancelLibuv() override {
    for (uv_timer_t& timer : timers_) uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);  // runs the closes
    if (uv_loop_close(&loop_) != 0) fail("libuv: uv_loop_close found live handles");
  }
  void schedule_all() {
    for (std::size_t i = 0; i < timers_.size(); ++i) {
      const auto ms = static_cast<std::uint64_t>(in_.first_offsets_ns[i]);
      if (uv_timer_start(&timers_[i], &CancelLibuv::on_timeout, ms, 0) != 0) fail("libuv: uv_timer_start failed");
    }
  }
  void cancel_half() {
    for (const std::uint32_t id : in_.cancel_order) uv_timer_stop(&timers_[id]);
  }
  void clear() {
    for (uv_timer_t& timer : timers_) uv_timer_stop(&timer);
  }

 private:
  static void on_timeout(uv_timer_t*) { fail("libuv: a timer fired"); }
  const Inputs& in_;
  uv_loop_t loop_{};
  std::vector<uv_timer_t> timers_;
};
#endif

// =============================================================================================
// skip: one 1 s periodic timer; a jump is set_time(now + d) then advance_time(now). The clock starts at
// the epoch, leaving 292 years of int64 nanoseconds; a fresh clock every batch keeps within them.

class JumpModel {
 public:
  explicit JumpModel(nautilus::MissedTicks policy) {
    TimerOptions options;
    options.missed_ticks = policy;
    clock_.set_timer(
        "tick", 1s, std::nullopt, std::nullopt, [this](const TimeEvent&) { ++fired_; }, options);
  }
  void jump(std::chrono::nanoseconds by) {
    clock_.set_time(clock_.now() + by);
    clock_.advance_time(clock_.now());
  }
  [[nodiscard]] std::uint64_t fired() const noexcept { return fired_; }

 private:
  TestClock clock_{nautilus::unix_epoch};
  std::uint64_t fired_ = 0;
};

// =============================================================================================
// Runners.

void report(benchmark::State& state, const Model& model, std::uint64_t fires,
            std::uint64_t allocations_before) {
  const std::uint64_t allocations = operator_new_calls - allocations_before;
  if (fires == 0) fail("a benchmark fired nothing");
  state.SetItemsProcessed(static_cast<std::int64_t>(fires));
  state.counters["bytes_per_timer"] = model.bytes_per_timer;
  // The same after the run: what the model holds in its steady state (a structure whose storage
  // grows with run length shows it here).
  const std::size_t now = heap_bytes_in_use();
  state.counters["bytes_per_timer_after"] =
      now > model.heap_before
          ? static_cast<double>(now - model.heap_before) / static_cast<double>(model.timers)
          : 0.0;
  state.counters["allocs_per_fire"] = static_cast<double>(allocations) / static_cast<double>(fires);
}

template <class M>
void run_hold(benchmark::State& state, const std::string& key, std::size_t n) {
  M& model = cached_model<M>(key, n, inputs(n), n);
  // Batches of 64 fires. A clock fires every timer due at a deadline together (ties are common at
  // N = 10^6, about two pending deadlines per ns), so a batch may end a few fires late; the next
  // batch aims at the running target, so time per iteration is time per fire, and items/s counts
  // every fire.
  constexpr std::uint64_t batch = 64;
  const std::uint64_t first = model.fired();
  const std::uint64_t allocations = operator_new_calls;
  std::uint64_t target = first;
  while (state.KeepRunningBatch(static_cast<benchmark::IterationCount>(batch))) {
    target += batch;
    model.fire_until(target);
  }
  report(state, model, model.fired() - first, allocations);
  if constexpr (std::is_same_v<M, HoldTimerQueue>) {
    // TimerQueue's own estimate (containers by capacity, name map by formula), beside the measured one.
    state.counters["engine_estimate_bytes_per_timer"] = static_cast<double>(model.engine_bytes_per_timer());
  }
}

template <class M>
void run_periodic(benchmark::State& state, const std::string& key, std::size_t n) {
  M& model = cached_model<M>(key, n, inputs(n), n);
  const std::uint64_t first = model.fired();
  const std::uint64_t allocations = operator_new_calls;
  while (state.KeepRunningBatch(static_cast<benchmark::IterationCount>(n))) model.advance_minute();
  const std::uint64_t fires = model.fired() - first;
  if (fires != static_cast<std::uint64_t>(state.iterations()))
    fail("periodic: a minute did not fire each timer once");
  report(state, model, fires, allocations);
}

template <class M>
void run_batch(benchmark::State& state, const std::string& key, std::size_t n) {
  M& model = cached_model<M>(key, n, inputs(n), n);
  const std::uint64_t first = model.fired();
  const std::uint64_t allocations = operator_new_calls;
  while (state.KeepRunningBatch(static_cast<benchmark::IterationCount>(n))) model.round();
  const std::uint64_t fires = model.fired() - first;
  if (fires != static_cast<std::uint64_t>(state.iterations()))
    fail("batch: a round did not fire its N alerts");
  report(state, model, fires, allocations);
}

template <class M>
void run_cancel(benchmark::State& state, const std::string& key, std::size_t n) {
  M& model = cached_model<M>(key, n, inputs(n), n);
  const std::size_t cancels = inputs(n).cancel_order.size();
  std::chrono::nanoseconds schedule_time{0};
  std::chrono::nanoseconds cancel_time{0};
  std::uint64_t rounds = 0;
  std::uint64_t allocations = 0;
  while (state.KeepRunningBatch(static_cast<benchmark::IterationCount>(n + cancels))) {
    const std::uint64_t allocations_before = operator_new_calls;
    const auto scheduling = std::chrono::steady_clock::now();
    model.schedule_all();
    const auto cancelling = std::chrono::steady_clock::now();
    model.cancel_half();
    const auto done = std::chrono::steady_clock::now();
    allocations += operator_new_calls - allocations_before;
    schedule_time += cancelling - scheduling;
    cancel_time += done - cancelling;
    ++rounds;
    state.PauseTiming();
    model.clear();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations());
  const double rounds_d = static_cast<double>(rounds);
  state.counters["ns_per_schedule"] =
      static_cast<double>(schedule_time.count()) / (rounds_d * static_cast<double>(n));
  state.counters["ns_per_cancel"] =
      static_cast<double>(cancel_time.count()) / (rounds_d * static_cast<double>(cancels));
  state.counters["allocs_per_op"] =
      static_cast<double>(allocations) / static_cast<double>(state.iterations());
}

void run_jump(benchmark::State& state, nautilus::MissedTicks policy, std::chrono::nanoseconds by,
              benchmark::IterationCount jumps_per_clock) {
  std::unique_ptr<JumpModel> model;
  std::uint64_t fires = 0;
  while (state.KeepRunningBatch(jumps_per_clock)) {
    state.PauseTiming();
    if (model) fires += model->fired();
    model = std::make_unique<JumpModel>(policy);
    state.ResumeTiming();
    for (benchmark::IterationCount i = 0; i < jumps_per_clock; ++i) model->jump(by);
  }
  fires += model->fired();
  state.SetItemsProcessed(state.iterations());
  state.counters["fires_per_jump"] = static_cast<double>(fires) / static_cast<double>(state.iterations());
}

// tail/<N>: the hold model, one fire at a time, each timed on its own. A TscClock read costs about
// 10 ns here; both ends of each sample pay it, so it adds a constant to every percentile (and
// lowers p99.9 / median a little: the ratio is slightly flattering, not inflated).
const nautilus::TscClock& sample_clock() {
  // No resync thread: nothing else runs beside the benchmark. Calibration takes about 20 ms, once.
  static const nautilus::TscClock clock{
      nautilus::TscClockOptions{.resync_interval = std::chrono::nanoseconds::zero()}};
  return clock;
}

template <class M>
void run_tail(benchmark::State& state, const std::string& key, std::size_t n) {
  M& model = cached_model<M>(key, n, inputs(n), n);
  const nautilus::TscClock& clock = sample_clock();
  // Up to 2^23 samples (32 MiB), taken in order; the timed loop only writes the next one.
  constexpr std::size_t max_samples = std::size_t{1} << 23;
  std::vector<std::uint32_t> samples(max_samples);
  std::size_t taken = 0;
  constexpr std::uint64_t batch = 64;
  // Warm up first: the previous run's sort of its samples (up to 32 MiB) left the model's memory
  // cold, and the first thousands of fires after it took 10 to 100 times the median (at 10^5, more
  // than one sample in a thousand of a short run). The steady state's tail is the figure asked for.
  model.fire_until(model.fired() + std::min<std::uint64_t>(n, std::uint64_t{1} << 17));
  const std::uint64_t first = model.fired();
  const std::uint64_t allocations = operator_new_calls;
  while (state.KeepRunningBatch(static_cast<benchmark::IterationCount>(batch))) {
    for (std::uint64_t i = 0; i < batch; ++i) {
      const std::int64_t began_ns = clock.now_ns();
      model.fire_until(model.fired() + 1);
      const std::int64_t took_ns = clock.now_ns() - began_ns;
      if (taken < max_samples)
        samples[taken++] = static_cast<std::uint32_t>(std::clamp<std::int64_t>(took_ns, 0, 1 << 30));
    }
  }
  if (taken == 0) fail("tail: no sample");
  std::sort(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(taken));
  const auto at = [&](double quantile) {
    const auto index = static_cast<std::size_t>(quantile * static_cast<double>(taken - 1));
    return static_cast<double>(samples[index]);
  };
  const double p50 = at(0.5);
  const double p99 = at(0.99);
  const double p999 = at(0.999);
  const double worst = at(1.0);
  std::vector<std::uint32_t>().swap(samples);  // before `report` reads the heap: not the model's bytes
  report(state, model, model.fired() - first, allocations);
  state.counters["p50_ns"] = p50;
  state.counters["p99_ns"] = p99;
  state.counters["p999_ns"] = p999;
  state.counters["max_ns"] = worst;
  state.counters["p999_over_p50"] = p999 / std::max(p50, 1.0);
}

// =============================================================================================
// Registration: per group, the baseline first.

template <class M>
void add_hold(const std::string& name, std::size_t n) {
  benchmark::RegisterBenchmark(name.c_str(),
                               [name, n](benchmark::State& state) { run_hold<M>(state, name, n); });
}

template <class M>
void add_batch(const std::string& name, std::size_t n) {
  benchmark::RegisterBenchmark(name.c_str(),
                               [name, n](benchmark::State& state) { run_batch<M>(state, name, n); });
}

template <class M>
void add_periodic(const std::string& name, std::size_t n) {
  benchmark::RegisterBenchmark(name.c_str(),
                               [name, n](benchmark::State& state) { run_periodic<M>(state, name, n); });
}

template <class M>
void add_cancel(const std::string& name, std::size_t n) {
  benchmark::RegisterBenchmark(name.c_str(),
                               [name, n](benchmark::State& state) { run_cancel<M>(state, name, n); });
}

template <class M>
void add_tail(const std::string& name, std::size_t n) {
  benchmark::RegisterBenchmark(name.c_str(),
                               [name, n](benchmark::State& state) { run_tail<M>(state, name, n); });
}

void add_jump(const std::string& name, nautilus::MissedTicks policy, std::chrono::nanoseconds by,
              benchmark::IterationCount jumps_per_clock) {
  benchmark::RegisterBenchmark(name.c_str(), [policy, by, jumps_per_clock](benchmark::State& state) {
    run_jump(state, policy, by, jumps_per_clock);
  });
}

// A template, so that the anonymous-alert rows are compiled only where TestClock has them.
template <class Clock>
bool register_timer_benchmarks() {
  using nautilus::bench::declare_baseline;
  using nautilus::bench::declare_peer;
  for (const std::size_t n : {std::size_t{1'000}, std::size_t{100'000}, std::size_t{1'000'000}}) {
    const std::string group = "batch/" + std::to_string(n);
    declare_baseline(group, group + "/std::priority_queue");
    add_batch<Batch<BatchPriorityQueue>>(group + "/std::priority_queue", n);
    add_batch<Batch<BatchScheduler<true>>>(group + "/priority_queue scheduler, named", n);
    add_batch<Batch<BatchScheduler<false>>>(group + "/priority_queue scheduler, anonymous", n);
    add_batch<Batch<BatchTestClock<Clock, true>>>(group + "/TestClock callbacks", n);
    declare_peer(group + "/TestClock callbacks", group + "/priority_queue scheduler, named");
    if constexpr (AnonymousAlerts<Clock>) {
      add_batch<Batch<BatchTestClock<Clock, false>>>(group + "/TestClock anonymous callbacks", n);
      declare_peer(group + "/TestClock anonymous callbacks", group + "/priority_queue scheduler, anonymous");
    }
    add_batch<Batch<BatchTestClockCollect>>(group + "/TestClock collect", n);
    // Not at 10^6: a round of Asio's would take some 20 s (the hold group has its cost there).
    if (n <= 100'000) add_batch<Batch<BatchAsio>>(group + "/asio::basic_waitable_timer", n);
  }
  for (const std::size_t n : {std::size_t{1'000}, std::size_t{100'000}, std::size_t{1'000'000}}) {
    const std::string group = "hold/" + std::to_string(n);
    declare_baseline(group, group + "/std::priority_queue");
    add_hold<HoldPriorityQueue>(group + "/std::priority_queue", n);
    add_hold<HoldScheduler<true>>(group + "/priority_queue scheduler, named", n);
    add_hold<HoldScheduler<false>>(group + "/priority_queue scheduler, anonymous", n);
    add_hold<HoldTestClockCallbacks>(group + "/TestClock callbacks", n);
    declare_peer(group + "/TestClock callbacks", group + "/priority_queue scheduler, named");
    if constexpr (AnonymousAlerts<Clock>) {
      add_hold<HoldTestClockAnonymous<Clock>>(group + "/TestClock anonymous callbacks", n);
      declare_peer(group + "/TestClock anonymous callbacks", group + "/priority_queue scheduler, anonymous");
    }
    add_hold<HoldTestClockCollect>(group + "/TestClock collect", n);
    add_hold<HoldTimerQueue>(group + "/TimerQueue engine only", n);
    add_hold<HoldAsio>(group + "/asio::basic_waitable_timer", n);
  }
  for (const std::size_t n : {std::size_t{1'000}, std::size_t{10'000}, std::size_t{100'000}}) {
    const std::string group = "periodic/" + std::to_string(n);
    declare_baseline(group, group + "/std::priority_queue");
    add_periodic<PeriodicPriorityQueue>(group + "/std::priority_queue", n);
    add_periodic<PeriodicScheduler>(group + "/priority_queue scheduler", n);
    add_periodic<PeriodicTestClockCallbacks>(group + "/TestClock callbacks", n);
    declare_peer(group + "/TestClock callbacks", group + "/priority_queue scheduler");
    add_periodic<PeriodicTestClockCollect>(group + "/TestClock collect", n);
    add_periodic<PeriodicTimerQueue>(group + "/TimerQueue engine only", n);
    add_periodic<PeriodicAsio>(group + "/asio::basic_waitable_timer", n);
  }
  {
    constexpr std::size_t n = 100'000;
    const std::string group = "cancel/" + std::to_string(n);
    declare_baseline(group, group + "/std::priority_queue lazy delete");
    add_cancel<CancelPriorityQueue>(group + "/std::priority_queue lazy delete", n);
    add_cancel<CancelScheduler<CancelBy::name>>(group + "/priority_queue scheduler by name", n);
    add_cancel<CancelScheduler<CancelBy::handle>>(group + "/priority_queue scheduler by handle", n);
    add_cancel<CancelTestClock<CancelBy::name>>(group + "/TestClock by name", n);
    declare_peer(group + "/TestClock by name", group + "/priority_queue scheduler by name");
    add_cancel<CancelTestClock<CancelBy::handle>>(group + "/TestClock by handle", n);
    declare_peer(group + "/TestClock by handle", group + "/priority_queue scheduler by handle");
    if constexpr (AnonymousAlerts<Clock>) {
      add_cancel<CancelTestClockAnonymous<Clock>>(group + "/TestClock anonymous by handle", n);
    }
    add_cancel<CancelAsio>(group + "/asio::basic_waitable_timer", n);
#if defined(NAUTILUS_CLOCK_BENCH_HAS_LIBEVENT)
    add_cancel<CancelLibevent>(group + "/libevent evtimer", n);
    if constexpr (AnonymousAlerts<Clock>) {
      // The nearest like-for-like: timers cancelled by handle, with no names.
      declare_peer(group + "/TestClock anonymous by handle", group + "/libevent evtimer");
    }
#endif
#if defined(NAUTILUS_CLOCK_BENCH_HAS_LIBUV)
    add_cancel<CancelLibuv>(group + "/libuv uv_timer", n);
#endif
  }
  for (const std::size_t n : {std::size_t{1'000}, std::size_t{100'000}, std::size_t{1'000'000}}) {
    const std::string group = "tail/" + std::to_string(n);
    declare_baseline(group, group + "/priority_queue scheduler, named");
    add_tail<HoldScheduler<true>>(group + "/priority_queue scheduler, named", n);
    add_tail<HoldTestClockCallbacks>(group + "/TestClock callbacks", n);
    if constexpr (AnonymousAlerts<Clock>) {
      add_tail<HoldTestClockAnonymous<Clock>>(group + "/TestClock anonymous callbacks", n);
    }
  }
  {
    using nautilus::MissedTicks;
    declare_baseline("skip", "skip/TestClock burst 24h (86,400 fires)");
    // burst: ~86,400 fires per jump, so few jumps per clock; the others fire once per jump.
    add_jump("skip/TestClock burst 24h (86,400 fires)", MissedTicks::burst, 24h, 4);
    add_jump("skip/TestClock skip 24h", MissedTicks::skip, 24h, 1000);
    add_jump("skip/TestClock skip 30 days", MissedTicks::skip, std::chrono::days{30}, 1000);
    add_jump("skip/TestClock delay 24h", MissedTicks::delay, 24h, 1000);
  }
  return true;
}

[[maybe_unused]] const bool registered = register_timer_benchmarks<TestClock>();

}  // namespace
