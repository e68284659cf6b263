// nautilus-clock: a batch run, the sorted array beside the timing wheel that takes the timers set
// into an empty queue.
//
// Why. A backtest often loads a whole batch of timers (the day's order expiries, say) and then
// advances through them. Through the wheel, each entry is placed at a high level and moved down
// three or four levels, one slot at a time, before it fires: some 450 instructions per timer at
// 10^3 timers over a millisecond. Sorted together once, with a least-significant-digit radix sort,
// the batch costs a few passes over contiguous memory, and each fire reads the next entry of an
// array.
//
// How. While the queue holds nothing else (its wheel is empty and the previous run has been read),
// the timers it is given are appended to an inbox, unsorted. The first question for the earliest
// entry settles the inbox: it is sorted into the run, and the run's front then competes with the
// wheel's top and the lanes' fronts. Timers set while the run is being read go to the wheel, as
// before (a hold model, which fires one timer and sets the next, never loads an empty queue).
//
// Ordering: exact. Entries reach the inbox in the order their timers were set, so their `order`
// rises along it; the radix sort is stable, so equal deadlines keep that order. An inbox whose
// orders do not rise (not a case `TimerQueue` produces) is sorted by (deadline, order) instead.
//
// The sort. Only the bits of the deadlines' offsets from the least are sorted on: a batch spread
// over a millisecond has offsets of 20 bits, two passes of 10-bit digits (1,024 buckets), whose
// digits are counted together in one read, in 16-bit counts up to 65,535 entries. At most six
// passes of 11-bit digits cover the whole key.
// A batch of fewer than `radix_floor` entries is sorted by comparison, in place.
//
// Memory. The inbox and the run are 16-byte entries in vectors. The sort needs a second array of
// the batch's size while it runs; the other array goes back to the allocator once sorted, and the
// run's once read. So a batch holds 16 to 18 bytes per entry but while it is sorted (the wheel's
// blocks hold 17 to 18), and a queue that is never empty again holds nothing here once its first
// batch is read. The inbox of the next batch is reserved at the last batch's size: one allocation,
// no growth. (A run being read holds its whole array until its end, beside the wheel's entries for
// the timers set meanwhile.)
//
// Out of memory. `push` either appends or throws with nothing changed. `settle` never throws: if it
// cannot get the sort's second array, it sorts the inbox in place by comparison.
#pragma once

#include <algorithm>    // std::sort, std::fill_n
#include <array>        // std::array
#include <bit>          // std::bit_width
#include <cstddef>      // std::size_t
#include <cstdint>      // std::uint32_t, std::uint64_t
#include <memory>       // std::allocator
#include <new>          // std::bad_alloc
#include <type_traits>  // std::is_nothrow_default_constructible_v
#include <utility>      // std::forward, std::swap
#include <vector>       // std::vector, std::erase_if

#include "nautilus/clock/detail/timing_wheel.hpp"  // WheelEntry, entry_before, grown_capacity

namespace nautilus::detail {

// A std::allocator whose `construct()` with no arguments default-initialises: for a trivial type,
// `resize` then leaves the new elements as they are, and the sort's second array is not zeroed
// before the sort writes every element of it.
template <class T>
struct UninitializedAllocator : std::allocator<T> {
  using value_type = T;
  UninitializedAllocator() noexcept = default;
  // Implicit, as std::allocator's converting constructor.
  template <class U>
  UninitializedAllocator(const UninitializedAllocator<U>& /*other*/) noexcept {}  // NOLINT
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  template <class U>
  void construct(U* place) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(place)) U;
  }
  template <class U, class... Args>
  void construct(U* place, Args&&... args) {
    ::new (static_cast<void*>(place)) U(std::forward<Args>(args)...);
  }
};

class BatchRun {
  using Entries = std::vector<WheelEntry, UninitializedAllocator<WheelEntry>>;

 public:
  // Batches smaller than this are sorted by comparison (std::sort), in place: a radix pass costs a
  // histogram of up to 2,048 buckets, and sorting 64 entries costs less.
  static constexpr std::size_t radix_floor = 64;

  // Nothing in the inbox and nothing left to read. One load: a queue asks at every fire.
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  // The inbox holds entries not sorted yet: call `settle` before reading.
  [[nodiscard]] bool loading() const noexcept { return !inbox_.empty(); }
  // Whether the run has been read to its end: new entries may then go to the inbox.
  [[nodiscard]] bool read() const noexcept { return next_ == run_end_; }
  // Entries in the inbox and left in the run.
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  // Appends `e` to the inbox: only once the run has been `read()`. On std::bad_alloc nothing has
  // changed. Flattened: in a named set GCC left the vector's `push_back` out of line (a call per
  // set; batch/1000 named 68.0 -> 67.4 ns run alternately once inlined).
  [[gnu::flatten]] void push(const WheelEntry& e) {
    if (inbox_.size() == inbox_.capacity() || inbox_.empty()) [[unlikely]] {
      push_first_or_grow(e);
      return;
    }
    if (e.order < inbox_.back().order) rising_ = false;
    inbox_.push_back(e);
    ++size_;
  }

