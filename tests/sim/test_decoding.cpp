// What a parent reads back from a forked run, and what pickle.loads reads:
// the fork pipe's reply protocol (sim/fork.hpp) and the serialized result
// (report/serialize.hpp). Truncated, corrupted and hand-made inputs are
// refused with an error naming what is wrong, never read out of bounds
// (issue 11 item 9: a short time-series row segfaulted).
#include <catch2/catch.hpp>

#include <cstring>

#include <nlohmann/json.hpp>

#include "report/json_read.hpp"
#include "report/serialize.hpp"
#include "sim/fork.hpp"

using namespace mirrorsim;
using nlohmann::json;

namespace {

const RunResult& short_run() {
  static const RunResult r = [] {
    Scenario s = load_scenario_file(std::string(MIRRORSIM_SCENARIOS_DIR) + "/link_outage_30s.toml");
    set_values(s, {Override{"duration_s", "0.2", "duration_s"}, Override{"measurement.warmup_s", "0.05", "warmup_s"},
                   Override{"measurement.timeseries_interval_s", "0.05", "interval"},
                   Override{"failure.0.at_s", "0.08", "link-down"}, Override{"failure.1.at_s", "0.12", "link-up"}});
    SimOptions o;
    o.progress = false;
    return simulate_in_child(s, o);
  }();
  return r;
}

std::string refusal(const std::vector<uint8_t>& bytes) {
  try {
    (void)deserialize(bytes);
  } catch (const json_read::Malformed& e) {
    return e.what();
  }
  return "accepted";
}

// The serialized result as JSON, changed by `edit`, serialized again.
template <class Edit>
std::string refusal_of_edited(Edit&& edit) {
  json j = json::from_msgpack(serialize(short_run()));
  edit(j);
  return refusal(json::to_msgpack(j));
}

std::vector<uint8_t> reply(char tag, const std::vector<std::string>& parts) {
  std::vector<uint8_t> out{static_cast<uint8_t>(tag)};
  auto u64 = [&](uint64_t v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    out.insert(out.end(), p, p + 8);
  };
  u64(parts.size());
  for (const auto& part : parts) {
    u64(part.size());
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

std::string reply_refusal(const std::vector<uint8_t>& bytes) {
  try {
    (void)parse_child_reply(bytes, "the child");
  } catch (const ChildFailed& e) {
    return e.what();
  }
  return "accepted";
}

}  // namespace

TEST_CASE("a serialized result reads back whole, the trace of a traced run included") {
  const RunResult& r = short_run();
  REQUIRE(r.timeseries.size() >= 3);
  RunResult traced = r;
  traced.trace_json = R"({"traceEvents":[]})";
  const RunResult back = deserialize(serialize(traced));
  CHECK(serialize(back) == serialize(traced));
  CHECK(back.trace_json == traced.trace_json);
  CHECK(to_json(back) == to_json(r));
  CHECK(back.timeseries.size() == r.timeseries.size());
}

TEST_CASE("the results decoder refuses a short time-series row, naming it (it read past the row)") {
  const std::string why = refusal_of_edited([](json& j) { j["timeseries"][1] = {0.5, 1, 2}; });
  CHECK(why == "malformed run result: timeseries[1]: 21 elements expected, found 3");
}

TEST_CASE("the results decoder refuses truncated bytes at every length tried") {
  const std::vector<uint8_t> bytes = serialize(short_run());
  for (const size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{10}, bytes.size() / 3, bytes.size() / 2,
                         bytes.size() - 2, bytes.size() - 1}) {
    INFO(n << " of " << bytes.size() << " bytes");
    const std::string why = refusal(std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)));
    CHECK_THAT(why, Catch::StartsWith("malformed run result: MessagePack: "));
  }
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  CHECK_THAT(refusal(longer), Catch::StartsWith("malformed run result: MessagePack: "));
}

