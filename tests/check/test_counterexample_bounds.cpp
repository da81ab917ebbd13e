// A counterexample file is input like a scenario: every value is checked
// against the ranges the explorer builds its pair within, refusals name
// file:line:col, and the file itself must be a small regular file.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

#include "check/counterexample.hpp"

using namespace mirrorsim;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

namespace fs = std::filesystem;

// A small valid counterexample: one write, as the explorer saves it.
std::string valid_text() {
  check::Counterexample cx;
  ControllerConfig c;
  c.cache_slots = 2;
  c.disks = 1;
  c.volumes = {VolumeConfig{"db", 2, Mode::Sync, 0, false}};
  cx.world.links = 1;
  cx.world.side_a = cx.world.side_b = c;
  cx.events = {WorldEvent{WorldEvent::Kind::HostWrite, Side::A, 0, TrackKey{0, 1}, false}};
  return check::to_json(cx).dump(2);
}

// `text` with the first `from` after `after` replaced by `to` ("key": value),
// and the line:col where the refusal must point: the new value, or the key.
std::pair<std::string, std::string> edited(const std::string& after, const std::string& from, const std::string& to,
                                           bool at_key = false) {
  std::string text = valid_text();
  const size_t anchor = text.find(after);
  REQUIRE(anchor != std::string::npos);
  size_t at = text.find(from, anchor);
  REQUIRE(at != std::string::npos);
  text.replace(at, from.size(), to);
  if (!at_key && to.find(": ") != std::string::npos) at += to.find(": ") + 2;
  const size_t line = static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n')) + 1;
  const size_t line_start = text.rfind('\n', at);
  const size_t column = at - (line_start == std::string::npos ? 0 : line_start + 1) + 1;
  return {text, std::to_string(line) + ":" + std::to_string(column)};
}

std::string trace_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const check::TraceError& e) {
    return e.what();
  }
  FAIL("no TraceError");
  return "";
}

std::string refusal_of(const std::string& text) {
  return trace_error([&] { check::parse_counterexample(text, "cx.json"); });
}

}  // namespace

TEST_CASE("counterexample files: a valid one reads back as it was saved") {
  const check::Counterexample cx = check::parse_counterexample(valid_text(), "cx.json");
  CHECK(cx.world.side_a.cache_slots == 2);
  CHECK(cx.world.side_b.volumes.at(0).name == "db");
  REQUIRE(cx.events.size() == 1);
  CHECK(cx.events[0].key.track == 1);
}

TEST_CASE("counterexample files: values the scenario loader would refuse are refused at their line and column") {
  // cache_slots = -1 was read as 4294967295 slots: std::bad_alloc.
  {
    const auto [text, at] = edited("\"side_a\"", "\"cache_slots\": 2", "\"cache_slots\": -1");
    CHECK(refusal_of(text) == "cx.json:" + at + ": world.side_a.cache_slots: expected an integer in [1, 64], got -1");
  }
  // 1.5 slots was read as 1.
  {
    const auto [text, at] = edited("\"side_b\"", "\"cache_slots\": 2", "\"cache_slots\": 1.5");
    CHECK(refusal_of(text) == "cx.json:" + at + ": world.side_b.cache_slots: expected an integer in [1, 64], got 1.5");
  }
  {
    const auto [text, at] = edited("\"side_a\"", "\"round_trips_per_write\": 1", "\"round_trips_per_write\": 0");
    CHECK(refusal_of(text) == "cx.json:" + at + ": world.side_a.round_trips_per_write: expected an integer in [1, 2], got 0");
  }
  {
    const auto [text, at] = edited("\"side_a\"", "\"track_bytes\": 65536", "\"track_bytes\": 0");
    CHECK(refusal_of(text) ==
          "cx.json:" + at + ": world.side_a.track_bytes: expected an integer in [512, 16777216], got 0");
  }
  {
    const auto [text, at] = edited("\"volumes\"", "\"tracks\": 2", "\"tracks\": 1000000");
    CHECK(refusal_of(text) ==
          "cx.json:" + at + ": world.side_a.volumes.0.tracks: expected an integer in [1, 64], got 1000000");
  }
  {
    const auto [text, at] = edited("\"world\"", "\"links\": 1", "\"links\": 0");
    CHECK(refusal_of(text) == "cx.json:" + at + ": world.links: expected an integer in [1, 8], got 0");
  }
  {
    const auto [text, at] = edited("\"bounds\"", "\"max_states\": 10000000", "\"max_states\": 1e30");
    CHECK_THAT(refusal_of(text), StartsWith("cx.json:" + at + ": bounds.max_states: expected an integer in [1, "));
  }
  {
    const auto [text, at] = edited("\"events\"", "\"host-write\"", "\"host-wrote\"");
    CHECK_THAT(refusal_of(text), StartsWith("cx.json:" + at + ": events.0.kind: expected an event kind"));
  }
  {
    const auto [text, at] = edited("\"events\"", "\"track\": 1", "\"track\": -7");
    CHECK(refusal_of(text) == "cx.json:" + at + ": events.0.track: expected an integer in [0, 4294967295], got -7");
  }
  {
    const auto [text, at] = edited("\"side_a\"", "\"write_pending_limit\": 0.8", "\"write_pending_limit\": 0");
    CHECK(refusal_of(text) == "cx.json:" + at + ": world.side_a.write_pending_limit: expected a number in (0, 1], got 0");
  }
}

TEST_CASE("counterexample files: missing, unknown and inconsistent keys are refused") {
  {
    const auto [text, at] = edited("\"side_a\"", "\"disks\": 1", "\"disk\": 1", true);
    CHECK(refusal_of(text) == "cx.json:" + at + ": unknown key 'disk' in world.side_a");
  }
  {
    const auto [text, at] = edited("\"side_b\"", "\"tracks\": 2", "\"tracks\": 3");
    CHECK_THAT(refusal_of(text), Contains("world.side_b: its volumes (names, tracks) and track_bytes must be those of "
                                          "world.side_a"));
  }
  CHECK_THAT(refusal_of("{\"format\": \"mirrorsim-check-counterexample\"}"),
             StartsWith("cx.json:1:1: missing key 'version' in the document"));
  CHECK_THAT(refusal_of("{\n  \"format\": [1,\n"), StartsWith("cx.json:3:1: not JSON: "));
  CHECK_THAT(refusal_of("[]"), StartsWith("cx.json:1:1: expected an object"));
}

TEST_CASE("counterexample files: only small regular files are read") {
  const fs::path dir = fs::temp_directory_path() / ("mirrorsim-cx-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string fifo = (dir / "fifo.json").string();
  fs::remove(fifo);
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(trace_error([&] { check::load_counterexample(fifo); }) == fifo + ": cannot read: not a regular file");
  CHECK(trace_error([&] { check::load_counterexample("/dev/zero"); }) == "/dev/zero: cannot read: not a regular file");
  const std::string big = (dir / "big.json").string();
  std::ofstream(big) << "";
  REQUIRE(::truncate(big.c_str(), static_cast<off_t>(check::kCounterexampleFileBytesMax + 1)) == 0);
  CHECK_THAT(trace_error([&] { check::load_counterexample(big); }), Contains("a counterexample file is at most 64 MiB"));
  CHECK(trace_error([&] { check::load_counterexample(std::string("cx\0.json", 8)); }) ==
        "a path cannot contain a NUL character");
  fs::remove_all(dir);
}
