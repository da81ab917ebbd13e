// Writes the seed corpora of the fuzz harnesses (corpus/<harness>/seed-*)
// from the project's own encoders, so that the fuzzers start from inputs
// that reach deep into each decoder: real frames and bodies of every type,
// link messages and logged inputs of every kind, an input log, a track
// image, serialized results of two short runs (and a child's reply around
// one), a counterexample the explorer found, a sharded sweep's CSV files.
// The scenario harness's seeds are the shipped scenarios (scenarios/) and
// hand-written files in corpus/scenario/. Run it again when a format
// changes:  cmake --build build --target fuzz_seed_corpus && build/tests/fuzz/fuzz_seed_corpus tests/fuzz/corpus scenarios
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "check/counterexample.hpp"
#include "check/scenario_options.hpp"
#include "config/scenario.hpp"
#include "model/config.hpp"
#include "real/checksum.hpp"
#include "real/geometry.hpp"
#include "real/messages.hpp"
#include "real/protocol.hpp"
#include "real/track_image.hpp"
#include "real/wire.hpp"
#include "report/serialize.hpp"
#include "sim/fork.hpp"
#include "sweep/sweep.hpp"

using namespace mirrorsim;
using namespace mirrorsim::real;
namespace fs = std::filesystem;

namespace {

fs::path g_root;

// Seeds are named seed-*, inputs that crashed a decoder once regression-*.
void put(const std::string& harness, const std::string& name, const std::vector<uint8_t>& bytes) {
  const fs::path dir = g_root / harness;
  fs::create_directories(dir);
  std::ofstream out(dir / (name.starts_with("regression-") ? name : "seed-" + name), std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) throw std::runtime_error("cannot write " + (dir / name).string());
}
void put(const std::string& harness, const std::string& name, const std::string& text) {
  put(harness, name, std::vector<uint8_t>(text.begin(), text.end()));
}

std::vector<uint8_t> with_selector(uint8_t selector, const std::vector<uint8_t>& body) {
  std::vector<uint8_t> out{selector};
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

std::vector<uint8_t> message_bytes(const Message& m) {
  std::vector<uint8_t> out;
  ByteWriter w(out);
  encode_message(w, m);
  return out;
}
std::vector<uint8_t> input_bytes(const Input& in) {
  std::vector<uint8_t> out;
  ByteWriter w(out);
  encode_input(w, in);
  return out;
}

void wire_seeds() {
  // Tracks of the harness's geometry (fuzz_wire.cpp: volumes of 10 and 5 tracks of 4096 bytes).
  const TrackKey k{1, 3};
  // Control bodies, selector = the harness's decoder number.
  Configure cf;
  cf.run_id = 7;
  cf.side = Side::B;
  cf.scenario_toml = "duration_s = 1\n";
  cf.boot_id = "boot";
  cf.peer = "127.0.0.1:7400";
  Status st;
  st.disk_busy_ns = {1, 2};
  st.last_refusal = "none";
  Digest dg;
  dg.first = 2;
  dg.entries = {DigestEntry{0, 3, 4096, 0xabcdef, 0}, DigestEntry{1, 0, 0, 0, 2}};
  LogChunk lc;
  lc.offset = 64;
  lc.bytes = {1, 2, 3, 4};
  const std::vector<std::pair<FrameType, std::vector<uint8_t>>> control{
      {FrameType::Hello, encode(Hello{kProtocolVersion, ConnectionKind::Peer, 7, Side::A})},
      {FrameType::Configure, encode(cf)},
      {FrameType::Configured, encode(Configured{true, 12, "cubic"})},
      {FrameType::HostRequest, encode(HostRequest{5, true, k, 4096})},
      {FrameType::HostDone, encode(HostDone{5, true, 2, RejectReason::NotReady, 1000, 10})},
      {FrameType::Operator, encode(OperatorAction::Failback)},
      {FrameType::LinkFault, encode(LinkFault{LinkFault::Kind::Shape, LinkShaping{100, 10, 1e6, 0.01, 50'000'000}})},
      {FrameType::DiskFault, encode(DiskFault{DiskFault::Kind::Latency, 1, 2000})},
      {FrameType::Status, encode(st)},
      {FrameType::DigestRequest, encode(DigestRequest{0, 15})},
      {FrameType::Digest, encode(dg)},
      {FrameType::LogRequest, encode(LogRequest{0, 1 << 20})},
      {FrameType::LogChunk, encode(lc)},
      {FrameType::Refused, encode_refusal("wrong run")},
  };
  std::vector<uint8_t> stream{0, 7};  // selector 0, pieces of 8 bytes
  for (size_t i = 0; i < control.size(); ++i) {
    const auto& [type, body] = control[i];
    put("wire", fmt::format("{:02}-{}", i + 1, to_string(type)), with_selector(static_cast<uint8_t>(i + 1), body));
    append_frame(stream, type, body);
  }
  // Link messages of every kind, one of them a CopyData with its track image.
  const std::vector<Message> messages{Establish{1, 1, {k, TrackKey{0, 9}}}, EstablishAck{1, {k}},
                                      WriteCommand{1, k, 2, 4096},        TransferReady{1, k, 2, 4096},
                                      CopyData{1, k, 2, 4096, false},     CopyAck{1, k, 2},
                                      Takeover{1, 2}};
  for (size_t i = 0; i < messages.size(); ++i)
    put("wire", fmt::format("15-message-{}", i), with_selector(15, message_bytes(messages[i])));
  std::vector<uint8_t> image(4096);
  write_image(image, k, 2, 4096, 1);
  append_frame(stream, FrameType::PeerMessage, message_bytes(messages[4]), image);
  append_frame(stream, FrameType::PeerMessage, message_bytes(messages[5]));
  append_frame(stream, FrameType::Heartbeat, {});
  put("wire", "00-stream", stream);
  put("wire", "18-image", with_selector(18, image));
  // Logged inputs of every kind, and a log of them as a controller writes it:
  // per record u32 length, u32 CRC-32C, then kind, u64 seq, i64 at_ns, body.
  const std::vector<Input> inputs{HostWrite{1, k, 4096}, HostRead{2, k, 4096}, DiskWriteDone{k, 2, true},
                                  DiskReadDone{k, 2, false}, Received{messages[5]}, LinkStateChanged{true},
                                  Timeout{}, Crash{}, Restart{}, Suspend{}, Resume{}, Failover{}, Failback{}};
  std::vector<uint8_t> log;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<uint8_t> body = input_bytes(inputs[i]);
    put("wire", fmt::format("16-input-{:02}", i), with_selector(16, body));
    std::vector<uint8_t> record{3};  // LogKind::Input
    ByteWriter w(record);
    w.u64(i + 1);
    w.i64(static_cast<int64_t>(i) * 1000);
    w.bytes(body);
    ByteWriter lw(log);
    lw.u32(static_cast<uint32_t>(record.size()));
    lw.u32(crc32c(record.data(), record.size()));
    lw.bytes(record);
  }
  put("wire", "17-log", with_selector(17, log));
}

// 50 ms of simulated time: results of a few kilobytes, small inputs for a fuzzer.
RunResult short_run(const std::string& scenario, const std::vector<std::pair<std::string, std::string>>& sets) {
  Scenario s = load_scenario_file(scenario);
  std::vector<Override> overrides{Override{"duration_s", "0.05", "duration_s"},
                                  Override{"measurement.warmup_s", "0.01", "measurement.warmup_s"},
                                  Override{"measurement.timeseries_interval_s", "0.01", "timeseries_interval_s"}};
  for (const auto& [key, value] : sets) overrides.push_back(Override{key, value, key});
  set_values(s, overrides);
  SimOptions o;
  o.progress = false;
  o.trace = true;
  o.trace_writes = 3;
  return simulate_in_child(s, o);
}

void result_seeds(const fs::path& scenarios) {
  const std::vector<uint8_t> quick = serialize(short_run((scenarios / "quickstart.toml").string(), {}));
  put("result", "quickstart", with_selector(0, quick));
  // With a resync, and with data lost at a disaster.
  put("result", "link-outage",
      with_selector(0, serialize(short_run((scenarios / "link_outage_30s.toml").string(),
                                           {{"failure.0.at_s", "0.02"}, {"failure.1.at_s", "0.03"}}))));
  put("result", "disaster",
      with_selector(0, serialize(short_run((scenarios / "disaster_semi_sync.toml").string(),
                                           {{"failure.0.at_s", "0.03"}, {"failure.1.at_s", "0.035"}}))));
  // The same result as a child's reply on the fork pipe (selector 1).
  std::vector<uint8_t> reply{1, 'R'};
  const uint64_t parts = 1, n = quick.size();
  reply.insert(reply.end(), reinterpret_cast<const uint8_t*>(&parts), reinterpret_cast<const uint8_t*>(&parts) + 8);
  reply.insert(reply.end(), reinterpret_cast<const uint8_t*>(&n), reinterpret_cast<const uint8_t*>(&n) + 8);
  reply.insert(reply.end(), quick.begin(), quick.end());
  put("result", "reply", reply);
  // Issue 11 item 9: a time-series row of 3 fields instead of 11 made the
  // decoder read past the row (a segfault in pickle.loads).
  nlohmann::json j = nlohmann::json::from_msgpack(quick);
  j["timeseries"][0] = {0.5, 1, 2};
  put("result", "regression-short-timeseries-row", with_selector(0, nlohmann::json::to_msgpack(j)));
  // Found by fuzzing: a string that is not UTF-8 was accepted, and dump()
  // threw later (Result.to_json() after unpickling).
  nlohmann::json bad = nlohmann::json::from_msgpack(quick);
  bad["metrics"]["end_state"] = std::string("\xff\xfe drained");
  put("result", "regression-string-not-utf8", with_selector(0, nlohmann::json::to_msgpack(bad)));
  // Nested one-element arrays, 100 000 deep: the MessagePack reader recurses
  // once per level.
  std::vector<uint8_t> deep(100'000, 0x91);
  deep.push_back(0xc0);
  put("result", "regression-nested-100000-deep", with_selector(0, deep));
}

void counterexample_seed(const fs::path& scenarios) {
  // As `mirrorsim check check_small.toml --writes 2 --failures 0 --links 2
  // --mutant secondary-applies-older` finds it.
  check::Options o = check::options_from_scenario(load_scenario_file((scenarios / "check_small.toml").string()));
  o.bounds.writes = 2;
  o.bounds.set_failures(0);
  o.world.links = 2;
  Mutant m = Mutant::None;
  if (!parse_mutant("secondary-applies-older", m)) throw std::runtime_error("no such mutant");
  o.world.side_a.mutant = o.world.side_b.mutant = m;
  const check::Result r = check::explore(o);
  if (!r.counterexample) throw std::runtime_error("the mutant was not caught");
  const nlohmann::json cx = check::to_json(*r.counterexample);
  put("counterexample", "secondary-applies-older.json", cx.dump(2) + "\n");
  // Numbers nlohmann's get<uint32_t>() converted silently (issue 11 item
  // 12's file had cache_slots = -1), and one whose conversion is undefined.
  for (const auto& [name, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"minus-one", -1}, {"fraction", 1.5}, {"huge", 1e300}}) {
    nlohmann::json bad = cx;
    bad["world"]["side_a"]["cache_slots"] = value;
    put("counterexample", "regression-cache-slots-" + name + ".json", bad.dump(2) + "\n");
  }
}

void sweep_seed(const fs::path& scenarios) {
  // Two shards of a 2 x 2 sweep, separated by NUL as the harness reads them.
  Scenario s = load_scenario_file((scenarios / "quickstart.toml").string());
  set_values(s, {Override{"duration_s", "0.05", "duration_s"}, Override{"measurement.warmup_s", "0.01", "warmup_s"}});
  const std::vector<SweepParam> grid{SweepParam{"link.distance_km", {"0", "100"}}};
  const auto points = sweep_points(s, grid, 2);
  std::string text;
  for (uint32_t shard = 0; shard < 2; ++shard) {
    SweepOptions o;
    o.progress = false;
    o.sim.progress = false;
    o.shard = Shard{shard, 2};
    if (shard) text += '\0';
    text += to_csv(runs_table(run_sweep(s, points, o), {"link.distance_km"}));
  }
  put("sweep_table", "two-shards.csv", text);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fuzz_seed_corpus CORPUS_DIR SCENARIOS_DIR\n");
    return 2;
  }
  g_root = argv[1];
  const fs::path scenarios = argv[2];
  try {
    wire_seeds();
    result_seeds(scenarios);
    counterexample_seed(scenarios);
    sweep_seed(scenarios);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_seed_corpus: %s\n", e.what());
    return 1;
  }
  return 0;
}