  // Sorts the inbox into the run, which has been read. Never throws (see "Out of memory").
  void settle() noexcept {
    if (!inbox_.empty()) sort_inbox();
  }

  // The earliest entry. Settled, and not `read()`.
  [[nodiscard]] const WheelEntry& front() const noexcept { return *next_; }
  // The entry `places` after the front, if any (for prefetching).
  [[nodiscard]] const WheelEntry* ahead(std::size_t places) const noexcept {
    return places < static_cast<std::size_t>(run_end_ - next_) ? next_ + places : nullptr;
  }
  // Removes the front. A run read to its end gives its array back unless small.
  void pop_front() noexcept {
    --size_;
    if (++next_ == run_end_) [[unlikely]] {
      pop_all();
    }
  }

  // Removes the front, which is not the last entry (`ahead(1)` is not null).
  void pop_front_not_last() noexcept {
    --size_;
    ++next_;
  }

  // Drops every entry for which `stale(entry)` holds, keeping the others in order; returns how many.
  template <class Pred>
  std::size_t remove_if(Pred stale) noexcept {
    WheelEntry* kept = next_;
    for (const WheelEntry* e = next_; e != run_end_; ++e) {
      if (!stale(*e)) *kept++ = *e;
    }
    std::size_t removed = static_cast<std::size_t>(run_end_ - kept);
    run_end_ = kept;
    if (next_ == run_end_) pop_all();
    removed += std::erase_if(inbox_, stale);
    size_ -= removed;
    return removed;
  }

  void clear() noexcept {
    inbox_.clear();
    pop_all();
    release(inbox_);
    size_ = 0;
    rising_ = true;
  }

  [[nodiscard]] std::size_t bytes() const noexcept {
    return (inbox_.capacity() + run_.capacity()) * sizeof(WheelEntry);
  }

 private:
  // An emptied array of this many entries or fewer (2 KiB, the first size: `grown_capacity`) is
  // kept, not given back: a queue that loads a few timers at a time then allocates nothing.
  static constexpr std::size_t kept_entries = 128;
  // Digits of up to 11 bits: 2,048 buckets, 8 KiB of 32-bit counts a pass (4 KiB in 16 bits).
  static constexpr unsigned max_digit_bits = 11;

  // `deadline - least` (least <= deadline) as an unsigned number, exact over the whole int64 range:
  // the order of `deadline_key`, without its sign-bit flip (the flip cancels in the difference).
  static std::uint64_t offset(std::int64_t deadline, std::int64_t least) noexcept {
    return static_cast<std::uint64_t>(deadline) - static_cast<std::uint64_t>(least);
  }

  void sort_by_comparison() noexcept { std::sort(inbox_.begin(), inbox_.end(), entry_before); }

  // Sorts the inbox on the low `bits` bits (1 to 64) of the deadlines' offsets from `least` (the
  // least deadline), stably, with `scratch` (sized) as the second array; returns the array that
  // holds the result. The counts of the first two passes are taken in one read of the inbox (a
  // batch spread over up to 4 ms needs no more passes): measured at 10^3 alerts over a
  // millisecond, 52 instructions per entry instead of 58.
  template <class Count>
  Entries* radix_sort(std::int64_t least, unsigned bits, Entries& scratch) noexcept {
    const unsigned passes = (bits + max_digit_bits - 1) / max_digit_bits;  // 1 to 6
    const unsigned digit_bits = (bits + passes - 1) / passes;              // 1 to 11
    const std::uint64_t mask = (std::uint64_t{1} << digit_bits) - 1;
    const std::size_t buckets = std::size_t{1} << digit_bits;
    const auto digit = [&](const WheelEntry& e, unsigned pass) noexcept {
      return static_cast<std::size_t>((offset(e.deadline, least) >> (pass * digit_bits)) & mask);
    };
    Entries* from = &inbox_;
    Entries* to = &scratch;
    std::array<std::array<Count, std::size_t{1} << max_digit_bits>, 2> counts;
    std::fill_n(counts[0].begin(), buckets, Count{0});
    std::fill_n(counts[1].begin(), buckets, Count{0});
    for (const WheelEntry& e : inbox_) {
      ++counts[0][digit(e, 0)];
      ++counts[1][digit(e, 1)];  // all in bucket 0 if there is one pass
    }
    // Each count becomes its bucket's first place; the first two passes' in one loop.
    Count totals[2] = {0, 0};
    for (std::size_t b = 0; b < buckets; ++b) {
      for (unsigned k = 0; k < 2; ++k) {
        const Count n = counts[k][b];
        counts[k][b] = totals[k];
        totals[k] = static_cast<Count>(totals[k] + n);
      }
    }
    for (unsigned pass = 0; pass < passes; ++pass) {
      std::array<Count, std::size_t{1} << max_digit_bits>& count = counts[pass & 1U];
      if (pass >= 2) {  // the places of a third pass on
        std::fill_n(count.begin(), buckets, Count{0});
        for (const WheelEntry& e : *from) ++count[digit(e, pass)];
        Count total = 0;
        for (std::size_t b = 0; b < buckets; ++b) {
          const Count n = count[b];
          count[b] = total;
          total = static_cast<Count>(total + n);
        }
      }
      WheelEntry* out = to->data();
      for (const WheelEntry& e : *from) out[count[digit(e, pass)]++] = e;
      std::swap(from, to);
    }
    return from;
  }

