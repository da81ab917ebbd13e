// Writing a scenario: the resolved TOML text, and the same content as JSON.
#include <fmt/format.h>

#include "config/document.hpp"
#include "config/scenario_json.hpp"

namespace mirrorsim::config {

namespace {

// Prints `key = value` lines in the order the keys are visited.
class TextWriter {
 public:
  template <class T, class Rule>
  void operator()(std::string_view key, const T& value, const Rule& rule, Presence = Presence::Optional) {
    // An empty text is a value that is absent (an empty list of intervals).
    if (const std::string t = rule.text(value); !t.empty()) line(key, t);
  }
  // Unset optional keys are left out: TOML has no null, and absence is what
  // reads back as unset.
  template <class T, class Rule>
  void operator()(std::string_view key, const std::optional<T>& value, const Rule& rule, Presence = Presence::Optional) {
    if (value) line(key, rule.text(*value));
  }

  void header(std::string_view name) { text += fmt::format("\n{}\n", name); }
  void line(std::string_view key, std::string_view value) { text += fmt::format("{} = {}\n", key, value); }

  std::string text;
};

nlohmann::json json_of(const toml::node& node) {
  if (const auto* table = node.as_table()) {
    nlohmann::json object = nlohmann::json::object();
    for (auto&& [key, value] : *table) object[std::string(key.str())] = json_of(value);
    return object;
  }
  if (const auto* array = node.as_array()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& element : *array) list.push_back(json_of(element));
    return list;
  }
  if (const auto* v = node.as_string()) return v->get();
  if (const auto* v = node.as_integer()) return v->get();
  if (const auto* v = node.as_floating_point()) return v->get();
  if (const auto* v = node.as_boolean()) return v->get();
  // The resolved text holds no dates or times: no key takes one.
  return nullptr;
}

}  // namespace

std::string resolved_text(const Scenario& s) {
  TextWriter w;
  w.text = "# The resolved scenario: defaults filled in, overrides applied; optional keys only when set.\n";
  visit_keys(w, s);
  w.header("[primary]  # R1");
  visit_keys(w, s.primary);
  w.header("[secondary]  # R2");
  visit_keys(w, s.secondary);
  w.header("[link]");
  visit_keys(w, s.link);
  for (const auto& volume : s.volumes) {
    w.header("[[volume]]");
    visit_keys(w, volume);
  }
  w.header("[async]");
  visit_keys(w, s.async);
  for (const auto& group : s.consistency_groups) {
    w.header("[[consistency_group]]");
    visit_keys(w, group);
  }
  for (const auto& workload : s.workloads) {
    w.header("[[workload]]");
    visit_keys(w, workload);
  }
  for (const auto& failure : s.failures) {
    w.header("[[failure]]");
    visit_keys(w, failure);
  }
  w.header("[measurement]");
  visit_keys(w, s.measurement);
  if (s.sweep) {
    w.header("[sweep]");
    w.line("repeat", std::to_string(s.sweep->repeat));
    for (const auto& param : s.sweep->params) w.line(toml_string(param.key), fmt::format("[{}]", fmt::join(param.values, ", ")));
  }
  if (s.check) {
    w.header("[check]");
    visit_keys(w, *s.check);
  }
  return w.text;
}

}  // namespace mirrorsim::config

namespace mirrorsim {

nlohmann::json to_json(const Scenario& s) {
  const config::Origin origin{s.source, std::nullopt};
  return config::json_of(config::parse_document(config::resolved_text(s), origin));
}

}  // namespace mirrorsim
