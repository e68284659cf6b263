// nautilus-clock: the priority queue under TimerQueue, a hierarchical timing wheel at nanosecond
// resolution with exact ordering.
//
// Why a wheel: measured against a 4-ary heap (bench/timer_bench.cpp), the heap's pop walks log4(n)
// levels whose lower ones miss the cache at 10^5 to 10^6 timers. The wheel touches, per timer, one
// slot per level it passes through, reading and appending 16-byte entries sequentially.
//
// Layout (the tokio wheel's, at 1 ns instead of 1 ms). Eleven levels of 64 slots cover the 64-bit
// key space: level L, slot s holds the keys that agree with the wheel's position `cursor` above bit
// 6(L+1) and have digit s in bits [6L, 6L+6). Level 0 slots are single nanoseconds:
//
//   level | slot width | level span
//     0   | 1 ns       | 64 ns
//     1   | 64 ns      | 4.1 us
//     2   | 4.1 us     | 262 us
//     3   | 262 us     | 16.8 ms
//     4   | 16.8 ms    | 1.07 s
//     5   | 1.07 s     | 68.7 s
//     6   | 68.7 s     | 73.3 min
//     ...   (x64 per level, 11 levels: the whole int64 range)
//
// Each level keeps a 64-bit `occupied` mask, and a mask of non-empty levels sits above them: the
// earliest entry is in the lowest non-empty level's lowest occupied slot. A level-0 slot is one
// exact deadline; a slot higher up is cascaded into the levels below when it becomes the earliest.
// An entry moves down at most ten times, so every operation is O(1) amortised.
//
// The near heap. At nanosecond resolution a timer would pass through every level on its way down,
// although the slots near the bottom hold only a few timers each. So the earliest slot, once it
// holds at most `near_batch` entries, is not cascaded: its entries go to a small binary heap, and
// every later push that falls inside that slot's span joins them there. The heap's entries precede
// the whole wheel. A lone timer in the earliest slot thus leaves from whatever level it reached.
//
// Ordering within a tick: exact. The near heap orders by (deadline, order). All entries of a
// level-0 slot have the same deadline; the slot is sorted by creation order when it is first
// consumed, and any entry added while it is consumed has a later creation order, so ties leave in
// the order their timers were set.
//
// The cursor never passes the earliest entry. A key below it (a deadline already in the past when
// set) also goes to the near heap, which precedes the wheel.
//
// Memory. The slots of levels 2 and up, which hold nearly every entry, are chains of blocks (15
// entries and a link, 248 bytes) from a shared pool: a slot grows a block at a time and gives its
// blocks back as it is cascaded, so storage follows the entries, with no growth slack beyond one
// part-filled block per slot. Each of those slots keeps its first block when emptied (the cursor
// comes back to every slot, and a pool block is cold), and the pool keeps a sixteenth of the blocks
// in use (at least `kept_blocks`). Measured in the hold model at 10^6 timers: 17.2 to 17.5 bytes of wheel per
// timer over 20 million fires, where vectors held 33 to 38 (their doubling slack, and spare storage handed to
// slots of other sizes). The pointer chase costs a prefetch per block when a slot is cascaded.
//
// Staged cascades (no cascade spikes). Cascading a slot moves all its entries at once: in a hold model
// over 1 ms, a level-3 slot holds a quarter of the timers, and at 10^3 timers its cascade took 1.8 us
// against a median fire of 50 to 80 ns (at 10^6, a quarter of a million entries in one call). So the
// next slot to be cascaded at each chained level L is staged ahead of time: once it holds more than
// `stage_threshold` entries, every `pop` moves `stage_rate` of them into a bank, a second set of
// level-(L-1) slots relative to that slot's start, and a push that falls in the staged slot goes
// straight to the bank. When the staged slot becomes the earliest, the levels below it are empty,
// so the bank becomes level L-1 (whatever was not moved yet is moved first): each level from 1 up
// keeps two sets of slots, and a bit says which is the level's. The cursor moves to the slot's
// start, and `top` goes on as after a cascade (the bank's slot 0 holds the keys nearest the cursor:
// it is the earliest; see below). The entries move as many times as
// before, spread over the pops that precede their turn; `largest_cascade()` reports the most
// entries one call moved at once. Measured in the hold model: p99.9 of a fire at 10^3 timers went
// from 22 to 3 or 4 times the median, at 10^5 from 60 to 5 or 6; a pop and a push took 1.2x to
// 1.3x the time, and a TestClock fire 1.02x to 1.08x (bench/timer_bench.cpp, `tail/` and `hold/`).
//
// A swapped-in bank's slot 0 is the earliest slot at once, with no pops left to stage it in: so
// once the level below a bank has no stage of its own, the bank's slot 0 is staged in turn, into
// that level's bank (`bank_staged_`), and so on down. What is still moved at once: a slot of at
// most `stage_threshold` entries, a level-1 slot (64 ns: 64 entries at 10^6 timers over 1 ms), a
// slot that grew past the threshold after `arm_stages` last looked, a bank's slot 0 whose level
// below was busy with its own stage, and the rest of a staged slot that filled faster than the pops
// drained it.
//
// Out of memory. Appending to a slot may allocate (a block, a vector's growth); every append either
// succeeds or changes nothing. `push` and `replace_top` either add their entry or throw with the
// wheel unchanged; `pop` never throws (a stage it could not drain is drained later). A move that
// std::bad_alloc cuts short (a cascade, the rest of a restart) leaves its unplaced entries pending,
// in a vector or the rest of the slot's chain, and the next `top` places them before it answers:
// every entry is always in exactly one place, and `size()` counts it.
//
// A chained level's slots (two sets of 64 chains, 3 KiB) are created when an entry first reaches
// that level: timers within a second of the clock use levels 0 to 4, and a wheel that never sees a
// deadline past an hour away never creates levels 7 to 10. (Built in, the eleven levels took 41 KiB:
// 41 bytes per timer at 10^3 timers, against a target of 64 for everything.)
//
// Levels 0 and 1 (slots of 1 ns and 64 ns: few entries, but a level-0 slot is sorted and read by
// index) keep vectors. An emptied vector slot keeps its storage unless large; large storage goes to
// a list of spares, which the next slot to fill takes, and back to the allocator while the vectors
// hold more than twice the wheel's entries plus `kept_floor`. (Without that, the cursor visiting
// every slot in turn would leave each slot at its largest size: 10^6 timers in the hold model grew
// from 188 to 701 bytes per timer over 63 million fires.)
#pragma once

#include <algorithm>  // std::sort, std::push_heap, std::pop_heap, std::count_if
#include <array>      // std::array
#include <bit>        // std::countl_zero, std::countr_zero
#include <cstddef>    // std::size_t, std::ptrdiff_t
#include <cstdint>    // std::int64_t, std::uint64_t
#include <limits>     // std::numeric_limits
#include <memory>     // std::unique_ptr, std::make_unique
#include <new>        // std::bad_alloc
#include <utility>    // std::swap
#include <vector>     // std::vector

