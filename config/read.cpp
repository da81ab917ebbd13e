// Reading a scenario document: every key decoded by its rule, then the
// checks that involve more than one key.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

#include "config/trace.hpp"

#include "config/document.hpp"
#include "config/parse_counters.hpp"

namespace mirrorsim::config {

namespace {

// Reads the keys of one table. Unknown keys are refused before any value is
// read: a misspelt key is the likeliest cause of whatever else looks wrong
// ("missing required key 'name'" is less helpful than "did you mean 'name'?").
class Section {
 public:
  // `prefix` starts the dotted names of the keys ("link.", "workload.0.");
  // `label` says where they are, for messages ("in [link]").
  Section(const toml::table& table, std::string prefix, std::string label, const Origin& origin)
      : table_(table), prefix_(std::move(prefix)), label_(std::move(label)), origin_(origin) {}

  void reject_unknown_keys(const std::vector<std::string_view>& known) const {
    const toml::key* first = nullptr;
    for (auto&& [key, value] : table_) {
      if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
      if (!first || std::pair(key.source().begin.line, key.source().begin.column) <
                        std::pair(first->source().begin.line, first->source().begin.column))
        first = &key;
    }
    if (!first) return;
    for (const auto& [old, instead] : kRetiredKeys)
      if (first->str() == old) origin_.fail(first->source(), fmt::format("unknown key '{}' {}: {}", old, label_, instead));
    std::string message = fmt::format("unknown key '{}' {}", first->str(), label_);
    if (const auto suggestion = closest(first->str(), known)) message += fmt::format(" (did you mean '{}'?)", *suggestion);
    origin_.fail(first->source(), message);
  }

  // The entry's name is known: name its keys after it.
  void rename(std::string prefix, std::string label) {
    prefix_ = std::move(prefix);
    label_ = std::move(label);
  }

  template <class T, class Rule>
  void operator()(std::string_view key, T& field, const Rule& rule, Presence presence = Presence::Optional) {
    const toml::node* node = table_.get(key);
    if (!node) {
      if (presence == Presence::Required) origin_.fail(table_.source(), fmt::format("missing required key '{}' {}", key, label_));
      return;
    }
    field = rule.decode(*node, Refusal(origin_, prefix_ + std::string(key)));
  }

  // A sub-table, or nullptr when absent.
  const toml::table* table(std::string_view key) const {
    const toml::node* node = table_.get(key);
    if (!node) return nullptr;
    if (const auto* table = node->as_table()) return table;
    refusal(key)(*node, fmt::format("a table ([{}])", key));
  }

  // An array of tables ([[key]] entries), or nullptr when absent.
  const toml::array* tables(std::string_view key) const {
    const toml::node* node = table_.get(key);
    if (!node) return nullptr;
    if (const auto* array = node->as_array(); array && (array->empty() || array->is_array_of_tables())) return array;
    refusal(key)(*node, fmt::format("an array of tables ([[{}]] entries)", key));
  }

  // A check across keys failed; reported at `key`'s value, or at the table
  // when the key is absent (its default took part).
  [[noreturn]] void fail_at(std::string_view key, const std::string& message) const {
    const toml::node* node = table_.get(key);
    origin_.fail(node ? node->source() : table_.source(), fmt::format("{}{}: {}", prefix_, key, message));
  }

  // A check of the whole entry failed (a key it needs is absent); message
  // named after the entry ("failure.2: ...").
  [[noreturn]] void fail(const std::string& message) const {
    const std::string_view entry = std::string_view(prefix_).substr(0, prefix_.empty() ? 0 : prefix_.size() - 1);
    origin_.fail(table_.source(), fmt::format("{}: {}", entry, message));
  }

  Refusal refusal(std::string_view key) const { return Refusal(origin_, prefix_ + std::string(key)); }
  const toml::source_region& source() const { return table_.source(); }

