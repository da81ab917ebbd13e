// Analytic reference: closed forms and numerical solutions the simulator
// must agree with where their assumptions hold. Pure math (Eigen).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace mirrorsim::analytic {

// One host write with nothing queued anywhere, in seconds: the primary's
// cache store, then per round trip a message each way (latency + the
// secondary's cache store on the response) and the transmission of every
// message (64-byte headers, the data once). Sync mode waits for all of it;
// the other modes acknowledge at the cache store.
struct UnloadedWrite {
  double primary_cache_store_s = 0;
  double secondary_cache_store_s = 0;
  double one_way_latency_s = 0;  // 5 us/km x distance + overhead
  double bandwidth_bytes_per_s = 0;
  int round_trips = 1;
  double block_bytes = 0;
  double header_bytes = 64;
};
double unloaded_sync_write_s(const UnloadedWrite& w);
double unloaded_async_write_s(const UnloadedWrite& w);  // acknowledged at the cache store

// Single-server queues: mean time in system (waiting + service), seconds.
// Infinite when rho ≥ 1.
double mm1_sojourn_s(double arrival_per_s, double service_s);
double md1_sojourn_s(double arrival_per_s, double service_s);
// M/M/c (Erlang C): the probability that an arrival waits, and the mean
// wait before service, seconds (infinite when λ·S ≥ c).
double erlang_c_probability(double arrival_per_s, double service_s, int servers);
double mmc_wait_s(double arrival_per_s, double service_s, int servers);
// M/M/1/K: probability that an arrival finds the system full.
double mm1k_blocking(double rho, int capacity);

// The write-pending limit as a queue: Poisson host writes (each needing a
// slot of its own) held until their destage completes on one FIFO disk with
// fixed service time; at most `slots_max` slots may hold write-pending data,
// further writes wait (delayed fast write). Solved as a CTMC (M/E_k/1, the
// fixed service as k exponential phases) with Eigen. Waiting times exceed
// M/D/1's by a factor of about (1 + 1/k): 400 phases keep that under 0.3 %.
struct WritePendingQueue {
  double delay_probability = 0;  // a host write finds every slot taken
  double mean_delay_s = 0;       // its wait for a slot, over all writes
  double wp_slots_mean = 0;
  double utilisation = 0;        // of the disk
  size_t states = 0;             // of the CTMC solved
};
WritePendingQueue write_pending_queue(double writes_per_s, double destage_service_s, int slots_max, int phases = 400);

// Adaptive copy: the fraction of time the secondary lacks nothing (no
// remote-WP track), copies in flight forming an M/G/infinity system.
double in_sync_fraction(double writes_per_s, double copy_residence_s);

// Async: the steady-state cycle time of one consistency group. Host writes
// arrive at `writes_per_s`, each to one of `tracks` tracks chosen uniformly,
// so a cycle of T seconds holds D(T) = tracks (1 − e^(−λT/tracks)) distinct
// tracks (write folding). A switch waits for the minimum cycle time and for
// R2 to apply the previous set, whose transmission takes
// X(T) = D(T) · track_message_bytes / bandwidth + fixed_s (the set's last
// track in flight, its end and R2's answer: about one round trip). Cycles
// therefore settle where T = max(cycle_time_min, X(T)): the minimum while
// the folded writes fit the link, else the fixed point of X, which exists
// because folding bounds D by the tracks (without folding — many tracks —
// the cycle grows without bound as soon as λ × message > bandwidth).
struct AsyncCycle {
  double writes_per_s = 0;
  double tracks = 0;
  double track_message_bytes = 0;  // on the wire per transmitted track, header included
  double bandwidth_bytes_per_s = 0;
  double cycle_time_min_s = 15;
  double fixed_s = 0;
};
struct AsyncCycleReference {
  double cycle_time_s = 0;
  double tracks_per_cycle = 0;  // D(T)
  bool link_bound = false;      // the transmission, not the minimum, sets the cycle time
};
AsyncCycleReference async_cycle(const AsyncCycle& a);
// Expected distinct tracks among `writes` uniform writes over `tracks` tracks.
double distinct_tracks(double writes, double tracks);

struct LinearFit {
  double intercept = 0;
  double slope = 0;
  double r2 = 0;
  size_t points = 0;
};
// Ordinary least squares y = intercept + slope x (Eigen); needs two distinct x.
LinearFit fit_linear(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace mirrorsim::analytic
