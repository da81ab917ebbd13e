// Block traces replayed at their own timestamps: a reader that streams one
// record at a time (memory does not grow with the trace), for the formats
// engineers hold:
//   spc   SPC / UMass: ASU,LBA,Size,Opcode,Timestamp (LBA in 512-byte
//         sectors, Size in bytes, Opcode r/R/w/W, Timestamp in seconds)
//   msr   MSR Cambridge: Timestamp,Hostname,DiskNumber,Type,Offset,Size,
//         ResponseTime (Windows file time in 100 ns ticks, Read/Write,
//         Offset and Size in bytes)
//   blkparse  blkparse's default text output: dev(major,minor) cpu seq
//         time pid action rwbs sector + sectors [process]; the queue
//         events (action Q) are the host's requests, R or W in rwbs; the
//         device is major × 256 + minor (8,16 → 2064); other actions and
//         requests without data (flushes, discards) are skipped, and the
//         summary blkparse appends ("CPU0 (8,0):", "Total (8,0):") ends it
//   fio   fio's iolog, version 2 ("fio version 2 iolog": filename action
//         [offset length], timed by "wait" lines whose offset field is the
//         delay in µs before the next request) or 3 (a timestamp in ms in
//         front of each line); read and write are requests, the file
//         actions (add, open, close) and sync, datasync and trim are
//         skipped; the device is the file's position among the log's "add"
//         lines, from 0.
// Times are relative to the trace's first record. The scenario loader reads
// a trace once through (TraceReader::check) so that a bad line is refused at
// file:line:col before anything runs; the run reads it again.
#pragma once

#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/scenario.hpp"

namespace mirrorsim {

struct TraceRecord {
  double t_s = 0;        // since the first record
  bool write = true;
  uint64_t offset_bytes = 0;
  uint32_t bytes = 0;
  uint32_t device = 0;   // ASU or DiskNumber
  size_t line = 0;
};

class TraceReader {
 public:
  // Throws ScenarioError naming the file when it cannot be opened.
  TraceReader(const std::string& path, TraceFormat format);
  // The next record, or nullopt at the end. Throws ScenarioError at
  // path:line:col for a line that is not a record of the format.
  std::optional<TraceRecord> next();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  TraceFormat format_;
  std::ifstream in_;
  std::string line_text_;
  size_t line_ = 0;
  std::optional<double> first_;  // the first record's raw timestamp
  double last_t_ = 0;
  bool ended_ = false;                // blkparse: its summary began
  std::vector<std::string> files_;    // fio: the files added, by device
  int fio_version_ = 0;               // fio: 2 or 3, from the header
  double fio_clock_s_ = 0;            // fio: the current request's time
  std::optional<TraceRecord> parse_fields(std::string_view row);
};

// Reads the whole trace once: every record well formed, in time order, of
// `device`, within `volume_bytes`; throws ScenarioError at path:line:col.
// Returns the number of records.
uint64_t check_trace(const std::string& path, TraceFormat format, uint32_t device, uint64_t volume_bytes);

}  // namespace mirrorsim
