#include "config/trace.hpp"

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>

namespace mirrorsim {
namespace {

struct Cell {
  std::string_view text;
  size_t column = 1;
};

std::vector<Cell> cells_of(std::string_view row) {
  std::vector<Cell> cells;
  for (size_t at = 0;;) {
    const size_t comma = row.find(',', at);
    std::string_view cell = row.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
    size_t lead = 0;
    while (lead < cell.size() && (cell[lead] == ' ' || cell[lead] == '\t')) ++lead;
    cell.remove_prefix(lead);
    while (!cell.empty() && (cell.back() == ' ' || cell.back() == '\t')) cell.remove_suffix(1);
    cells.push_back({cell, at + lead + 1});
    if (comma == std::string_view::npos) return cells;
    at = comma + 1;
  }
}

template <class T>
std::optional<T> integer_of(std::string_view s) {
  T v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> real_of(std::string_view s) {
  const std::string text(s);
  char* stop = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &stop);
  if (text.empty() || stop != text.c_str() + text.size() || errno != 0 || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

TraceReader::TraceReader(const std::string& path, TraceFormat format) : path_(path), format_(format), in_(path) {
  if (!in_) throw ScenarioError(path, fmt::format("cannot open the trace: {}", std::strerror(errno)));
}

std::optional<TraceRecord> TraceReader::next() {
  while (std::getline(in_, line_text_)) {
    ++line_;
    std::string_view row(line_text_);
    if (!row.empty() && row.back() == '\r') row.remove_suffix(1);
    const size_t first = row.find_first_not_of(" \t");
    if (first == std::string_view::npos || row[first] == '#') continue;
    const std::vector<Cell> cells = cells_of(row);
    auto fail = [&](size_t column, const std::string& m) -> void {
      throw ScenarioError(fmt::format("{}:{}:{}", path_, line_, column), m);
    };
    TraceRecord r;
    r.line = line_;
    double raw = 0;
    if (format_ == TraceFormat::Spc) {
      if (cells.size() < 5) fail(1, fmt::format("expected ASU,LBA,Size,Opcode,Timestamp (SPC), got {} fields", cells.size()));
      const auto asu = integer_of<uint32_t>(cells[0].text);
      const auto lba = integer_of<uint64_t>(cells[1].text);
      const auto size = integer_of<uint32_t>(cells[2].text);
      const auto t = real_of(cells[4].text);
      if (!asu) fail(cells[0].column, fmt::format("ASU: expected an integer ≥ 0, got '{}'", cells[0].text));
      if (!lba || *lba > (UINT64_MAX >> 9)) fail(cells[1].column, fmt::format("LBA: expected an integer ≥ 0, got '{}'", cells[1].text));
      if (!size || *size == 0) fail(cells[2].column, fmt::format("Size: expected an integer of bytes ≥ 1, got '{}'", cells[2].text));
      const std::string_view op = cells[3].text;
      if (op != "r" && op != "R" && op != "w" && op != "W")
        fail(cells[3].column, fmt::format("Opcode: expected r, R, w or W, got '{}'", op));
      if (!t || *t < 0) fail(cells[4].column, fmt::format("Timestamp: expected seconds ≥ 0, got '{}'", cells[4].text));
      r.device = *asu;
      r.offset_bytes = *lba << 9;
      r.bytes = *size;
      r.write = op == "w" || op == "W";
      raw = *t;
    } else {
      if (cells.size() < 6)
        fail(1, fmt::format("expected Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime (MSR), got {} fields", cells.size()));
      const auto ticks = integer_of<uint64_t>(cells[0].text);
      const auto disk = integer_of<uint32_t>(cells[2].text);
      const auto offset = integer_of<uint64_t>(cells[4].text);
      const auto size = integer_of<uint32_t>(cells[5].text);
      if (!ticks) fail(cells[0].column, fmt::format("Timestamp: expected Windows file time (100 ns ticks), got '{}'", cells[0].text));
      if (!disk) fail(cells[2].column, fmt::format("DiskNumber: expected an integer ≥ 0, got '{}'", cells[2].text));
      const std::string_view type = cells[3].text;
      if (type != "Read" && type != "Write") fail(cells[3].column, fmt::format("Type: expected Read or Write, got '{}'", type));
      if (!offset) fail(cells[4].column, fmt::format("Offset: expected bytes ≥ 0, got '{}'", cells[4].text));
      if (!size || *size == 0) fail(cells[5].column, fmt::format("Size: expected an integer of bytes ≥ 1, got '{}'", cells[5].text));
      r.device = *disk;
      r.offset_bytes = *offset;
      r.bytes = *size;
      r.write = type == "Write";
      raw = static_cast<double>(*ticks) * 1e-7;
    }
    if (!first_) first_ = raw;
    r.t_s = raw - *first_;
    if (r.t_s < last_t_)
      fail(cells[format_ == TraceFormat::Spc ? 4 : 0].column,
           fmt::format("Timestamp: {} s is before the previous record's {} s (a trace is in time order)", r.t_s, last_t_));
    last_t_ = r.t_s;
    return r;
  }
  if (in_.bad()) throw ScenarioError(path_, "cannot read the trace");
  return std::nullopt;
}

uint64_t check_trace(const std::string& path, TraceFormat format, uint32_t device, uint64_t volume_bytes) {
  TraceReader reader(path, format);
  uint64_t n = 0;
  while (const auto r = reader.next()) {
    if (r->device != device)
      throw ScenarioError(fmt::format("{}:{}:1", path, r->line),
                          fmt::format("device {} is not this workload's (trace_device = {}): one workload replays one "
                                      "device of a trace",
                                      r->device, device));
    if (r->offset_bytes + r->bytes > volume_bytes)
      throw ScenarioError(fmt::format("{}:{}:1", path, r->line),
                          fmt::format("bytes {} to {} lie beyond the volume ({} bytes: tracks × track_bytes)",
                                      r->offset_bytes, r->offset_bytes + r->bytes, volume_bytes));
    ++n;
  }
  if (n == 0) throw ScenarioError(path, "the trace has no records");
  return n;
}

}  // namespace mirrorsim
