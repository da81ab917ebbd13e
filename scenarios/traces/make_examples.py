#!/usr/bin/env python3
"""Writes the example traces of this folder: the same synthetic workload — a
database volume written and read in bursts for 10 s, 8 KiB requests, a hot
tenth of the volume taking most of them — in each format mirrorsim reads
(spc, msr, blkparse, fio iolog v3). Deterministic: run it again and the files
are byte-identical. Not a measured trace: a small, known one to start from."""
import random

VOLUME_BYTES = 1 << 30  # the scenario's volume: 16,384 tracks of 64 KiB
BLOCK = 8192


def requests():
    rng = random.Random(20261202)
    t = 0.0
    out = []
    while True:
        burst = 4.0 if int(t) % 5 in (2, 3) else 1.0  # 2 s of every 5 at four times the rate
        t += rng.expovariate(200.0 * burst)
        if t >= 10.0:
            return out
        hot = rng.random() < 0.8
        span = VOLUME_BYTES // 10 if hot else VOLUME_BYTES
        offset = rng.randrange(0, span // BLOCK) * BLOCK
        write = rng.random() < 0.7
        out.append((t, write, offset))


def main():
    reqs = requests()
    with open("example.spc", "w") as f:
        for t, w, off in reqs:
            f.write(f"0,{off // 512},{BLOCK},{'w' if w else 'r'},{t:.6f}\n")
    base = 128166372000000000  # Windows file time of the MSR traces' week
    with open("example.msr", "w") as f:
        for t, w, off in reqs:
            f.write(f"{base + round(t * 1e7)},db01,0,{'Write' if w else 'Read'},{off},{BLOCK},{200 + (off // BLOCK) % 300}\n")
    with open("example.blkparse", "w") as f:
        seq = 0
        for t, w, off in reqs:
            for action in ("Q", "C"):
                seq += 1
                dt = {"Q": 0, "C": 180e-6}[action]
                f.write(f"  8,16   0 {seq:8d} {t + dt:14.9f}  4242  {action}  {'WS' if w else ' R'} {off // 512} + {BLOCK // 512} [postgres]\n")
        f.write(f"CPU0 (8,16):\n Reads Queued: {sum(1 for r in reqs if not r[1])}\n Writes Queued: {sum(1 for r in reqs if r[1])}\n")
    with open("example.iolog", "w") as f:
        f.write("fio version 3 iolog\n0 /dev/sdb add\n0 /dev/sdb open\n")
        for t, w, off in reqs:
            f.write(f"{int(t * 1000)} /dev/sdb {'write' if w else 'read'} {off} {BLOCK}\n")
        f.write(f"{int(reqs[-1][0] * 1000)} /dev/sdb close\n")
    print(f"{len(reqs)} requests in each of example.spc, example.msr, example.blkparse, example.iolog")


if __name__ == "__main__":
    main()
