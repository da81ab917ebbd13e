// The public entry points of the scenario loader.
#include "config/scenario.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "config/document.hpp"

namespace mirrorsim {

std::string_view to_string(Arrival a) {
  switch (a) {
    case Arrival::Poisson: return "poisson";
    case Arrival::Closed: return "closed";
  }
  return "?";
}

std::string_view to_string(AddressPattern p) {
  switch (p) {
    case AddressPattern::Uniform: return "uniform";
    case AddressPattern::Zipf: return "zipf";
    case AddressPattern::Sequential: return "sequential";
    case AddressPattern::Hotspot: return "hotspot";
  }
  return "?";
}

Scenario parse_scenario(std::string_view toml_text, std::string source_name) {
  config::ReadOptions options;
  options.origin.source = std::move(source_name);
  return config::read_scenario(config::parse_document(toml_text, options.origin), options);
}

Scenario load_scenario_file(const std::string& path) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw ScenarioError(path, fmt::format("cannot open: {}", std::strerror(errno)));
  std::string text;
  char buffer[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) text.append(buffer, n);
  // A directory opens but does not read (EISDIR).
  if (std::ferror(file.get())) throw ScenarioError(path, fmt::format("cannot read: {}", std::strerror(errno)));
  return parse_scenario(text, path);
}

ControllerConfig controller_config(const Scenario& s, Side side) {
  const ControllerScenario& c = side == Side::A ? s.primary : s.secondary;
  ControllerConfig config;
  config.cache_slots = c.cache_slots;
  config.write_pending_limit = c.write_pending_limit;
  config.track_bytes = c.track_bytes;
  config.disks = c.disks;
  config.cache_nonvolatile = c.cache_nonvolatile;
  config.round_trips_per_write = s.link.round_trips_per_write;
  config.copies_in_flight_max = c.copies_in_flight_max;
  config.destages_per_disk_max = c.destages_per_disk_max;
  config.disk_retry_interval = Time::from_us(c.disk_retry_ms * 1e3);
  for (const auto& v : s.volumes) config.volumes.push_back(VolumeConfig{v.name, v.tracks, v.mode, v.skew_tracks, v.domino});
  return config;
}

}  // namespace mirrorsim
