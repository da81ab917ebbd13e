// The CSV reader and merge of `mirrorsim merge` (sweep/sweep.hpp: read_csv,
// merge_runs, confidence_table): the input is up to four shards' CSV files
// separated by NUL bytes. Each may be refused with a runtime_error naming
// its source and line; shards that are read must write back (to_csv) to a
// file that reads to the same table, and merge (or be refused) without
// harm, the merged runs giving their confidence table and JSON lines. A
// crash, a sanitizer report, another exception or a failed property is a
// defect.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sweep/sweep.hpp"

using namespace mirrorsim;

namespace {
void defect(const char* what) {
  std::fprintf(stderr, "fuzz_sweep_table: %s\n", what);
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::pair<std::string, SweepTable>> shards;
  for (size_t begin = 0; begin <= text.size() && shards.size() < 4;) {
    size_t end = text.find('\0', begin);
    if (end == std::string_view::npos) end = text.size();
    const std::string source = "shard" + std::to_string(shards.size()) + ".csv";
    try {
      SweepTable t = read_csv(text.substr(begin, end - begin), source);
      const SweepTable again = read_csv(to_csv(t), source);
      if (again.columns != t.columns || again.rows != t.rows) defect("a table that does not read back to itself");
      shards.emplace_back(source, std::move(t));
    } catch (const std::runtime_error& e) {
      if (!std::string_view(e.what()).starts_with(source + ":")) defect("a refusal that does not name the shard");
      return 0;
    }
    begin = end + 1;
  }
  SweepTable merged;
  try {
    merged = merge_runs(shards);
  } catch (const std::runtime_error&) {
    return 0;  // shards that do not belong together: refused by name
  }
  (void)to_jsonl(merged);
  (void)to_csv(confidence_table(merged, param_columns(merged)));
  return 0;
}