  [[gnu::noinline]] void sort_inbox() noexcept {
    const std::size_t n = inbox_.size();
    Entries scratch;  // the sort's second array
    Entries* sorted = &inbox_;
    if (!rising_ || n < radix_floor) {
      sort_by_comparison();
    } else {
      std::int64_t least = inbox_.front().deadline;
      std::int64_t most = least;
      for (const WheelEntry& e : inbox_) {
        least = std::min(least, e.deadline);
        most = std::max(most, e.deadline);
      }
      // The offsets from the least deadline fit this many bits: sorting on those bits alone orders them.
      const auto bits = static_cast<unsigned>(std::bit_width(offset(most, least)));
      if (bits != 0) {
        try {
          scratch.resize(n);
          // Counts of 16 bits where they fit: half the cache lines to clear, fill and read.
          sorted = n <= 0xffff ? radix_sort<std::uint16_t>(least, bits, scratch)
                               : radix_sort<std::uint32_t>(least, bits, scratch);
        } catch (const std::bad_alloc&) {
          sort_by_comparison();
        }
      }
    }
    // The run has been read (its array given back, unless small): the sorted array takes its place,
    // and the inbox keeps the old one if small. The other goes back (the scratch array, at the end
    // of this scope). The next batch's inbox is reserved at its first push.
    run_.swap(*sorted);
    if (sorted == &scratch) inbox_.swap(scratch);
    next_ = run_.data();
    run_end_ = next_ + n;
    last_batch_ = n;
    inbox_.clear();
    release(inbox_);
    rising_ = true;
  }

  // The first entry of a batch (the inbox is reserved at the last batch's size: a queue that loads
  // batches tends to load them alike), or one that needs the inbox to grow.
  [[gnu::noinline]] void push_first_or_grow(const WheelEntry& e) {
    if (inbox_.empty()) {
      if (inbox_.capacity() < last_batch_) inbox_.reserve(last_batch_);
    } else if (e.order < inbox_.back().order) {
      rising_ = false;
    }
    // Doubled while small, then by an eighth, as a lane's ring (`grown_capacity`). Doubling left up
    // to half of the inbox empty while the batch waited: a first batch of 10^5 named timers held
    // 80.9 bytes per timer, 64.9 beyond its callback, 5 of them the inbox's slack; grown by half,
    // 10^6 held 80.0. By an eighth the slack is 2 bytes per entry at most, and each entry is copied
    // some nine times as the inbox grows: in a queue's first batch only, since later ones are
    // reserved at the last one's size.
    if (inbox_.size() == inbox_.capacity()) inbox_.reserve(grown_capacity(inbox_.capacity()));
    inbox_.push_back(e);
    ++size_;
  }


  // Forgets the run (read, or every entry left stale) and gives its array back unless small.
  void pop_all() noexcept {
    run_.clear();
    release(run_);
    next_ = run_.data();
    run_end_ = next_;
  }

  static void release(Entries& entries) noexcept {
    if (entries.capacity() > kept_entries) Entries().swap(entries);
  }

  Entries inbox_;    // unsorted, in the order pushed
  Entries run_;      // sorted by (deadline, order); [next_, run_end_) left to read
  WheelEntry* next_ = nullptr;
  WheelEntry* run_end_ = nullptr;
  std::size_t size_ = 0;        // inbox_.size() + (run_end_ - next_)
  std::size_t last_batch_ = 0;  // entries in the last batch sorted
  bool rising_ = true;          // the inbox's orders rise in the order pushed
};

}  // namespace nautilus::detail
