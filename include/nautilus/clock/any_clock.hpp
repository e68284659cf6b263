// nautilus-clock: `AnyClock`, a clock chosen at run time.
#pragma once

#include <concepts>     // std::same_as
#include <cstdint>      // std::int64_t
#include <type_traits>  // std::remove_cvref_t

#include "nautilus/clock/concepts.hpp"  // Clock
#include "nautilus/clock/time.hpp"      // unix_nanos

namespace nautilus {

// A non-owning, type-erased reference to any `Clock`, itself a `Clock`. Use it where the choice
// between live and backtest is made by configuration at run time; generic code over `Clock`
// stays the zero-cost default (docs/design.md, principle 4).
//
//   LiveClock live;
//   TestClock test{parse_iso8601("2024-03-01T14:30:00Z")};
//   AnyClock clock = backtest ? AnyClock{test} : AnyClock{live};
//
// The referenced clock must outlive every `AnyClock` that refers to it; binding a temporary does
// not compile. Copying an `AnyClock` copies the reference. A read costs one indirect call.
class AnyClock {
 public:
  template <Clock C>
    requires(!std::same_as<std::remove_cvref_t<C>, AnyClock>)
  AnyClock(const C& clock) noexcept  // NOLINT(google-explicit-constructor): a reference wrapper
      : self_(&clock),
        now_([](const void* self) noexcept { return static_cast<const C*>(self)->now(); }),
        now_ns_([](const void* self) noexcept { return static_cast<const C*>(self)->now_ns(); }),
        monotonic_ns_([](const void* self) noexcept { return static_cast<const C*>(self)->monotonic_ns(); }) {}

  // A temporary would dangle as soon as the full expression ends.
  template <Clock C>
    requires(!std::same_as<std::remove_cvref_t<C>, AnyClock>)
  AnyClock(const C&& clock) = delete;

  [[nodiscard]] unix_nanos now() const noexcept { return now_(self_); }
  [[nodiscard]] std::int64_t now_ns() const noexcept { return now_ns_(self_); }
  [[nodiscard]] std::int64_t monotonic_ns() const noexcept { return monotonic_ns_(self_); }

  // True if this refers to `clock` (identity, not equal readings).
  template <Clock C>
  [[nodiscard]] bool refers_to(const C& clock) const noexcept {
    return self_ == static_cast<const void*>(&clock);
  }

 private:
  // Three plain function pointers rather than a pointer to a table: one indirection per read.
  using read_fn = std::int64_t (*)(const void*) noexcept;
  using now_fn = unix_nanos (*)(const void*) noexcept;
  const void* self_;
  now_fn now_;
  read_fn now_ns_;
  read_fn monotonic_ns_;
};

}  // namespace nautilus
