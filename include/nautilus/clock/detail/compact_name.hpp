// nautilus-clock: a timer's name in 16 bytes, for `TimerQueue`'s name array.
//
// Why not std::string: libstdc++'s is 32 bytes, and a queue of a million named timers keeps a
// million of them. Most timer names are short ("bar-1m-ESZ6", an order id), so a name of up to 15
// bytes is kept inline and costs 16 bytes; a longer one costs 16 bytes plus a heap block of its
// exact length.
//
// Layout: the last byte is the inline length (0 to 15), or `on_heap`. On the heap, the first bytes
// hold the block's pointer and the next four its length (copied in and out with std::memcpy, so no
// union member is ever read after another was written).
#pragma once

#include <array>        // std::array
#include <cstddef>      // std::size_t
#include <cstdint>      // std::uint32_t
#include <cstring>      // std::memcpy
#include <limits>       // std::numeric_limits
#include <string>       // std::to_string
#include <string_view>  // std::string_view

#include "nautilus/clock/time.hpp"  // clock_error

namespace nautilus::detail {

// Copies `n` bytes, inline for the short lengths of timer names: a std::memcpy of a fixed size is
// a load and a store, one of a variable size a call. Writes only [to, to + n).
inline void copy_short(char* to, const char* from, std::size_t n) noexcept {
  if (n >= 8 && n <= 16) {
    std::memcpy(to, from, 8);
    std::memcpy(to + n - 8, from + n - 8, 8);
  } else if (n >= 4 && n < 8) {
    std::memcpy(to, from, 4);
    std::memcpy(to + n - 4, from + n - 4, 4);
  } else if (n < 4) {
    for (std::size_t i = 0; i < n; ++i) to[i] = from[i];
  } else {
    std::memcpy(to, from, n);
  }
}

// Whether `a` and `b` (both `n` bytes) are equal, inline for short lengths, as `copy_short`.
[[nodiscard]] inline bool equal_short(const char* a, const char* b, std::size_t n) noexcept {
  const auto word = [](const char* p) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, 8);
    return w;
  };
  if (n >= 8 && n <= 16) return word(a) == word(b) && word(a + n - 8) == word(b + n - 8);
  if (n < 8) {
    for (std::size_t i = 0; i < n; ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  }
  return std::memcmp(a, b, n) == 0;
}

// A name's hash for `TimerQueue`'s index: the name read 8 bytes at a time (the last word
// overlapping), each word mixed in with a multiply and a rotation, then MurmurHash3's 64-bit
// finaliser, so that every bit of the result depends on every byte. Inline, and about a third of
// the instructions of std::hash<std::string_view> (a call to libstdc++'s _Hash_bytes) on names of
// up to 16 bytes. Not randomised: the index's layout, never the order of events, depends on it.
[[nodiscard]] inline std::uint64_t name_hash(std::string_view name) noexcept {
  constexpr std::uint64_t k1 = 0x9E3779B97F4A7C15ULL;
  constexpr std::uint64_t k2 = 0xC2B2AE3D27D4EB4FULL;
  const auto mix = [](std::uint64_t h, std::uint64_t w) {
    h ^= w * k1;
    h = (h << 31) | (h >> 33);
    return h * k2;
  };
  const char* p = name.data();
  std::size_t n = name.size();
  std::uint64_t h = k2 ^ n;
  std::uint64_t w = 0;
  if (n >= 8) {
    for (; n > 8; p += 8, n -= 8) {
      std::memcpy(&w, p, 8);
      h = mix(h, w);
    }
    std::memcpy(&w, p + n - 8, 8);  // the last 8 bytes (some read twice if not a multiple of 8)
    h = mix(h, w);
  } else if (n >= 4) {
    std::uint32_t lo = 0;
    std::uint32_t hi = 0;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + n - 4, 4);
    h = mix(h, std::uint64_t{hi} << 32 | lo);
  } else if (n > 0) {
    const auto byte = [p](std::size_t i) { return std::uint64_t{static_cast<unsigned char>(p[i])}; };
    h = mix(h, byte(0) << 16 | byte(n / 2) << 8 | byte(n - 1));
  }
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDULL;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ULL;
  h ^= h >> 33;
  return h;
}

class CompactName {
 public:
  static constexpr std::size_t inline_capacity = 15;

  CompactName() noexcept = default;
  CompactName(const CompactName&) = delete;
  CompactName& operator=(const CompactName&) = delete;
  // Moves leave the source empty (a vector of names may grow while timers are pending).
  CompactName(CompactName&& other) noexcept : bytes_(other.bytes_) { other.bytes_.back() = 0; }
  CompactName& operator=(CompactName&& other) noexcept {
    if (this != &other) {
      release();
      bytes_ = other.bytes_;
      other.bytes_.back() = 0;
    }
    return *this;
  }
  ~CompactName() { release(); }

  // Replaces the name with `text`. Throws `clock_error` for a name of 4 GiB or more, and
  // std::bad_alloc if a long name's block cannot be had; either way the name is left empty.
  void assign(std::string_view text) {
    release();
    bytes_.back() = 0;
    if (text.size() <= inline_capacity) {
      copy_short(bytes_.data(), text.data(), text.size());
      bytes_.back() = static_cast<char>(text.size());
      return;
    }
    if (text.size() > std::numeric_limits<std::uint32_t>::max()) {
      throw clock_error("timer name of " + std::to_string(text.size()) + " bytes: at most 4 GiB - 1 is allowed");
    }
    char* block = new char[text.size()];
    std::memcpy(block, text.data(), text.size());
    const auto size = static_cast<std::uint32_t>(text.size());
    std::memcpy(bytes_.data(), &block, sizeof block);
    std::memcpy(bytes_.data() + pointer_bytes, &size, sizeof size);
    bytes_.back() = on_heap;
  }

  [[nodiscard]] std::string_view view() const noexcept {
    if (!heap()) return {bytes_.data(), static_cast<std::size_t>(static_cast<unsigned char>(bytes_.back()))};
    return {block(), size_on_heap()};
  }

  [[nodiscard]] bool empty() const noexcept { return bytes_.back() == 0; }

  // Whether the name is `text`, compared inline for short names.
  [[nodiscard]] bool equals(std::string_view text) const noexcept {
    const std::string_view name = view();
    return name.size() == text.size() && equal_short(name.data(), text.data(), text.size());
  }

  // Bytes held outside the 16 (a long name's block), for memory accounting.
  [[nodiscard]] std::size_t heap_bytes() const noexcept { return heap() ? size_on_heap() : 0; }

  void clear() noexcept {
    release();
    bytes_.back() = 0;
  }

 private:
  static constexpr char on_heap = static_cast<char>(0xFF);
  static constexpr std::size_t pointer_bytes = sizeof(char*);
  static_assert(pointer_bytes + sizeof(std::uint32_t) < 16, "a pointer and a length fit before the tag byte");

  [[nodiscard]] bool heap() const noexcept { return bytes_.back() == on_heap; }

  [[nodiscard]] char* block() const noexcept {
    char* pointer = nullptr;
    std::memcpy(&pointer, bytes_.data(), sizeof pointer);
    return pointer;
  }

  [[nodiscard]] std::size_t size_on_heap() const noexcept {
    std::uint32_t size = 0;
    std::memcpy(&size, bytes_.data() + pointer_bytes, sizeof size);
    return size;
  }

  // Frees a long name's block; the tag byte is the caller's to reset.
  void release() noexcept {
    if (heap()) delete[] block();
  }

  std::array<char, 16> bytes_{};
};

static_assert(sizeof(CompactName) == 16);

}  // namespace nautilus::detail
