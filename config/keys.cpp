#include "config/keys.hpp"

#include <algorithm>
#include <filesystem>
#include <cerrno>
#include <cstdlib>

#include <fmt/format.h>

namespace mirrorsim::config {

std::string Origin::position(const toml::source_region& at) const {
  if (at.begin.line == 0) return source;
  return fmt::format("{}:{}:{}", source, at.begin.line, at.begin.column);
}

void Origin::fail(const toml::source_region& at, const std::string& message) const {
  throw ScenarioError(override_where ? *override_where : position(at), message);
}

void Refusal::operator()(const toml::node& at, std::string_view expected, std::string_view hint) const {
  std::string message = fmt::format("{}: expected {}, got {}", key_, expected, describe(at));
  if (!hint.empty()) message += fmt::format(" ({})", hint);
  origin_.fail(at.source(), message);
}

// ---- TOML text ------------------------------------------------------------

std::string toml_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
          out += fmt::format("\\u{:04X}", static_cast<unsigned char>(c));
        else
          out += c;
    }
  }
  return out + "\"";
}

std::string real_text(double value) {
  // fmt's default is the shortest text that reads back as the same double;
  // TOML needs a '.' or an exponent to keep it a float ("inf" and "nan" are
  // floats already).
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text;
}

std::optional<std::string> toml_text(const toml::node& node) {
  if (const auto* v = node.as_string()) return toml_string(v->get());
  if (const auto* v = node.as_integer()) return std::to_string(v->get());
  if (const auto* v = node.as_floating_point()) return real_text(v->get());
  if (const auto* v = node.as_boolean()) return std::string(v->get() ? "true" : "false");
  if (const auto* array = node.as_array()) {
    std::string text = "[";
    for (size_t i = 0; i < array->size(); ++i) {
      const auto element = toml_text(*array->get(i));
      if (!element) return std::nullopt;
      text += (i ? ", " : "") + *element;
    }
    return text + "]";
  }
  return std::nullopt;
}

std::optional<std::string> inline_text(const toml::node& node) {
  if (const auto* table = node.as_table()) {
    std::string text = "{ ";
    bool first = true;
    for (auto&& [k, v] : *table) {
      const auto item = inline_text(v);
      if (!item) return std::nullopt;
      text += fmt::format("{}{} = {}", first ? "" : ", ", k.str(), *item);
      first = false;
    }
    return text + " }";
  }
  if (const auto* array = node.as_array()) {
    std::string text = "[";
    for (size_t i = 0; i < array->size(); ++i) {
      const auto element = inline_text(*array->get(i));
      if (!element) return std::nullopt;
      text += (i ? ", " : "") + *element;
    }
    return text + "]";
  }
  return toml_text(node);
}

std::string describe(const toml::node& node) {
  // Long values are cut: the position already says where the whole one is.
  constexpr size_t kShownMax = 60;
  if (auto text = toml_text(node)) {
    if (text->size() <= kShownMax) return *text;
    size_t cut = kShownMax;
    while (cut > 0 && (static_cast<unsigned char>((*text)[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
    return text->substr(0, cut) + "…";
  }
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return node.is_array_of_tables() ? "an array of tables" : "an array";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "an unsupported value";
  }
}

namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitution});
    }
  }
  return row[b.size()];
}

std::string_view first_word(std::string_view key) { return key.substr(0, key.find('_')); }

}  // namespace

std::optional<std::string_view> closest(std::string_view word, const std::vector<std::string_view>& candidates) {
  // The key's first word without its unit ("rate" for rate_iops): that key,
  // before any typo a few edits away ("trace").
  std::optional<std::string_view> stem;
  size_t stems = 0;
  for (const auto candidate : candidates)
    if (candidate != word && first_word(candidate) == word) {
      stem = candidate;
      ++stems;
    }
  if (stems == 1) return stem;
  // A typo: a few edits away.
  std::optional<std::string_view> best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto candidate : candidates) {
    const size_t d = edit_distance(word, candidate);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  if (best) return best;
  // A wrong or missing unit ("distance", "bandwidth_gbps"): the one key that
  // starts with the same word.
  std::optional<std::string_view> same_word;
  for (const auto candidate : candidates) {
    if (first_word(candidate) != first_word(word)) continue;
    if (same_word) return std::nullopt;
    same_word = candidate;
  }
  return same_word;
}

