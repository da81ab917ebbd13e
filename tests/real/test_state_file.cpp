// The state file: what a controller process keeps across its own death.
// A step is durable whole or not at all, whatever instant the process is
// killed at.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>

#include <fmt/format.h>

#include "model/config.hpp"
#include "real/state_file.hpp"
#include "real/wire.hpp"

using namespace mirrorsim;
using namespace mirrorsim::real;

namespace {

Geometry geometry() {
  ControllerConfig c;
  c.track_bytes = 4096;
  c.disks = 2;
  c.volumes = {VolumeConfig{"db", 64}};
  return Geometry::of(c);
}

// A state file path for one test, removed however the test ends.
struct TempState {
  std::string path;
  explicit TempState(const char* tag) : path(fmt::format("/dev/shm/mirrorsim-test-{}-{}.state", tag, ::getpid())) {}
  ~TempState() { ::unlink(path.c_str()); }
};

StepChanges step_setting(uint64_t seq, std::initializer_list<uint64_t> tracks) {
  StepChanges c;
  c.seq = seq;
  c.at = Time::from_ns(static_cast<int64_t>(seq) * 1000);
  c.input = {static_cast<uint8_t>(seq & 0xFF)};
  c.generation = 1;
  c.epoch = static_cast<Epoch>(seq);
  for (uint64_t t : tracks) {
    TrackRecord r;
    r.durable.version = seq;
    r.durable.disk_version = seq - 1;
    r.durable.local_wp = true;
    r.durable.cached = true;
    r.durable.cached_version = seq;
    r.payload_slot = static_cast<int32_t>(t);
    c.tracks.emplace_back(t, r);
  }
  return c;
}

}  // namespace

TEST_CASE("a state file reopens to the durable state and the input log it committed") {
  const Geometry g = geometry();
  const TempState temp("reopen");
  const std::string& path = temp.path;
  {
    StateFile s = StateFile::create(path, g, StateIdentity{7, 8, Side::B, 123, 9}, 16, true, 1 << 20);
    s.append_log(LogKind::Start, 0, Time{}, {});
    for (uint64_t seq = 1; seq <= 5; ++seq) s.commit(step_setting(seq, {seq, seq + 10}));
  }
  std::string why;
  auto s = StateFile::open(path, g, &why);
  REQUIRE(s);
  CHECK(s->identity().run_id == 7);
  CHECK(s->identity().side == Side::B);
  CHECK(s->identity().time_base_ns == 123);
  CHECK(s->committed_seq() == 5);
  const DurableState d = s->durable_state();
  CHECK(d.epoch == 5);
  CHECK(d.tracks[0][5].version == 5);
  CHECK(d.tracks[0][15].cached_version == 5);
  CHECK(d.tracks[0][30].version == 0);
  bool complete = false;
  const auto log = parse_log(s->log_bytes(0, UINT64_MAX), &complete);
  CHECK(complete);
  REQUIRE(log.size() == 6);
  CHECK(log[0].kind == LogKind::Start);
  CHECK(log[5].seq == 5);
  CHECK(log[5].body == std::vector<uint8_t>{5});
}

TEST_CASE("a state file made for another geometry is refused, saying why") {
  const TempState temp("geometry");
  const std::string& path = temp.path;
  { StateFile::create(path, geometry(), StateIdentity{}, 4, true, 1 << 16); }
  ControllerConfig c;
  c.track_bytes = 4096;
  c.volumes = {VolumeConfig{"db", 65}};
  std::string why;
  CHECK_FALSE(StateFile::open(path, Geometry::of(c), &why));
  CHECK_THAT(why, Catch::Contains("64 tracks"));
}

TEST_CASE("a volatile cache's payloads do not come back after a restart, the track table does") {
  const Geometry g = geometry();
  const TempState temp("volatile");
  const std::string& path = temp.path;
  {
    StateFile s = StateFile::create(path, g, StateIdentity{}, 16, false, 1 << 16);
    s.commit(step_setting(1, {3}));
  }
  std::string why;
  auto s = StateFile::open(path, g, &why);
  REQUIRE(s);
  CHECK(s->record(3).payload_slot == -1);
  CHECK(s->record(3).durable.version == 1);
  CHECK(s->record(3).durable.local_wp);
}

TEST_CASE("a state file killed at any instant recovers whole steps only, and its log ends at the last of them") {
  const Geometry g = geometry();
  const TempState temp("kill");
  const std::string& path = temp.path;
  std::mt19937_64 rng(5);
  for (int round = 0; round < 12; ++round) {
    { StateFile::create(path, g, StateIdentity{}, 128, true, 64 << 20); }
    int started[2];
    REQUIRE(::pipe(started) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // Every step moves two tracks to the step's number, together.
      std::string why;
      auto s = StateFile::open(path, g, &why);
      if (!s) ::_exit(1);
      for (uint64_t seq = 1;; ++seq) {
        const uint64_t a = seq % 32, b = 32 + seq % 32;
        s->commit(step_setting(seq, {a, b}));
        if (seq == 1) (void)!::write(started[1], "x", 1);
        if (seq > 1'000'000) ::pause();
      }
    }
    char x;
    REQUIRE(::read(started[0], &x, 1) == 1);
    ::close(started[0]);
    ::close(started[1]);
    ::usleep(static_cast<useconds_t>(rng() % 20000));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    std::string why;
    auto s = StateFile::open(path, g, &why);
    REQUIRE(s);
    const uint64_t seq = s->committed_seq();
    REQUIRE(seq > 0);
    CHECK(s->record(seq % 32).durable.version == seq);
    CHECK(s->record(32 + seq % 32).durable.version == seq);
    bool complete = false;
    const auto log = parse_log(s->log_bytes(0, UINT64_MAX), &complete);
    REQUIRE_FALSE(log.empty());
    CHECK(log.back().seq == seq);
  }
}
