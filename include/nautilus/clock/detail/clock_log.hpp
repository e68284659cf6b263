// nautilus-clock: the binary log written by `RecordingClock` and read by `ReplayClock`
// (record_replay.hpp). Sans-I/O: the encoder appends to a string, the parser reads a byte range;
// streams and files live in record_replay.hpp.
//
// Format, version 1
// -----------------
//   header  8-byte magic 89 4E 43 4C 0D 0A 1A 0A ("\x89NCL\r\n\x1a\n"), then 1 byte: the version.
//           As in the PNG signature (PNG specification, section 12.12): the high-bit first byte
//           catches a 7-bit transfer, CR LF and LF catch newline translation, 1A stops `type`.
//   records each a kind byte and its payload, in the order the program saw them:
//
//   kind  record          payload
//   0x01  now_ns          zz(reading - the previous now_ns reading)        (0 before the first)
//   0x02  monotonic_ns    zz(reading - the previous monotonic_ns reading)  (0 before the first)
//   0x03  firing          uv(timer), event    a tick delivered to a callback; `timer` numbers the
//                                             program's set_* calls from 1, so a replay can find
//                                             the callback (anonymous alerts included)
//   0x04  taken_events    uv(count), count events     what one `take_events()` call returned
//   0x05  poll_begin      -                   `poll()` was called; its firings follow
//   0x06  poll_end_wait   zz(ns)              `poll()` returned this wait
//   0x07  poll_end_idle   -                   `poll()` returned none (no timer pending)
//   0x08  poll_thrown     -                   a callback's exception left `poll()`
//   0x09  end             uv(records)         written on close: the count of records before it
//
//   event = uv(name length), name bytes, zz(id - previous event's id),
//           zz(ts_event - previous event's ts_event), zz(ts_init - ts_event), zz(lateness),
//           uv(missed)                        ("previous event": of firing and taken_events
//                                             records alike; 0 before the first)
//
//   uv(x): unsigned LEB128 varint, 7 bits a byte, low first, high bit = more follows; at most 10
//          bytes, canonical (no redundant trailing 0x00 byte), so each log has one encoding.
//   zz(d): d as an unsigned LEB128 varint after zigzag encoding ((d << 1) ^ (d >> 63)), so small
//          magnitudes of either sign are short. Differences are taken modulo 2^64: every pair of
//          int64 values round-trips, even INT64_MIN after INT64_MAX.
//
// Readings move by microseconds to milliseconds between reads, so a reading record is typically
// 1 + 3 to 5 bytes (the first of each kind carries the whole value: up to 1 + 10).
//
// Errors. `parse_clock_log` throws `clock_error` naming the byte offset and what was wrong: bad
// magic, unknown version, unknown kind byte, a varint over 10 bytes, over 64 bits or not
// canonical, a poll end without a begin, an end record whose count is wrong, bytes after the end
// record; and, for a log cut short, "truncated: ..." naming the offset of the cut record or of the
// end of the last complete record. With `allow_truncated` (a process that crashed wrote no end
// record and perhaps half a record), the parse stops at the last complete record instead; damage
// that is not a cut (a bad kind byte, a bad varint) is still an error.
#pragma once

#include <array>        // std::array
#include <chrono>       // std::chrono::nanoseconds
#include <cstddef>      // std::size_t, std::ptrdiff_t
#include <cstdint>      // std::int64_t, std::uint64_t, std::uint8_t
#include <optional>     // std::optional
#include <string>       // std::string, std::to_string
#include <string_view>  // std::string_view
#include <vector>       // std::vector

#include "nautilus/clock/time.hpp"    // clock_error, unix_nanos, from_unix_ns, to_unix_ns
#include "nautilus/clock/timers.hpp"  // TimeEvent