 private:
  const toml::table& table_;
  std::string prefix_;
  std::string label_;
  const Origin& origin_;
};

// Absent tables read as empty ones, so that their defaults are checked
// against the rest of the scenario like written values.
const toml::table kAbsent;

template <class S>
void read_table(const Section& top, std::string_view name, S& into, const Origin& origin) {
  const toml::table* table = top.table(name);
  Section section(table ? *table : kAbsent, std::string(name) + ".", fmt::format("in [{}]", name), origin);
  section.reject_unknown_keys(keys_of<S>());
  visit_keys(section, into);
}

void read_controllers(const Section& top, Scenario& s, const Origin& origin) {
  read_table(top, "primary", s.primary, origin);
  // The two controllers of a pair are usually the same model: keys absent
  // from [secondary] take the primary's values.
  s.secondary = s.primary;
  const toml::table* table = top.table("secondary");
  if (!table) return;
  Section secondary(*table, "secondary.", "in [secondary]", origin);
  secondary.reject_unknown_keys(keys_of<ControllerScenario>());
  visit_keys(secondary, s.secondary);
  if (s.secondary.track_bytes != s.primary.track_bytes)
    secondary.fail_at("track_bytes", fmt::format("{} differs from primary.track_bytes ({}): the track is the unit "
                                                 "of mirroring, both sides must use the same size",
                                                 s.secondary.track_bytes, s.primary.track_bytes));
}

void read_volumes(const Section& top, Scenario& s, const Origin& origin) {
  const toml::array* entries = top.tables("volume");
  if (!entries || entries->empty())
    origin.fail(entries ? entries->source() : top.source(),
                "at least one [[volume]] is required: the volumes R1 mirrors to R2");
  constexpr size_t kVolumesMax = size_t{std::numeric_limits<VolumeId>::max()} + 1;
  if (entries->size() > kVolumesMax)
    origin.fail(entries->source(), fmt::format("{} volumes declared, at most {} are supported", entries->size(), kVolumesMax));
  const auto known = keys_of<VolumeScenario>();
  for (size_t i = 0; i < entries->size(); ++i) {
    Section section(*entries->get(i)->as_table(), fmt::format("volume.{}.", i), fmt::format("in [[volume]] {}", i),
                    origin);
    section.reject_unknown_keys(known);
    // Volumes are addressed by name (volume.db.mode), so the name comes first.
    VolumeScenario volume;
    section("name", volume.name, Name{}, kRequired);
    section.rename(fmt::format("volume.{}.", volume.name), fmt::format("in [[volume]] {}", toml_string(volume.name)));
    visit_keys(section, volume);
    for (size_t j = 0; j < s.volumes.size(); ++j)
      if (s.volumes[j].name == volume.name)
        section.fail_at("name", fmt::format("{} is already the name of volume {}: names must be unique", toml_string(volume.name), j));
    s.volumes.push_back(std::move(volume));
  }
}

std::string volume_list(const Scenario& s) {
  std::string list;
  for (const auto& v : s.volumes) list += (list.empty() ? "" : ", ") + toml_string(v.name);
  return list;
}

void read_async(const Section& top, Scenario& s, const Origin& origin) {
  read_table(top, "async", s.async, origin);
  const bool any_async = std::any_of(s.volumes.begin(), s.volumes.end(), [](const VolumeScenario& v) { return v.mode == Mode::Async; });
  const toml::array* volume_tables = top.tables("volume");
  if (any_async) {
    // An SRDF/A group runs one mode: a pair is async for all its volumes or none.
    for (size_t i = 0; i < s.volumes.size(); ++i)
      if (s.volumes[i].mode != Mode::Async) {
        Section section(*volume_tables->get(i)->as_table(), fmt::format("volume.{}.", s.volumes[i].name),
                        fmt::format("in [[volume]] {}", toml_string(s.volumes[i].name)), origin);
        section.fail_at("mode", fmt::format("\"{}\" cannot share a pair with async volumes: a pair's volumes are all "
                                            "async or none (an async group runs one mode)",
                                            to_string(s.volumes[i].mode)));
      }
  }
  const toml::array* entries = top.tables("consistency_group");
  if (!entries) return;
  std::vector<std::string_view> volume_names;
  for (const auto& v : s.volumes) volume_names.push_back(v.name);
  std::vector<std::string> grouped;
  for (size_t i = 0; i < entries->size(); ++i) {
    Section section(*entries->get(i)->as_table(), fmt::format("consistency_group.{}.", i),
                    fmt::format("in [[consistency_group]] {}", i), origin);
    section.reject_unknown_keys(keys_of<ConsistencyGroupScenario>());
    ConsistencyGroupScenario g;
    visit_keys(section, g);
    if (!any_async)
      section.fail_at("volumes", "consistency groups are for async volumes: no volume has mode = \"async\"");
    for (const auto& other : s.consistency_groups)
      if (other.name == g.name) section.fail_at("name", fmt::format("{} names two groups", toml_string(g.name)));
    for (const std::string& name : g.volumes) {
      if (std::find(volume_names.begin(), volume_names.end(), name) == volume_names.end()) {
        std::string message = fmt::format("no volume named {} (declared: {})", toml_string(name), volume_list(s));
        if (const auto suggestion = closest(name, volume_names)) message += fmt::format("; did you mean {}?", toml_string(*suggestion));
        section.fail_at("volumes", message);
      }
      if (std::find(grouped.begin(), grouped.end(), name) != grouped.end())
        section.fail_at("volumes", fmt::format("volume {} is already in another consistency group", toml_string(name)));
      grouped.push_back(name);
    }
    s.consistency_groups.push_back(std::move(g));
  }
}


void read_workloads(const Section& top, Scenario& s, const Origin& origin) {
  const toml::array* entries = top.tables("workload");
  if (!entries) return;
  const auto known = keys_of<WorkloadScenario>();
  std::vector<std::string_view> volume_names;
  for (const auto& v : s.volumes) volume_names.push_back(v.name);
  for (size_t i = 0; i < entries->size(); ++i) {
    Section section(*entries->get(i)->as_table(), fmt::format("workload.{}.", i), fmt::format("in [[workload]] {}", i),
                    origin);
    section.reject_unknown_keys(known);
    WorkloadScenario w;
    visit_keys(section, w);

    const auto volume = std::find(volume_names.begin(), volume_names.end(), w.volume);
    if (volume == volume_names.end()) {
      std::string message = fmt::format("no volume named {} (declared: {})", toml_string(w.volume), volume_list(s));
      if (const auto suggestion = closest(w.volume, volume_names)) message += fmt::format("; did you mean {}?", toml_string(*suggestion));
      section.fail_at("volume", message);
    }
    w.volume_index = static_cast<VolumeId>(volume - volume_names.begin());

    if (w.arrival == Arrival::Trace && w.trace.empty())
      section.fail_at("arrival", "\"trace\" needs the trace file: trace = \"file\" (with trace_format)");
    if (w.arrival != Arrival::Trace && !w.trace.empty())
      section.fail_at("trace", fmt::format("a trace drives arrival = \"trace\", not \"{}\"", to_string(w.arrival)));
    if (w.arrival == Arrival::Trace) {
      const uint64_t volume_bytes = uint64_t{s.volumes[w.volume_index].tracks} * s.primary.track_bytes;
      try {
        (void)check_trace(w.trace, w.trace_format, w.trace_device, volume_bytes);
      } catch (const ScenarioError& e) {
        section.fail_at("trace", e.what());
      }
    }
    if (w.arrival == Arrival::Intervals && w.intervals.empty())
      section.fail_at("arrival", "\"intervals\" needs the workload's intervals (rows, or a CSV named by intervals = \"file\")");
    if (w.arrival != Arrival::Intervals && !w.intervals.empty())
      section.fail_at("intervals", fmt::format("intervals drive arrival = \"intervals\", not \"{}\"", to_string(w.arrival)));
    for (const WorkloadInterval& row : w.intervals)
      for (const bool write : {false, true})
        if ((write ? row.write_iops : row.read_iops) > 0 && row.block_bytes(write) > s.primary.track_bytes)
          section.fail_at("intervals", fmt::format("{}: a {} of {} bytes exceeds primary.track_bytes ({}): a request must "
                                                   "fit in one track",
                                                   row.where, write ? "write" : "read", row.block_bytes(write),
                                                   s.primary.track_bytes));
    if (w.block_bytes > s.primary.track_bytes)
      section.fail_at("block_bytes", fmt::format("{} exceeds primary.track_bytes ({}): a request must fit in one track",
                                                 w.block_bytes, s.primary.track_bytes));
    if (w.start_s >= s.duration_s)
      section.fail_at("start_s", fmt::format("{} s is not before duration_s ({} s): the workload would issue nothing",
                                             w.start_s, s.duration_s));
    if (w.stop_s && *w.stop_s <= w.start_s)
      section.fail_at("stop_s", fmt::format("{} s is not after start_s ({} s)", *w.stop_s, w.start_s));
    if (w.stop_s && *w.stop_s > s.duration_s)
      section.fail_at("stop_s", fmt::format("{} s is after duration_s ({} s), when hosts stop issuing I/O", *w.stop_s,
                                            s.duration_s));
    s.workloads.push_back(std::move(w));
  }
}

// Which of the optional keys of a [[failure]] entry an event takes.
struct EventKeys {
  bool controller = false;  // required when taken
  bool disk = false;        // required when taken
  bool link = false;        // optional: all links when absent
  bool degrade = false;     // bandwidth_gbit_per_s and/or added_latency_us, at least one
};

EventKeys keys_taken_by(FailureEvent event) {
  switch (event) {
    case FailureEvent::LinkDown:
    case FailureEvent::LinkUp: return {.link = true};
    case FailureEvent::LinkDegrade: return {.link = true, .degrade = true};
    case FailureEvent::Crash:
    case FailureEvent::Restart: return {.controller = true};
    case FailureEvent::DiskFailure:
    case FailureEvent::DiskRepair: return {.controller = true, .disk = true};
    case FailureEvent::Disaster:
    case FailureEvent::Failover:
    case FailureEvent::Failback:
    case FailureEvent::Suspend:
    case FailureEvent::Resume: return {};
  }
  return {};
}

void check_failure_keys(const Section& section, const FailureScenario& f, const Scenario& s) {
  const EventKeys takes = keys_taken_by(f.event);
  const std::string event = toml_string(to_string(f.event));
  const auto refuse_if_present = [&](std::string_view key, bool present, bool taken) {
    if (present && !taken) section.fail_at(key, fmt::format("does not apply to a {} event", event));
  };
  refuse_if_present("controller", f.controller.has_value(), takes.controller);
  refuse_if_present("disk", f.disk.has_value(), takes.disk);
  refuse_if_present("link", f.link.has_value(), takes.link);
  refuse_if_present("bandwidth_gbit_per_s", f.bandwidth_gbit_per_s.has_value(), takes.degrade);
  refuse_if_present("added_latency_us", f.added_latency_us.has_value(), takes.degrade);

  if (takes.controller && !f.controller)
    section.fail(fmt::format("a {} event needs controller = \"R1\" or \"R2\"", event));
  if (takes.disk && !f.disk)
    section.fail(fmt::format("a {} event needs disk = <index of one of the controller's disks, from 0>", event));
  if (takes.degrade && !f.bandwidth_gbit_per_s && !f.added_latency_us)
    section.fail(fmt::format("a {} event needs bandwidth_gbit_per_s, added_latency_us or both", event));

  if (f.disk) {
    const bool primary = *f.controller == Side::A;
    const uint32_t disks = primary ? s.primary.disks : s.secondary.disks;
    if (*f.disk >= disks)
      section.fail_at("disk", fmt::format("{} has no disk {}: {}.disks = {} (disks are numbered from 0)",
                                          primary ? "R1" : "R2", *f.disk, primary ? "primary" : "secondary", disks));
  }
  if (f.link && *f.link >= s.link.links)
    section.fail_at("link", fmt::format("there is no link {}: link.links = {} (links are numbered from 0)", *f.link,
                                        s.link.links));
  if (f.at_s > s.duration_s)
    section.fail_at("at_s", fmt::format("{} s is after duration_s ({} s), when the run ends", f.at_s, s.duration_s));
}

void read_failures(const Section& top, Scenario& s, const ReadOptions& options) {
  const toml::array* entries = top.tables("failure");
  if (!entries) return;
  const auto known = keys_of<FailureScenario>();
  for (size_t i = 0; i < entries->size(); ++i) {
    const toml::table& entry = *entries->get(i)->as_table();
    Section section(entry, fmt::format("failure.{}.", i), fmt::format("in [[failure]] {}", i), options.origin);
    section.reject_unknown_keys(known);
    FailureScenario f;
    visit_keys(section, f);
    check_failure_keys(section, f, s);
    f.where = i < options.failure_wheres.size() ? options.failure_wheres[i] : options.origin.position(entry.source());
    s.failures.push_back(std::move(f));
  }
  std::stable_sort(s.failures.begin(), s.failures.end(),
                   [](const FailureScenario& a, const FailureScenario& b) { return a.at_s < b.at_s; });
}

void read_measurement(const Section& top, Scenario& s, const Origin& origin) {
  const toml::table* table = top.table("measurement");
  Section section(table ? *table : kAbsent, "measurement.", "in [measurement]", origin);
  section.reject_unknown_keys(keys_of<MeasurementScenario>());
  visit_keys(section, s.measurement);
  const MeasurementScenario& m = s.measurement;
  if (m.warmup_s >= s.duration_s)
    section.fail_at("warmup_s", fmt::format("{} s is not before duration_s ({} s): nothing would be measured", m.warmup_s,
                                            s.duration_s));
  // Bounds the time series a run keeps in memory.
  constexpr double kSamplesMax = 1e6;
  if (s.duration_s / m.timeseries_interval_s > kSamplesMax)
    section.fail_at("timeseries_interval_s",
                    fmt::format("{} s over duration_s = {} s gives {:.0f} samples, at most {:.0f} are kept",
                                m.timeseries_interval_s, s.duration_s, s.duration_s / m.timeseries_interval_s, kSamplesMax));
}

// Where each sweep value was written, to report the ones that do not apply.
struct SweepSites {
  std::vector<std::string> keys;                 // per parameter
  std::vector<std::vector<std::string>> values;  // per parameter, per value
};


}  // namespace
}  // namespace mirrorsim::config

