// nautilus-clock: a lane, the FIFO beside the timing wheel that holds the re-armed ticks of
// periodic timers sharing one interval.
//
// Why. A periodic timer re-armed at its fire time plus its interval lands far from the wheel's
// position (a minute ahead, for a bar timer), so the wheel moves it down three levels before it
// fires again. Yet timers that share an interval are re-armed in the order they fire, each at
// its tick plus the same interval: their next ticks come out sorted by (deadline, creation order)
// already (libevent's "common timeouts" rest on the same fact). A lane keeps them in that order in
// a ring of 16-byte entries, and its front competes with the wheel's top and the other lanes'
// fronts for the earliest tick. An append that would break the order (a tick re-phased by the
// `delay` policy, say) goes to the wheel instead: a lane only ever holds a sorted run.
#pragma once

#include <cstddef>  // std::size_t
#include <cstdint>  // std::int64_t
#include <vector>   // std::vector

#include "nautilus/clock/detail/timing_wheel.hpp"  // WheelEntry, entry_before, grown_capacity

namespace nautilus::detail {

class Lane {
 public:
  // The interval of the timers whose ticks this lane holds (0: none yet).
  std::int64_t interval = 0;

  [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return count_; }
  // The earliest entry. Not empty.
  [[nodiscard]] const WheelEntry& front() const noexcept { return ring_[head_]; }
  // The latest entry. Not empty.
  [[nodiscard]] const WheelEntry& back() const noexcept { return ring_[wrap(head_ + count_ - 1)]; }
  // The entry after the front, if any.
  [[nodiscard]] const WheelEntry* second() const noexcept {
    return count_ > 1 ? &ring_[wrap(head_ + 1)] : nullptr;
  }

  // Whether `e` may go at the back: it comes after every entry.
  [[nodiscard]] bool fits(const WheelEntry& e) const noexcept {
    return count_ == 0 || entry_before(back(), e);
  }

  // Room for one more entry (the ring grows when full: see `grow`). On std::bad_alloc nothing has
  // changed.
  void reserve_one() {
    if (count_ == capacity_) grow();
  }
  // Appends `e`, which `fits`, after `reserve_one`. Moves no entry.
  void push_back(const WheelEntry& e) noexcept {
    ring_[wrap(head_ + count_)] = e;
    ++count_;
  }
  // Removes the front and appends `e`, which `fits`: a timer fired from this lane and re-armed into
  // it. Needs no room (the front's goes), so it moves and allocates nothing.
  void rotate(const WheelEntry& e) noexcept {
    ring_[wrap(head_ + count_)] = e;  // the front's place if the ring is full
    head_ = wrap(head_ + 1);
  }

  // Removes the front. Not empty. An emptied ring keeps its storage unless large.
  void pop_front() noexcept {
    head_ = wrap(head_ + 1);
    if (--count_ == 0) clear();
  }

  void clear() noexcept {
    count_ = 0;
    head_ = 0;
    if (capacity_ > kept_entries) {
      std::vector<WheelEntry>().swap(ring_);
      capacity_ = 0;
    }
  }

  // Drops every entry for which `stale(entry)` holds, keeping the others in order; returns how many.
  template <class Pred>
  std::size_t remove_if(Pred stale) noexcept {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < count_; ++i) {
      const WheelEntry e = ring_[wrap(head_ + i)];
      if (!stale(e)) ring_[wrap(head_ + kept++)] = e;
    }
    const std::size_t removed = count_ - kept;
    count_ = kept;
    if (count_ == 0) clear();
    return removed;
  }

  [[nodiscard]] std::size_t bytes() const noexcept { return ring_.capacity() * sizeof(WheelEntry); }

 private:
  // An emptied ring larger than this (64 KiB) gives its storage back.
  static constexpr std::size_t kept_entries = 4096;
  // A position in [0, 2 * size) to one in the ring (the size is not a power of two: see `grow`).
  [[nodiscard]] std::size_t wrap(std::size_t i) const noexcept { return i < capacity_ ? i : i - capacity_; }

  void grow() {
    // Doubled while small, then by an eighth (`grown_capacity`): a ring sized by doubling held up to
    // twice its entries, 5 bytes more per timer at 10^5 timers, 10 at 10^4.
    std::vector<WheelEntry> next(grown_capacity(capacity_));
    for (std::size_t i = 0; i < count_; ++i) next[i] = ring_[wrap(head_ + i)];
    ring_.swap(next);
    capacity_ = ring_.size();
    head_ = 0;
  }

  std::vector<WheelEntry> ring_;
  std::size_t capacity_ = 0;  // ring_.size(), kept: a wrap reads it, not the vector's two pointers
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

}  // namespace nautilus::detail
