// The results decoder (report/serialize.hpp's deserialize: the bytes a
// forked run sends its parent, and a pickled Result) and the reply protocol
// of the fork pipe around it (sim/fork.hpp's parse_child_reply). The first
// byte picks one: even, the rest is a serialized result; odd, the rest is a
// child's whole reply, whose result part is then deserialized.
//
// Either may refuse anything with its own error (Malformed, ChildFailed); a
// result it accepts must render (JSON, summary, metrics, CSV) and serialize
// to bytes that decode to a result serializing the same. A crash, a
// sanitizer report, another exception or a failed property is a defect.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "report/json_read.hpp"
#include "report/result.hpp"
#include "report/serialize.hpp"
#include "sim/fork.hpp"

using namespace mirrorsim;

namespace {

void defect(const char* what) {
  std::fprintf(stderr, "fuzz_result: %s\n", what);
  std::abort();
}

void result(std::span<const uint8_t> bytes) {
  RunResult r;
  try {
    r = deserialize(bytes);
  } catch (const json_read::Malformed& e) {
    if (std::string_view(e.what()).find("malformed run result") == std::string_view::npos)
      defect("a refusal that does not say what was refused");
    return;
  }
  (void)to_json(r).dump();
  (void)summary_text(r);
  (void)summary_metrics(r);
  (void)timeseries_csv(r);
  const std::vector<uint8_t> once = serialize(r);
  try {
    if (serialize(deserialize(once)) != once) defect("a result that does not serialize to itself");
  } catch (const json_read::Malformed& e) {
    std::fprintf(stderr, "%s\n", e.what());
    defect("a result whose own serialization is refused");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::span<const uint8_t> rest(data + 1, size - 1);
  if (data[0] % 2 == 0) {
    result(rest);
    return 0;
  }
  try {
    const ChildReply reply = parse_child_reply(rest, "the fuzzed child");
    if (reply.tag == 'R' && reply.parts.size() == 1)
      result(std::span(reinterpret_cast<const uint8_t*>(reply.parts[0].data()), reply.parts[0].size()));
  } catch (const ChildFailed&) {
    // refused, with a message naming what was wrong
  }
  return 0;
}
