// A Google Benchmark reporter that also prints a summary table: each benchmark's time per
// iteration and its ratio to the baseline of its group, measured in the same run.
//
// Groups are the part of a benchmark's name before the first '/': "clock/LiveClock::now_ns" is in
// group "clock". A group's baseline is declared with `declare_baseline("clock", "clock/...")`. A
// declared group may itself contain '/', so that one sweep gets a baseline per size: with "hold/1000"
// declared, "hold/1000/TestClock" is in it (the longest declared group that prefixes the name wins).
// With --benchmark_repetitions the median is used, otherwise the single run.
//
// A benchmark may also name a peer that does the same work (`declare_peer`): the summary then adds
// a second ratio, to that peer, after the baseline's name. A benchmark with a `p999_over_p50`
// counter (a latency distribution) also shows it.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace nautilus::bench {

inline std::map<std::string, std::string>& baselines() {
  static std::map<std::string, std::string> by_group;
  return by_group;
}

// Declares the baseline of a group; returns true so it can initialise a namespace-scope constant.
inline bool declare_baseline(const std::string& group, const std::string& benchmark_name) {
  baselines()[group] = benchmark_name;
  return true;
}

inline std::map<std::string, std::string>& peers() {
  static std::map<std::string, std::string> by_benchmark;
  return by_benchmark;
}

// Declares the like-for-like peer of a benchmark; returns true, as declare_baseline does.
inline bool declare_peer(const std::string& benchmark_name, const std::string& peer_name) {
  peers()[benchmark_name] = peer_name;
  return true;
}

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type == Run::RT_Aggregate && !median) continue;
      const std::string name = run.run_name.str();
      Row& row = rows_[name];
      if (row.order == 0) row.order = ++next_order_;
      // A median replaces the individual repetitions; a plain run is kept unless a median exists.
      if (median || !row.from_median) {
        row.ns = run.GetAdjustedRealTime() * to_ns(run.time_unit);
        row.from_median = median;
      }
      for (const auto& [counter, value] : run.counters) row.counters[counter] = value;
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    print_summary();
  }

 private:
  struct Row {
    int order = 0;
    double ns = 0;
    bool from_median = false;
    std::map<std::string, double> counters;
  };

  static double to_ns(benchmark::TimeUnit unit) {
    switch (unit) {
      case benchmark::kNanosecond: return 1.0;
      case benchmark::kMicrosecond: return 1e3;
      case benchmark::kMillisecond: return 1e6;
      case benchmark::kSecond: return 1e9;
    }
    return 1.0;
  }

  static std::string group_of(const std::string& name) {
    std::string group = name.substr(0, name.find('/'));
    std::size_t longest = 0;
    for (const auto& entry : baselines()) {
      const std::string& declared = entry.first;
      const bool prefixes = name.size() > declared.size() && name[declared.size()] == '/' &&
                            name.compare(0, declared.size(), declared) == 0;
      if (prefixes && declared.size() > longest) {
        group = declared;
        longest = declared.size();
      }
    }
    return group;
  }

  static std::string clocksource() {
    std::ifstream in{"/sys/devices/system/clocksource/clocksource0/current_clocksource"};
    std::string source;
    return (in >> source) ? source : std::string("unknown");
  }

  void print_summary() const {
    std::vector<std::pair<std::string, const Row*>> ordered;
    for (const auto& [name, row] : rows_) ordered.emplace_back(name, &row);
    std::sort(ordered.begin(), ordered.end(),
              [](const auto& a, const auto& b) { return a.second->order < b.second->order; });
    std::FILE* out = stdout;
    std::fprintf(out, "\nSummary: time per iteration and ratio to the group's baseline (same run; "
                      "lower is faster). Clocksource: %s\n", clocksource().c_str());
    std::fprintf(out, "%-52s %12s %9s  %s\n", "benchmark", "ns/iter", "ratio", "baseline");
    for (const auto& [name, row] : ordered) {
      const std::string group = group_of(name);
      const auto base = baselines().find(group);
      const Row* base_row = nullptr;
      if (base != baselines().end()) {
        const auto it = rows_.find(base->second);
        if (it != rows_.end()) base_row = &it->second;
      }
      if (base_row != nullptr && base_row->ns > 0) {
        // Two significant digits at least: a ratio far below 1 (an O(1) path beside an O(n) one)
        // would otherwise print as 0.00x.
        const double ratio = row->ns / base_row->ns;
        std::fprintf(out, ratio >= 0.01 ? "%-52s %12.2f %8.2fx  %s" : "%-52s %12.2f %8.1ex  %s", name.c_str(),
                     row->ns, ratio, base->second.c_str());
      } else {
        std::fprintf(out, "%-52s %12.2f %9s  %s", name.c_str(), row->ns, "-", "(no baseline in this run)");
      }
      const auto peer = peers().find(name);
      if (peer != peers().end()) {
        const auto it = rows_.find(peer->second);
        if (it != rows_.end() && it->second.ns > 0) {
          std::fprintf(out, "; %.2fx %s", row->ns / it->second.ns, peer->second.c_str());
        }
      }
      // A latency benchmark's spread: its p99.9 as a multiple of its median.
      if (const auto tail = row->counters.find("p999_over_p50"); tail != row->counters.end()) {
        std::fprintf(out, "; p99.9 %.1fx the median", tail->second);
      }
      std::fprintf(out, "\n");
    }
    std::fflush(out);
  }

  std::map<std::string, Row> rows_;
  int next_order_ = 0;
};

}  // namespace nautilus::bench
