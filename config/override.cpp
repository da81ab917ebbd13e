// Dotted keys: reading one value of a scenario and overriding it.
//
// An override edits the resolved document (regenerated from the fields, so
// the fields stay the truth) and reads the whole document again: it is
// checked exactly like a file, including the checks across keys it affects.
#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "config/document.hpp"

namespace mirrorsim::config {

namespace {

// Where a dotted key lives in the document.
struct Address {
  std::string table;            // empty at the top level
  std::optional<size_t> entry;  // index into the [[volume]], [[workload]] or [[failure]] entries
  std::string key;
};

std::vector<std::string_view> split(std::string_view dotted) {
  std::vector<std::string_view> parts;
  for (size_t begin = 0;;) {
    const size_t dot = dotted.find('.', begin);
    parts.push_back(dotted.substr(begin, dot - begin));
    if (dot == std::string_view::npos) return parts;
    begin = dot + 1;
  }
}

std::vector<std::string_view> keys_of_table(std::string_view table) {
  if (table == "primary" || table == "secondary") return keys_of<ControllerScenario>();
  if (table == "link") return keys_of<LinkScenario>();
  if (table == "volume") return keys_of<VolumeScenario>();
  if (table == "workload") return keys_of<WorkloadScenario>();
  if (table == "failure") return keys_of<FailureScenario>();
  if (table == "measurement") return keys_of<MeasurementScenario>();
  if (table == "async") return keys_of<AsyncScenario>();
  if (table == "consistency_group") return keys_of<ConsistencyGroupScenario>();
  if (table == "check") return keys_of<CheckScenario>();
  return {};
}

bool is_entry_table(std::string_view table) {
  return table == "volume" || table == "consistency_group" || table == "workload" || table == "failure";
}

// Which [[table]] entry `selector` names: volumes by name, the others by index.
size_t entry_index(const Scenario& s, std::string_view table, std::string_view selector, std::string_view dotted,
                   const std::string& where) {
  if (table == "volume" || table == "consistency_group") {
    std::vector<std::string_view> names;
    if (table == "volume")
      for (const auto& v : s.volumes) names.push_back(v.name);
    else
      for (const auto& g : s.consistency_groups) names.push_back(g.name);
    const auto found = std::find(names.begin(), names.end(), selector);
    if (found != names.end()) return static_cast<size_t>(found - names.begin());
    std::string message = fmt::format("no {} named '{}' in '{}' ({}s: {})", table == "volume" ? "volume" : "consistency group",
                                      selector, dotted, table == "volume" ? "volume" : "consistency group", fmt::join(names, ", "));
    if (const auto suggestion = closest(selector, names)) message += fmt::format("; did you mean '{}'?", *suggestion);
    throw ScenarioError(where, message);
  }
  const size_t count = table == "workload" ? s.workloads.size() : s.failures.size();
  size_t index = 0;
  const auto [end, error] = std::from_chars(selector.data(), selector.data() + selector.size(), index);
  if (error != std::errc() || end != selector.data() + selector.size())
    throw ScenarioError(where, fmt::format("'{}': [[{}]] entries are addressed by index from 0, e.g. {}.0.{}", dotted,
                                           table, table, split(dotted).back()));
  if (index >= count)
    throw ScenarioError(where, count == 0 ? fmt::format("'{}': the scenario has no [[{}]] entry", dotted, table)
                                          : fmt::format("'{}': the scenario has {} [[{}]] entries, {}.0 to {}.{}", dotted,
                                                        count, table, table, table, count - 1));
  return index;
}

std::string example_key(const Scenario& s, std::string_view table) {
  if (table == "volume") return fmt::format("volume.{}.mode", s.volumes.empty() ? "<name>" : s.volumes[0].name);
  if (table == "workload") return "workload.0.rate_iops";
  if (table == "failure") return "failure.0.at_s";
  return fmt::format("{}.{}", table, keys_of_table(table).front());
}

[[noreturn]] void unknown_key(std::string_view dotted, std::optional<std::string> suggestion, const std::string& where) {
  std::string message = fmt::format("unknown key '{}'", dotted);
  const std::string_view last = dotted.substr(dotted.rfind('.') == std::string_view::npos ? 0 : dotted.rfind('.') + 1);
  for (const auto& [old, instead] : kRetiredKeys)
    if (last == old) throw ScenarioError(where, fmt::format("{}: {}", message, instead));
  if (suggestion) message += fmt::format(" (did you mean '{}'?)", *suggestion);
  throw ScenarioError(where, message);
}

Address address_of(const Scenario& s, std::string_view dotted, const std::string& where) {
  const auto parts = split(dotted);
  if (std::any_of(parts.begin(), parts.end(), [](std::string_view p) { return p.empty(); }))
    throw ScenarioError(where, fmt::format("'{}' is not a dotted key such as link.distance_km", dotted));
  const std::string_view head = parts[0];

  if (parts.size() == 1) {
    const auto top = keys_of<Scenario>();
    if (std::find(top.begin(), top.end(), head) != top.end()) return {"", std::nullopt, std::string(head)};
    if (!keys_of_table(head).empty())
      throw ScenarioError(where, fmt::format("'{}' is a table: address one of its keys, e.g. {}", head, example_key(s, head)));
  }
  if (head == "sweep")
    throw ScenarioError(where, fmt::format("'{}': [sweep] lists overrides, it cannot be overridden itself", dotted));

  auto tables = kTopLevelTables;
  tables.erase(std::find(tables.begin(), tables.end(), "sweep"));
  if (std::find(tables.begin(), tables.end(), head) == tables.end()) {
    // A misspelt top-level key, or a misspelt table followed by its key.
    auto candidates = tables;
    if (parts.size() == 1) {
      const auto top = keys_of<Scenario>();
      candidates.insert(candidates.end(), top.begin(), top.end());
    }
    const auto suggestion = closest(head, candidates);
    unknown_key(dotted, suggestion ? std::optional(std::string(*suggestion) + std::string(dotted.substr(head.size())))
                                   : std::nullopt,
                where);
  }

  const bool entries = is_entry_table(head);
  const size_t depth = entries ? 3 : 2;
  if (parts.size() != depth) {
    if (entries && parts.size() == 2)
      throw ScenarioError(where, fmt::format("'{}' does not say which [[{}]] entry: e.g. {}", dotted, head,
                                             example_key(s, head)));
    unknown_key(dotted, std::nullopt, where);
  }
  const std::string_view leaf = parts.back();
  const auto keys = keys_of_table(head);
  if (std::find(keys.begin(), keys.end(), leaf) == keys.end()) {
    const auto suggestion = closest(leaf, keys);
    unknown_key(dotted,
                suggestion ? std::optional(std::string(dotted.substr(0, dotted.size() - leaf.size())) + std::string(*suggestion))
                           : std::nullopt,
                where);
  }
  Address address{std::string(head), std::nullopt, std::string(leaf)};
  if (entries) address.entry = entry_index(s, head, parts[1], dotted, where);
  return address;
}

// The table holding `address` in the resolved document. Only [check] may be
// absent; `create` adds it, with every key at its default.
toml::table* table_of(toml::table& document, const Address& address, bool create) {
  if (address.table.empty()) return &document;
  if (address.entry) return document[address.table][*address.entry].as_table();
  if (auto* table = document[address.table].as_table()) return table;
  if (!create) return nullptr;
  return document.insert(address.table, toml::table{}).first->second.as_table();
}

// The characters of a bare word: an unquoted string such as semi-sync.
bool is_bare_word(std::string_view text) {
  return !text.empty() && text.find_first_of(" \t\r\n\"'[]{}=#,") == std::string_view::npos;
}

// The override's value as a one-key document: TOML value text, or a bare
// word taken as a string.
toml::table value_document(std::string_view text, std::string_view dotted, const std::string& where) {
  const std::string line = fmt::format("value = {}", text);
  try {
    toml::table document = toml::parse(line);
    if (document.size() == 1 && document.contains("value")) return document;
  } catch (const toml::parse_error&) {
    // Not TOML: a bare word, or a mistake reported below.
  } catch (const TomlDefect&) {
    // Not TOML either (config/toml.hpp).
  }
  if (!is_bare_word(text))
    throw ScenarioError(where, fmt::format("{}: expected a TOML value (a number, true or false, a \"string\", an "
                                           "[array]) or a bare word, got {}",
                                           dotted, text.empty() ? "nothing" : text));
  toml::table document;
  document.insert("value", std::string(text));
  return document;
}

std::vector<std::string> failure_wheres(const Scenario& s) {
  std::vector<std::string> wheres;
  for (const auto& f : s.failures) wheres.push_back(f.where);
  return wheres;
}

}  // namespace

void check_addressable(const Scenario& s, std::string_view dotted_key, const std::string& where) {
  address_of(s, dotted_key, where);
}

}  // namespace mirrorsim::config

