#!/usr/bin/python3
"""How many first writes a second this machine's disk device serves to 1, 4
and 16 writers at once: each writer a thread with a sparse file of its own
in the directory given (default /tmp), writing 64 KiB at random
track-aligned offsets into holes, each followed by fdatasync, back to back
for 2 s after a 0.5 s start — the I/O a real pair's disk workers do for a
track's first destage. Where 16 writers get little more than one, the
device (and the filesystem's journal) is one server for all of them,
whatever the number of disk files: what `validate` then reports as a
disk-bound real pair (bench/README.md, issue 13)."""

import os
import random
import sys
import threading
import time

TRACK = 65536


def writer(path: str, counts: list, i: int, stop: list) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    buf = os.urandom(TRACK)
    n = 0
    while not stop[0]:
        os.pwrite(fd, buf, random.randrange(0, 100000) * TRACK)
        os.fdatasync(fd)
        n += 1
    counts[i] = n
    os.close(fd)
    os.unlink(path)


def main() -> None:
    where = sys.argv[1] if len(sys.argv) > 1 else "/tmp"
    random.seed(1)
    for writers in (1, 4, 16):
        counts, stop = [0] * writers, [False]
        threads = [threading.Thread(target=writer, args=(os.path.join(where, f"device-probe-{os.getpid()}-{i}"),
                                                         counts, i, stop)) for i in range(writers)]
        for t in threads:
            t.start()
        time.sleep(2.5)
        stop[0] = True
        for t in threads:
            t.join()
        print(f"{writers:2d} writers: {sum(counts) / 2.5:6.0f} first writes of {TRACK} B + fdatasync a second "
              f"(2.5 s, the start included)")


if __name__ == "__main__":
    main()
