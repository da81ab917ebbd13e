#include "sweep/sweep.hpp"

#include <poll.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "config/resources.hpp"
#include "report/json_read.hpp"
#include "sim/fork.hpp"

namespace mirrorsim {

namespace {

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  return b == std::string_view::npos ? std::string() : std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  for (size_t begin = 0;;) {
    const size_t at = s.find(sep, begin);
    out.push_back(trim(s.substr(begin, at - begin)));
    if (at == std::string_view::npos) return out;
    begin = at + 1;
  }
}

std::optional<double> number(const std::string& s) {
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

double t95(size_t df) {
  static const double table[] = {0,     12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                 2.201, 2.179,  2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080,
                                 2.074, 2.069,  2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (df == 0) return std::numeric_limits<double>::quiet_NaN();
  if (df <= 30) return table[df];
  return 1.960 + 2.4 / static_cast<double>(df);  // within 0.3 % of the exact value beyond 30
}

namespace {

std::string cell(double v) { return std::isfinite(v) ? fmt::format("{}", v) : std::string(); }

// CSV cells are quoted only when they must be.
std::string csv_escape(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

SweepParam parse_sweep_param(std::string_view text, const std::string& where) {
  // Its values become cells of the JSON lines table, which must be UTF-8.
  if (!json_read::valid_utf8(text)) throw ScenarioError(where, "not UTF-8 text");
  const auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == text.size())
    throw ScenarioError(where, "expected key=v1,v2,... or key=start:stop:step, e.g. link.distance_km=0,100,300");
  SweepParam p;
  p.key = trim(text.substr(0, eq));
  const std::string values = trim(text.substr(eq + 1));
  if (values.find(':') != std::string::npos && values.find(',') == std::string::npos) {
    auto range = range_values(values);
    if (!range)
      throw ScenarioError(where, fmt::format("'{}': a range is start:stop:step with numbers, step > 0, stop ≥ start and "
                                             "at most {} values",
                                             values, kSweepValuesMax));
    p.values = std::move(*range);
  } else {
    p.values = split(values, ',');
    if (std::any_of(p.values.begin(), p.values.end(), [](const std::string& v) { return v.empty(); }))
      throw ScenarioError(where, fmt::format("'{}': an empty value in the list", values));
  }
  return p;
}

uint64_t repeat_seed(uint64_t base_seed, uint32_t repeat) { return base_seed + repeat; }

std::vector<SweepPoint> sweep_points(const Scenario& base, const std::vector<SweepParam>& params, uint32_t repeat) {
  check_sweep_size(params, repeat, base.source);
  uint64_t combinations = 1;
  for (const auto& p : params) {
    if (p.values.empty()) throw ScenarioError("sweep " + p.key, "no values to sweep");
    combinations *= p.values.size();  // no overflow: check_sweep_size bounded the product
  }
  std::vector<SweepPoint> points;
  points.reserve(combinations * repeat);
  for (uint64_t g = 0; g < combinations; ++g) {
    std::vector<Override> overrides;
    uint64_t rest = g;
    // Mixed radix, the last parameter varying fastest.
    std::vector<size_t> digit(params.size());
    for (size_t i = params.size(); i-- > 0;) {
      digit[i] = rest % params[i].values.size();
      rest /= params[i].values.size();
    }
    for (size_t i = 0; i < params.size(); ++i)
      overrides.push_back(Override{params[i].key, params[i].values[digit[i]],
                                   fmt::format("sweep {}={}", params[i].key, params[i].values[digit[i]])});
    for (uint32_t r = 0; r < repeat; ++r)
      points.push_back(SweepPoint{g * repeat + r, g, r, repeat_seed(base.seed, r), overrides});
  }
  return points;
}

Shard parse_shard(std::string_view text, const std::string& where) {
  const auto slash = text.find('/');
  uint32_t i = 0, n = 0;
  const bool ok = slash != std::string_view::npos &&
                  std::from_chars(text.data(), text.data() + slash, i).ptr == text.data() + slash &&
                  std::from_chars(text.data() + slash + 1, text.data() + text.size(), n).ptr == text.data() + text.size();
  if (!ok || n == 0 || i >= n) throw ScenarioError(where, fmt::format("'{}': a shard is i/N with 0 ≤ i < N, e.g. 0/4", text));
  return Shard{i, n};
}

// ---------------------------------------------------------------------------
// running

std::vector<PointOutcome> run_sweep(const Scenario& base, const std::vector<SweepPoint>& points,
                                    const SweepOptions& options) {
  std::vector<const SweepPoint*> todo;
  for (const SweepPoint& p : points)
    if (options.shard.owns(p.index)) todo.push_back(&p);
  std::map<uint64_t, PointOutcome> done;
  struct Running {
    const SweepPoint* point;
    std::unique_ptr<ChildRun> child;
    std::chrono::steady_clock::time_point started;
  };
  std::vector<Running> running;
  size_t next = 0, failed = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  auto finish = [&](PointOutcome o) {
    if (!o.error.empty()) ++failed;
    if (options.on_point_done) options.on_point_done(o);
    done.emplace(o.point.index, std::move(o));
  };
  auto show = [&] {
    if (!options.progress) return;
    const size_t n = done.size(), total = todo.size();
    const double eta = n ? elapsed() / static_cast<double>(n) * static_cast<double>(total - n) : 0;
    const int width = 24;
    const int filled = total ? static_cast<int>(width * n / total) : width;
    fmt::print(stderr, "\r  [{}{}] {}/{} points, {} failed, {} running, ETA {:.0f} s   ", std::string(filled, '#'),
               std::string(width - filled, '.'), n, total, failed, running.size(), eta);
  };
  const unsigned jobs = std::max(1u, options.jobs);
  bool halted = false;
  auto stopping = [&] {
    if (!halted && options.keep_going && !options.keep_going()) halted = true;
    return halted || (options.stop && options.stop->load());
  };

  while ((next < todo.size() || !running.empty()) && !stopping()) {
    while (running.size() < jobs && next < todo.size() && !stopping()) {
      const SweepPoint* p = todo[next++];
      Scenario s = base;
      std::vector<Override> overrides = p->overrides;
      overrides.push_back(Override{"seed", std::to_string(p->seed), fmt::format("sweep seed {}", p->seed)});
      try {
        set_values(s, overrides);
      } catch (const ScenarioError& e) {
        finish(PointOutcome{*p, std::nullopt, e.what(), 0});
        continue;
      }
      try {
        running.push_back(Running{p, std::make_unique<ChildRun>(s, options.sim), std::chrono::steady_clock::now()});
      } catch (const ChildFailed& e) {
        finish(PointOutcome{*p, std::nullopt, e.what(), 0});
      }
    }
    show();
    if (running.empty()) continue;
    std::vector<pollfd> fds;
    for (const Running& r : running) fds.push_back(pollfd{r.child->fd(), POLLIN, 0});
    ::poll(fds.data(), fds.size(), 500);
    for (size_t i = running.size(); i-- > 0;) {
      Running& r = running[i];
      bool eof = false;
      try {
        eof = r.child->read_available();
      } catch (const ChildFailed&) {
        eof = true;  // finish() reports it
      }
      if (!eof) continue;
      PointOutcome o{*r.point, std::nullopt, {}, 0};
      try {
        o.result = r.child->finish();
      } catch (const ChildFailed& e) {
        o.error = e.what();
      }
      o.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - r.started).count();
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
      finish(std::move(o));
    }
  }
  running.clear();  // stopping early: the children are killed and reaped
  show();
  if (options.progress) fmt::print(stderr, "\n");
  std::vector<PointOutcome> out;
  for (auto& [index, o] : done) out.push_back(std::move(o));
  return out;
}

// ---------------------------------------------------------------------------
// tables

int SweepTable::column(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == name) return static_cast<int>(i);
  return -1;
}

SweepTable runs_table(const std::vector<PointOutcome>& outcomes, const std::vector<std::string>& param_keys) {
  SweepTable t;
  t.columns = {"index", "grid_index", "repeat", "seed"};
  t.columns.insert(t.columns.end(), param_keys.begin(), param_keys.end());
  t.columns.push_back("error");
  const size_t fixed = t.columns.size();
  // Metric columns in first-seen order (points may differ, e.g. in volumes).
  std::map<std::string, size_t> metric_column;
  for (const PointOutcome& o : outcomes) {
    if (!o.result) continue;
    for (const auto& [name, value] : summary_metrics(*o.result))
      if (metric_column.emplace(name, t.columns.size()).second) t.columns.push_back(name);
  }
  for (const PointOutcome& o : outcomes) {
    std::vector<std::string> row(t.columns.size());
    row[0] = std::to_string(o.point.index);
    row[1] = std::to_string(o.point.grid_index);
    row[2] = std::to_string(o.point.repeat);
    row[3] = std::to_string(o.point.seed);
    for (size_t i = 0; i < param_keys.size(); ++i)
      for (const Override& ov : o.point.overrides)
        if (ov.key == param_keys[i]) row[4 + i] = ov.value;
    row[fixed - 1] = o.error;
    if (o.result)
      for (const auto& [name, value] : summary_metrics(*o.result)) row[metric_column[name]] = cell(value);
    t.rows.push_back(std::move(row));
  }
  return t;
}

std::vector<std::string> param_columns(const SweepTable& runs) {
  const int seed = runs.column("seed"), error = runs.column("error");
  if (seed < 0 || error < seed) return {};
  return std::vector<std::string>(runs.columns.begin() + seed + 1, runs.columns.begin() + error);
}

SweepTable confidence_table(const SweepTable& runs, const std::vector<std::string>& param_keys) {
  SweepTable t;
  t.columns = {"grid_index"};
  t.columns.insert(t.columns.end(), param_keys.begin(), param_keys.end());
  t.columns.push_back("runs");
  t.columns.push_back("failed");
  const int error = runs.column("error");
  const int grid = runs.column("grid_index");
  std::vector<size_t> metrics;
  for (size_t c = static_cast<size_t>(error) + 1; c < runs.columns.size(); ++c) {
    metrics.push_back(c);
    t.columns.push_back(runs.columns[c] + "_mean");
    t.columns.push_back(runs.columns[c] + "_ci95");
  }
  std::map<uint64_t, std::vector<const std::vector<std::string>*>> groups;
  for (const auto& row : runs.rows) groups[std::stoull(row[static_cast<size_t>(grid)])].push_back(&row);
  for (const auto& [g, rows] : groups) {
    std::vector<std::string> out{std::to_string(g)};
    for (const auto& key : param_keys) out.push_back((*rows.front())[static_cast<size_t>(runs.column(key))]);
    size_t failed = 0;
    for (const auto* r : rows) failed += (*r)[static_cast<size_t>(error)].empty() ? 0 : 1;
    out.push_back(std::to_string(rows.size()));
    out.push_back(std::to_string(failed));
    for (size_t c : metrics) {
      std::vector<double> xs;
      for (const auto* r : rows)
        if (auto v = number((*r)[c])) xs.push_back(*v);
      if (xs.empty()) {
        out.push_back("");
        out.push_back("");
        continue;
      }
      double mean = 0;
      for (double x : xs) mean += x;
      mean /= static_cast<double>(xs.size());
      double ss = 0;
      for (double x : xs) ss += (x - mean) * (x - mean);
      const double ci =
          xs.size() > 1 ? t95(xs.size() - 1) * std::sqrt(ss / static_cast<double>(xs.size() - 1) / xs.size()) : NAN;
      out.push_back(cell(mean));
      out.push_back(cell(ci));
    }
    t.rows.push_back(std::move(out));
  }
  return t;
}

std::string to_csv(const SweepTable& t) {
  std::string s;
  for (size_t i = 0; i < t.columns.size(); ++i) s += (i ? "," : "") + csv_escape(t.columns[i]);
  s += "\n";
  for (const auto& row : t.rows) {
    for (size_t i = 0; i < row.size(); ++i) s += (i ? "," : "") + csv_escape(row[i]);
    s += "\n";
  }
  return s;
}

std::string to_jsonl(const SweepTable& t) {
  std::string s;
  for (const auto& row : t.rows) {
    nlohmann::ordered_json j;
    for (size_t i = 0; i < t.columns.size(); ++i) {
      if (row[i].empty()) {
        j[t.columns[i]] = nullptr;
      } else if (auto v = number(row[i]); v && t.columns[i] != "error") {
        j[t.columns[i]] = *v;
      } else {
        j[t.columns[i]] = row[i];
      }
    }
    // An error cell may quote what a user typed: bytes that are not UTF-8
    // are written as U+FFFD rather than fail the whole table.
    s += j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  }
  return s;
}

namespace {

// A runs table as runs_table() makes it: index, grid_index, repeat, seed,
// the parameters, error, the metrics; the first four cells of a row whole
// numbers, every metric cell a number or empty. `lines` gives each row's
// line in `source`.
void check_runs_table(const SweepTable& t, const std::vector<size_t>& lines, const std::string& source) {
  static constexpr std::array<std::string_view, 4> kLeading{"index", "grid_index", "repeat", "seed"};
  for (size_t i = 0; i < kLeading.size(); ++i)
    if (t.columns.size() <= i || t.columns[i] != kLeading[i])
      throw std::runtime_error(fmt::format("{}:1: not a sweep runs table: column {} must be '{}' (index, grid_index, "
                                           "repeat, seed, the parameters, error, the metrics)",
                                           source, i + 1, kLeading[i]));
  std::set<std::string_view> names;
  for (const std::string& c : t.columns)
    if (!names.insert(c).second) throw std::runtime_error(fmt::format("{}:1: column '{}' appears twice", source, c));
  const int error = t.column("error");
  if (error < 0) throw std::runtime_error(fmt::format("{}:1: not a sweep runs table: no 'error' column", source));
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    for (size_t i = 0; i < kLeading.size(); ++i) {
      uint64_t v = 0;
      const std::string& c = row[i];
      const auto [end, ec] = std::from_chars(c.data(), c.data() + c.size(), v);
      const bool whole = !c.empty() && ec == std::errc() && end == c.data() + c.size();
      if (!whole || (i == 2 && v > std::numeric_limits<uint32_t>::max()))
        throw std::runtime_error(fmt::format("{}:{}: {} '{}' is not a whole number{}", source, lines[r], kLeading[i], c,
                                             i == 2 ? " below 2^32" : ""));
    }
    for (size_t c = static_cast<size_t>(error) + 1; c < row.size(); ++c)
      if (!row[c].empty() && !number(row[c]))
        throw std::runtime_error(
            fmt::format("{}:{}: {} '{}' is not a number", source, lines[r], t.columns[c], row[c]));
  }
}

}  // namespace

SweepTable read_csv(std::string_view text, const std::string& source) {
  // Cells become JSON strings (to_jsonl), which must be UTF-8.
  if (const size_t ok = json_read::utf8_prefix(text); ok != text.size())
    throw std::runtime_error(fmt::format("{}:{}: not UTF-8 text", source, 1 + std::count(text.begin(), text.begin() + ok, '\n')));
  SweepTable t;
  std::vector<size_t> lines;  // of each row's first cell
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false, header = true;
  size_t line = 1, row_line = 1;
  auto end_row = [&] {
    fields.push_back(field);
    field.clear();
    if (header) {
      t.columns = fields;
      header = false;
    } else if (fields.size() == 1 && fields[0].empty()) {
      // blank line
    } else {
      if (fields.size() != t.columns.size())
        throw std::runtime_error(fmt::format("{}:{}: {} cells, the header has {}", source, row_line, fields.size(),
                                             t.columns.size()));
      t.rows.push_back(fields);
      lines.push_back(row_line);
    }
    fields.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += '"', ++i;
      else if (c == '"') quoted = false;
      else {
        field += c;
        line += c == '\n' ? 1 : 0;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(field);
      field.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      // CRLF: the line ends at the \n
    } else if (c == '\n') {
      end_row();
      row_line = ++line;
    } else {
      field += c;
    }
  }
  if (quoted) throw std::runtime_error(fmt::format("{}:{}: unterminated quoted cell", source, row_line));
  if (!field.empty() || !fields.empty()) end_row();
  if (header) throw std::runtime_error(fmt::format("{}:1: empty: not a sweep runs table", source));
  check_runs_table(t, lines, source);
  return t;
}

SweepTable merge_runs(const std::vector<std::pair<std::string, SweepTable>>& shards) {
  if (shards.empty()) throw std::runtime_error("nothing to merge");
  SweepTable merged;
  merged.columns = shards.front().second.columns;
  std::map<uint64_t, std::pair<std::string, std::vector<std::string>>> rows;
  for (const auto& [source, t] : shards) {
    if (t.columns != merged.columns)
      throw std::runtime_error(fmt::format("{}: its columns differ from {}'s: shards of one sweep have the same columns",
                                           source, shards.front().first));
    for (const auto& row : t.rows) {
      const uint64_t index = std::stoull(row[0]);
      auto [it, fresh] = rows.emplace(index, std::make_pair(source, row));
      if (!fresh)
        throw std::runtime_error(fmt::format("{}: run {} is also in {}: were the shards made with different i/N?", source,
                                             index, it->second.first));
    }
  }
  for (auto& [index, entry] : rows) merged.rows.push_back(std::move(entry.second));
  return merged;
}

}  // namespace mirrorsim
