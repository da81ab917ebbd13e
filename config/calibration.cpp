// A calibration: scenario keys that describe a machine — service times,
// processors, disk and link timing — measured by `mirrorsim calibrate` and
// laid over a scenario before its overrides. Only those keys: a
// calibration never changes what the user sized (cache, volumes, workload,
// distance), so the same file can be applied to any scenario.
#include <algorithm>

#include <fmt/format.h>

#include "config/document.hpp"

namespace mirrorsim::config {
namespace {

bool machine_key(std::string_view table, std::string_view key) {
  if (table.empty())
    return key == "processors_shared" || key == "processors_other_per_request_us" || key == "disk_device_servers" ||
           key == "processors_wakeup_us" || key == "processors_preemption_us";
  if (table == "link") return key == "overhead_us" || key == "bandwidth_gbit_per_s";
  if (table != "primary" && table != "secondary") return false;
  for (std::string_view prefix : {"front_end_", "remote_adapter_", "back_end_"})
    if (key.starts_with(prefix)) return true;
  return key == "disk_write_us" || key == "disk_first_write_us" || key == "disk_read_us" ||
         key == "disk_unwritten_read_us" || key == "disk_bandwidth_mb_per_s";
}

// The TOML text of a value; a samples_csv named relative to the
// calibration is made relative to nothing.
std::string value_text(const toml::node& node, const std::string& folder) {
  if (const auto* table = node.as_table()) {
    const toml::node* csv = table->get("samples_csv");
    if (csv && csv->as_string() && !csv->as_string()->get().empty() && csv->as_string()->get()[0] != '/') {
      toml::table copy = *table;
      copy.insert_or_assign("samples_csv", folder + csv->as_string()->get());
      return inline_text(copy).value_or(describe(node));
    }
  }
  // A date or time has no text: the key's rule refuses what describe() says.
  return inline_text(node).value_or(describe(node));
}

}  // namespace
}  // namespace mirrorsim::config

namespace mirrorsim {

void apply_calibration(Scenario& s, const std::string& path) {
  using namespace config;
  const Origin origin{path, std::nullopt};
  const toml::table doc = parse_document(read_input_file(path, "a calibration"), origin);
  const size_t slash = path.rfind('/');
  const std::string folder = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::vector<Override> overrides;
  auto refuse = [&](const toml::source_region& at, const std::string& what) {
    origin.fail(at, what + "; a calibration sets only a machine's timing: processors_shared, processors_other_per_request_us, disk_device_servers, processors_wakeup_us, processors_preemption_us, [primary] and "
                           "[secondary] front_end_*, remote_adapter_*, back_end_*, disk_write_us, disk_first_write_us, disk_read_us, disk_unwritten_read_us, "
                           "disk_bandwidth_mb_per_s, [link] overhead_us and bandwidth_gbit_per_s");
  };
  auto add = [&](std::string_view table, std::string_view key, const toml::node& value, const toml::source_region& at) {
    if (!machine_key(table, key))
      refuse(at, fmt::format("'{}{}{}' is not a calibration key", table, table.empty() ? "" : ".", key));
    overrides.push_back(Override{table.empty() ? std::string(key) : fmt::format("{}.{}", table, key),
                                 value_text(value, folder), origin.position(value.source())});
  };
  const toml::table* primary = nullptr;
  bool has_secondary = false;
  for (auto&& [name, node] : doc) {
    if (node.is_array_of_tables()) refuse(name.source(), fmt::format("[[{}]] is not a calibration table", name.str()));
    const auto* table = node.as_table();
    // A service time at the top level is an inline table, a value.
    if (!table || (table->is_inline() && machine_key("", name.str()))) {
      add("", name.str(), node, name.source());
      continue;
    }
    if (name.str() != "primary" && name.str() != "secondary" && name.str() != "link")
      refuse(name.source(), fmt::format("[{}] is not a calibration table", name.str()));
    if (name.str() == "primary") primary = table;
    if (name.str() == "secondary") has_secondary = true;
    for (auto&& [key, value] : *table) add(name.str(), key.str(), value, key.source());
  }
  set_values(s, overrides);
  // One machine measured once: without a [secondary], R2 is timed like R1
  // (the same values, already checked).
  if (primary && !has_secondary) {
    overrides.clear();
    for (auto&& [key, value] : *primary) add("secondary", key.str(), value, key.source());
    set_values(s, overrides);
  }
}

}  // namespace mirrorsim
