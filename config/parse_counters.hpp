// Internal to config/ and its tests: how much TOML the loader has parsed
// since the process started, so that a test can assert on the work a load
// does (linear in a sweep's values, say) instead of timing it.
#pragma once

#include <cstdint>

namespace mirrorsim::config {

struct ParseCounters {
  uint64_t documents = 0;  // parse_document calls: files, texts and every re-read after an override
  uint64_t bytes = 0;      // their text
};
ParseCounters parse_counters();

}  // namespace mirrorsim::config