// ---- rules ----------------------------------------------------------------

bool Real::contains(double v) const {
  if (!std::isfinite(v)) return false;
  if (min_open ? v <= min : v < min) return false;
  if (max_open ? v >= max : v > max) return false;
  return true;
}

namespace {

// A bound as people write it: 10000000, 0.001, 1e-06.
std::string bound_text(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{:.0f}", v);
  return fmt::format("{}", v);
}

}  // namespace

std::string Real::expected() const {
  if (std::isinf(max)) return fmt::format("a number {} {}", min_open ? ">" : "≥", bound_text(min));
  return fmt::format("a number in {}{}, {}{}", min_open ? "(" : "[", bound_text(min), bound_text(max),
                     max_open ? ")" : "]");
}

double Real::decode(const toml::node& node, const Refusal& refuse) const {
  double v = 0;
  if (const auto* integer = node.as_integer())
    v = static_cast<double>(integer->get());
  else if (const auto* floating = node.as_floating_point())
    v = floating->get();
  else
    refuse(node, expected());
  if (!contains(v)) refuse(node, expected());
  return v;
}

bool Flag::decode(const toml::node& node, const Refusal& refuse) const {
  const auto* boolean = node.as_boolean();
  if (!boolean) refuse(node, expected());
  return boolean->get();
}

std::string Name::decode(const toml::node& node, const Refusal& refuse) const {
  const auto* string = node.as_string();
  if (!string) refuse(node, expected());
  const std::string& name = string->get();
  const bool valid = !name.empty() && name.size() <= kLengthMax &&
                     std::all_of(name.begin(), name.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                              c == '_' || c == '-';
                     });
  if (!valid) refuse(node, expected());
  return name;
}

std::vector<std::string> Names::decode(const toml::node& node, const Refusal& refuse) const {
  const auto* array = node.as_array();
  if (!array || array->empty()) refuse(node, expected());
  std::vector<std::string> values;
  for (const auto& item : *array) {
    std::string name = Name{}.decode(item, refuse);
    if (std::find(values.begin(), values.end(), name) != values.end())
      refuse(item, expected(), fmt::format("{} is listed twice", toml_string(name)));
    values.push_back(std::move(name));
  }
  return values;
}

std::string Names::text(const std::vector<std::string>& values) const {
  std::string text = "[";
  for (size_t i = 0; i < values.size(); ++i) text += (i ? ", " : "") + toml_string(values[i]);
  return text + "]";
}

std::string AscendingReals::expected() const {
  return "a non-empty array of numbers in increasing order, each " + element.expected();
}

std::vector<double> AscendingReals::decode(const toml::node& node, const Refusal& refuse) const {
  const auto* array = node.as_array();
  if (!array || array->empty()) refuse(node, expected());
  std::vector<double> values;
  for (const auto& item : *array) {
    const double v = element.decode(item, refuse);
    if (!values.empty() && v <= values.back())
      refuse(item, fmt::format("{} above {} (in increasing order)", element.expected(), values.back()));
    values.push_back(v);
  }
  return values;
}

std::string AscendingReals::text(const std::vector<double>& values) const {
  std::string text = "[";
  for (size_t i = 0; i < values.size(); ++i) text += (i ? ", " : "") + real_text(values[i]);
  return text + "]";
}

namespace {

template <class T>
Choice<T> spelled_by_to_string(std::initializer_list<T> values) {
  Choice<T> choice;
  for (const T v : values) choice.spellings.emplace_back(to_string(v), v);
  return choice;
}

}  // namespace

const Choice<Mode> kModes =
    spelled_by_to_string({Mode::Sync, Mode::SemiSync, Mode::AdaptiveCopyWp, Mode::AdaptiveCopyDisk, Mode::Async});
const Choice<Arrival> kArrivals =
    spelled_by_to_string({Arrival::Poisson, Arrival::Closed, Arrival::Intervals, Arrival::Trace});
const Choice<TraceFormat> kTraceFormats = spelled_by_to_string({TraceFormat::Spc, TraceFormat::Msr, TraceFormat::Blkparse, TraceFormat::Fio});
const Choice<AddressPattern> kAddressPatterns = spelled_by_to_string(
    {AddressPattern::Uniform, AddressPattern::Zipf, AddressPattern::Sequential, AddressPattern::Hotspot});