#include "nautilus/clock/detail/platform.hpp"  // NAUTILUS_CLOCK_PREFETCH

namespace nautilus::detail {

// (deadline, order): `order` breaks ties and must be unique.
struct WheelEntry {
  std::int64_t deadline;
  std::uint64_t order;
};

// The next capacity of a growing array of entries (a lane's ring, the batch run's inbox): 128
// entries (2 KiB) first, doubled below 4,096 entries (64 KiB), then grown by an eighth, a multiple
// of 256. Doubling leaves up to half of a large array empty; by eighths at most an eighth is, and the
// copies stay O(1) amortised (some eight per entry appended), the largest the same as the doubling's.
// The first size matches the records' chunk (256 timers, 8 KiB): starting at 16 entries, an array
// left its 256-, 512- and 1,024-byte predecessors in the allocator's per-thread cache, which keeps
// freed blocks of up to 1 KiB for reuse (counted in use): 1.8 bytes per timer at 10^3.
[[nodiscard]] constexpr std::size_t grown_capacity(std::size_t capacity) noexcept {
  constexpr std::size_t doubled_below = 4096;
  if (capacity < doubled_below) return capacity == 0 ? 128 : capacity * 2;
  return (capacity + capacity / 8 + 255) / 256 * 256;
}

// A deadline as an unsigned key that orders alike (an order-preserving map from int64 to uint64:
// the sign bit flipped), whose bits the wheel's levels read. (The batch run's radix sort takes
// `deadline - least` as unsigned instead: the flip cancels in the difference.)
[[nodiscard]] constexpr std::uint64_t deadline_key(std::int64_t deadline) noexcept {
  return static_cast<std::uint64_t>(deadline) ^ (std::uint64_t{1} << 63U);
}

// (deadline, order) before (deadline, order): the order in which entries leave.
[[nodiscard]] inline bool entry_before(const WheelEntry& a, const WheelEntry& b) noexcept {
  return a.deadline != b.deadline ? a.deadline < b.deadline : a.order < b.order;
}

class TimingWheel {
 public:
  TimingWheel() = default;
  // `stage_threshold`: stage a slot's cascade once it holds more entries than this (see "Staged
  // cascades"); 0 stages every slot of the chained levels (for tests).
  explicit TimingWheel(std::size_t stage_threshold) : stage_threshold_(stage_threshold) {}
  TimingWheel(const TimingWheel&) = delete;
  TimingWheel& operator=(const TimingWheel&) = delete;
  TimingWheel(TimingWheel&&) = delete;
  TimingWheel& operator=(TimingWheel&&) = delete;
  ~TimingWheel() { delete_all_blocks(); }

  // Stage a slot's cascade once it holds more than this many entries (the constructor's default).
  // Below it a cascade is cheap: 32 entries move in about 150 ns here.
  static constexpr std::size_t default_stage_threshold = 32;
  // Entries each `pop` moves from each staged slot into its bank. A staged slot is drained in a
  // quarter as many pops as it has entries; in a hold model the slot before it has about as many.
  // Against 2, run alternately: 0.94x the time per alert in `batch/100000`, 0.94x to 0.95x per fire
  // in `hold/100000`, the same at 10^3 and 10^6, and p99.9 of a fire as many times its median (3.9x
  // to 6.8x over 10^3 to 10^6, where 2 read 3.9x to 8.5x in the same runs: the rows vary from run to
  // run). At 8, the tail at 10^6 rose to 7.2x to 9.5x.
  static constexpr std::size_t stage_rate = 4;

  // The largest slot that goes to the near heap instead of being cascaded (see above). Measured
  // with the hold model over 1 ms: 2 takes 10^3 timers from 33 to 19 ns per fire and leaves 10^5
  // and 10^6 unchanged; 3 and above lose to the heap's mispredicted branches (8: 29 ns at 10^3,
  // 48 instead of 31 at 10^5).
  static constexpr std::size_t near_batch = 2;
  // The largest batch handed to `top`'s `on_batch`.
  static constexpr std::size_t prefetch_batch = 16;

  // Adds an entry. `floor`: where an empty wheel starts if it is before `e`, typically the clock's
  // current time, before which later pushes rarely fall. (Started at `e`, a wheel loaded with
  // deadlines in random order would take every one before `e` into the near heap, and restart.)
  void push(WheelEntry e, std::int64_t floor = std::numeric_limits<std::int64_t>::max()) {
    const std::uint64_t key = deadline_key(e.deadline);
    // An empty wheel may start anywhere at or before its first key.
    if (size_ == 0) {
      if (vector_sets_ == nullptr) [[unlikely]] {
        add_vector_sets();  // may throw: nothing has changed
      }
      if ((levels_ | staged_levels_) != 0) [[unlikely]] {
        forget_slots();  // empty slots left set, and staged: a sweep emptied the wheel
      }
      cursor_ = std::min(key, deadline_key(floor));
      near_end_ = cursor_;
    }
    if (key < near_end_) {
      append(near_, e);
      ++size_;
      std::push_heap(near_.begin(), near_.end(), later);
      // Many keys behind the cursor (timers loaded in no particular order, say) would turn the
      // wheel into a heap: once they are an eighth of all entries, restart the wheel from the
      // earliest key. O(size), after at least size / 8 pushes: O(1) amortised. (At a half, loading
      // 10^6 timers in random order left 31% of them in the heap, every one of their pops a
      // descent through cold levels.) A restart is only an optimisation, and one cut short by
      // std::bad_alloc loses nothing (see "Out of memory"): the push has succeeded either way.
      if (near_.size() > 64 && near_.size() * 8 > size_) [[unlikely]] {
        try {
          restart();
        } catch (const std::bad_alloc&) {
        }
      }
      return;
    }
    place(e);
    ++size_;
  }

  // Adds `e`, which must be later than the entry `top` returned, and removes that entry: a fire
  // that re-arms its timer. Call only right after a non-null `top`. On bad_alloc nothing has
  // changed (the entry `top` returned is still there, and still the earliest).
  void replace_top(WheelEntry e) {
    // As `push`, minus the restart (which would move the entry `pop` is about to remove): the next
    // push restarts if needed.
    if (deadline_key(e.deadline) < near_end_) {
      append(near_, e);
      std::push_heap(near_.begin(), near_.end(), later);  // e is later: the earliest stays first
    } else {
      place(e);  // not into the level-0 slot being consumed: e's deadline is later
    }
    ++size_;
    pop();
  }

  // `top`'s default: no batch callback.
  struct NoBatch {
    void operator()(const WheelEntry*, std::size_t) const noexcept {}
  };

