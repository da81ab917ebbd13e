// The scenario loader, as every command and Scenario.load use it: the input
// is a TOML document whose comment lines may also carry overrides,
//
//   #set key=value        applied together with set_values (--set, sc[key] = v)
//   #param key=v1,v2,...  a --param grid parameter (parse_sweep_param)
//
// (comments, so the document itself is unchanged). A scenario that loads is
// then taken further: its resolved TOML must load again to the same text,
// both controllers' configurations must build, and the first points of its
// sweep grid (the [sweep] table and the #param lines) are expanded and
// applied as a sweep applies them. The loader may refuse anything with a
// ScenarioError; any other exception, a crash or a sanitizer report is a
// defect.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "config/scenario.hpp"
#include "sweep/sweep.hpp"

using namespace mirrorsim;

namespace {

// Points of a grid expanded per input: enough to apply every parameter.
constexpr uint64_t kPointsMax = 16;

std::vector<std::string_view> lines_starting(std::string_view text, std::string_view prefix) {
  std::vector<std::string_view> out;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(begin, end - begin);
    if (line.starts_with(prefix)) out.push_back(line.substr(prefix.size()));
    begin = end + 1;
  }
  return out;
}

void defect(const char* what) {
  std::fprintf(stderr, "fuzz_scenario: %s\n", what);
  std::abort();
}

void take_further(Scenario& s, std::string_view text) {
  std::vector<Override> overrides;
  for (std::string_view kv : lines_starting(text, "#set ")) {
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    overrides.push_back(Override{std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)), "#set " + std::string(kv)});
  }
  if (!overrides.empty()) set_values(s, overrides);

  try {
    const Scenario again = parse_scenario(s.resolved_toml, "resolved");
    if (again.resolved_toml != s.resolved_toml) defect("the resolved TOML does not load to itself");
  } catch (const ScenarioError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    defect("the resolved TOML of a scenario that loaded is refused");
  }
  (void)controller_config(s, Side::A);
  (void)controller_config(s, Side::B);

  std::vector<SweepParam> params;
  uint32_t repeat = 1;
  if (s.sweep) {
    params = s.sweep->params;
    repeat = s.sweep->repeat;
  }
  for (std::string_view p : lines_starting(text, "#param ")) params.push_back(parse_sweep_param(p, "#param"));
  uint64_t points = repeat;
  for (const SweepParam& p : params) {
    if (p.values.empty()) defect("a sweep parameter without values");
    (void)get_value(s, p.key);
    points *= p.values.size();
    if (points > kPointsMax) return;  // the grid's size is its author's choice; its points are checked below
  }
  for (const SweepPoint& point : sweep_points(s, params, repeat)) {
    Scenario copy = s;
    try {
      set_values(copy, point.overrides);
    } catch (const ScenarioError&) {
      // a combination of values may be refused: the sweep reports that point
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Scenario s;
  try {
    s = parse_scenario(text, "fuzz.toml");
  } catch (const ScenarioError& e) {
    // Refused, naming the place: what bad input must get.
    if (!e.where().starts_with("fuzz.toml")) defect("a refusal of the file that does not name it");
    return 0;
  }
  try {
    take_further(s, text);
  } catch (const ScenarioError& e) {
    if (e.where().empty()) defect("a refused override or sweep value that names nothing");
  }
  return 0;
}