namespace nautilus::detail {

inline constexpr std::array<unsigned char, 8> clock_log_magic{0x89, 'N', 'C', 'L', '\r', '\n', 0x1A, '\n'};
inline constexpr std::uint8_t clock_log_version = 1;
inline constexpr std::size_t clock_log_header_bytes = clock_log_magic.size() + 1;
// The longest LEB128 encoding of a 64-bit value: ceil(64 / 7).
inline constexpr std::size_t max_varint_bytes = 10;
// A kind byte and one varint: the most a reading or a poll end can take.
inline constexpr std::size_t max_reading_record_bytes = 1 + max_varint_bytes;

enum class ClockLogKind : std::uint8_t {
  now_ns = 0x01,
  monotonic_ns = 0x02,
  firing = 0x03,
  taken_events = 0x04,
  poll_begin = 0x05,
  poll_end_wait = 0x06,
  poll_end_idle = 0x07,
  poll_thrown = 0x08,
  end = 0x09,
};

// For messages: "now_ns reading", "firing", ...
[[nodiscard]] constexpr const char* kind_name(ClockLogKind kind) noexcept {
  switch (kind) {
    case ClockLogKind::now_ns:
      return "now_ns reading";
    case ClockLogKind::monotonic_ns:
      return "monotonic_ns reading";
    case ClockLogKind::firing:
      return "firing";
    case ClockLogKind::taken_events:
      return "take_events";
    case ClockLogKind::poll_begin:
      return "poll begin";
    case ClockLogKind::poll_end_wait:
      return "poll end";
    case ClockLogKind::poll_end_idle:
      return "poll end (idle)";
    case ClockLogKind::poll_thrown:
      return "poll end (callback threw)";
    case ClockLogKind::end:
      return "end";
  }
  return "unknown";
}

// ---- integer encodings ----

// Two's-complement difference and sum modulo 2^64: defined for every pair, unlike `b - a` on int64.
[[nodiscard]] constexpr std::uint64_t wrapping_delta(std::int64_t from, std::int64_t to) noexcept {
  return static_cast<std::uint64_t>(to) - static_cast<std::uint64_t>(from);
}
[[nodiscard]] constexpr std::int64_t wrapping_add(std::int64_t base, std::uint64_t delta) noexcept {
  // Conversion of an out-of-range unsigned value to signed is modular since C++20.
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(base) + delta);
}

// Zigzag: 0, -1, 1, -2, ... -> 0, 1, 2, 3, ... The argument is a difference modulo 2^64 read as
// signed, so a small step backwards (a realtime clock stepped by NTP) stays short too.
[[nodiscard]] constexpr std::uint64_t zigzag(std::uint64_t delta) noexcept {
  return (delta << 1) ^ (std::uint64_t{0} - (delta >> 63));
}
[[nodiscard]] constexpr std::uint64_t unzigzag(std::uint64_t z) noexcept {
  return (z >> 1) ^ (std::uint64_t{0} - (z & 1));
}

// Writes `value` as LEB128 at `out` (room for max_varint_bytes); returns one past the last byte.
constexpr char* put_varint(char* out, std::uint64_t value) noexcept {
  while (value >= 0x80) {
    *out++ = static_cast<char>(static_cast<unsigned char>(value | 0x80));
    value >>= 7;
  }
  *out++ = static_cast<char>(static_cast<unsigned char>(value));
  return out;
}

// ---- the encoder ----

// Appends records to a string. Tracks the previous values the deltas are taken from and counts
// the records, so one encoder writes one log, in order.
class ClockLogEncoder {
 public:
  // The 9-byte header. Call first.
  static void header(std::string& out) {
    out.append(reinterpret_cast<const char*>(clock_log_magic.data()), clock_log_magic.size());
    out.push_back(static_cast<char>(clock_log_version));
  }

  // A now_ns or monotonic_ns reading. Appends at most max_reading_record_bytes, so it allocates
  // nothing when `out` has that much spare capacity (RecordingClock's noexcept reads rely on it).
  void reading(std::string& out, ClockLogKind kind, std::int64_t value) noexcept {
    std::int64_t& previous = kind == ClockLogKind::now_ns ? previous_now_ns_ : previous_monotonic_ns_;
    std::array<char, max_reading_record_bytes> bytes{};
    bytes[0] = static_cast<char>(kind);
    char* const last = put_varint(bytes.data() + 1, zigzag(wrapping_delta(previous, value)));
    previous = value;
    out.append(bytes.data(), static_cast<std::size_t>(last - bytes.data()));
    ++records_;
  }

  // A tick delivered to the callback of the program's `timer`-th set_* call.
  void firing(std::string& out, std::uint64_t timer, const TimeEvent& event) {
    out.push_back(static_cast<char>(ClockLogKind::firing));
    varint(out, timer);
    this->event(out, event);
    ++records_;
  }

