#include "real/run_files.hpp"

#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace mirrorsim::real {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPrefix = "mirrorsim-real-";

std::optional<uint64_t> number(std::string_view s) {
  uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// "mirrorsim-real-PID-START-REST" → (PID, START), REST non-empty.
std::optional<std::pair<pid_t, uint64_t>> owner_of(std::string_view name) {
  if (name.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  name.remove_prefix(kPrefix.size());
  const auto a = name.find('-');
  if (a == std::string_view::npos) return std::nullopt;
  const auto b = name.find('-', a + 1);
  if (b == std::string_view::npos || b + 1 >= name.size()) return std::nullopt;
  const auto pid = number(name.substr(0, a));
  const auto start = number(name.substr(a + 1, b - a - 1));
  if (!pid || !start || *pid == 0 || *pid > 0x7fffffff) return std::nullopt;
  return std::make_pair(static_cast<pid_t>(*pid), *start);
}

bool owner_gone(pid_t pid, uint64_t start) {
  const auto now = process_start_time(pid);
  return !now || *now != start;
}

}  // namespace

std::optional<uint64_t> process_start_time(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  // The command name (field 2) is in parentheses and may hold anything:
  // count fields from the last ')'.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22; ++i)
    if (!(rest >> field)) return std::nullopt;
  return number(field);
}

std::string run_owner_tag() {
  const pid_t self = ::getpid();
  return fmt::format("real-{}-{}", self, process_start_time(self).value_or(0));
}

std::vector<std::string> remove_abandoned_run_files(const std::string& run_parent, const std::string& state_dir) {
  std::vector<std::string> removed;
  auto sweep = [&](const std::string& dir, bool directories) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      const auto owner = owner_of(name);
      if (!owner || !owner_gone(owner->first, owner->second)) continue;
      std::error_code kind_ec;
      const bool is_dir = it->is_directory(kind_ec) && !it->is_symlink(kind_ec);
      if (directories ? !is_dir : !(it->is_regular_file(kind_ec) && name.ends_with(".state"))) continue;
      std::error_code rm_ec;
      if (directories) fs::remove_all(it->path(), rm_ec);
      else fs::remove(it->path(), rm_ec);
      if (!rm_ec) removed.push_back(it->path().string());
    }
  };
  sweep(run_parent, true);
  sweep(state_dir, false);
  return removed;
}

}  // namespace mirrorsim::real