TEST_CASE("the results decoder refuses wrong types, numbers out of range and inconsistent parts by name") {
  CHECK(refusal_of_edited([](json& j) { j["seed"] = -1; }) ==
        "malformed run result: seed: -1 is outside [0, 18446744073709551615]");
  CHECK(refusal_of_edited([](json& j) { j["seed"] = 1.5; }) ==
        "malformed run result: seed: an integer expected, found number");
  CHECK(refusal_of_edited([](json& j) { j["metrics"]["copies_sent"] = 1e300; }) ==
        "malformed run result: metrics.copies_sent: an integer expected, found number");
  CHECK(refusal_of_edited([](json& j) { j["full_volumes"][0]["mode"] = 9; }) ==
        "malformed run result: full_volumes[0].mode: 9 is not a mode");
  CHECK(refusal_of_edited([](json& j) { j["full_volumes"][0]["writes"]["buckets"] = {{1u << 30, 1}}; }) ==
        "malformed run result: full_volumes[0].writes.buckets[0]: bucket 1073741824 beyond the histogram's 18944");
  CHECK(refusal_of_edited([](json& j) { j["full_volumes"][0]["writes"]["buckets"] = {{5, 1}, {5, 1}}; }) ==
        "malformed run result: full_volumes[0].writes.buckets[1]: bucket 5 after bucket 5: ascending expected");
  CHECK(refusal_of_edited([](json& j) { j["full_volumes"][0]["writes"]["seen"] = 0; }) ==
        fmt::format("malformed run result: full_volumes[0].writes.samples: {} samples of 0 seen",
                    short_run().volumes[0].writes.samples.samples().size()));
  CHECK(refusal_of_edited([](json& j) { j["percentiles"] = {50, 100}; }) ==
        "malformed run result: percentiles[1]: 100 is not in (0, 100)");
  CHECK(refusal_of_edited([](json& j) { j["metrics"].erase("resyncs"); }) ==
        "malformed run result: metrics: 'resyncs' is missing");
  CHECK(refusal_of_edited([](json& j) { j["timeseries"][0][10] = 3; }) ==
        "malformed run result: timeseries[0][10]: a string expected, found number");
  CHECK(refusal_of_edited([](json& j) { j["metrics"]["losses"] = {{{"cause", "failover"}}}; }) ==
        "malformed run result: metrics.losses[0]: 'at_s' is missing");
  CHECK(refusal(json::to_msgpack(json::array())) == "malformed run result: the document: an object expected, found array");
  // MessagePack strings need not be UTF-8; JSON's must (to_json(r).dump() threw).
  CHECK(refusal_of_edited([](json& j) { j["driver"] = "sim\xff"; }) == "malformed run result: driver: not UTF-8 text (byte 3)");
  CHECK(refusal_of_edited([](json& j) { j["scenario"]["link"]["x"] = "\xc3"; }) ==
        "malformed run result: scenario.link.x: not UTF-8 text (byte 0)");
}

TEST_CASE("the results decoder refuses MessagePack nested deeper than any result instead of overflowing the stack") {
  std::vector<uint8_t> deep(200'000, 0x91);  // arrays of one element, each in the next
  deep.push_back(0xc0);
  CHECK(refusal(deep) == "malformed run result: MessagePack: nested deeper than 64 levels");
}

TEST_CASE("the fork pipe's reply: what a child sends reads back, anything cut or padded is refused by name") {
  const ChildReply ok = parse_child_reply(reply('S', {"where", "what"}), "the child");
  CHECK(ok.tag == 'S');
  CHECK(ok.parts == std::vector<std::string>{"where", "what"});
  CHECK(parse_child_reply(reply('R', {}), "the child").parts.empty());

  const std::vector<uint8_t> whole = reply('E', {"boom"});
  CHECK(reply_refusal({}) == "the child sent nothing");
  CHECK(reply_refusal({whole.begin(), whole.begin() + 5}) ==
        "the child's reply was cut short at the number of parts (byte 1 of 5)");
  CHECK(reply_refusal({whole.begin(), whole.begin() + 12}) ==
        "the child's reply announces 1 part(s), more than its 12 bytes can hold");
  std::vector<uint8_t> two = reply('R', {"abcdefgh"});
  two[1] = 2;  // two parts announced, the second one's length missing
  CHECK(reply_refusal(two) == "the child's reply was cut short at the length of part 2 (byte 25 of 25)");
  CHECK(reply_refusal({whole.begin(), whole.end() - 1}) == "the child's reply was cut short in part 1 (3 bytes of 4)");
  std::vector<uint8_t> padded = whole;
  padded.push_back('!');
  CHECK(reply_refusal(padded) == "the child's reply has 1 bytes after its end");
  std::vector<uint8_t> tagged = whole;
  tagged[0] = 'X';
  CHECK(reply_refusal(tagged) == "the child's reply is unreadable (tag byte 88)");
  // A count of parts the bytes cannot hold is refused before anything is reserved for it.
  std::vector<uint8_t> counted = whole;
  const uint64_t huge = uint64_t{1} << 60;
  std::memcpy(counted.data() + 1, &huge, 8);
  CHECK(reply_refusal(counted) == "the child's reply announces 1152921504606846976 part(s), more than its 21 bytes can hold");
  std::vector<uint8_t> length = whole;
  std::memcpy(length.data() + 9, &huge, 8);
  CHECK(reply_refusal(length) == "the child's reply was cut short in part 1 (4 bytes of 1152921504606846976)");
}