  // What one take_events() call returned (possibly nothing).
  void taken_events(std::string& out, const std::vector<TimeEvent>& events) {
    out.push_back(static_cast<char>(ClockLogKind::taken_events));
    varint(out, events.size());
    for (const TimeEvent& e : events) event(out, e);
    ++records_;
  }

  void poll_begin(std::string& out) { bare(out, ClockLogKind::poll_begin); }
  void poll_end(std::string& out, std::optional<std::chrono::nanoseconds> wait) {
    if (!wait) return bare(out, ClockLogKind::poll_end_idle);
    out.push_back(static_cast<char>(ClockLogKind::poll_end_wait));
    varint(out, zigzag(static_cast<std::uint64_t>(wait->count())));
    ++records_;
  }
  void poll_thrown(std::string& out) { bare(out, ClockLogKind::poll_thrown); }

  // The end record: the count of records written before it. Write nothing after it.
  void end(std::string& out) {
    out.push_back(static_cast<char>(ClockLogKind::end));
    varint(out, records_);
  }

  // Records written so far, the end record excluded.
  [[nodiscard]] std::uint64_t records() const noexcept { return records_; }

 private:
  static void varint(std::string& out, std::uint64_t value) {
    std::array<char, max_varint_bytes> bytes{};
    char* const last = put_varint(bytes.data(), value);
    out.append(bytes.data(), static_cast<std::size_t>(last - bytes.data()));
  }

  void bare(std::string& out, ClockLogKind kind) {
    out.push_back(static_cast<char>(kind));
    ++records_;
  }

  void event(std::string& out, const TimeEvent& e) {
    varint(out, e.name.size());
    out.append(e.name);
    varint(out, zigzag(e.id - previous_id_));
    const std::int64_t ts_event = to_unix_ns(e.ts_event);
    varint(out, zigzag(wrapping_delta(previous_ts_event_, ts_event)));
    varint(out, zigzag(wrapping_delta(ts_event, to_unix_ns(e.ts_init))));
    varint(out, zigzag(static_cast<std::uint64_t>(e.lateness.count())));
    varint(out, e.missed);
    previous_id_ = e.id;
    previous_ts_event_ = ts_event;
  }

  std::int64_t previous_now_ns_ = 0;
  std::int64_t previous_monotonic_ns_ = 0;
  std::uint64_t previous_id_ = 0;
  std::int64_t previous_ts_event_ = 0;
  std::uint64_t records_ = 0;
};

// ---- the parser ----

// One record, decoded. Events live in `ClockLog::events`, referred to by index.
struct ClockLogRecord {
  ClockLogKind kind = ClockLogKind::end;
  std::size_t offset = 0;       // of its kind byte
  std::int64_t value = 0;       // now_ns, monotonic_ns: the reading; poll_end_wait: the wait in ns
  std::uint64_t timer = 0;      // firing: the set_* call it belongs to, from 1
  std::size_t first_event = 0;  // firing, taken_events: index into ClockLog::events
  std::size_t event_count = 0;  // firing: 1; taken_events: how many
};

struct ClockLog {
  std::vector<ClockLogRecord> records;  // the end record excluded
  std::vector<TimeEvent> events;
  // The log ended with its end record; false only for a truncated log parsed with allow_truncated.
  bool complete = false;
  // Bytes up to the end of the last complete record (the end record included when complete).
  std::size_t valid_bytes = 0;
};

class ClockLogParser {
 public:
  explicit ClockLogParser(std::string_view bytes) noexcept : bytes_(bytes) {}

  ClockLog parse(bool allow_truncated) {
    ClockLog log;
    try {
      header();
      log.valid_bytes = pos_;
      while (pos_ < bytes_.size()) {
        if (record(log)) {
          log.complete = true;
          log.valid_bytes = pos_;
          if (pos_ != bytes_.size()) {
            const std::size_t extra = bytes_.size() - pos_;
            fail(std::to_string(extra) + (extra == 1 ? " byte" : " bytes") + " after the end record", pos_);
          }
          return log;
        }
        log.valid_bytes = pos_;
      }
    } catch (const Cut& cut) {
      if (!allow_truncated) throw clock_error("clock log: truncated: " + cut.what);
      // A cut record leaves nothing behind: drop the events a cut firing or take_events had read.
      log.events.resize(committed_events_);
      return log;
    }
    if (!allow_truncated) {
      throw clock_error("clock log: truncated: no end record after offset " +
                        std::to_string(log.valid_bytes) + " (the end of the last complete record; " +
                        std::to_string(log.records.size()) + " records)");
    }
    return log;
  }