namespace mirrorsim {

std::optional<std::vector<std::string>> range_values(std::string_view text) {
  std::vector<std::string_view> parts;
  for (size_t begin = 0;;) {
    const size_t colon = text.find(':', begin);
    parts.push_back(text.substr(begin, colon - begin));
    if (colon == std::string_view::npos) break;
    begin = colon + 1;
  }
  if (parts.size() != 3) return std::nullopt;

  int64_t integers[3];
  bool all_integers = true;
  double reals[3];
  for (size_t i = 0; i < 3; ++i) {
    const auto part = parts[i];
    const auto [end_i, error_i] = std::from_chars(part.data(), part.data() + part.size(), integers[i]);
    all_integers = all_integers && error_i == std::errc() && end_i == part.data() + part.size();
    const auto [end_r, error_r] = std::from_chars(part.data(), part.data() + part.size(), reals[i]);
    if (part.empty() || error_r != std::errc() || end_r != part.data() + part.size() || !std::isfinite(reals[i]))
      return std::nullopt;
  }

  std::vector<std::string> values;
  if (all_integers) {
    // Exact, in checked arithmetic: the doubles above lose integers beyond
    // 2^53, and start + i * step may leave int64.
    const auto [start, stop, step] = integers;
    if (step <= 0 || stop < start) return std::nullopt;
    // stop - start as unsigned: exact for any pair with stop ≥ start.
    const uint64_t span = static_cast<uint64_t>(stop) - static_cast<uint64_t>(start);
    const uint64_t steps = span / static_cast<uint64_t>(step);
    if (steps >= kSweepValuesMax) return std::nullopt;
    for (uint64_t i = 0; i <= steps; ++i) {
      // i * step ≤ span fits in uint64 (as int64 it may not: -2^63 + 3 * 2^62),
      // and start + i * step ≤ stop, so the sum taken modulo 2^64 is the value.
      uint64_t offset = 0;
      if (__builtin_mul_overflow(i, static_cast<uint64_t>(step), &offset) || offset > span)
        return std::nullopt;  // cannot happen for i ≤ steps; checked all the same
      values.push_back(std::to_string(static_cast<int64_t>(static_cast<uint64_t>(start) + offset)));
    }
    return values;
  }
  const auto [start, stop, step] = reals;
  if (!(step > 0) || stop < start) return std::nullopt;
  const double steps = std::floor((stop - start) / step + 1e-9);  // +inf when the span overflows: refused
  if (!(steps + 1 <= static_cast<double>(kSweepValuesMax))) return std::nullopt;
  for (int64_t i = 0; i <= static_cast<int64_t>(steps); ++i) {
    // Rounded to 15 digits so that 0:1:0.1 gives 0.3, not 0.30000000000000004.
    const double v = start + static_cast<double>(i) * step;
    values.push_back(config::real_text(std::strtod(fmt::format("{:.15g}", v).c_str(), nullptr)));
  }
  return values;
}

}  // namespace mirrorsim

