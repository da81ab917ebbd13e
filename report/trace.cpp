#include "report/trace.hpp"

#include <map>

#include <nlohmann/json.hpp>

namespace mirrorsim {

void TraceRecorder::add(std::string name, std::string process, uint64_t row, Time start, Time end) {
  events_.push_back(Event{std::move(name), std::move(process), row, start, end});
}

std::string TraceRecorder::to_json() const {
  // Processes get stable ids in order of first appearance, named by metadata events.
  std::map<std::string, int> pids;
  nlohmann::json events = nlohmann::json::array();
  for (const Event& e : events_) {
    auto [it, fresh] = pids.emplace(e.process, static_cast<int>(pids.size()) + 1);
    if (fresh)
      events.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", it->second}, {"args", {{"name", e.process}}}});
    events.push_back({{"ph", "X"},
                      {"name", e.name},
                      {"pid", it->second},
                      {"tid", e.row},
                      {"ts", static_cast<double>(e.start.ns) / 1e3},
                      {"dur", static_cast<double>((e.end - e.start).ns) / 1e3}});
  }
  nlohmann::json doc;
  doc["traceEvents"] = events;
  doc["displayTimeUnit"] = "ns";
  return doc.dump(1);
}

}  // namespace mirrorsim