const Choice<FailureEvent> kFailureEvents = spelled_by_to_string({
    FailureEvent::LinkDown, FailureEvent::LinkUp, FailureEvent::LinkDegrade, FailureEvent::Crash,
    FailureEvent::Restart, FailureEvent::DiskFailure, FailureEvent::DiskRepair, FailureEvent::Disaster,
    FailureEvent::Failover, FailureEvent::Failback, FailureEvent::Suspend, FailureEvent::Resume,
});
const Choice<Side> kControllers{{{"R1", Side::A}, {"R2", Side::B}}};
const Choice<std::string> kNetworkModels{{{"cm02", "cm02"}, {"lv08", "lv08"}}};

}  // namespace mirrorsim::config

namespace mirrorsim::config {

// ---- service times ----------------------------------------------------------

std::string ServiceTimeRule::expected() const {
  return fmt::format("{} µs, or a table {{ distribution = \"fixed\" | \"exponential\" | \"lognormal\" | \"gamma\" | "
                     "\"empirical\", ... }}",
                     range.expected());
}

namespace {

std::vector<double> samples_from_csv(const std::string& path, const Real& range, size_t max) {
  const std::string text = read_input_file(path, "a CSV of samples");
  std::vector<double> samples;
  size_t line = 0, begin = 0;
  bool seen_value = false;
  while (begin <= text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    ++line;
    std::string_view row(text.data() + begin, end - begin);
    if (!row.empty() && row.back() == '\r') row.remove_suffix(1);
    const size_t first = row.find_first_not_of(" \t");
    begin = end + 1;
    if (first == std::string_view::npos || row[first] == '#') continue;
    // One number a line; the first column when there are several.
    std::string_view cell = row.substr(first, row.find(',', first) == std::string_view::npos ? std::string_view::npos
                                                                                            : row.find(',', first) - first);
    while (!cell.empty() && (cell.back() == ' ' || cell.back() == '\t')) cell.remove_suffix(1);
    const std::string cell_text(cell);
    char* stop = nullptr;
    errno = 0;
    const double v = std::strtod(cell_text.c_str(), &stop);
    const bool number = !cell_text.empty() && stop == cell_text.c_str() + cell_text.size() && errno == 0;
    if (!number && !seen_value && samples.empty()) {
      seen_value = true;  // a header line
      continue;
    }
    seen_value = true;
    if (!number || !range.contains(v))
      throw ScenarioError(fmt::format("{}:{}:{}", path, line, first + 1),
                          fmt::format("expected a sample of {} µs, got '{}'", range.expected(), cell_text));
    if (samples.size() == max)
      throw ScenarioError(fmt::format("{}:{}:{}", path, line, first + 1), fmt::format("more than {} samples", max));
    samples.push_back(v);
  }
  if (samples.empty()) throw ScenarioError(path, "no samples (one number of µs a line)");
  return samples;
}

std::string folder_of(const std::string& source) {
  const size_t slash = source.rfind('/');
  return slash == std::string::npos ? "" : source.substr(0, slash + 1);
}

}  // namespace

ServiceTime ServiceTimeRule::decode(const toml::node& node, const Refusal& refuse) const {
  if (node.as_integer() || node.as_floating_point()) return ServiceTime::fixed(range.decode(node, refuse));
  const auto* table = node.as_table();
  if (!table) refuse(node, expected());
  static const std::vector<std::string_view> kKeys{"distribution", "mean_us", "cv", "quantiles", "samples_csv"};
  for (auto&& [k, v] : *table) {
    if (std::find(kKeys.begin(), kKeys.end(), k.str()) == kKeys.end()) {
      const auto suggestion = closest(k.str(), kKeys);
      refuse.origin().fail(k.source(), fmt::format("{}: unknown key '{}' in a service time{}", refuse.key(), k.str(),
                                                   suggestion ? fmt::format(" (did you mean '{}'?)", *suggestion) : ""));
    }
  }
  static const Choice<Distribution> kDistributions{{{"fixed", Distribution::Fixed},
                                                    {"exponential", Distribution::Exponential},
                                                    {"lognormal", Distribution::Lognormal},
                                                    {"gamma", Distribution::Gamma},
                                                    {"empirical", Distribution::Empirical}}};
  const toml::node* kind = table->get("distribution");
  if (!kind) refuse.origin().fail(table->source(), fmt::format("{}: a service time table needs 'distribution'", refuse.key()));
  ServiceTime t;
  t.distribution = kDistributions.decode(*kind, refuse);
  const toml::node* mean = table->get("mean_us");
  const toml::node* cv = table->get("cv");
  const toml::node* quantiles = table->get("quantiles");
  const toml::node* csv = table->get("samples_csv");
  auto must = [&](const toml::node* n, std::string_view key, bool wanted) {
    if (wanted && !n)
      refuse.origin().fail(table->source(), fmt::format("{}: a {} service time needs '{}'", refuse.key(),
                                                        to_string(t.distribution), key));
    if (!wanted && n)
      refuse.origin().fail(n->source(), fmt::format("{}: '{}' does not apply to a {} service time", refuse.key(), key,
                                                    to_string(t.distribution)));
  };
  const bool empirical = t.distribution == Distribution::Empirical;
  const bool has_cv = t.distribution == Distribution::Lognormal || t.distribution == Distribution::Gamma;
  must(mean, "mean_us", !empirical);
  must(cv, "cv", has_cv);
  if (empirical) {
    if (!quantiles && !csv)
      refuse.origin().fail(table->source(), fmt::format("{}: an empirical service time needs 'quantiles' or 'samples_csv'", refuse.key()));
    if (quantiles && csv)
      refuse.origin().fail(csv->source(), fmt::format("{}: 'quantiles' or 'samples_csv', not both", refuse.key()));
  } else {
    must(quantiles, "quantiles", false);
    must(csv, "samples_csv", false);
  }
  if (mean) t.mean_us = range.decode(*mean, refuse);
  if (t.distribution == Distribution::Exponential && t.mean_us == 0) refuse(*mean, "a mean > 0");
  if (cv) {
    t.cv = Real{.min = 0, .max = kCvMax}.decode(*cv, refuse);
    if (t.cv > 0 && t.mean_us == 0) refuse(*mean, "a mean > 0 (a zero mean cannot vary)");
  }
  if (quantiles) {
    const auto* rows = quantiles->as_array();
    const std::string shape = "an array of [probability, µs] pairs, probabilities rising from 0 to 1";
    if (!rows || rows->size() < 2 || rows->size() > kQuantilesMax) refuse(*quantiles, shape);
    for (const auto& row : *rows) {
      const auto* pair = row.as_array();
      if (!pair || pair->size() != 2) refuse(row, shape);
      const double p = Real{.min = 0, .max = 1}.decode(*pair->get(0), refuse);
      const double us = range.decode(*pair->get(1), refuse);
      if (!t.quantiles.empty() && p <= t.quantiles.back().first)
        refuse(*pair->get(0), fmt::format("a probability above {} (rising)", t.quantiles.back().first));
      if (!t.quantiles.empty() && us < t.quantiles.back().second)
        refuse(*pair->get(1), fmt::format("a value ≥ {} (a quantile does not fall)", t.quantiles.back().second));
      t.quantiles.emplace_back(p, us);
    }
    if (t.quantiles.front().first != 0) refuse(*rows->get(0), "a first quantile at probability 0");
    if (t.quantiles.back().first != 1) refuse(*rows->get(rows->size() - 1), "a last quantile at probability 1");
  }
  if (csv) {
    const auto* name = csv->as_string();
    if (!name || name->get().empty()) refuse(*csv, "a file name");
    std::string path = name->get();
    if (path.front() != '/') path = folder_of(refuse.origin().source) + path;
    try {
      t.quantiles = quantile_table(samples_from_csv(path, range, kSamplesMax));
    } catch (const ScenarioError& e) {
      // Where the CSV is named, then what is wrong in it.
      refuse.origin().fail(csv->source(), fmt::format("{}: {}", refuse.key(), e.what()));
    }
  }
  return t;
}

std::string ServiceTimeRule::text(const ServiceTime& t) const {
  switch (t.distribution) {
    case Distribution::Fixed: return real_text(t.mean_us);
    case Distribution::Exponential:
      return fmt::format("{{ distribution = \"exponential\", mean_us = {} }}", real_text(t.mean_us));
    case Distribution::Lognormal:
    case Distribution::Gamma:
      return fmt::format("{{ distribution = \"{}\", mean_us = {}, cv = {} }}", to_string(t.distribution),
                         real_text(t.mean_us), real_text(t.cv));
    case Distribution::Empirical: break;
  }
  std::string rows;
  for (size_t i = 0; i < t.quantiles.size(); ++i)
    rows += fmt::format("{}[{}, {}]", i ? ", " : "", real_text(t.quantiles[i].first), real_text(t.quantiles[i].second));
  return fmt::format("{{ distribution = \"empirical\", quantiles = [{}] }}", rows);
}

const Choice<ProcessorsShared> kProcessorsShared{{{"none", ProcessorsShared::None},
                                                  {"controller", ProcessorsShared::Controller},
                                                  {"pair", ProcessorsShared::Pair}}};

}  // namespace mirrorsim::config

