// Guard for principle 1 of docs/design.md, "time is injected, never read": outside the clock headers no
// code reads a system clock or sleeps. This scans adapters/ and examples/ and fails on the first
// forbidden call, naming the file, the line and the rule.
#include <catch2/catch.hpp>

#include <cstddef>
#include <filesystem>
#include <fstream>
// g++ 12 at -O1 with sanitizers reports a false -Wmaybe-uninitialized inside <regex>
// (std::function moves in regex_automaton.h); it is the library's code, not ours.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop
#else
#include <regex>
#endif
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Rule {
  const char* name;
  std::regex pattern;
};

// `(^|[^A-Za-z0-9_.>])name\s*\(` matches a free call `name(` or `std::name(` but not a member
// (`clock.time(`), a longer identifier (`set_time(`) or a pointer call (`p->sleep(`).
const std::vector<Rule>& rules() {
  static const std::vector<Rule> all = [] {
    std::vector<Rule> r;
    auto add = [&r](const char* name, const char* pattern) { r.push_back({name, std::regex(pattern)}); };
    add("std::chrono clock read",
        R"(\b(system_clock|steady_clock|high_resolution_clock|utc_clock|tai_clock|gps_clock|file_clock)\s*::\s*now\b)");
    add("POSIX clock read", R"(\b(clock_gettime|clock_gettime_nsec_np|gettimeofday|mach_absolute_time|mach_continuous_time)\b)");
    add("C time()", R"((^|[^A-Za-z0-9_.>])time\s*\()");
    add("CPU clock()", R"((^|[^A-Za-z0-9_.>])clock\s*\(\s*\))");
    add("cycle counter", R"(\b(__rdtsc|__rdtscp|rdtsc|rdtscp|cntvct_el0|QueryPerformanceCounter)\b)");
    add("other library clock", R"(\b(absl::Now|microsec_clock|second_clock|GetSystemTimeAsFileTime)\b)");
    add("sleep", R"(\b(sleep_for|sleep_until|usleep|nanosleep|clock_nanosleep)\b)");
    add("sleep()", R"((^|[^A-Za-z0-9_.>])(sleep|Sleep)\s*\()");
    return r;
  }();
  return all;
}

// Blanks out comments and string literals, keeping line breaks so line numbers stay right: a
// comment may mention `steady_clock::now()` to say why it is not called.
std::string strip_comments_and_strings(std::string_view source) {
  std::string out(source);
  enum class State { code, line_comment, block_comment, string, character } state = State::code;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const char c = out[i];
    const char next = i + 1 < out.size() ? out[i + 1] : '\0';
    switch (state) {
      case State::code:
        if (c == '/' && next == '/') {
          state = State::line_comment;
          out[i] = ' ';
        } else if (c == '/' && next == '*') {
          state = State::block_comment;
          out[i] = ' ';
        } else if (c == '"') {
          state = State::string;
        } else if (c == '\'') {
          state = State::character;
        }
        break;
      case State::line_comment:
        if (c == '\n') state = State::code; else out[i] = ' ';
        break;
      case State::block_comment:
        if (c == '*' && next == '/') {
          out[i] = ' ';
          out[i + 1] = ' ';
          ++i;
          state = State::code;
        } else if (c != '\n') {
          out[i] = ' ';
        }
        break;
      case State::string:
      case State::character: {
        const char quote = state == State::string ? '"' : '\'';
        if (c == '\\' && next != '\n') {
          out[i] = ' ';
          out[i + 1] = ' ';
          ++i;
        } else if (c == quote) {
          state = State::code;
        } else if (c != '\n') {
          out[i] = ' ';
        }
        break;
      }
    }
  }
  return out;
}

struct Finding {
  std::size_t line;
  std::string rule;
  std::string text;
};

std::vector<Finding> scan(std::string_view source) {
  std::vector<Finding> found;
  const std::string code = strip_comments_and_strings(source);
  std::istringstream code_lines{code};
  std::istringstream original_lines{std::string(source)};
  std::string line;
  std::string original;
  for (std::size_t number = 1; std::getline(code_lines, line); ++number) {
    std::getline(original_lines, original);
    for (const Rule& rule : rules()) {
      if (std::regex_search(line, rule.pattern)) found.push_back({number, rule.name, original});
    }
  }
  return found;
}

bool is_source(const std::filesystem::path& p) {
  const auto ext = p.extension().string();
  return ext == ".hpp" || ext == ".cpp" || ext == ".h" || ext == ".cc" || ext == ".cxx" || ext == ".ipp";
}

}  // namespace

TEST_CASE("The guard flags every kind of clock read and sleep") {
  const std::vector<std::string_view> forbidden = {
      "auto t = std::chrono::system_clock::now();",
      "auto t = std::chrono::steady_clock :: now();",
      "auto t = high_resolution_clock::now();",
      "clock_gettime(CLOCK_REALTIME, &ts);",
      "gettimeofday(&tv, nullptr);",
      "auto t = std::time(nullptr);",
      "auto t = time(NULL);",
      "auto c = clock();",
      "auto c = __rdtsc();",
      "auto t = absl::Now();",
      "std::this_thread::sleep_for(1s);",
      "std::this_thread::sleep_until(t);",
      "usleep(10);",
      "nanosleep(&ts, nullptr);",
      "sleep(1);",
      "uint64_t t = mach_absolute_time();",
  };
  for (const auto snippet : forbidden) {
    INFO(snippet);
    CHECK(scan(snippet).size() == 1);
  }
}

TEST_CASE("The guard lets injected-clock code, comments and strings through") {
  const std::vector<std::string_view> allowed = {
      "auto t = clock.now();",
      "clock.set_time(t); clock.advance_time(t);",
      "auto n = clock.now_ns(); auto m = clock->monotonic_ns();",
      "// never call std::chrono::system_clock::now() here",
      "/* sleep_for would hide a bug */ int x = 0;",
      R"(log("do not sleep(1) here");)",
      "int my_time(int); int y = my_time(3);",
      "auto d = session.time();",
  };
  for (const auto snippet : allowed) {
    INFO(snippet);
    CHECK(scan(snippet).empty());
  }
  SECTION("a comment does not hide the code after it on the next line") {
    const auto found = scan("// a comment\nauto t = std::chrono::system_clock::now();\n");
    REQUIRE(found.size() == 1);
    CHECK(found[0].line == 2);
  }
}

TEST_CASE("No file under adapters/ or examples/ reads a system clock or sleeps") {
  const std::filesystem::path root{NAUTILUS_CLOCK_SOURCE_DIR};
  std::size_t files_scanned = 0;
  std::size_t example_files = 0;
  for (const char* dir : {"adapters", "examples"}) {
    const auto base = root / dir;
    REQUIRE(std::filesystem::is_directory(base));
    for (const auto& entry : std::filesystem::recursive_directory_iterator(base)) {
      if (!entry.is_regular_file() || !is_source(entry.path())) continue;
      std::ifstream in{entry.path(), std::ios::binary};
      std::ostringstream text;
      text << in.rdbuf();
      ++files_scanned;
      if (std::string_view{dir} == "examples") ++example_files;
      for (const auto& f : scan(text.str())) {
        FAIL_CHECK(entry.path().lexically_relative(root).string()
                   << ":" << f.line << ": " << f.rule << ": " << f.text);
      }
    }
  }
  // The scan must have seen the examples, or it proves nothing.
  CHECK(example_files >= 1);
  CHECK(files_scanned >= example_files);
}
