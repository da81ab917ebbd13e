#include "real/cpu.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <numeric>

#include <fmt/format.h>

#include "real/wire.hpp"

namespace mirrorsim::real {

namespace {

struct FrameMark {
  int64_t start_ns = 0;
  bool open = false;
};
thread_local FrameMark frame_mark;

}  // namespace

std::string_view to_string(CpuKind k) {
  switch (k) {
    case CpuKind::Write: return "write";
    case CpuKind::Read: return "read";
    case CpuKind::CopyReceive: return "copy_receive";
    case CpuKind::AckReceive: return "ack_receive";
    case CpuKind::CopySend: return "copy_send";
    case CpuKind::Destage: return "destage";
    case CpuKind::DiskRead: return "disk_read";
    case CpuKind::Other: return "other";
  }
  return "?";
}

std::optional<Pool> pool_of(CpuKind k) {
  switch (k) {
    case CpuKind::Write:
    case CpuKind::Read: return Pool::FrontEnd;
    case CpuKind::CopyReceive:
    case CpuKind::AckReceive:
    case CpuKind::CopySend: return Pool::RemoteAdapter;
    case CpuKind::Destage:
    case CpuKind::DiskRead: return Pool::BackEnd;
    case CpuKind::Other: return std::nullopt;
  }
  return std::nullopt;
}

CpuKind cpu_kind_of(const Input& in) {
  if (std::holds_alternative<HostWrite>(in)) return CpuKind::Write;
  if (std::holds_alternative<HostRead>(in)) return CpuKind::Read;
  if (std::holds_alternative<DiskWriteDone>(in)) return CpuKind::Destage;
  if (std::holds_alternative<DiskReadDone>(in)) return CpuKind::DiskRead;
  if (const auto* r = std::get_if<Received>(&in)) {
    return is_answer(r->msg) ? CpuKind::AckReceive : CpuKind::CopyReceive;
  }
  return CpuKind::Other;
}

int64_t thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void mark_frame_start() {
  frame_mark.start_ns = thread_cpu_ns();
  frame_mark.open = true;
}

void close_frame_marks() { frame_mark.open = false; }

int64_t take_frame_cpu_ns() {
  if (!frame_mark.open) return 0;
  frame_mark.open = false;
  return std::max<int64_t>(0, thread_cpu_ns() - frame_mark.start_ns);
}

namespace {
// The optional fields after an Executed record's spans, flagged in one byte.
constexpr uint8_t kHasWakeup = 1, kHasPreempted = 2;
}  // namespace

std::vector<uint8_t> encode_executed(std::span<const CpuSpan> spans, std::optional<uint32_t> wakeup_ns,
                                     std::optional<uint32_t> preempted_ns) {
  std::vector<uint8_t> b;
  ByteWriter w(b);
  w.u8(static_cast<uint8_t>(std::min<size_t>(spans.size(), 255)));
  for (size_t i = 0; i < spans.size() && i < 255; ++i) {
    w.u8(static_cast<uint8_t>(spans[i].kind));
    w.u32(spans[i].ns);
  }
  w.u8(static_cast<uint8_t>((wakeup_ns ? kHasWakeup : 0) | (preempted_ns ? kHasPreempted : 0)));
  if (wakeup_ns) w.u32(*wakeup_ns);
  if (preempted_ns) w.u32(*preempted_ns);
  return b;
}

std::optional<ExecutedBody> decode_executed(std::span<const uint8_t> body) {
  ExecutedBody out;
  if (body.empty()) return out;
  ByteReader r(body);
  const uint8_t n = r.u8("Executed.spans");
  for (uint8_t i = 0; i < n && r.ok(); ++i) {
    CpuSpan s;
    const uint8_t k = r.u8("Executed.kind");
    if (r.ok() && k >= kCpuKinds) r.fail("Executed.kind out of range");
    s.kind = static_cast<CpuKind>(k);
    s.ns = r.u32("Executed.ns");
    out.spans.push_back(s);
  }
  if (r.ok() && r.remaining() > 0) {
    const uint8_t has = r.u8("Executed.fields");
    if (r.ok() && (has & ~(kHasWakeup | kHasPreempted))) r.fail("Executed.fields has an unknown field");
    if (r.ok() && (has & kHasWakeup)) out.wakeup_ns = r.u32("Executed.wakeup_ns");
    if (r.ok() && (has & kHasPreempted)) out.preempted_ns = r.u32("Executed.preempted_ns");
  }
  if (!r.finish("Executed")) return std::nullopt;
  return out;
}

CpuStats::CpuStats() {
  for (size_t k = 0; k < kCpuKinds; ++k) rng_[k].seed(0x5eed'c0deull + k);
}

void CpuStats::add(CpuKind k, uint32_t ns) { sample(kinds_[static_cast<size_t>(k)], rng_[static_cast<size_t>(k)], ns); }

void CpuStats::add_wakeup(uint32_t ns) { sample(wakeups_, wakeup_rng_, ns); }

void CpuStats::add_preemption(uint32_t ns) { sample(preemptions_, preemption_rng_, ns); }

void CpuStats::sample(CpuKindStats& s, std::mt19937_64& rng, uint32_t ns) {
  ++s.operations;
  s.cpu_s += ns / 1e9;
  const double us = ns / 1e3;
  if (s.sample_us.size() < kReservoir) {
    s.sample_us.push_back(us);
  } else {
    // Algorithm R: each operation so far is in the sample with equal probability.
    const uint64_t j = rng() % s.operations;
    if (j < kReservoir) s.sample_us[j] = us;
  }
}

void CpuStats::merge(CpuKindStats& into, const CpuKindStats& other) {
  const uint64_t operations = into.operations + other.operations;
  std::vector<double> sample;
  if (into.sample_us.size() + other.sample_us.size() <= kReservoir) {
    sample = into.sample_us;
    sample.insert(sample.end(), other.sample_us.begin(), other.sample_us.end());
  } else {
    // Each side's share of the pool is its share of the operations; at most
    // its sample's size (a side whose sample holds every operation has a
    // share no larger than that).
    auto take = [&](const std::vector<double>& from, size_t n) {
      n = std::min(n, from.size());
      for (size_t i = 0; i < n; ++i) sample.push_back(from[i * from.size() / n]);
    };
    const auto into_n = static_cast<size_t>(std::llround(static_cast<double>(kReservoir) *
                                                         static_cast<double>(into.operations) / static_cast<double>(operations)));
    take(into.sample_us, into_n);
    take(other.sample_us, kReservoir - std::min(into_n, into.sample_us.size()));
  }
  into.operations = operations;
  into.cpu_s += other.cpu_s;
  into.sample_us = std::move(sample);
}

void CpuStats::merge(const CpuStats& other) {
  for (size_t k = 0; k < kCpuKinds; ++k) merge(kinds_[k], other.kinds_[k]);
  merge(wakeups_, other.wakeups_);
  merge(preemptions_, other.preemptions_);
}

uint64_t CpuStats::pool_operations(Pool pool) const {
  uint64_t n = 0;
  for (size_t k = 0; k < kCpuKinds; ++k)
    if (pool_of(static_cast<CpuKind>(k)) == pool) n += kinds_[k].operations;
  return n;
}

double CpuStats::pool_cpu_s(Pool pool) const {
  double s = 0;
  for (size_t k = 0; k < kCpuKinds; ++k)
    if (pool_of(static_cast<CpuKind>(k)) == pool) s += kinds_[k].cpu_s;
  return s;
}

nlohmann::json to_json(const CpuStats& s) {
  nlohmann::json j;
  for (int pi = 0; pi < kPools; ++pi) {
    const auto p = static_cast<Pool>(pi);
    nlohmann::json pj;
    pj["operations"] = s.pool_operations(p);
    pj["cpu_s"] = s.pool_cpu_s(p);
    for (size_t k = 0; k < kCpuKinds; ++k) {
      const auto kind = static_cast<CpuKind>(k);
      if (pool_of(kind) != p) continue;
      const CpuKindStats& ks = s.of(kind);
      pj["kinds"][std::string(to_string(kind))] = {
          {"operations", ks.operations},
          {"cpu_s", ks.cpu_s},
          {"mean_us", ks.operations ? ks.cpu_s * 1e6 / static_cast<double>(ks.operations) : 0.0}};
    }
    j[std::string(to_string(p))] = pj;
  }
  const CpuKindStats& other = s.of(CpuKind::Other);
  j["other"] = {{"operations", other.operations}, {"cpu_s", other.cpu_s}};
  const CpuKindStats& w = s.wakeups();
  j["loop_wakeups"] = {{"count", w.operations},
                       {"mean_us", w.operations ? w.cpu_s * 1e6 / static_cast<double>(w.operations) : 0.0}};
  const CpuKindStats& pr = s.preemptions();
  j["loop_preemptions"] = {{"steps", pr.operations},
                           {"preempted_s", pr.cpu_s},
                           {"mean_us", pr.operations ? pr.cpu_s * 1e6 / static_cast<double>(pr.operations) : 0.0}};
  return j;
}

namespace {
// A quantile of a kind's sampled per-operation figures (nearest rank).
double sample_quantile_us(const CpuKindStats& s, double q) {
  if (s.sample_us.empty()) return 0;
  std::vector<double> v = s.sample_us;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}
}  // namespace

std::string cpu_text(const CpuStats& r1, const CpuStats& r2, double window_s) {
  std::string t = "\ncontroller CPU (thread CPU clock per step; each controller's three pools share its one event-loop thread)\n";
  for (int side = 0; side < 2; ++side) {
    const CpuStats& s = side == 0 ? r1 : r2;
    for (int pi = 0; pi < kPools; ++pi) {
      const auto p = static_cast<Pool>(pi);
      t += fmt::format("  {} {:<15} {:>8} ops  {:>8.3f} s CPU  {:>5.1f} % of a processor ", side == 0 ? "R1" : "R2",
                       to_string(p), s.pool_operations(p), s.pool_cpu_s(p),
                       window_s > 0 ? 100 * s.pool_cpu_s(p) / window_s : 0.0);
      for (size_t k = 0; k < kCpuKinds; ++k) {
        const auto kind = static_cast<CpuKind>(k);
        const CpuKindStats& ks = s.of(kind);
        if (pool_of(kind) != p || !ks.operations) continue;
        t += fmt::format("  {} {:.1f} us", to_string(kind), ks.cpu_s * 1e6 / static_cast<double>(ks.operations));
      }
      t += "\n";
    }
    const CpuKindStats& w = s.wakeups();
    if (w.operations)
      t += fmt::format("  {} event loop woken by a disk completion {} times while idle: ran {:.1f} us after it on average "
                       "(its wake-up)\n",
                       side == 0 ? "R1" : "R2", w.operations, w.cpu_s * 1e6 / static_cast<double>(w.operations));
    const CpuKindStats& pr = s.preemptions();
    if (pr.operations)
      t += fmt::format("  {} event loop off its processor in mid-step: {:.3f} s over {} steps, {:.1f} us a step on average, "
                       "p50 {:.1f} us, p99 {:.1f} us, p99.9 {:.1f} us (its preemptions)\n",
                       side == 0 ? "R1" : "R2", pr.cpu_s, pr.operations, pr.cpu_s * 1e6 / static_cast<double>(pr.operations),
                       sample_quantile_us(pr, 0.5), sample_quantile_us(pr, 0.99), sample_quantile_us(pr, 0.999));
  }
  return t;
}

}  // namespace mirrorsim::real