 private:
  // The log ends inside a record: an error, or with allow_truncated the point to stop at.
  struct Cut {
    std::string what;
  };

  [[noreturn]] static void fail(const std::string& what, std::size_t at) {
    throw clock_error("clock log: " + what + " at offset " + std::to_string(at));
  }

  [[noreturn]] void cut(const std::string& what) const {
    throw Cut{what + " (record at offset " + std::to_string(record_start_) + ", log of " +
              std::to_string(bytes_.size()) + " bytes)"};
  }

  [[nodiscard]] unsigned char byte_at(std::size_t i) const noexcept {
    return static_cast<unsigned char>(bytes_[i]);
  }

  void header() {
    record_start_ = 0;
    const std::size_t have = bytes_.size() < clock_log_magic.size() ? bytes_.size() : clock_log_magic.size();
    for (std::size_t i = 0; i < have; ++i) {
      if (byte_at(i) != clock_log_magic[i]) {
        fail("bad magic (not a nautilus clock log): byte " + hex(byte_at(i)) + ", expected " +
                 hex(clock_log_magic[i]),
             i);
      }
    }
    if (bytes_.size() < clock_log_header_bytes)
      cut("the 9-byte header is cut off at offset " + std::to_string(bytes_.size()));
    const unsigned char version = byte_at(clock_log_magic.size());
    if (version != clock_log_version) {
      fail("unknown format version " + std::to_string(version) + " (this reader knows version " +
               std::to_string(clock_log_version) + ")",
           clock_log_magic.size());
    }
    pos_ = clock_log_header_bytes;
  }

  static std::string hex(unsigned char b) {
    constexpr char digits[] = "0123456789abcdef";
    return std::string{'0', 'x', digits[b >> 4], digits[b & 0xF]};
  }

  // Parses one record at pos_; true if it was the end record.
  bool record(ClockLog& log) {
    record_start_ = pos_;
    const unsigned char kind_byte = byte_at(pos_++);
    ClockLogRecord r;
    r.offset = record_start_;
    r.kind = static_cast<ClockLogKind>(kind_byte);
    switch (r.kind) {
      case ClockLogKind::now_ns:
        previous_now_ns_ = wrapping_add(previous_now_ns_, unzigzag(varint("now_ns delta")));
        r.value = previous_now_ns_;
        break;
      case ClockLogKind::monotonic_ns:
        previous_monotonic_ns_ = wrapping_add(previous_monotonic_ns_, unzigzag(varint("monotonic_ns delta")));
        r.value = previous_monotonic_ns_;
        break;
      case ClockLogKind::firing:
        r.timer = varint("timer number");
        r.first_event = log.events.size();
        r.event_count = 1;
        log.events.push_back(event());
        break;
      case ClockLogKind::taken_events: {
        const std::uint64_t count = varint("event count");
        r.first_event = log.events.size();
        // No reserve(count): a corrupt count must not allocate; each event takes at least 7
        // bytes, so the loop runs out of log first.
        for (std::uint64_t i = 0; i < count; ++i) log.events.push_back(event());
        r.event_count = log.events.size() - r.first_event;
        break;
      }
      case ClockLogKind::poll_begin:
        ++poll_depth_;
        break;
      case ClockLogKind::poll_end_wait:
      case ClockLogKind::poll_end_idle:
      case ClockLogKind::poll_thrown:
        if (poll_depth_ == 0) fail(std::string(kind_name(r.kind)) + " without a poll begin", record_start_);
        if (r.kind == ClockLogKind::poll_end_wait) {
          r.value = static_cast<std::int64_t>(unzigzag(varint("poll wait")));
        }
        --poll_depth_;
        break;
      case ClockLogKind::end: {
        const std::uint64_t count = varint("record count");
        if (count != log.records.size()) {
          fail("end record counts " + std::to_string(count) + " records, the log holds " +
                   std::to_string(log.records.size()),
               record_start_);
        }
        return true;
      }
      default:
        fail("unknown record kind " + hex(kind_byte), record_start_);
    }
    log.records.push_back(r);
    committed_events_ = log.events.size();
    return false;
  }