namespace mirrorsim::config {
namespace {

std::optional<SweepScenario> read_sweep(const Section& top, const Origin& origin, SweepSites& sites) {
  const toml::table* table = top.table("sweep");
  if (!table) return std::nullopt;
  SweepScenario sweep;
  Section section(*table, "sweep.", "in [sweep]", origin);
  section("repeat", sweep.repeat, Integer<uint32_t>{.min = 1});

  // Parameters in file order (toml++ keeps keys sorted by name).
  std::vector<std::pair<const toml::key*, const toml::node*>> params;
  for (auto&& [key, node] : *table)
    if (key.str() != "repeat") params.emplace_back(&key, &node);
  std::sort(params.begin(), params.end(), [](const auto& a, const auto& b) {
    const auto& pa = a.first->source().begin;
    const auto& pb = b.first->source().begin;
    return std::pair(pa.line, pa.column) < std::pair(pb.line, pb.column);
  });

  const std::string expected = fmt::format(
      "a non-empty array of values, or a \"start:stop:step\" range with step > 0, stop ≥ start and at most {} values",
      kSweepValuesMax);
  for (const auto& [key, node] : params) {
    if (node->is_table())
      origin.fail(key->source(), fmt::format("unquoted key '{}' in [sweep]: sweep keys are quoted dotted keys, e.g. "
                                             "\"link.distance_km\" = [0, 100, 300]",
                                             key->str()));
    const Refusal refuse(origin, fmt::format("[sweep] {}", toml_string(key->str())));
    SweepParam param{std::string(key->str()), {}};
    std::vector<std::string> wheres;
    if (const auto* array = node->as_array(); array && !array->empty() && array->size() <= kSweepValuesMax) {
      for (const auto& element : *array) {
        const auto text = toml_text(element);
        if (!text) refuse(element, "a number, a string, true or false, or an array of them");
        param.values.push_back(*text);
        wheres.push_back(origin.position(element.source()));
      }
    } else if (const auto* range = node->as_string()) {
      auto values = range_values(range->get());
      if (!values) refuse(*node, expected);
      param.values = std::move(*values);
      wheres.assign(param.values.size(), origin.position(node->source()));
    } else {
      refuse(*node, expected);
    }
    sweep.params.push_back(std::move(param));
    sites.keys.push_back(origin.position(key->source()));
    sites.values.push_back(std::move(wheres));
  }
  return sweep;
}

// Every sweep key must address a value of the scenario.
void check_sweep_keys(const Scenario& s, const SweepSites& sites, const Origin& origin) {
  for (size_t p = 0; p < s.sweep->params.size(); ++p) {
    try {
      check_addressable(s, s.sweep->params[p].key, "");
    } catch (const ScenarioError& e) {
      throw ScenarioError(origin.override_where.value_or(sites.keys[p]), fmt::format("[sweep] {}", e.what()));
    }
  }
}

// Every sweep value must give a valid scenario on its own; combinations are
// checked when the grid runs.
//
// Each value is applied to the scenario without its [sweep]: an override
// regenerates and re-reads the whole document, and with the sweep in it
// every value would re-read every other (quadratic in the values: a 10,000
// value range took 25 s). Without it, each value costs one read of the
// rest of the document, whatever the sweep's size. The sweep's keys do not
// change and are checked once, before.
void try_sweep_values(const Scenario& s, const SweepSites& sites, const Origin& origin) {
  Scenario base = s;
  base.sweep.reset();
  for (size_t p = 0; p < s.sweep->params.size(); ++p) {
    const SweepParam& param = s.sweep->params[p];
    for (size_t v = 0; v < param.values.size(); ++v) {
      Scenario copy = base;
      try {
        set_value(copy, param.key, param.values[v], "");
      } catch (const ScenarioError& e) {
        throw ScenarioError(origin.override_where.value_or(sites.values[p][v]),
                            fmt::format("[sweep] {} = {}: {}", param.key, param.values[v], e.what()));
      }
    }
  }
}

void read_check(const Section& top, Scenario& s, const Origin& origin) {
  const toml::table* table = top.table("check");
  if (!table) return;
  Section section(*table, "check.", "in [check]", origin);
  section.reject_unknown_keys(keys_of<CheckScenario>());
  CheckScenario check;
  visit_keys(section, check);
  if (check.volumes > s.volumes.size())
    section.fail_at("volumes", fmt::format("{} exceeds the {} volume(s) the scenario declares", check.volumes, s.volumes.size()));
  s.check = check;
}

std::vector<std::string_view> top_level_keys() {
  auto keys = keys_of<Scenario>();
  keys.insert(keys.end(), kTopLevelTables.begin(), kTopLevelTables.end());
  return keys;
}

}  // namespace

namespace {
std::atomic<uint64_t> documents_parsed{0};
std::atomic<uint64_t> bytes_parsed{0};
}  // namespace

ParseCounters parse_counters() { return {documents_parsed.load(), bytes_parsed.load()}; }

toml::table parse_document(std::string_view text, const Origin& origin) {
  documents_parsed.fetch_add(1, std::memory_order_relaxed);
  bytes_parsed.fetch_add(text.size(), std::memory_order_relaxed);
  try {
    return toml::parse(text, std::string_view(origin.source));
  } catch (const toml::parse_error& e) {
    // toml++ says "Error while parsing value: ..."; "TOML syntax error in value: ..." reads better.
    constexpr std::string_view kLead = "Error while parsing ";
    std::string_view description = e.description();
    if (description.starts_with(kLead))
      origin.fail(e.source(), fmt::format("TOML syntax error in {}", description.substr(kLead.size())));
    origin.fail(e.source(), fmt::format("TOML syntax error: {}", description));
  } catch (const TomlDefect& e) {
    // No position: the parser lost track of where it was.
    origin.fail(toml::source_region{}, fmt::format("TOML syntax error the parser cannot place: {} (a defect of that "
                                                   "version, on input that is not valid TOML)",
                                                   e.what()));
  }
}

Scenario read_scenario(const toml::table& document, const ReadOptions& options) {
  const Origin& origin = options.origin;
  Scenario s;
  s.source = origin.source;
  Section top(document, "", "at the top level", origin);
  top.reject_unknown_keys(top_level_keys());
  visit_keys(top, s);
  read_controllers(top, s, origin);
  read_table(top, "link", s.link, origin);
  read_volumes(top, s, origin);
  read_async(top, s, origin);
  read_workloads(top, s, origin);
  read_failures(top, s, options);
  read_measurement(top, s, origin);
  SweepSites sweep_sites;
  s.sweep = read_sweep(top, origin, sweep_sites);
  read_check(top, s, origin);
  if (s.sweep) check_sweep_keys(s, sweep_sites, origin);
  if (s.sweep && options.try_sweep_values) try_sweep_values(s, sweep_sites, origin);
  s.resolved_toml = resolved_text(s);
  return s;
}

}  // namespace mirrorsim::config
