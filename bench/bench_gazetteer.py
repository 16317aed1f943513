"""The offline gazetteer's cost: first-use load time, resident memory it adds, and lookup
latency after load (p50/p99 of place and zone lookups at random land-ish positions).

    python bench/bench_gazetteer.py
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import datetime

import numpy  # noqa: F401  # imported before measuring: the libraries are not the data
import scipy.spatial  # noqa: F401
import timezonefinder  # noqa: F401

from imagerepo.adapters.gazetteer import OfflineGazetteer


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        line = next(raw for raw in f if raw.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def main() -> None:
    before = rss_mb()
    g = OfflineGazetteer()
    t = time.perf_counter()
    g.load()
    load_s = time.perf_counter() - t
    print(f"load {load_s:.2f} s, resident memory +{rss_mb() - before:.0f} MB")
    rng = random.Random(14)
    points = [(rng.uniform(-56, 70), rng.uniform(-180, 180)) for _ in range(5000)]
    at = datetime(2023, 6, 14, 12, 0)
    for name, fn in (("place", lambda la, lo: g.place(la, lo)), ("zone", lambda la, lo: g.utc_offset(la, lo, at))):
        times = []
        for la, lo in points:
            t = time.perf_counter()
            fn(la, lo)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        p99 = times[int(len(times) * 0.99)]
        print(f"bench gazetteer lookup={name} p50_ms={statistics.median(times):.3f} p99_ms={p99:.3f}")


if __name__ == "__main__":
    main()