namespace mirrorsim::config {

// ---- interval statistics ------------------------------------------------------

std::string IntervalsRule::expected() const {
  return "an array of [t_s, read_iops, write_iops, read_bytes_per_s, write_bytes_per_s (, write_block_bytes)] rows, "
         "or the name of a CSV of them";
}

namespace {

constexpr std::string_view kIntervalColumns[] = {"t_s", "read_iops", "write_iops", "read_bytes_per_s",
                                                 "write_bytes_per_s", "write_block_bytes"};

// Checks one row's numbers; `fail(column, message)` reports where.
template <class Fail>
WorkloadInterval interval_row(const std::vector<double>& v, const std::optional<double>& previous_t, std::string where,
                              const Fail& fail) {
  WorkloadInterval row;
  row.where = std::move(where);
  const Real rate{.min = 0, .max = limits::kRateIopsMax};
  const Real bytes{.min = 0, .max = limits::kRateIopsMax * limits::kTrackBytesMax};
  for (size_t c = 0; c < v.size(); ++c) {
    const Real& range = c == 0 ? kInstantS : (c == 1 || c == 2) ? rate : bytes;
    if (c == 5) {
      if (!(v[c] >= 1 && v[c] <= limits::kTrackBytesMax && v[c] == std::floor(v[c])))
        fail(c, fmt::format("write_block_bytes: expected an integer in [1, {}], got {}", limits::kTrackBytesMax, v[c]));
    } else if (!range.contains(v[c])) {
      fail(c, fmt::format("{}: expected {}, got {}", kIntervalColumns[c], range.expected(), v[c]));
    }
  }
  if (previous_t && !(v[0] > *previous_t))
    fail(0, fmt::format("t_s: {} is not after the previous row's {} (rows rise in time)", v[0], *previous_t));
  row.t_s = v[0];
  row.read_iops = v[1];
  row.write_iops = v[2];
  row.read_bytes_per_s = v[3];
  row.write_bytes_per_s = v[4];
  if (v.size() == 6) row.write_block_bytes = static_cast<uint32_t>(v[5]);
  return row;
}

}  // namespace

std::vector<WorkloadInterval> IntervalsRule::decode(const toml::node& node, const Refusal& refuse) const {
  std::vector<WorkloadInterval> rows;
  if (const auto* array = node.as_array()) {
    if (array->size() > kRowsMax) refuse(node, fmt::format("at most {} rows", kRowsMax));
    for (size_t i = 0; i < array->size(); ++i) {
      const toml::node& r = *array->get(i);
      const auto* cells = r.as_array();
      if (!cells || (cells->size() != 5 && cells->size() != 6)) refuse(r, expected());
      std::vector<double> v;
      for (const auto& cell : *cells) v.push_back(Real{.min = -INFINITY}.decode(cell, refuse));
      rows.push_back(interval_row(v, rows.empty() ? std::nullopt : std::optional(rows.back().t_s),
                                  fmt::format("{}[{}]", refuse.key(), i),
                                  [&](size_t c, const std::string& m) { refuse(*cells->get(c), m); }));
    }
    return rows;
  }
  const auto* name = node.as_string();
  if (!name || name->get().empty()) refuse(node, expected());
  std::string path = name->get();
  if (path.front() != '/') {
    const std::string& source = refuse.origin().source;
    const size_t slash = source.rfind('/');
    if (slash != std::string::npos) path = source.substr(0, slash + 1) + path;
  }
  std::string text;
  try {
    text = read_input_file(path, "a CSV of interval statistics");
  } catch (const ScenarioError& e) {
    refuse.origin().fail(node.source(), fmt::format("{}: {}", refuse.key(), e.what()));
  }
  size_t line = 0, begin = 0, columns = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    ++line;
    std::string_view row(text.data() + begin, end - begin);
    begin = end + 1;
    if (!row.empty() && row.back() == '\r') row.remove_suffix(1);
    if (row.find_first_not_of(" \t") == std::string_view::npos || row[row.find_first_not_of(" \t")] == '#') continue;
    std::vector<std::pair<std::string, size_t>> cells;  // text, column of its first character
    for (size_t at = 0;;) {
      const size_t comma = row.find(',', at);
      std::string_view cell = row.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
      const size_t lead = cell.find_first_not_of(" \t");
      const size_t last = cell.find_last_not_of(" \t");
      cells.emplace_back(lead == std::string_view::npos ? "" : std::string(cell.substr(lead, last - lead + 1)),
                         at + (lead == std::string_view::npos ? 0 : lead) + 1);
      if (comma == std::string_view::npos) break;
      at = comma + 1;
    }
    const auto fail_at = [&](size_t col, const std::string& m) -> void {
      refuse.origin().fail(node.source(), fmt::format("{}: {}:{}:{}: {}", refuse.key(), path, line, col, m));
    };
    if (columns == 0) {  // the header
      if (cells.size() != 5 && cells.size() != 6) fail_at(1, "expected the header t_s,read_iops,write_iops,read_bytes_per_s,write_bytes_per_s[,write_block_bytes]");
      for (size_t c = 0; c < cells.size(); ++c)
        if (cells[c].first != kIntervalColumns[c])
          fail_at(cells[c].second, fmt::format("expected column '{}', got '{}'", kIntervalColumns[c], cells[c].first));
      columns = cells.size();
      continue;
    }
    if (cells.size() != columns) fail_at(1, fmt::format("expected {} numbers, got {}", columns, cells.size()));
    if (rows.size() == kRowsMax) fail_at(1, fmt::format("more than {} rows", kRowsMax));
    std::vector<double> v;
    for (const auto& [cell, col] : cells) {
      char* stop = nullptr;
      const double x = std::strtod(cell.c_str(), &stop);
      if (cell.empty() || stop != cell.c_str() + cell.size()) fail_at(col, fmt::format("expected a number, got '{}'", cell));
      v.push_back(x);
    }
    rows.push_back(interval_row(v, rows.empty() ? std::nullopt : std::optional(rows.back().t_s),
                                fmt::format("{}:{}", path, line),
                                [&](size_t c, const std::string& m) { fail_at(cells[c].second, m); }));
  }
  if (columns == 0)
    refuse.origin().fail(node.source(), fmt::format("{}: {}: no header and no rows", refuse.key(), path));
  return rows;
}