  // The earliest entry if its deadline is at or before `limit`, else null. Cascades only slots that
  // start at or before `limit`, so the cursor never passes `limit` (nor the earliest entry). When a
  // level-1 slot of at most `prefetch_batch` entries is cascaded (its entries
  // then leave next, one level-0 slot each), calls `on_batch(first, count)` with them, so that the
  // caller can prefetch what they refer to together. Measured in the hold model: per fire, 10^5
  // timers 101 -> 81 ns, 10^6 195 -> 156; larger batches, or batches from other levels, lose.
  template <class OnBatch = NoBatch>
  [[nodiscard]] const WheelEntry* top(std::int64_t limit, OnBatch&& on_batch = {}) {
    if (has_pending_) [[unlikely]] {
      resume();
    }
    if (!near_.empty()) return near_.front().deadline <= limit ? &near_.front() : nullptr;
    const std::uint64_t bound = deadline_key(limit);
    while (levels_ != 0) {
      const unsigned level = static_cast<unsigned>(std::countr_zero(levels_));
      const unsigned slot = static_cast<unsigned>(std::countr_zero(occupied_[level]));
      const std::uint64_t start = slot_start(level, slot);
      if (start > bound) return nullptr;
      const std::uint64_t end = start + (std::uint64_t{1} << (6 * level));  // 0: the key space's end
      if (level >= chained_from) {
        if (unchain(level, slot, start, end)) return near_.front().deadline <= limit ? &near_.front() : nullptr;
        continue;
      }
      if (level == 0) {
        std::vector<WheelEntry>& entries = level0()[slot];
        if (current_ != slot) {
          std::sort(entries.begin(), entries.end(),
                    [](const WheelEntry& a, const WheelEntry& b) { return a.order < b.order; });
          current_ = slot;
          front_ = 0;
          cursor_ = start;
          near_end_ = start;
        }
        return &entries[front_];
      }
      std::vector<WheelEntry>& entries = slots(1)[slot];
      if (entries.size() <= near_batch && end != 0) {
        cursor_ = start;
        near_end_ = end;
        near_.swap(entries);  // the slot keeps the heap's spare storage
        recycle(entries);
        clear_bit(level, slot);
        static_assert(near_batch <= 2, "a larger batch needs std::make_heap here");
        if (near_.size() == 2 && later(near_[0], near_[1])) std::swap(near_[0], near_[1]);  // a heap
        return near_.front().deadline <= limit ? &near_.front() : nullptr;
      }
      if (level == 1 && entries.size() <= prefetch_batch) on_batch(entries.data(), entries.size());
      cascade(level, slot, start);
    }
    return nullptr;
  }

  // A likely next entry after the one `top` returned, without moving anything; null if none is at
  // hand. For prefetching what the next fire will touch: the near heap's next candidate, or the
  // level-0 slot being consumed and the next occupied one (not sorted yet, so ties may come in
  // another order), or else the first entry of the wheel's earliest slot (exact when that slot
  // holds one entry, as the slots far from the cursor often do). Call only right after a non-null
  // `top`.
  [[nodiscard]] const WheelEntry* peek_after_top() const noexcept {
    std::uint32_t nonempty = levels_;
    if (!near_.empty()) {
      if (near_.size() > 1) return near_.size() == 2 || !later(near_[1], near_[2]) ? &near_[1] : &near_[2];
    } else {
      const std::vector<WheelEntry>& entries = level0()[current_];
      if (front_ + 1 < entries.size()) return &entries[front_ + 1];
      const std::uint64_t later_slots =
          current_ + 1 < 64 ? occupied_[0] >> (current_ + 1) << (current_ + 1) : 0;
      if (later_slots != 0) return &level0()[static_cast<unsigned>(std::countr_zero(later_slots))][0];
      nonempty &= ~1U;  // level 0 holds only the slot being consumed
    }
    if (nonempty == 0) return nullptr;
    const auto level = static_cast<unsigned>(std::countr_zero(nonempty));
    const auto slot = static_cast<unsigned>(std::countr_zero(occupied_[level]));
    if (level >= chained_from) {
      if (slot == staged_[level]) return nullptr;  // its entries are in a bank, some moved
      return &chain_at(level, slot).head->entries[0];
    }
    return &slots(level)[slot][0];
  }

