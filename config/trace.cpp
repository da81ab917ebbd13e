#include "config/trace.hpp"

#include <cerrno>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
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

// Fields separated by blanks (blkparse, fio), with their columns.
std::vector<Cell> fields_of(std::string_view row) {
  std::vector<Cell> cells;
  size_t at = 0;
  while (true) {
    while (at < row.size() && (row[at] == ' ' || row[at] == '\t')) ++at;
    if (at >= row.size()) return cells;
    const size_t end = row.find_first_of(" \t", at);
    cells.push_back({row.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at), at + 1});
    if (end == std::string_view::npos) return cells;
    at = end;
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
    auto fail = [&](size_t column, const std::string& m) -> void {
      throw ScenarioError(fmt::format("{}:{}:{}", path_, line_, column), m);
    };
    const bool blank_separated = format_ == TraceFormat::Blkparse || format_ == TraceFormat::Fio;
    const std::vector<Cell> cells = blank_separated ? fields_of(row) : cells_of(row);
    TraceRecord r;
    r.line = line_;
    double raw = 0;
    size_t time_column = 1;
    if (format_ == TraceFormat::Blkparse) {
      if (ended_) continue;
      // blkparse ends with per-CPU and total summaries.
      if (cells[0].text.starts_with("CPU") || cells[0].text == "Total") {
        ended_ = true;
        continue;
      }
      if (cells.size() < 7)
        fail(1, fmt::format("expected major,minor cpu sequence time pid action rwbs [sector + sectors] (blkparse), got "
                            "{} fields",
                            cells.size()));
      const std::string_view dev = cells[0].text;
      const size_t comma = dev.find(',');
      const auto major = comma == std::string_view::npos ? std::nullopt : integer_of<uint32_t>(dev.substr(0, comma));
      const auto minor = comma == std::string_view::npos ? std::nullopt : integer_of<uint32_t>(dev.substr(comma + 1));
      if (!major || !minor || *major > 4095 || *minor > 255)
        fail(cells[0].column, fmt::format("device: expected major,minor (e.g. 8,16), got '{}'", dev));
      const auto t = real_of(cells[3].text);
      if (!t || *t < 0) fail(cells[3].column, fmt::format("time: expected seconds ≥ 0, got '{}'", cells[3].text));
      time_column = cells[3].column;
      const std::string_view action = cells[5].text, rwbs = cells[6].text;
      if (action != "Q") continue;  // the request as the host queued it; the rest is the block layer's
      const bool w = rwbs.find('W') != std::string_view::npos, rd = rwbs.find('R') != std::string_view::npos;
      if ((!w && !rd) || rwbs.find('D') != std::string_view::npos) continue;  // a flush or a discard: no data
      const bool has_data = cells.size() >= 10 && cells[8].text == "+";
      if (!has_data && rwbs.find('F') != std::string_view::npos) continue;  // a flush carrying no data
      if (!has_data)
        fail(cells[6].column, fmt::format("a queued {} needs 'sector + sectors' after '{}'", w ? "write" : "read", rwbs));
      const auto sector = integer_of<uint64_t>(cells[7].text);
      const auto sectors = integer_of<uint32_t>(cells[9].text);
      if (!sector || *sector > (UINT64_MAX >> 9)) fail(cells[7].column, fmt::format("sector: expected an integer ≥ 0, got '{}'", cells[7].text));
      if (!sectors || *sectors == 0 || *sectors > (UINT32_MAX >> 9))
        fail(cells[9].column, fmt::format("sectors: expected an integer ≥ 1, got '{}'", cells[9].text));
      r.device = *major * 256 + *minor;
      r.offset_bytes = *sector << 9;
      r.bytes = *sectors << 9;
      r.write = w;
      raw = *t;
    } else if (format_ == TraceFormat::Fio) {
      if (fio_version_ == 0) {
        // The header names the version: 3 logs carry a timestamp (ms) in
        // front of each line, 2 logs time the requests with "wait" lines.
        const std::string_view header = row.substr(first);
        if (header == "fio version 3 iolog") fio_version_ = 3;
        else if (header == "fio version 2 iolog") fio_version_ = 2;
        else fail(first + 1, fmt::format("expected the header 'fio version 2 iolog' or 'fio version 3 iolog', got '{}'", header));
        continue;
      }
      const size_t lead = fio_version_ == 3 ? 1 : 0;  // fields before the filename
      if (cells.size() < 2 + lead)
        fail(1, fmt::format("expected {}filename action [offset length] (fio iolog v{}), got {} fields",
                            lead ? "timestamp " : "", fio_version_, cells.size()));
      if (lead) {
        const auto ms = integer_of<uint64_t>(cells[0].text);
        if (!ms) fail(cells[0].column, fmt::format("timestamp: expected milliseconds ≥ 0, got '{}'", cells[0].text));
        fio_clock_s_ = static_cast<double>(*ms) * 1e-3;
        time_column = cells[0].column;
      }
      const std::string_view file = cells[lead].text, action = cells[lead + 1].text;
      if (action == "add") {
        files_.emplace_back(file);
        continue;
      }
      const auto known = std::find(files_.begin(), files_.end(), file);
      if (known == files_.end()) fail(cells[lead].column, fmt::format("file '{}' was not added ('{} add' first)", file, file));
      if (action == "wait") {
        // v2: the delay before the next request, in µs, where the offset goes.
        const auto us = cells.size() > lead + 2 ? integer_of<uint64_t>(cells[lead + 2].text) : std::nullopt;
        if (!us || *us > 1'000'000'000'000ull)
          fail(cells.size() > lead + 2 ? cells[lead + 2].column : cells[lead + 1].column,
               "wait: expected a delay of µs ≥ 0 after the action");
        if (!lead) fio_clock_s_ += static_cast<double>(*us) * 1e-6;
        continue;
      }
      if (action == "open" || action == "close" || action == "sync" || action == "datasync" || action == "trim") continue;
      if (action != "read" && action != "write")
        fail(cells[lead + 1].column, fmt::format("action: expected add, open, close, read, write, sync, datasync, trim or "
                                                 "wait, got '{}'",
                                                 action));
      if (cells.size() < lead + 4) fail(cells[lead + 1].column, fmt::format("a {} needs offset and length", action));
      const auto offset = integer_of<uint64_t>(cells[lead + 2].text);
      const auto length = integer_of<uint32_t>(cells[lead + 3].text);
      if (!offset) fail(cells[lead + 2].column, fmt::format("offset: expected bytes ≥ 0, got '{}'", cells[lead + 2].text));
      if (!length || *length == 0)
        fail(cells[lead + 3].column, fmt::format("length: expected bytes ≥ 1, got '{}'", cells[lead + 3].text));
      r.device = static_cast<uint32_t>(known - files_.begin());
      r.offset_bytes = *offset;
      r.bytes = *length;
      r.write = action == "write";
      raw = fio_clock_s_;
    } else if (format_ == TraceFormat::Spc) {
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
      time_column = cells[4].column;
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
      time_column = cells[0].column;
    }
    if (!first_) first_ = raw;
    r.t_s = raw - *first_;
    if (r.t_s < last_t_)
      fail(time_column,
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
