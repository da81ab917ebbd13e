// Internal to config/: the scenario as a TOML document. Reading applies every
// check; writing gives the resolved text; an override edits the resolved
// document and reads it again, so it is checked exactly like a file.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/toml.hpp"

#include "config/keys.hpp"
#include "config/scenario.hpp"

namespace mirrorsim::config {

struct ReadOptions {
  Origin origin;
  // The `where` of each [[failure]] entry, in document order. Empty: their
  // positions in origin.source. An override passes the original file's, so
  // run-time messages keep pointing into the file the user wrote.
  std::vector<std::string> failure_wheres;
  // Apply every [sweep] value to a copy of the scenario to prove it valid.
  // Loading a file does; an override does not, because a sweep applies one
  // override per parameter at every grid point and each would re-check the
  // whole sweep. Sweep keys are always checked.
  bool try_sweep_values = true;
};

// Syntax errors become ScenarioErrors at their position.
toml::table parse_document(std::string_view text, const Origin& origin);

// Every check of the scenario format; fills resolved_toml.
Scenario read_scenario(const toml::table& document, const ReadOptions& options);

// The resolved TOML text of `s` as its fields stand: every key, file order.
std::string resolved_text(const Scenario& s);

// Throws a ScenarioError naming `where` unless `dotted_key` addresses a value of `s`.
void check_addressable(const Scenario& s, std::string_view dotted_key, const std::string& where);

}  // namespace mirrorsim::config
