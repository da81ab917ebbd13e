// The public entry points of the scenario loader.
#include "config/scenario.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "config/document.hpp"

namespace mirrorsim {

std::string_view to_string(Arrival a) {
  switch (a) {
    case Arrival::Poisson: return "poisson";
    case Arrival::Closed: return "closed";
    case Arrival::Intervals: return "intervals";
    case Arrival::Trace: return "trace";
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

namespace {

// The path as a message can show it: an embedded NUL as \0.
std::string shown_path(const std::string& path) {
  std::string shown;
  for (const char c : path) shown += c == '\0' ? std::string("\\0") : std::string(1, c);
  return shown;
}

struct OpenFile {
  int fd;
  explicit OpenFile(int f) : fd(f) {}
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  ~OpenFile() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string read_input_file(const std::string& path, std::string_view what) {
  // The C library would end the path at the NUL and open another file.
  if (path.find('\0') != std::string::npos)
    throw ScenarioError(shown_path(path), "a path cannot contain a NUL character");
  // Non-blocking, so that opening a FIFO does not wait for a writer; what
  // is not a regular file (a FIFO, a device such as /dev/zero, a directory)
  // is refused before anything is read.
  const OpenFile file{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
  const int fd = file.fd;
  if (fd < 0) throw ScenarioError(path, fmt::format("cannot open: {}", std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw ScenarioError(path, fmt::format("cannot read: {}", std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) {
    const char* kind = S_ISDIR(st.st_mode)    ? "a directory"
                       : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : S_ISCHR(st.st_mode)  ? "a character device"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                                              : "not a regular file";
    throw ScenarioError(path, fmt::format("cannot read: {}; {} is a regular file", kind, what));
  }
  const auto too_large = [&](uintmax_t bytes) {
    return ScenarioError(path, fmt::format("{} bytes: {} is at most {} bytes ({} MiB)", bytes, what,
                                           kScenarioFileBytesMax, kScenarioFileBytesMax >> 20));
  };
  if (static_cast<uintmax_t>(st.st_size) > kScenarioFileBytesMax) throw too_large(static_cast<uintmax_t>(st.st_size));
  // Read up to one byte beyond the limit: the file may grow meanwhile.
  std::string text(static_cast<size_t>(st.st_size) + 1, '\0');
  size_t used = 0;
  for (;;) {
    if (used == text.size()) {
      if (text.size() > kScenarioFileBytesMax) throw too_large(used);
      text.resize(std::min<size_t>(text.size() * 2, kScenarioFileBytesMax + 1));
    }
    const ssize_t n = ::read(fd, text.data() + used, text.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw ScenarioError(path, fmt::format("cannot read: {}", std::strerror(errno)));
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  text.resize(used);
  return text;
}

Scenario load_scenario_file(const std::string& path) {
  return parse_scenario(read_input_file(path, "a scenario"), path);
}

std::string_view to_string(ProcessorsShared p) {
  switch (p) {
    case ProcessorsShared::None: return "none";
    case ProcessorsShared::Controller: return "controller";
    case ProcessorsShared::Pair: return "pair";
  }
  return "?";
}

std::string_view to_string(TraceFormat f) {
  switch (f) {
    case TraceFormat::Spc: return "spc";
    case TraceFormat::Msr: return "msr";
    case TraceFormat::Blkparse: return "blkparse";
    case TraceFormat::Fio: return "fio";
  }
  return "?";
}

uint32_t WorkloadInterval::block_bytes(bool write) const {
  if (write && write_block_bytes) return *write_block_bytes;
  const double iops = write ? write_iops : read_iops, bytes = write ? write_bytes_per_s : read_bytes_per_s;
  return iops > 0 ? std::max<uint32_t>(1, static_cast<uint32_t>(std::llround(bytes / iops))) : 1;
}

double WorkloadScenario::peak_iops() const {
  if (arrival != Arrival::Intervals) return rate_iops;
  double peak = 0;
  for (const auto& i : intervals) peak = std::max(peak, i.read_iops + i.write_iops);
  return peak;
}

ProcessorPlan processor_plan(const Scenario& s) {
  ProcessorPlan plan;
  for (int side = 0; side < 2; ++side) {
    const ControllerScenario& c = side == 0 ? s.primary : s.secondary;
    const std::array<uint32_t, 3> sizes{c.front_end_processors, c.remote_adapter_processors, c.back_end_processors};
    for (int pool = 0; pool < 3; ++pool) {
      const size_t k = static_cast<size_t>(3 * side + pool);
      switch (s.processors_shared) {
        case ProcessorsShared::None:
          plan.group[k] = static_cast<uint32_t>(k);
          plan.processors.push_back(sizes[static_cast<size_t>(pool)]);
          break;
        case ProcessorsShared::Controller:
          plan.group[k] = static_cast<uint32_t>(side);
          if (pool == 0) plan.processors.push_back(c.front_end_processors);
          break;
        case ProcessorsShared::Pair:
          plan.group[k] = 0;
          if (k == 0) plan.processors.push_back(s.primary.front_end_processors);
          break;
      }
    }
  }
  return plan;
}

std::vector<std::string> consistency_group_names(const Scenario& s) {
  std::vector<std::string> names;
  for (const auto& g : s.consistency_groups) names.push_back(g.name);
  for (size_t v = 0; v < s.volumes.size(); ++v)
    if (s.volumes[v].mode == Mode::Async && consistency_group_of(s, v) == names.size()) {
      names.push_back("default");
      break;
    }
  return names;
}

uint16_t consistency_group_of(const Scenario& s, size_t volume) {
  for (size_t g = 0; g < s.consistency_groups.size(); ++g)
    for (const auto& name : s.consistency_groups[g].volumes)
      if (name == s.volumes[volume].name) return static_cast<uint16_t>(g);
  return static_cast<uint16_t>(s.consistency_groups.size());
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
  AsyncConfig& a = config.async;
  a.cycle_time_min = Time::from_s(s.async.cycle_time_min_s);
  a.transmit_sets_max = s.async.transmit_sets_max;
  a.coordination_max = Time::from_us(s.async.coordination_max_ms * 1e3);
  a.cache_fraction_max = s.async.async_cache_fraction_max;
  a.spill_bytes_max = s.async.spill_bytes_max;
  a.spill_bytes_per_s = s.async.spill_bandwidth_mb_per_s * 1e6;
  a.pacing_threshold_fraction = s.async.pacing_threshold_fraction;
  a.pacing_delay_max = Time::from_us(s.async.pacing_delay_max_ms * 1e3);
  a.link_limbo = Time::from_s(s.async.link_limbo_s);
  a.consistency_groups = consistency_group_names(s);
  for (size_t i = 0; i < s.volumes.size(); ++i) config.volumes[i].consistency_group = consistency_group_of(s, i);
  return config;
}

}  // namespace mirrorsim
