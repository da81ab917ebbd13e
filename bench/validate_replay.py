#!/usr/bin/python3
"""Replays saved `mirrorsim validate --out` reports in this build's simulator.

Each report keeps, per rate, the calibrated scenario it simulated
(`scenario_toml`) and the two real runs' quantiles. This script runs that
scenario again in the simulator of this build (optionally with --set
overrides: a model variant) and prints, per rate and operation, the
sim-vs-real demerit over the real-vs-real one and the p50 against the real
runs' mean — the figures `validate` prints as "closes" — so that a change
to the model can be judged on many real measurements at once, without
running the real pair again.

    python3 bench/validate_replay.py v25.json v26.json ... [--mirrorsim build/cli/mirrorsim]
        [--variant NAME KEY=VALUE,KEY=VALUE ...] [--first-probe]

--first-probe adds a column for the scenario as the CPU probe before the
real runs alone calibrated it (`real_scenario_toml`, in reports of
validate with two CPU probes), beside the pooled probes' calibration.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

PERCENTILES = [10, 25, 50, 75, 90, 99]  # the demerit's, as validate's (p99.9 apart)
RATIO_MAX, P50_MAX_PERCENT = 1.5, 10.0


def rms(xs):
    return math.sqrt(sum(x * x for x in xs) / len(xs))


def simulate(mirrorsim, scenario_toml, sets, workdir):
    scenario = os.path.join(workdir, "scenario.toml")
    out = os.path.join(workdir, "result.json")
    with open(scenario, "w") as f:
        f.write(scenario_toml)
    args = [mirrorsim, "run", scenario, "-q", "--out", out, "--set",
            "measurement.percentiles=[10,25,50,75,90,99,99.9]"]
    for s in sets:
        args += ["--set", s]
    subprocess.run(args, stdout=subprocess.DEVNULL, check=True)
    with open(out) as f:
        return json.load(f)["metrics"]["volumes"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="+", help="JSON files written by mirrorsim validate --out")
    ap.add_argument("--mirrorsim", default=os.path.join(os.path.dirname(__file__), "..", "build", "cli", "mirrorsim"))
    ap.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "SETS"), default=[],
                    help="a model variant: comma-separated KEY=VALUE overrides (repeatable)")
    ap.add_argument("--first-probe", action="store_true",
                    help="also simulate the scenario as the first CPU probe alone calibrated it")
    a = ap.parse_args()
    variants = [("as calibrated", [])] + [(n, [s for s in sets.split(",") if s]) for n, sets in a.variant]
    if a.first_probe:
        variants.append(("first probe", []))
    closes = {n: 0 for n, _ in variants}
    compared = 0
    with tempfile.TemporaryDirectory() as work:
        for path in a.reports:
            with open(path) as f:
                report = json.load(f)
            for rate in report["rates"]:
                def scenario_of(n):
                    if n != "first probe":
                        return rate["scenario_toml"]
                    if "real_scenario_toml" not in rate:
                        sys.exit(f"{path}: --first-probe: the report has no real_scenario_toml (one CPU probe)")
                    return rate["real_scenario_toml"]
                sims = {n: simulate(a.mirrorsim, scenario_of(n), sets, work) for n, sets in variants}
                for c in rate["comparisons"]:
                    q = {x["percentile"]: x for x in c["quantiles"]}
                    real_a = [q[p]["real_a_us"] for p in PERCENTILES]
                    real_b = [q[p]["real_b_us"] for p in PERCENTILES]
                    noise = rms([b - x for x, b in zip(real_a, real_b)])
                    p50_real = (q[50]["real_a_us"] + q[50]["real_b_us"]) / 2
                    line = f"{os.path.basename(path):>10} {rate['rate_iops']:>6g} IOPS {c['op']:<6} noise {noise:8.1f} us"
                    if c["op"] == "writes":
                        compared += 1
                    for n, _ in variants:
                        vol = [v for v in sims[n] if v["name"] == c["volume"]][0]
                        rt = vol[c["op"]]["response_ms"]
                        sim = [rt[f"p{p:g}"] * 1e3 for p in PERCENTILES]
                        demerit = (rms([s - x for s, x in zip(sim, real_a)]) + rms([s - x for s, x in zip(sim, real_b)])) / 2
                        ratio = demerit / noise if noise > 0 else math.inf
                        p50 = 100 * (rt["p50"] * 1e3 - p50_real) / p50_real
                        ok = ratio <= RATIO_MAX and abs(p50) <= P50_MAX_PERCENT
                        if ok and c["op"] == "writes":
                            closes[n] += 1
                        line += f" | {n}: ratio {ratio:6.2f} p50 {p50:+7.1f} %{' closes' if ok else '       '}"
                    print(line, flush=True)
    print("writes that close: " + ", ".join(f"{n} {k} of {compared}" for n, k in closes.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
