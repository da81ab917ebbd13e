// Chrome trace-event JSON (opens in Perfetto and chrome://tracing): each
// traced host write becomes a row of phases on R1, the link and R2.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/types.hpp"

namespace mirrorsim {

class TraceRecorder {
 public:
  // A complete event ("ph":"X"): `process` groups rows (R1, link, R2, hosts),
  // `row` is the write it belongs to.
  void add(std::string name, std::string process, uint64_t row, Time start, Time end);
  size_t size() const { return events_.size(); }
  std::string to_json() const;

 private:
  struct Event {
    std::string name;
    std::string process;
    uint64_t row;
    Time start;
    Time end;
  };
  std::vector<Event> events_;
};

}  // namespace mirrorsim
