// `mirrorsim check` as a user meets it: the exit code says what was found,
// a counterexample is printed as a numbered trace, saved, and replays.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/cli/run_mirrorsim.hpp"

namespace fs = std::filesystem;
using namespace cli_test;

namespace {

fs::path temp_dir() {
  static const fs::path dir = make_temp_dir("check-cli");
  return dir;
}

Outcome mirrorsim(const std::string& args) { return run_mirrorsim(args, temp_dir()); }

const std::string kSmall = std::string(MIRRORSIM_SCENARIOS_DIR) + "/check_small.toml";

}  // namespace

TEST_CASE("mirrorsim check: a clean exploration exits 0 and reports its counts") {
  const fs::path report = temp_dir() / "clean.json";
  const Outcome r = mirrorsim(fmt::format("check {} --writes 3 --failures 0 --quiet --out {}", kSmall, report.string()));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("states explored") != std::string::npos);
  CHECK(r.out.find("every reachable state explored, no violation") != std::string::npos);
  const auto j = nlohmann::json::parse(slurp(report));
  CHECK(j["outcome"] == "complete");
  CHECK(j["stats"]["states"].get<uint64_t>() > 0);
  // The same bounds give the same count.
  const Outcome again = mirrorsim(fmt::format("check {} --writes 3 --failures 0 --quiet --out {}", kSmall, report.string()));
  CHECK(again.exit_code == 0);
  CHECK(nlohmann::json::parse(slurp(report))["stats"]["states"] == j["stats"]["states"]);
}

TEST_CASE("mirrorsim check: a mutant exits 1 with a numbered trace that --replay reproduces") {
  const fs::path trace = temp_dir() / "cx.json";
  const Outcome r = mirrorsim(fmt::format("check {} --writes 2 --failures 0 --links 2 --mutant secondary-applies-older "
                                          "--quiet --trace {}",
                                          kSmall, trace.string()));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("VIOLATION (invariant, I11)") != std::string::npos);
  CHECK(r.out.find("  1. host-write") != std::string::npos);
  REQUIRE(fs::exists(trace));
  const Outcome replayed = mirrorsim(fmt::format("check --replay {}", trace.string()));
  INFO(replayed.out << replayed.err);
  CHECK(replayed.exit_code == 1);
  CHECK(replayed.out.find("VIOLATION (invariant, I11)") != std::string::npos);
}

TEST_CASE("mirrorsim check: bounds too large stop at --max-states with exit 2 and a clear message") {
  const Outcome r = mirrorsim(fmt::format("check {} --max-states 2000 --quiet", kSmall));
  CHECK(r.exit_code == 2);
  CHECK(r.out.find("stopped at --max-states 2000") != std::string::npos);
}

TEST_CASE("mirrorsim check: bad flags and files exit 2 naming the problem") {
  CHECK(mirrorsim(fmt::format("check {} --mutant no-such-mutant", kSmall)).err.find("unknown mutant") !=
        std::string::npos);
  CHECK(mirrorsim(fmt::format("check {} --failures lightning=1", kSmall)).exit_code == 2);
  CHECK(mirrorsim(fmt::format("check {} --tracks 0", kSmall)).exit_code == 2);
  CHECK(mirrorsim("check").exit_code == 2);
  const fs::path junk = temp_dir() / "junk.json";
  std::ofstream(junk) << "{\"format\": \"something\"}";
  const Outcome r = mirrorsim(fmt::format("check --replay {}", junk.string()));
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("not a mirrorsim-check-counterexample file") != std::string::npos);
}

TEST_CASE("mirrorsim check --replay: a counterexample with values the loader would refuse exits 2 naming its place") {
  // A real counterexample, then the values of the report: -1 and 1.5 slots,
  // 0 round trips, 0-byte tracks.
  const fs::path saved = temp_dir() / "replay-bounds.json";
  const Outcome found = mirrorsim(fmt::format("check {} --mutant remote-wp-reset-on-send --quiet --trace {}", kSmall,
                                              saved.string()));
  REQUIRE(found.exit_code == 1);
  const std::string text = slurp(saved);
  struct Edit {
    std::string key, value, expected;
  };
  const Edit edits[] = {
      {"\"cache_slots\": ", "-1", "world.side_a.cache_slots: expected an integer in [1, 64], got -1"},
      {"\"cache_slots\": ", "1.5", "world.side_a.cache_slots: expected an integer in [1, 64], got 1.5"},
      {"\"round_trips_per_write\": ", "0", "world.side_a.round_trips_per_write: expected an integer in [1, 2], got 0"},
      {"\"track_bytes\": ", "0", "world.side_a.track_bytes: expected an integer in [512, 16777216], got 0"},
  };
  for (const Edit& e : edits) {
    INFO(e.expected);
    std::string bad = text;
    // The first occurrence is side_a's: its value, up to the comma, replaced.
    const size_t at = bad.find(e.key);
    REQUIRE(at != std::string::npos);
    const size_t value = at + e.key.size();
    bad.replace(value, bad.find_first_of(",\n", value) - value, e.value);
    const size_t line = static_cast<size_t>(std::count(bad.begin(), bad.begin() + static_cast<long>(value), '\n')) + 1;
    const size_t column = value - bad.rfind('\n', value);
    const fs::path file = temp_dir() / "replay-bad.json";
    std::ofstream(file) << bad;
    const Outcome r = mirrorsim("check --replay " + file.string());
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(fmt::format("{}:{}:{}: {}", file.string(), line, column, e.expected)));
  }
}

