#include "config/keys.hpp"

#include <algorithm>

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
    spelled_by_to_string({Mode::Sync, Mode::SemiSync, Mode::AdaptiveCopyWp, Mode::AdaptiveCopyDisk});
const Choice<Arrival> kArrivals = spelled_by_to_string({Arrival::Poisson, Arrival::Closed});
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
