// The counterexample reader of `mirrorsim check --replay FILE`
// (check/counterexample.hpp): JSON text to a Counterexample. It may refuse
// anything with a TraceError; what it accepts must write back (to_json) to
// a document it reads to the same counterexample. A crash, a sanitizer
// report, another exception or a failed property is a defect. Replaying
// what was read is the explorer's business, not the reader's: not done here.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "check/counterexample.hpp"
#include "report/json_read.hpp"

using namespace mirrorsim;

namespace {
void defect(const char* what) {
  std::fprintf(stderr, "fuzz_counterexample: %s\n", what);
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check::Counterexample cx;
  try {
    cx = check::counterexample_from_json(json_read::parse_text(std::string_view(reinterpret_cast<const char*>(data), size)));
  } catch (const json_read::Malformed&) {
    return 0;  // not JSON, or nested beyond any counterexample
  } catch (const check::TraceError&) {
    return 0;  // JSON, not a counterexample
  }
  const nlohmann::json written = check::to_json(cx);
  try {
    if (check::to_json(check::counterexample_from_json(written)) != written)
      defect("a counterexample that does not read back to itself");
  } catch (const check::TraceError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    defect("a counterexample whose own file is refused");
  }
  return 0;
}