TEST_CASE("mirrorsim check --replay: a damaged counterexample file is refused with exit 2, naming the field") {
  const fs::path good = temp_dir() / "good-cx.json";
  REQUIRE(mirrorsim(fmt::format("check {} --writes 2 --failures 0 --links 2 --mutant secondary-applies-older --quiet "
                                "--trace {}",
                                kSmall, good.string()))
              .exit_code == 1);
  const nlohmann::json cx = nlohmann::json::parse(slurp(good));
  auto replay = [&](const std::string& name, const std::string& text) {
    const fs::path p = temp_dir() / name;
    std::ofstream(p) << text;
    const Outcome r = mirrorsim("check --replay " + p.string());
    INFO(r.out << r.err);
    CHECK(r.exit_code == 2);
    return r.err;
  };
  auto edited = [&](const std::string& name, auto&& edit) {
    nlohmann::json j = cx;
    edit(j);
    return replay(name, j.dump(2));
  };
  // nlohmann's get<uint32_t>() made -1 into 4294967295 slots and 1.5 into 1.
  CHECK_THAT(edited("minus.json", [](auto& j) { j["world"]["side_a"]["cache_slots"] = -1; }),
             Catch::Contains("minus.json:") && Catch::Contains(": world.side_a.cache_slots: expected an integer in [1, 64], got -1"));
  CHECK_THAT(edited("fraction.json", [](auto& j) { j["world"]["side_b"]["cache_slots"] = 1.5; }),
             Catch::Contains("fraction.json:") && Catch::Contains(": world.side_b.cache_slots: expected an integer in [1, 64], got 1.5"));
  CHECK_THAT(edited("volume.json", [](auto& j) { j["events"][0]["volume"] = 70000; }),
             Catch::Contains("volume.json:") && Catch::Contains(": events.0.volume: expected an integer in [0, 65535], got 70000"));
  CHECK_THAT(edited("kind.json", [](auto& j) { j["events"][0]["kind"] = "teleport"; }),
             Catch::Contains("kind.json:") && Catch::Contains(": events.0.kind: expected an event kind") && Catch::Contains("got \"teleport\""));
  CHECK_THAT(edited("missing.json", [](auto& j) { j["bounds"].erase("writes"); }),
             Catch::Contains("missing.json:") && Catch::Contains(": missing key 'writes' in bounds"));
  const std::string text = cx.dump(2);
  CHECK_THAT(replay("cut.json", text.substr(0, text.size() / 2)), Catch::Contains("cut.json:") && Catch::Contains(": not JSON: "));
  CHECK_THAT(replay("deep.json", std::string(100'000, '[')), Catch::Contains("deep.json:1:65: not a counterexample: nested deeper than 64 levels"));
  CHECK_THAT(replay("empty.json", ""), Catch::Contains("empty.json:1:1: not JSON: "));
}

TEST_CASE("mirrorsim check --trace: a counterexample that cannot be saved says so") {
  const Outcome r = mirrorsim(fmt::format(
      "check {} --writes 2 --failures 0 --links 2 --mutant secondary-applies-older --quiet --trace /dev/full", kSmall));
  CHECK(r.exit_code == 1);  // the violation
  CHECK_THAT(r.err, Catch::Contains("mirrorsim check: /dev/full: cannot write: No space left on device"));
  CHECK(r.out.find("counterexample saved") == std::string::npos);
}

TEST_CASE("mirrorsim check --out: a scenario whose file name is not UTF-8 still gets its JSON report") {
  // nlohmann's dump() threw on the name's bytes and the command aborted (exit 134).
  const fs::path odd = temp_dir() / "check-\xff\xfe.toml";
  fs::copy_file(kSmall, odd, fs::copy_options::overwrite_existing);
  const fs::path out = temp_dir() / "check-odd.json";
  const Outcome r = mirrorsim(fmt::format("check '{}' --writes 1 --failures 0 --quiet --out {}", odd.string(), out.string()));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  const nlohmann::json j = nlohmann::json::parse(slurp(out));
  CHECK(j.dump().find("\xef\xbf\xbd") != std::string::npos);  // the bytes became U+FFFD
}

TEST_CASE("mirrorsim check: the shipped async scenario explores clean, and an async mutant's counterexample keeps the "
          "[async] keys and replays") {
  const std::string scenario = std::string(MIRRORSIM_SCENARIOS_DIR) + "/check_async.toml";
  const Outcome clean = mirrorsim(fmt::format("check {} --quiet", scenario));
  INFO(clean.out << clean.err);
  CHECK(clean.exit_code == 0);
  CHECK(clean.out.find("every reachable state explored, no violation") != std::string::npos);

  const fs::path trace = temp_dir() / "async-cx.json";
  const Outcome r = mirrorsim(fmt::format("check {} --mutant async-group-split-boundary --set async.cycle_time_min_s=7 "
                                          "--quiet --trace {}",
                                          scenario, trace.string()));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("VIOLATION (invariant, I12)") != std::string::npos);
  REQUIRE(fs::exists(trace));
  const auto cx = nlohmann::json::parse(slurp(trace));
  CHECK(cx["world"]["side_a"]["async"]["cycle_time_min_ns"] == 7'000'000'000);
  CHECK(cx["world"]["side_a"]["volumes"][1]["consistency_group"] == 0);
  const Outcome replayed = mirrorsim(fmt::format("check --replay {}", trace.string()));
  INFO(replayed.out << replayed.err);
  CHECK(replayed.out.find("VIOLATION (invariant, I12)") != std::string::npos);
}
