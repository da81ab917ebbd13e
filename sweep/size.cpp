#include "sweep/size.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace mirrorsim {
namespace {

std::string trimmed(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  return b == std::string_view::npos ? std::string() : std::string(s.substr(b, e - b + 1));
}

std::optional<double> number_of(std::string_view s) {
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

bool is_integer_text(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string value_text(double v, bool integer) {
  return integer ? fmt::format("{}", static_cast<int64_t>(std::llround(v))) : fmt::format("{:.6g}", v);
}

bool holds(const SizeTarget& t, double v) {
  switch (t.op) {
    case SizeTarget::Op::Le: return v <= t.bound;
    case SizeTarget::Op::Lt: return v < t.bound;
    case SizeTarget::Op::Ge: return v >= t.bound;
    case SizeTarget::Op::Gt: return v > t.bound;
  }
  return false;
}

}  // namespace

SizeTarget parse_size_target(std::string_view text, const std::string& where) {
  SizeTarget t;
  t.text = trimmed(text);
  for (const auto& [spelling, op] : {std::pair{"<=", SizeTarget::Op::Le}, std::pair{">=", SizeTarget::Op::Ge},
                                     std::pair{"<", SizeTarget::Op::Lt}, std::pair{">", SizeTarget::Op::Gt}}) {
    const size_t at = t.text.find(spelling);
    if (at == std::string::npos) continue;
    t.path = trimmed(std::string_view(t.text).substr(0, at));
    t.op = op;
    const std::string bound = trimmed(std::string_view(t.text).substr(at + std::string_view(spelling).size()));
    const auto v = number_of(bound);
    if (t.path.empty() || !v)
      throw ScenarioError(where, fmt::format("'{}': expected METRIC <= NUMBER (or <, >=, >), e.g. "
                                             "\"volume.db.writes.response_ms.p99 <= 2\"", t.text));
    t.bound = *v;
    return t;
  }
  throw ScenarioError(where, fmt::format("'{}': no comparison (<=, <, >=, >); expected e.g. "
                                         "\"volume.db.writes.response_ms.p99 <= 2\"", t.text));
}

std::optional<double> metric_at(const nlohmann::json& metrics, std::string_view path) {
  std::vector<std::string> parts;
  for (size_t begin = 0;;) {
    const size_t dot = path.find('.', begin);
    parts.emplace_back(path.substr(begin, dot - begin));
    if (dot == std::string_view::npos) break;
    begin = dot + 1;
  }
  const nlohmann::json* at = &metrics;
  for (size_t i = 0; i < parts.size();) {
    if (at->is_object()) {
      // The longest run of segments that is a key ("p99.9" is one); "volume" is "volumes".
      bool found = false;
      for (size_t n = parts.size() - i; n >= 1 && !found; --n) {
        std::string key = parts[i];
        for (size_t k = 1; k < n; ++k) key += "." + parts[i + k];
        if (n == 1 && key == "volume" && at->contains("volumes")) key = "volumes";
        if (at->contains(key)) {
          at = &(*at)[key];
          i += n;
          found = true;
        }
      }
      if (!found) return std::nullopt;
    } else if (at->is_array()) {
      const nlohmann::json* next = nullptr;
      size_t used = 1;
      for (const auto& e : *at) {
        if (!e.is_object()) continue;
        if (e.contains("name") && e["name"] == parts[i]) next = &e;
        if (i + 1 < parts.size() && e.contains("controller") && e.contains("pool") && e["controller"] == parts[i] &&
            e["pool"] == parts[i + 1]) {
          next = &e;
          used = 2;
        }
        if (next) break;
      }
      if (!next) return std::nullopt;
      at = next;
      i += used;
    } else {
      return std::nullopt;
    }
  }
  if (at->is_boolean()) return at->get<bool>() ? 1.0 : 0.0;
  if (!at->is_number()) return std::nullopt;
  return at->get<double>();
}

namespace {

// Every number (or flag) in a run's metrics by the path metric_at reads:
// volumes by name as "volume.NAME", processor pools as "controller.pool".
void metric_paths(const nlohmann::json& at, const std::string& prefix, std::vector<std::string>& out) {
  const auto join = [&](const std::string& key) { return prefix.empty() ? key : prefix + "." + key; };
  if (at.is_object()) {
    for (const auto& [key, value] : at.items()) metric_paths(value, join(key == "volumes" ? "volume" : key), out);
  } else if (at.is_array()) {
    for (const auto& e : at) {
      if (!e.is_object()) continue;
      if (e.contains("name") && e["name"].is_string()) metric_paths(e, join(e["name"].get<std::string>()), out);
      else if (e.contains("controller") && e.contains("pool") && e["controller"].is_string() && e["pool"].is_string())
        metric_paths(e, join(e["controller"].get<std::string>() + "." + e["pool"].get<std::string>()), out);
    }
  } else if (at.is_number() || at.is_boolean()) {
    out.push_back(prefix);
  }
}

}  // namespace

std::string why_no_metric(const nlohmann::json& metrics, std::string_view path) {
  std::string why = fmt::format("'{}' names no number in the run's metrics (the names of `mirrorsim run --out`)", path);
  const std::string first(path.substr(0, path.find('.')));
  if (metrics.is_object() && metrics.contains(first) && metrics[first].is_null()) {
    if (first == "async")
      return why + ": this run has no async volume (metrics.async is null); cycle and RPO metrics need mode = \"async\"";
    return why + fmt::format(": metrics.{} is null in this run", first);
  }
  // A name given without its table ("rpo_max_s" for "async.rpo_max_s").
  std::vector<std::string> paths, near;
  metric_paths(metrics, "", paths);
  const std::string tail = "." + std::string(path);
  for (const std::string& p : paths)
    if (p.size() > tail.size() && p.compare(p.size() - tail.size(), tail.size(), tail) == 0) near.push_back(p);
  if (!near.empty() && near.size() <= 4) why += fmt::format("; did you mean '{}'?", fmt::join(near, "' or '"));
  return why;
}

SizeRange parse_size_range(std::string_view text, const std::string& where) {
  const size_t eq = text.find('=');
  const size_t colon = text.find(':', eq == std::string_view::npos ? 0 : eq);
  const auto bad = [&] {
    return ScenarioError(where, fmt::format("'{}': expected KEY=LOW:HIGH with LOW < HIGH, e.g. "
                                            "link.bandwidth_gbit_per_s=0.1:100",
                                            text));
  };
  if (eq == std::string_view::npos || eq == 0 || colon == std::string_view::npos) throw bad();
  SizeRange r;
  r.key = trimmed(text.substr(0, eq));
  const std::string lo = trimmed(text.substr(eq + 1, colon - eq - 1)), hi = trimmed(text.substr(colon + 1));
  const auto l = number_of(lo), h = number_of(hi);
  if (!l || !h || !(*l < *h)) throw bad();
  r.lo = *l;
  r.hi = *h;
  r.integer = is_integer_text(lo) && is_integer_text(hi);
  return r;
}

SizeResult size_search(const Scenario& base, const SizeRange& range, const std::vector<SizeTarget>& targets,
                       const SizeOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  SizeResult result;
  result.key = range.key;
  // The range's ends must be values of the key (checked like --set, before any run).
  for (double v : {range.lo, range.hi}) {
    Scenario probe = base;
    set_value(probe, range.key, value_text(v, range.integer), fmt::format("--vary {}={}", range.key, value_text(v, range.integer)));
  }
  auto judge = [&](const std::vector<double>& values) {
    std::vector<SizePoint> points;
    std::vector<SweepPoint> runs;
    for (size_t p = 0; p < values.size(); ++p)
      for (uint32_t r = 0; r < o.repeat; ++r) {
        SweepPoint sp;
        sp.index = runs.size();
        sp.grid_index = p;
        sp.repeat = r;
        sp.seed = repeat_seed(base.seed, r);
        const std::string text = value_text(values[p], range.integer);
        sp.overrides = {Override{range.key, text, fmt::format("--vary {}={}", range.key, text)}};
        runs.push_back(std::move(sp));
      }
    std::vector<PointOutcome> outcomes = run_sweep(base, runs, o.sweep);
    for (size_t p = 0; p < values.size(); ++p) {
      SizePoint point;
      point.value = values[p];
      for (auto& out : outcomes)
        if (out.point.grid_index == p) point.runs.push_back(std::move(out));
      point.pass = true;
      for (const SizeTarget& t : targets) {
        std::vector<double> xs;
        for (const PointOutcome& run : point.runs) {
          if (!run.result) {
            point.error = run.error;
            continue;
          }
          const auto v = metric_at(to_json(*run.result)["metrics"], t.path);
          if (!v) throw ScenarioError("--target " + t.text, why_no_metric(to_json(*run.result)["metrics"], t.path));
          xs.push_back(*v);
        }
        if (xs.size() < point.runs.size() || xs.empty()) {
          point.judged.push_back(std::nullopt);
          point.mean.push_back(std::nullopt);
          point.pass = false;
          continue;
        }
        double mean = 0;
        for (double x : xs) mean += x;
        mean /= static_cast<double>(xs.size());
        double half = 0;
        if (xs.size() > 1) {
          double ss = 0;
          for (double x : xs) ss += (x - mean) * (x - mean);
          half = t95(xs.size() - 1) * std::sqrt(ss / static_cast<double>(xs.size() - 1)) / std::sqrt(double(xs.size()));
        }
        const double judged = t.upper() ? mean + half : mean - half;
        point.mean.push_back(mean);
        point.judged.push_back(judged);
        point.pass = point.pass && holds(t, judged);
      }
      if (o.progress) {
        std::string line = fmt::format("{} = {}: {}", range.key, value_text(point.value, range.integer),
                                       point.pass ? "meets" : "misses");
        for (size_t i = 0; i < targets.size(); ++i)
          line += point.judged[i] ? fmt::format(", {} {:.6g}", targets[i].path, *point.judged[i])
                                  : fmt::format(", {} (no value: {})", targets[i].path, point.error);
        o.progress(line);
      }
      points.push_back(std::move(point));
    }
    return points;
  };
  auto record = [&](std::vector<SizePoint> ps) {
    for (auto& p : ps) result.points.push_back(std::move(p));
    return result.points.back().pass;
  };
  std::vector<SizePoint> ends = judge({range.lo, range.hi});
  const bool lo_pass = ends[0].pass, hi_pass = ends[1].pass;
  record(std::move(ends));
  double lo = range.lo, hi = range.hi;
  const auto finish = [&] {
    result.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  const auto text = [&](double v) { return value_text(v, range.integer); };
  if (!lo_pass && !hi_pass) {
    result.verdict = fmt::format("no value of {} from {} to {} meets the targets", range.key, text(range.lo), text(range.hi));
    finish();
    return result;
  }
  SizeDirection dir = o.direction;
  if (dir == SizeDirection::Auto) dir = hi_pass && !lo_pass ? SizeDirection::Smallest : lo_pass && !hi_pass ? SizeDirection::Largest : SizeDirection::Smallest;
  result.direction = dir;
  if (lo_pass && hi_pass) {
    result.answer = dir == SizeDirection::Smallest ? range.lo : range.hi;
    result.verdict = fmt::format("every value tried meets the targets, the range's end {} included: widen --vary to find "
                                 "where they stop holding",
                                 text(*result.answer));
    finish();
    return result;
  }
  if ((dir == SizeDirection::Smallest && !hi_pass) || (dir == SizeDirection::Largest && !lo_pass)) {
    result.verdict = fmt::format("the targets hold only at the {} end of the range, not the {} one asked for",
                                 hi_pass ? "high" : "low", dir == SizeDirection::Smallest ? "low" : "high");
    finish();
    return result;
  }
  // pass side: hi (smallest) or lo (largest); keep the bracket [lo, hi] with one end passing.
  // Two points a round, a third of the bracket apart, judged at once: on
  // two processors a round costs one run's time and shrinks the bracket
  // three times, where bisection's round shrinks it twice (0.63 the rounds).
  // The points do not depend on the jobs: the same runs and answer with one.
  const bool geometric = !range.integer && range.lo > 0 && range.hi / range.lo > 4;
  for (;;) {
    if (o.sweep.stop && o.sweep.stop->load()) break;
    if (range.integer ? hi - lo <= 1 : hi - lo <= o.tolerance * std::fabs(hi)) break;
    std::vector<double> inner;
    for (double f : {1.0 / 3.0, 2.0 / 3.0}) {
      double v = geometric ? lo * std::pow(hi / lo, f) : lo + (hi - lo) * f;
      if (range.integer) v = std::floor(v);
      if (v > lo && v < hi && (inner.empty() || v > inner.back())) inner.push_back(v);
    }
    if (inner.empty()) inner.push_back(range.integer ? std::floor((lo + hi) / 2) : (lo + hi) / 2);
    const size_t first = result.points.size();
    record(judge(inner));
    const auto pass = [&](size_t i) { return result.points[first + i].pass; };
    if (dir == SizeDirection::Smallest) {
      // The smallest passing point is the new upper end, the point below it the lower.
      size_t i = 0;
      while (i < inner.size() && !pass(i)) ++i;
      if (i < inner.size()) hi = inner[i];
      if (i > 0) lo = inner[i - 1];
    } else {
      // The largest passing point is the new lower end, the point above it the upper.
      size_t i = inner.size();
      while (i > 0 && !pass(i - 1)) --i;
      if (i > 0) lo = inner[i - 1];
      if (i < inner.size()) hi = inner[i];
    }
  }
  result.answer = dir == SizeDirection::Smallest ? hi : lo;
  result.verdict = fmt::format("the {} {} that meets every target is {} (to within {})",
                               dir == SizeDirection::Smallest ? "smallest" : "largest", range.key, text(*result.answer),
                               range.integer ? std::string("1") : fmt::format("{} %", o.tolerance * 100));
  // A monotone key: every point on the answer's side passes, every other fails.
  for (const SizePoint& p : result.points) {
    const bool should = dir == SizeDirection::Smallest ? p.value >= *result.answer : p.value <= *result.answer;
    if (p.pass != should)
      result.not_monotone.push_back(fmt::format("{} = {} {} though the answer is {}", range.key, text(p.value),
                                                p.pass ? "meets the targets" : "misses them", text(*result.answer)));
  }
  finish();
  return result;
}

nlohmann::json to_json(const SizeResult& r, const std::vector<SizeTarget>& targets) {
  nlohmann::json j;
  j["key"] = r.key;
  j["direction"] = r.direction == SizeDirection::Largest ? "largest" : "smallest";
  j["answer"] = r.answer ? nlohmann::json(*r.answer) : nlohmann::json(nullptr);
  j["verdict"] = r.verdict;
  j["targets"] = nlohmann::json::array();
  for (const auto& t : targets) j["targets"].push_back(t.text);
  j["not_monotone"] = r.not_monotone;
  j["wall_s"] = r.wall_s;
  nlohmann::json points = nlohmann::json::array();
  for (const SizePoint& p : r.points) {
    nlohmann::json pj;
    pj["value"] = p.value;
    pj["meets_targets"] = p.pass;
    pj["error"] = p.error;
    nlohmann::json judged = nlohmann::json::array(), means = nlohmann::json::array();
    for (size_t i = 0; i < targets.size(); ++i) {
      judged.push_back(p.judged[i] ? nlohmann::json(*p.judged[i]) : nlohmann::json(nullptr));
      means.push_back(p.mean[i] ? nlohmann::json(*p.mean[i]) : nlohmann::json(nullptr));
    }
    pj["judged"] = judged;  // per target, the pessimistic end of the 95 % CI
    pj["mean"] = means;
    nlohmann::json runs = nlohmann::json::array();
    for (const PointOutcome& o : p.runs) {
      nlohmann::json rj;
      rj["seed"] = o.point.seed;
      rj["error"] = o.error;
      nlohmann::json values = nlohmann::json::array();
      for (const auto& t : targets) {
        const auto v = o.result ? metric_at(to_json(*o.result)["metrics"], t.path) : std::nullopt;
        values.push_back(v ? nlohmann::json(*v) : nlohmann::json(nullptr));
      }
      rj["metrics"] = values;
      runs.push_back(rj);
    }
    pj["runs"] = runs;
    points.push_back(pj);
  }
  j["points"] = points;
  return j;
}

}  // namespace mirrorsim