std::string IntervalsRule::text(const std::vector<WorkloadInterval>& rows) const {
  if (rows.empty()) return "";
  std::string t = "[";
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    t += fmt::format("{}[{}, {}, {}, {}, {}{}]", i ? ", " : "", real_text(r.t_s), real_text(r.read_iops),
                     real_text(r.write_iops), real_text(r.read_bytes_per_s), real_text(r.write_bytes_per_s),
                     r.write_block_bytes ? fmt::format(", {}", *r.write_block_bytes) : "");
  }
  return t + "]";
}

}  // namespace mirrorsim::config

namespace mirrorsim::config {

std::string FilePath::decode(const toml::node& node, const Refusal& refuse) const {
  const auto* name = node.as_string();
  if (!name || name->get().empty() || name->get().find('\0') != std::string::npos) refuse(node, expected());
  std::string path = name->get();
  if (path.front() != '/') {
    const std::string& source = refuse.origin().source;
    const size_t slash = source.rfind('/');
    std::error_code ec;
    const std::filesystem::path base =
        slash == std::string::npos ? std::filesystem::current_path(ec) : std::filesystem::path(source.substr(0, slash));
    path = std::filesystem::absolute(base / path, ec).lexically_normal().string();
  }
  return path;
}

}  // namespace mirrorsim::config
