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
      if (!text.empty()) std::memcpy(bytes_.data(), text.data(), text.size());
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