  TimeEvent event() {
    TimeEvent e;
    const std::size_t length_at = pos_;
    const std::uint64_t length = varint("name length");
    if (length > bytes_.size() - pos_) {
      cut("the name at offset " + std::to_string(length_at) + " is " + std::to_string(length) +
          " bytes long and runs past the end of the log");
    }
    e.name.assign(bytes_.substr(pos_, static_cast<std::size_t>(length)));
    pos_ += static_cast<std::size_t>(length);
    previous_id_ += unzigzag(varint("event id delta"));
    e.id = previous_id_;
    previous_ts_event_ = wrapping_add(previous_ts_event_, unzigzag(varint("ts_event delta")));
    e.ts_event = from_unix_ns(previous_ts_event_);
    e.ts_init = from_unix_ns(wrapping_add(previous_ts_event_, unzigzag(varint("ts_init delta"))));
    e.lateness = std::chrono::nanoseconds{wrapping_add(0, unzigzag(varint("lateness")))};
    e.missed = varint("missed count");
    return e;
  }

  // An unsigned LEB128 varint at pos_: at most 10 bytes, at most 64 bits, canonical.
  std::uint64_t varint(const char* what) {
    const std::size_t start = pos_;
    std::uint64_t value = 0;
    for (std::size_t i = 0;; ++i) {
      if (pos_ == bytes_.size()) {
        cut(std::string(what) + ": varint at offset " + std::to_string(start) + " cut off at offset " +
            std::to_string(pos_));
      }
      const unsigned char b = byte_at(pos_++);
      // The 10th byte holds bit 63 alone: it must be the last, and 0 or 1.
      if (i == max_varint_bytes - 1 && (b & 0x80) != 0) {
        fail(std::string(what) + ": varint longer than 10 bytes", start);
      }
      if (i == max_varint_bytes - 1 && b > 1) fail(std::string(what) + ": varint overflows 64 bits", start);
      value |= static_cast<std::uint64_t>(b & 0x7F) << (7 * i);
      if ((b & 0x80) == 0) {
        if (b == 0 && i > 0) fail(std::string(what) + ": varint has a redundant trailing zero byte", start);
        return value;
      }
    }
  }

  std::string_view bytes_;
  std::size_t pos_ = 0;
  std::size_t record_start_ = 0;
  std::size_t poll_depth_ = 0;
  std::size_t committed_events_ = 0;  // events of the records parsed whole
  std::int64_t previous_now_ns_ = 0;
  std::int64_t previous_monotonic_ns_ = 0;
  std::uint64_t previous_id_ = 0;
  std::int64_t previous_ts_event_ = 0;
};

// Parses and validates a whole log (see the top of this file). Throws `clock_error` naming the
// offset; with `allow_truncated`, a log cut short yields its complete records instead.
[[nodiscard]] inline ClockLog parse_clock_log(std::string_view bytes, bool allow_truncated = false) {
  return ClockLogParser{bytes}.parse(allow_truncated);
}

// The bytes `log` was parsed from, for a complete log (each log has one encoding): the encoder's
// inverse of `parse_clock_log`, used by the tests and the fuzzer.
[[nodiscard]] inline std::string encode_clock_log(const ClockLog& log) {
  std::string out;
  ClockLogEncoder encoder;
  ClockLogEncoder::header(out);
  for (const ClockLogRecord& r : log.records) {
    switch (r.kind) {
      case ClockLogKind::now_ns:
      case ClockLogKind::monotonic_ns:
        encoder.reading(out, r.kind, r.value);
        break;
      case ClockLogKind::firing:
        encoder.firing(out, r.timer, log.events[r.first_event]);
        break;
      case ClockLogKind::taken_events: {
        const auto first = log.events.begin() + static_cast<std::ptrdiff_t>(r.first_event);
        encoder.taken_events(
            out, std::vector<TimeEvent>(first, first + static_cast<std::ptrdiff_t>(r.event_count)));
        break;
      }
      case ClockLogKind::poll_begin:
        encoder.poll_begin(out);
        break;
      case ClockLogKind::poll_end_wait:
        encoder.poll_end(out, std::chrono::nanoseconds{r.value});
        break;
      case ClockLogKind::poll_end_idle:
        encoder.poll_end(out, std::nullopt);
        break;
      case ClockLogKind::poll_thrown:
        encoder.poll_thrown(out);
        break;
      case ClockLogKind::end:
        break;
    }
  }
  if (log.complete) encoder.end(out);
  return out;
}

}  // namespace nautilus::detail
