#!/usr/bin/python3
"""How the write responses of one validation are correlated in time.

Runs `mirrorsim.validate` on the quickstart at one host rate and prints,
for real run 1, real run 2 and the simulation, the autocorrelation of the
write response times in the order each run completed them (clipped at the
run's p99, so that a few stalls do not decide it) at lags of 1, 2, 5, 20
and 100 writes.

    /usr/bin/python3 bench/response_autocorrelation.py [--rate-iops 1000] [--duration-s 6]
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "build", "bindings", "python"))
import mirrorsim  # noqa: E402

LAGS = [1, 2, 5, 20, 100]


def acf(x, lags):
    x = np.asarray(x, dtype=float) - np.mean(x)
    return [float(np.dot(x[:-k], x[k:]) / np.dot(x, x)) for k in lags]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate-iops", type=float, default=1000)
    ap.add_argument("--duration-s", type=float, default=6)
    a = ap.parse_args()
    sc = mirrorsim.Scenario.load(os.path.join(HERE, "..", "scenarios", "quickstart.toml"))
    v = mirrorsim.validate(sc.with_values({"workload.0.rate_iops": a.rate_iops}), duration_s=a.duration_s, probe_s=1.5)
    print(f"writes at {a.rate_iops:g} IOPS, {a.duration_s:g} s; autocorrelation at lags {LAGS} (writes apart)")
    for name, r in (("real 1", v.real), ("real 2", v.real_b), ("sim", v.sim)):
        us = np.asarray(r.latencies("db", "write")) * 1e3
        p10, p50, p99 = np.percentile(us, [10, 50, 99])
        print(f"  {name:<7} {len(us):>6} writes  p10 {p10:7.0f} us  p50 {p50:7.0f} us  p99 {p99:7.0f} us  acf "
              + " ".join(f"{x:+.3f}" for x in acf(np.minimum(us, p99), LAGS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