  // Removes the entry `top` returned. Call only right after a non-null `top`.
  void pop() {
    --size_;
    if (active_ != 0) [[unlikely]] {
      drain_stages_or_wait(stage_rate);
    }
    if (!near_.empty()) {
      std::pop_heap(near_.begin(), near_.end(), later);
      near_.pop_back();
      return;
    }
    std::vector<WheelEntry>& entries = level0()[current_];
    if (++front_ == entries.size()) {
      entries.clear();
      recycle(entries);
      clear_bit(0, current_);
      current_ = none;
      front_ = 0;
    }
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  // Entries in the near heap (see above): few, unless keys arrive behind the cursor.
  [[nodiscard]] std::size_t near_size() const noexcept { return near_.size(); }

  void clear() {
    size_ = 0;
    if (vector_sets_ != nullptr) {
      for (auto& set : *vector_sets_) {
        for (auto& entries : set) {
          entries.clear();
          recycle(entries);
        }
      }
    }
    for (unsigned level = chained_from; level < levels; ++level) {
      if (!has_level(level)) continue;
      for (Chain& chain : chains(level)) release(chain);
    }
    unstage();
    occupied_.fill(0);
    levels_ = 0;
    near_.clear();
    current_ = none;
    front_ = 0;
    pending_.clear();
    release(pending_chain_);
    pending_used_ = 0;
    has_pending_ = false;
  }

  // Gives back what an empty wheel keeps for reuse (its blocks, its chained levels, its slots'
  // storage), leaving it as new; does nothing unless it is empty. For a wheel left idle (see
  // TimerQueue's `requeue`).
  [[gnu::noinline]] void release_storage() noexcept {
    if (size_ != 0) return;
    clear();
    delete_all_blocks();  // the pool's, and the heads that emptied slots kept
    for (auto& level : chain_sets_) level.reset();
    pool_ = nullptr;
    pooled_ = 0;
    blocks_ = 0;
    vector_sets_.reset();
    std::vector<std::vector<WheelEntry>>().swap(spare_);
    std::vector<WheelEntry>().swap(near_);
    std::vector<WheelEntry>().swap(scratch_);
    std::vector<WheelEntry>().swap(pending_);
    capacity_ = 0;
  }

  // Drops every entry for which `stale(entry)` holds; returns how many. O(size); allocates nothing.
  template <class Pred>
  std::size_t remove_if(Pred stale) {
    std::size_t removed = 0;
    for (unsigned level = chained_from; level < levels; ++level) {
      if (!has_level(level)) continue;
      for (unsigned slot = 0; slot < 64; ++slot) {
        Chain& chain = chain_at(level, slot);
        if (chain.size == 0) continue;
        if (slot == staged_[level]) {
          removed += sweep_staged(level, chain, stale);  // its bit stays set: see `sweep_staged`
          continue;
        }
        removed += sweep(chain, stale);
        if (chain.size == 0) clear_bit(level, slot);
      }
    }
    for (unsigned level = chained_from; level < levels - 1; ++level) {
      if (!has_level(level)) continue;
      for (unsigned slot = 0; slot < 64; ++slot) {
        Chain& chain = bank_chains(level)[slot];
        if (chain.size == 0) continue;
        if (slot == 0 && ((bank_staged_ >> level) & 1U) != 0) {  // staged itself
          removed += sweep_staged(level, chain, stale);
          continue;
        }
        removed += sweep(chain, stale);
        if (chain.size == 0) bank_occupied_[level] &= ~(std::uint64_t{1} << slot);
      }
    }
    if (vector_sets_ != nullptr) removed += sweep_vector_levels(stale);  // none before the first push
    if (has_pending_) {
      removed += sweep(pending_, 0, stale);
      if (pending_chain_.head != nullptr) {
        removed += sweep(pending_chain_, stale, pending_used_);
        pending_used_ = 0;
        if (pending_chain_.size == 0) release(pending_chain_);
      }
      has_pending_ = !pending_.empty() || pending_chain_.size != 0;
    }
    std::size_t kept = 0;
    for (const WheelEntry& e : near_) {
      if (stale(e)) {
        ++removed;
      } else {
        near_[kept++] = e;
      }
    }
    near_.resize(kept);
    std::make_heap(near_.begin(), near_.end(), later);
    size_ -= removed;
    return removed;
  }

  // The most entries one call moved at once (a cascade, or the rest of a staged slot), since the
  // last `reset_largest_cascade`: the wheel's worst case in a run (see "Staged cascades").
  [[nodiscard]] std::size_t largest_cascade() const noexcept { return largest_cascade_; }
  void reset_largest_cascade() noexcept { largest_cascade_ = 0; }

  // Entries' worth of storage the wheel holds (a measure of `bytes`).
  [[nodiscard]] std::size_t capacity() const noexcept {
    return capacity_ + scratch_.capacity() + pending_.capacity() + blocks_ * Block::capacity;
  }

  // Bytes held by the entries' storage (capacities), for memory accounting.
  [[nodiscard]] std::size_t bytes() const noexcept {
    const auto created = static_cast<std::size_t>(std::count_if(
        chain_sets_.begin(), chain_sets_.end(), [](const auto& level) { return level != nullptr; }));
    return sizeof(*this) + created * sizeof(LevelChains) +
           (vector_sets_ != nullptr ? sizeof(VectorSets) : 0) +
           (capacity_ + scratch_.capacity() + pending_.capacity()) * sizeof(WheelEntry) +
           blocks_ * sizeof(Block) + spare_.capacity() * sizeof(spare_.front());
  }

 private:
  static constexpr unsigned levels = 11;  // 6 bits each: 66 >= 64
  static constexpr unsigned none = 64;
  // Vector storage always kept, in entries (1 MiB): the vector levels (and the near heap) of a wheel
  // of up to some 10^4 timers never give storage back.
  static constexpr std::size_t kept_floor = 65536;
  // Storage a vector slot always keeps, in entries (4 KiB): at most 512 KiB over its 128 slots.
  static constexpr std::size_t kept_per_slot = 256;

  // Levels from here up keep their slots in chains of blocks (see "Memory" above); below, in vectors.
  static constexpr unsigned chained_from = 2;

  // A link and 15 entries: 248 bytes, 256 with malloc's header (aligning blocks to cache lines
  // made each cost 304). The link comes first, so a block of a few entries spans one or two cache
  // lines. Every block of a chain but its tail is full.
  struct Block {
    static constexpr std::uint32_t capacity = 15;
    Block* next = nullptr;
    WheelEntry entries[capacity];
  };
  static_assert(sizeof(Block) == 8 + 15 * sizeof(WheelEntry) || sizeof(void*) != 8);

  // The tail's count lives here, not in the block: a push reads only this (hot) array.
  // 24 bytes: a slot holds fewer than 2^32 entries (a queue, fewer than 2^24 timers).
  struct Chain {
    Block* head = nullptr;
    Block* tail = nullptr;
    std::uint32_t size = 0;
    std::uint32_t tail_count = 0;
    [[nodiscard]] std::uint32_t count_of(const Block* block) const noexcept {
      return block == tail ? tail_count : Block::capacity;
    }
  };

  // Free blocks kept for reuse: a sixteenth of the blocks in use, and at least `kept_blocks` (64
  // KiB; at 32, the batch model at 10^3 timers took 1.2x the time, freeing and allocating blocks).
  static constexpr std::size_t kept_blocks = 256;

  // Emptied slots keep their first block (see `empty_keeping_head`) from this many entries up.
  // Below it, those blocks (up to 216 KiB) would outweigh the entries: at 10^3 timers the kept
  // blocks took 95 bytes per timer, and a pool block is in cache anyway.
  static constexpr std::size_t keep_heads_from = 16384;
  [[nodiscard]] bool keep_heads() const noexcept { return size_ >= keep_heads_from; }

  // Each level from 1 up has two sets of slots: the level's, and the bank that stages the slot above
  // (see "Staged cascades"); bit L of `flip_` says which is which. Swapping a bank in flips the bit.
  // A chained level's slots exist once an entry is placed at that level or in its bank
  // (`ensure_level`): only those call these.
  [[nodiscard]] std::array<Chain, 64>& chains(unsigned level) noexcept {
    return (*chain_sets_[level - chained_from])[(flip_ >> level) & 1U];
  }
  [[nodiscard]] const std::array<Chain, 64>& chains(unsigned level) const noexcept {
    return (*chain_sets_[level - chained_from])[(flip_ >> level) & 1U];
  }
  [[nodiscard]] std::array<Chain, 64>& bank_chains(unsigned level) noexcept {
    return (*chain_sets_[level - chained_from])[((flip_ >> level) & 1U) ^ 1U];
  }
  [[nodiscard]] bool has_level(unsigned level) const noexcept {
    return chain_sets_[level - chained_from] != nullptr;
  }
  // Creates a chained level's two sets of slots (3 KiB) on first use. On std::bad_alloc, nothing
  // has changed.
  void ensure_level(unsigned level) {
    if (!has_level(level)) [[unlikely]] {
      add_level(level);
    }
  }
  [[gnu::noinline]] void add_level(unsigned level) {
    chain_sets_[level - chained_from] = std::make_unique<LevelChains>();
  }
  [[gnu::noinline]] void add_vector_sets() { vector_sets_ = std::make_unique<VectorSets>(); }
  // Level 0's slots: one set (it is never a bank), so no bit to read.
  // Levels 0 and 1 exist while the wheel holds entries (made by the first `push` into an empty
  // wheel: `add_vector_sets`); only code that runs then calls these.
  [[nodiscard]] std::array<std::vector<WheelEntry>, 64>& level0() noexcept { return (*vector_sets_)[0]; }
  [[nodiscard]] const std::array<std::vector<WheelEntry>, 64>& level0() const noexcept {
    return (*vector_sets_)[0];
  }
  [[nodiscard]] std::array<std::vector<WheelEntry>, 64>& slots(unsigned level) noexcept {
    return (*vector_sets_)[level + ((flip_ >> level) & 1U)];  // level 0: set 0; level 1: set 1 or 2
  }
  [[nodiscard]] const std::array<std::vector<WheelEntry>, 64>& slots(unsigned level) const noexcept {
    return (*vector_sets_)[level + ((flip_ >> level) & 1U)];
  }
  [[nodiscard]] std::array<std::vector<WheelEntry>, 64>& bank_vectors() noexcept {
    return (*vector_sets_)[1 + (((flip_ >> 1U) & 1U) ^ 1U)];
  }
  [[nodiscard]] Chain& chain_at(unsigned level, unsigned slot) noexcept { return chains(level)[slot]; }
  [[nodiscard]] const Chain& chain_at(unsigned level, unsigned slot) const noexcept {
    return chains(level)[slot];
  }

  [[nodiscard]] Block* take_block() {
    Block* block = pool_;
    if (block != nullptr) {
      pool_ = block->next;
      --pooled_;
      if (pool_ != nullptr) NAUTILUS_CLOCK_PREFETCH(pool_);  // the next block to take
    } else {
      block = new Block;
      ++blocks_;
    }
    block->next = nullptr;
    return block;
  }

  // Returns a list of blocks to the pool, or to the allocator past the pool's bound.
  void give_back(Block* list) noexcept {
    while (list != nullptr) {
      Block* next = list->next;
      if (pooled_ < kept_blocks || pooled_ * 16 < blocks_) {
        list->next = pool_;
        pool_ = list;
        ++pooled_;
      } else {
        delete list;
        --blocks_;
      }
      list = next;
    }
  }

  // Empties a chain, its blocks back to the pool.
  void release(Chain& chain) noexcept {
    give_back(chain.head);
    chain = Chain{};
  }

  // Empties a chain but keeps its first block: a slot that fills again (the cursor comes back to
  // every slot) then takes no block from the pool, whose blocks are cold. At most one block per
  // slot of levels 2 and up: 216 KiB. Only in a wheel of `keep_heads_from` entries or more (see
  // `keep_heads`); a smaller one gives the block back.
  void empty_keeping_head(Chain& chain) noexcept {
    if (!keep_heads()) {
      release(chain);
      return;
    }
    Block* head = chain.head;
    if (head == nullptr) return;
    give_back(head->next);
    head->next = nullptr;
    chain = Chain{head, head, 0, 0};
  }

  static void delete_blocks(Block* list) noexcept {
    while (list != nullptr) {
      Block* next = list->next;
      delete list;
      list = next;
    }
  }

  // Deletes every block: every chain's (both sets of every level), the pending chain's and the
  // pool's. The chains still point at them: for the destructor, and `release_storage`, which then
  // drops the levels.
  void delete_all_blocks() noexcept {
    for (const auto& level : chain_sets_) {
      if (level == nullptr) continue;
      for (const auto& set : *level) {
        for (const Chain& chain : set) delete_blocks(chain.head);
      }
    }
    delete_blocks(pending_chain_.head);
    delete_blocks(pool_);
  }

  // Compacts a chain in place, dropping the entries for which `stale` holds, and the head block's
  // first `first` (moved out already); returns how many of the others it dropped. Allocates nothing.
  template <class Pred>
  std::size_t sweep(Chain& chain, Pred& stale, std::uint32_t first = 0) {
    std::size_t removed = 0;
    Block* to = chain.head;  // (to, to_count) trails the entry read
    std::uint32_t to_count = 0;
    std::size_t kept = 0;
    for (Block* from = chain.head; from != nullptr; from = from->next) {
      const std::uint32_t count = chain.count_of(from);
      for (std::uint32_t i = from == chain.head ? first : 0; i < count; ++i) {
        if (stale(from->entries[i])) {
          ++removed;
          continue;
        }
        if (to_count == Block::capacity) {
          to = to->next;
          to_count = 0;
        }
        to->entries[to_count++] = from->entries[i];
        ++kept;
      }
    }
    Block* rest = to->next;
    to->next = nullptr;
    chain.tail = to;
    chain.tail_count = to_count;
    chain.size = static_cast<std::uint32_t>(kept);
    give_back(rest);
    return removed;
  }

  // The same for the chain staged at `level`, half drained: its head block's first `used_` entries
  // are in the bank already. Its bit stays set while it is staged, even once empty: the bank holds
  // its other entries.
  template <class Pred>
  std::size_t sweep_staged(unsigned level, Chain& chain, Pred& stale) {
    const std::size_t removed = sweep(chain, stale, used_[level]);
    used_[level] = 0;
    if (chain.size == 0) active_ &= ~(1U << level);
    return removed;
  }

  // The same for a vector slot, from its entry `first` (those before it go too).
  template <class Pred>
  static std::size_t sweep(std::vector<WheelEntry>& entries, std::size_t first, Pred& stale) {
    std::size_t removed = 0;
    std::size_t kept = 0;
    for (std::size_t i = first; i < entries.size(); ++i) {
      if (stale(entries[i])) {
        ++removed;
      } else {
        entries[kept++] = entries[i];
      }
    }
    entries.resize(kept);
    return removed;
  }

  // Appends to a chain, taking a block from the pool when its tail is full.
  [[gnu::always_inline]] void chain_append(Chain& chain, WheelEntry e) {
    if (chain.tail == nullptr || chain.tail_count == Block::capacity) [[unlikely]] {
      add_block(chain);
    }
    chain.tail->entries[chain.tail_count++] = e;
    ++chain.size;
  }
  [[gnu::noinline]] void add_block(Chain& chain) {
    Block* block = take_block();
    if (chain.tail == nullptr) {
      chain.head = block;
    } else {
      chain.tail->next = block;
    }
    chain.tail = block;
    chain.tail_count = 0;
  }

  // Appends to a vector slot; a slot's first entry takes spare storage (see `recycle`).
  void slot_append(std::vector<WheelEntry>& entries, WheelEntry e) {
    if (entries.capacity() == 0 && !spare_.empty()) {
      entries.swap(spare_.back());
      spare_.pop_back();
    }
    append(entries, e);
  }

  // Into the bank of level `level`, which holds the staged slot one level up (or, if the bank's
  // slot 0 is staged itself, into the bank below).
  [[gnu::always_inline]] void bank_place(unsigned level, std::uint64_t key, WheelEntry e) {
    const auto slot = static_cast<unsigned>((key >> (6 * level)) & 63U);
    if (slot == 0 && ((bank_staged_ >> level) & 1U) != 0) [[unlikely]] {
      bank_place_below(level - 1, key, e);
      return;
    }
    if (level >= chained_from) {
      ensure_level(level);  // first: on bad_alloc nothing has changed
      chain_append(bank_chains(level)[slot], e);
    } else {
      slot_append(bank_vectors()[slot], e);
    }
    bank_occupied_[level] |= std::uint64_t{1} << slot;
  }

  [[gnu::noinline]] void bank_place_below(unsigned level, std::uint64_t key, WheelEntry e) {
    bank_place(level, key, e);
  }

  // Stages the earliest slot of each chained level that has none staged, holds more than
  // `stage_threshold_` entries and is not the earliest slot of all (the lowest non-empty level's:
  // it is cascaded next anyway). Called when a slot leaves the wheel for the levels below.
  void arm_stages() noexcept {
    std::uint32_t candidates = levels_ & (levels_ - 1) & ~staged_levels_ & ~((1U << chained_from) - 1);
    while (candidates != 0) {
      const auto level = static_cast<unsigned>(std::countr_zero(candidates));
      candidates &= candidates - 1;
      const auto slot = static_cast<unsigned>(std::countr_zero(occupied_[level]));
      if (chain_at(level, slot).size <= stage_threshold_) continue;
      staged_[level] = static_cast<unsigned char>(slot);
      used_[level] = 0;
      staged_levels_ |= 1U << level;
      active_ |= 1U << level;
    }
    // A staged slot's bank will become the level below it with its slot 0 the earliest, cascaded
    // in the same call as the swap: so once that level has no stage of its own (its slots ahead are
    // done), its bank's slot 0 is staged in turn, into the bank one level further down. Bank levels
    // from 2 up only: level 0 has no second set.
    std::uint32_t staged = staged_levels_ & ~((1U << (chained_from + 1)) - 1);
    while (staged != 0) {
      const auto level = static_cast<unsigned>(std::countr_zero(staged));
      staged &= staged - 1;
      const unsigned below = level - 1;
      if (((staged_levels_ >> below) & 1U) != 0 || !has_level(below) ||
          bank_chains(below)[0].size <= stage_threshold_) {
        continue;
      }
      used_[below] = 0;
      staged_levels_ |= 1U << below;
      bank_staged_ |= 1U << below;
      active_ |= 1U << below;
    }
  }

  // Moves up to `most` entries of the slot staged at `level` into its bank, from the chain's head;
  // returns how many. Once the chain is empty the level is no longer active (its bit in `occupied_`
  // stays, until the bank is swapped in).
  std::size_t drain(unsigned level, std::size_t most) {
    Chain& chain =
        ((bank_staged_ >> level) & 1U) != 0 ? bank_chains(level)[0] : chain_at(level, staged_[level]);
    std::uint32_t& used = used_[level];  // entries of the head block already moved
    const unsigned below = level - 1;
    std::size_t moved = 0;
    while (moved < most && chain.size != 0) {
      Block* head = chain.head;
      const std::uint32_t count = chain.count_of(head);
      if (used == count) {  // not the tail: the chain is not empty
        chain.head = head->next;
        head->next = nullptr;
        give_back(head);
        used = 0;
        if (chain.head->next != nullptr) NAUTILUS_CLOCK_PREFETCH(chain.head->next);  // read some 7 pops later
        continue;
      }
      const auto take = static_cast<std::uint32_t>(std::min<std::size_t>(count - used, most - moved));
      for (std::uint32_t i = 0; i < take; ++i) {
        const WheelEntry e = head->entries[used];
        bank_place(below, deadline_key(e.deadline), e);  // first: on bad_alloc the entry stays here
        ++used;
        --chain.size;
      }
      moved += take;
    }
    if (chain.size == 0) {
      empty_keeping_head(chain);
      used = 0;
      active_ &= ~(1U << level);
    }
    return moved;
  }

  // Moves up to `most` entries of every staged slot into its bank: `stage_rate` per `pop` (see
  // "Staged cascades"), or all of them.
  [[gnu::noinline]] void drain_stages(std::size_t most) {
    std::uint32_t active = active_;
    while (active != 0) {
      const auto level = static_cast<unsigned>(std::countr_zero(active));
      active &= active - 1;
      drain(level, most);
    }
  }

  // The same from `pop`, which must not throw: on bad_alloc the entries not moved stay staged, to be
  // moved by later pops or by the swap (each entry is in the slot or in the bank, never both).
  [[gnu::noinline]] void drain_stages_or_wait(std::size_t most) noexcept {
    try {
      drain_stages(most);
    } catch (const std::bad_alloc&) {
    }
  }

  // The staged slot (level, slot), now the earliest (the levels below are empty): its bank becomes
  // level - 1, and the cursor moves to the slot's start.
  [[gnu::noinline]] void swap_in(unsigned level, unsigned slot, std::uint64_t start) {
    note_cascade(drain(level, std::numeric_limits<std::size_t>::max()));
    staged_[level] = none;
    staged_levels_ &= ~(1U << level);
    clear_bit(level, slot);
    const unsigned below = level - 1;
    flip_ ^= 1U << below;
    occupied_[below] = bank_occupied_[below];
    bank_occupied_[below] = 0;
    if (occupied_[below] != 0) levels_ |= 1U << below;
    if (((bank_staged_ >> below) & 1U) != 0) {  // its slot 0, staged in the bank, is now the level's
      bank_staged_ &= ~(1U << below);
      staged_[below] = 0;
    }
    cursor_ = start;
    near_end_ = start;
    arm_stages();
  }

  // `remove_if` over levels 0 and 1 and level 1's bank (which exist: see `add_vector_sets`).
  template <class Pred>
  std::size_t sweep_vector_levels(Pred stale) {
    std::size_t removed = 0;
    for (unsigned level = 0; level < chained_from; ++level) {
      for (unsigned slot = 0; slot < 64; ++slot) {
        std::vector<WheelEntry>& entries = slots(level)[slot];
        if (entries.empty()) continue;
        const bool consumed = level == 0 && slot == current_;  // its consumed entries go too
        removed += sweep(entries, consumed ? front_ : 0, stale);
        if (consumed) front_ = 0;
        if (entries.empty()) {
          recycle(entries);
          clear_bit(level, slot);
          if (consumed) current_ = none;
        }
      }
    }
    for (unsigned slot = 0; slot < 64; ++slot) {
      std::vector<WheelEntry>& entries = bank_vectors()[slot];
      if (entries.empty()) continue;
      removed += sweep(entries, 0, stale);
      if (entries.empty()) {
        recycle(entries);
        bank_occupied_[1] &= ~(std::uint64_t{1} << slot);
      }
    }
    return removed;
  }

  // Clears the marks an empty wheel may keep (a staged slot's bit stays set once a sweep empties
  // it): the cursor may then move anywhere.
  [[gnu::noinline]] void forget_slots() noexcept {
    unstage();
    occupied_.fill(0);
    levels_ = 0;
    current_ = none;
    front_ = 0;
  }

  // Drops every stage, its bank's entries with it (for `clear`, or `restart` once it has them).
  void unstage() noexcept {
    for (unsigned level = chained_from; level < levels; ++level) {
      if (!has_level(level)) continue;
      for (Chain& chain : bank_chains(level)) release(chain);
    }
    if (vector_sets_ != nullptr) {
      for (auto& entries : bank_vectors()) {
        entries.clear();
        recycle(entries);
      }
    }
    for (unsigned level = 0; level < levels; ++level) {
      if (staged_[level] != none) empty_keeping_head(chain_at(level, staged_[level]));
    }
    staged_.fill(none);
    used_.fill(0);
    bank_occupied_.fill(0);
    staged_levels_ = 0;
    bank_staged_ = 0;
    active_ = 0;
  }

  void note_cascade(std::size_t moved) noexcept { largest_cascade_ = std::max(largest_cascade_, moved); }

  // The earliest slot, chained: swapped for its bank if staged, to the near heap if small (returns
  // true), else cascaded. Out of line, so that `top` stays small enough to inline.
  [[gnu::noinline]] bool unchain(unsigned level, unsigned slot, std::uint64_t start, std::uint64_t end) {
    if (slot == staged_[level]) {
      swap_in(level, slot, start);
      return false;
    }
    Chain& chain = chain_at(level, slot);
    if (chain.size <= near_batch && end != 0) {
      // Into the near heap (empty here): the chain's one block holds them. On bad_alloc, as if
      // not begun.
      try {
        for (std::uint32_t i = 0; i < chain.tail_count; ++i) append(near_, chain.head->entries[i]);
      } catch (...) {
        near_.clear();
        throw;
      }
      cursor_ = start;
      near_end_ = end;
      empty_keeping_head(chain);
      clear_bit(level, slot);
      if (near_.size() == 2 && later(near_[0], near_[1])) std::swap(near_[0], near_[1]);  // a heap
      arm_stages();
      return true;
    }
    note_cascade(chain.size);
    cascade_chain(level, slot, start);
    arm_stages();
    return false;
  }

  // As `cascade`, for a chained slot: each block goes back as soon as its entries are placed, so
  // the levels below fill with the blocks the slot gives up.
  void cascade_chain(unsigned level, unsigned slot, std::uint64_t start) {
    cursor_ = start;
    near_end_ = start;
    Chain& chain = chain_at(level, slot);
    const Chain taken = chain;
    Block* const head = taken.head;
    chain = Chain{head, head, 0, 0};  // the slot keeps its first block (see empty_keeping_head)
    clear_bit(level, slot);
    Block* block = head;
    std::uint32_t i = 0;
    try {
      while (block != nullptr) {
        // Placing never reaches this slot (only the levels below), so its kept block is not
        // written while it is read.
        Block* next = block->next;
        if (next != nullptr) NAUTILUS_CLOCK_PREFETCH(next);  // a chain defeats the hardware's prefetcher
        const std::uint32_t count = taken.count_of(block);
        for (i = 0; i < count; ++i) place(block->entries[i]);
        if (block != head) {
          block->next = nullptr;
          give_back(block);
        }
        block = next;
      }
    } catch (...) {
      // Out of memory while placing entry i of `block`: that entry and the rest become the pending
      // chain, placed by the next `top` (see "Out of memory"). If `block` is the slot's kept first
      // block, the slot gives it up.
      std::size_t rest = taken.count_of(block) - i;
      for (const Block* b = block->next; b != nullptr; b = b->next) rest += taken.count_of(b);
      if (block == head) {
        chain = Chain{};
      } else {
        head->next = nullptr;
      }
      pending_chain_ = Chain{block, taken.tail, static_cast<std::uint32_t>(rest), taken.tail_count};
      pending_used_ = i;
      has_pending_ = true;
      throw;
    }
    head->next = nullptr;
    if (!keep_heads()) release(chain);
  }

  static bool later(const WheelEntry& a, const WheelEntry& b) noexcept { return entry_before(b, a); }

  // The first key of `slot` at `level`, given the cursor: the cursor's bits above the level, the
  // slot's digit, zeros below.
  [[nodiscard]] std::uint64_t slot_start(unsigned level, unsigned slot) const noexcept {
    const unsigned shift = 6 * level;
    const std::uint64_t above = shift + 6 >= 64 ? 0 : cursor_ >> (shift + 6) << (shift + 6);
    return above | (std::uint64_t{slot} << shift);
  }

  void place(WheelEntry e) {
    const std::uint64_t key = deadline_key(e.deadline);
    const std::uint64_t diff = key ^ cursor_;
    const unsigned level = diff == 0 ? 0 : static_cast<unsigned>(63 - std::countl_zero(diff)) / 6;
    const auto slot = static_cast<unsigned>((key >> (6 * level)) & 63U);
    if (level >= chained_from) {
      if (slot == staged_[level]) [[unlikely]] {  // a staged slot (its bit is set): to its bank
        bank_place(level - 1, key, e);
        return;
      }
      ensure_level(level);
      chain_append(chain_at(level, slot), e);  // first: on bad_alloc nothing has changed
      occupied_[level] |= std::uint64_t{1} << slot;
      levels_ |= 1U << level;
      return;
    }
    slot_append(slots(level)[slot], e);
    occupied_[level] |= std::uint64_t{1} << slot;
    levels_ |= 1U << level;
  }

  void clear_bit(unsigned level, unsigned slot) noexcept {
    occupied_[level] &= ~(std::uint64_t{1} << slot);
    if (occupied_[level] == 0) levels_ &= ~(1U << level);
  }

  // Re-places every entry relative to a cursor at the earliest key (the near heap's top, which
  // precedes the whole wheel), emptying the near heap.
  void restart() {
    if (has_pending_) resume();
    std::vector<WheelEntry> all;
    all.reserve(size_);
    drain_stages(std::numeric_limits<std::size_t>::max());
    for (unsigned level = chained_from; level < levels; ++level) {
      if (!has_level(level)) continue;
      for (const Chain& chain : bank_chains(level)) {
        for (const Block* b = chain.head; b != nullptr; b = b->next) {
          all.insert(all.end(), b->entries, b->entries + chain.count_of(b));
        }
      }
    }
    for (const auto& entries : bank_vectors()) all.insert(all.end(), entries.begin(), entries.end());
    unstage();
    for (unsigned level = chained_from; level < levels; ++level) {
      if (!has_level(level)) continue;
      for (Chain& chain : chains(level)) {
        for (const Block* b = chain.head; b != nullptr; b = b->next) {
          all.insert(all.end(), b->entries, b->entries + chain.count_of(b));
        }
        release(chain);
      }
    }
    for (unsigned level = 0; level < chained_from; ++level) {
      for (unsigned slot = 0; slot < 64; ++slot) {
        std::vector<WheelEntry>& entries = slots(level)[slot];
        const std::size_t first = level == 0 && slot == current_ ? front_ : 0;
        all.insert(all.end(), entries.begin() + static_cast<std::ptrdiff_t>(first), entries.end());
        entries.clear();
        recycle(entries);
      }
    }
    all.insert(all.end(), near_.begin(), near_.end());
    cursor_ = deadline_key(near_.front().deadline);
    near_end_ = cursor_;
    near_.clear();
    occupied_.fill(0);
    levels_ = 0;
    current_ = none;
    front_ = 0;
    place_or_pend(all);  // the cursor is at the earliest
  }

  // Places every entry of `entries` (nothing pending: `top` resumed first). If placing one throws,
  // it and the rest become the pending vector, placed by the next `top` (see "Out of memory"),
  // and `entries` is left empty.
  void place_or_pend(std::vector<WheelEntry>& entries) {
    std::size_t placed = 0;
    try {
      for (; placed < entries.size(); ++placed) place(entries[placed]);
    } catch (...) {
      entries.erase(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(placed));
      pending_.swap(entries);
      has_pending_ = true;
      throw;
    }
  }

  // Places the entries whose move a std::bad_alloc cut short (see "Out of memory"), one at a time:
  // if it throws again, each entry is in the wheel or still pending, never both or neither.
  [[gnu::noinline]] void resume() {
    while (!pending_.empty()) {
      place(pending_.back());
      pending_.pop_back();
    }
    while (pending_chain_.size != 0) {
      Block* head = pending_chain_.head;
      if (pending_used_ == pending_chain_.count_of(head)) {  // not the tail: entries remain
        pending_chain_.head = head->next;
        head->next = nullptr;
        give_back(head);
        pending_used_ = 0;
        continue;
      }
      place(head->entries[pending_used_]);
      ++pending_used_;
      --pending_chain_.size;
    }
    release(pending_chain_);
    pending_used_ = 0;
    std::vector<WheelEntry>().swap(pending_);
    has_pending_ = false;
  }

  // Moves the cursor to the start of (level, slot), the earliest non-empty slot, and spreads its
  // entries over the levels below. The slot's storage is kept for reuse.
  [[gnu::noinline]] void cascade(unsigned level, unsigned slot, std::uint64_t start) {
    cursor_ = start;
    near_end_ = start;
    scratch_.swap(slots(level)[slot]);
    clear_bit(level, slot);
    note_cascade(scratch_.size());
    try {
      place_or_pend(scratch_);
    } catch (...) {
      // The slot's storage went to the pending vector: no longer the slots' (`capacity_`).
      capacity_ -= std::min(capacity_, pending_.capacity());
      throw;
    }
    scratch_.clear();
    scratch_.swap(slots(level)[slot]);  // an empty vector with capacity goes back
    recycle(slots(level)[slot]);
  }

  // Every append to the wheel's storage goes through here, so that `capacity_` follows growth.
  void append(std::vector<WheelEntry>& entries, WheelEntry e) {
    if (entries.size() < entries.capacity()) [[likely]] {
      entries.push_back(e);
      return;
    }
    const std::size_t before = entries.capacity();
    entries.push_back(e);
    capacity_ += entries.capacity() - before;
  }

  // Takes the storage of an emptied vector slot, unless it is small (`kept_per_slot`: the busy
  // slots near the cursor keep theirs). It goes to the spares, which the next slot to fill takes, or
  // back to the allocator while the vectors hold more than twice the wheel's entries plus
  // `kept_floor`. So storage circulates between slots, and memory follows the entries (with the
  // block pool, a steady state allocates about once per million fires: bench/timer_bench.cpp).
  void recycle(std::vector<WheelEntry>& emptied) noexcept {
    if (emptied.capacity() > kept_per_slot) [[unlikely]] {
      recycle_storage(emptied);
    }
  }
  [[gnu::noinline]] void recycle_storage(std::vector<WheelEntry>& emptied) noexcept {
    if (capacity_ <= 2 * size_ + kept_floor) {
      try {
        spare_.push_back(std::move(emptied));  // strong guarantee: on failure `emptied` is intact
        emptied = std::vector<WheelEntry>();
        return;
      } catch (const std::bad_alloc&) {
        // no room to keep it: give it back below
      }
    }
    capacity_ -= emptied.capacity();
    std::vector<WheelEntry>().swap(emptied);
  }

  // The scalars a push or a pop reads first, then the slots: levels 0 and 1 (4.5 KiB) made by the
  // first push, the chained levels' (3 KiB each: two sets of 64 chains) created as entries first
  // reach them (see "Memory").
  std::array<std::uint64_t, levels> occupied_{};
  std::uint32_t levels_ = 0;          // bit L: level L has an occupied slot
  std::uint32_t flip_ = 0;            // bit L: level L's slots are its second set (see `chains`)
  std::uint64_t cursor_ = 0;          // key of the wheel's position (<= every entry in the wheel)
  std::uint64_t near_end_ = 0;        // keys below it go to the near heap (>= cursor_)
  unsigned current_ = none;           // the level-0 slot being consumed (sorted), or none
  std::size_t front_ = 0;             // its next entry
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;                    // entries' worth of storage in the slots and the near heap
  std::vector<std::vector<WheelEntry>> spare_;  // emptied slots' storage (see `recycle`)
  std::vector<WheelEntry> near_;                // min-heap (by `later`) of the keys below near_end_
  std::vector<WheelEntry> scratch_;
  // Entries whose move down the wheel a std::bad_alloc cut short (see "Out of memory"), placed
  // relative to the cursor by the next `top`: a vector's, or a chain's from its head block's entry
  // `pending_used_`.
  std::vector<WheelEntry> pending_;
  Chain pending_chain_;
  std::uint32_t pending_used_ = 0;
  bool has_pending_ = false;
  Block* pool_ = nullptr;    // free blocks, linked by `next`
  std::size_t pooled_ = 0;   // blocks in the pool
  std::size_t blocks_ = 0;   // blocks held, in chains and in the pool
  // Level 0's slots and level 1's two sets, 4.5 KiB, made by the first push (`add_vector_sets`) and
  // given back by `release_storage`: a queue whose timers never reach the wheel (a batch loaded
  // into an empty queue, periodic timers in their lanes) holds none (4.6 bytes per timer at 10^3).
  using VectorSets = std::array<std::array<std::vector<WheelEntry>, 64>, 3>;
  std::unique_ptr<VectorSets> vector_sets_;
  using LevelChains = std::array<std::array<Chain, 64>, 2>;
  std::array<std::unique_ptr<LevelChains>, levels - chained_from> chain_sets_{};
  // Staging (see "Staged cascades"), by the staged slot's level L (2 and up): the slot, or `none`;
  // the entries of its chain's head block already moved. Its bank is level L - 1's second set of
  // slots (`bank_vectors` for level 1, `bank_chains` above).
  std::array<unsigned char, levels> staged_ = filled(none);
  std::array<std::uint32_t, levels> used_{};
  std::uint32_t staged_levels_ = 0;  // bit L: a slot of level L is staged
  std::uint32_t bank_staged_ = 0;    // bit L: ... and it is slot 0 of level L's bank (staged_[L] none)
  std::uint32_t active_ = 0;         // bit L: ... and its chain still holds entries to move
  std::array<std::uint64_t, levels> bank_occupied_{};
  std::size_t stage_threshold_ = default_stage_threshold;
  std::size_t largest_cascade_ = 0;

  static constexpr std::array<unsigned char, levels> filled(unsigned value) noexcept {
    std::array<unsigned char, levels> a{};
    a.fill(static_cast<unsigned char>(value));
    return a;
  }
};

}  // namespace nautilus::detail