namespace mirrorsim {

using config::Address;

void set_value(Scenario& s, std::string_view dotted_key, std::string_view value_text, const std::string& where) {
  set_values(s, {Override{std::string(dotted_key), std::string(value_text), where}});
}

void set_values(Scenario& s, const std::vector<Override>& overrides) {
  if (overrides.empty()) return;
  // Every override is addressed and parsed on its own (errors name it), then
  // the document is checked once with all of them applied, so that values
  // checked against each other (warm-up and duration, say) can change together.
  std::string where;
  for (const Override& o : overrides) where += (where.empty() ? "" : ", ") + o.where;
  config::ReadOptions options{config::Origin{s.source, where}, config::failure_wheres(s), false};
  toml::table document = config::parse_document(config::resolved_text(s), options.origin);
  for (const Override& o : overrides) {
    const Address address = config::address_of(s, o.key, o.where);
    const toml::table value = config::value_document(o.value, o.key, o.where);
    const auto assign = [&](toml::table& table) {
      value.get("value")->visit([&](const auto& node) { table.insert_or_assign(address.key, node); });
    };
    assign(*config::table_of(document, address, true));
    // The track is the unit of mirroring and both sides must use the same
    // size, so the primary's carries over; a sweep over it would otherwise
    // be impossible.
    if (address.table == "primary" && address.key == "track_bytes")
      assign(*config::table_of(document, Address{"secondary", std::nullopt, address.key}, true));
  }
  s = config::read_scenario(document, options);
}

std::string get_value(const Scenario& s, std::string_view dotted_key) {
  const Address address = config::address_of(s, dotted_key, "");
  const config::Origin origin{s.source, std::nullopt};
  toml::table document = config::parse_document(config::resolved_text(s), origin);
  const toml::table* table = config::table_of(document, address, false);
  const toml::node* node = table ? table->get(address.key) : nullptr;
  return node ? config::inline_text(*node).value_or("") : "";
}

}  // namespace mirrorsim
