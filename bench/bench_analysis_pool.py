"""Analysis throughput through the real pipeline: the SQLite job queue, the encrypted file store and
the ProcessImageAnalyzer children, as `imagerepo serve` runs them (local models on).

Run with `python bench/bench_analysis_pool.py`. Uploads the 12 MP camera-like JPEGs of
bench_upload.py through the image service (analysis off), then lets the analysis worker threads
drain the queue and times it. BENCH_POOL_THREADS (default "2 3") lists the worker thread counts to
compare, with BENCH_POOL_PROCESSES (2) children; the counts alternate over three rounds (AB, BA, AB)
so load on a shared machine falls on both. BENCH_POOL_PREVIEW (default "1") lists whether the
worker passes the stored thumbnail to the analyzer as its preview ("0 1" compares both, alternating
the same way). BENCH_SCALE=tiny analyzes a few images only.

Besides images/s it prints the CPU time per image of the children (the stages) and of this process
(claims, blob reads, results: what the server pays), and how long a child waited between two
images (the queue's round trip). Ends with one line per thread count and preview setting:
  bench analysis-pool threads=... processes=... preview=... images_per_s=... child_cpu_ms=...
    parent_cpu_ms=... child_idle_ms=...
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_upload import pictures
from dependency_injector import providers

from imagerepo.adapters import process_analyzer
from imagerepo.domain.analysis_service import AnalysisService
from imagerepo.entrypoints.container import Container
from imagerepo.entrypoints.settings import Settings

TINY = os.environ.get("BENCH_SCALE", "").lower() == "tiny"
IMAGES = 4 if TINY else 24
THREADS = [int(t) for t in os.environ.get("BENCH_POOL_THREADS", "2 3").split()]
PROCESSES = int(os.environ.get("BENCH_POOL_PROCESSES", "2"))
PREVIEWS = [p != "0" for p in os.environ.get("BENCH_POOL_PREVIEW", "1").split()]


def cpu_seconds(pid: int | str) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Gaps:
    """How long each child sat idle between the end of one image and the start of the next."""

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self.last: dict[int, float] = {}
        self.lock = threading.Lock()
        self.measuring = False
        real = process_analyzer._Child.call
        gaps = self

        def call(child: Any, data: bytes, content_type: str, timeout: float, preview: bytes | None = None) -> Any:
            with gaps.lock:
                if gaps.measuring and child.pid in gaps.last:
                    gaps.gaps.append(time.perf_counter() - gaps.last[child.pid])
            try:
                return real(child, data, content_type, timeout, preview)
            finally:
                with gaps.lock:
                    gaps.last[child.pid] = time.perf_counter()

        process_analyzer._Child.call = call  # type: ignore[method-assign]


def one_round(
    threads: int, files: list[Path], gaps: Gaps, preview: bool = True
) -> tuple[float, float, float, list[float]]:
    """(elapsed s, children CPU s, this process's CPU s, child idle gaps) for ``files``; ``preview``
    False: the worker passes no thumbnail (as before the analyzer port took one)."""
    real = AnalysisService._thumbnail
    if not preview:
        AnalysisService._thumbnail = lambda self, image: None  # type: ignore[method-assign]
    try:
        return _round(threads, files, gaps)
    finally:
        AnalysisService._thumbnail = real  # type: ignore[method-assign]


def _round(threads: int, files: list[Path], gaps: Gaps) -> tuple[float, float, float, list[float]]:
    with tempfile.TemporaryDirectory(prefix="imagerepo-bench-pool-") as tmp:
        c = Container()
        c.settings.override(providers.Object(Settings(
            data_dir=Path(tmp), workers=threads, analysis_processes=PROCESSES, upload_quota=100_000, local_models=True,
        )))
        c.init_resources()
        try:
            account = c.account_service().sign_up("bench", "bench password 1")
            for n, path in enumerate(files):
                copy = Path(tmp) / f"{n}.jpg"
                copy.write_bytes(path.read_bytes())
                c.image_service().upload(account, copy.name, copy)
            analyzer: Any = c.analyzer()
            warm = [threading.Thread(target=analyzer.analyze, args=(p.read_bytes(), "image/jpeg"))
                    for p in files[:PROCESSES]]  # start the children and load their models first
            for t in warm:
                t.start()
            for t in warm:
                t.join()
            service, worker = c.analysis_service(), c.worker()
            children = analyzer.pids()
            child_before = sum(cpu_seconds(p) for p in children)
            self_before = cpu_seconds("self")
            with gaps.lock:
                gaps.gaps, gaps.measuring = [], True
            started = time.perf_counter()
            worker.start()
            deadline = started + 900
            while service.pending() > 0:
                if time.perf_counter() > deadline:
                    raise RuntimeError("the analyses did not finish in 15 minutes")
                time.sleep(0.02)
            worker.stop()
            elapsed = time.perf_counter() - started
            with gaps.lock:
                gaps.measuring = False
            child_cpu = sum(cpu_seconds(p) for p in children) - child_before
            return elapsed, child_cpu, cpu_seconds("self") - self_before, list(gaps.gaps)
        finally:
            c.shutdown_resources()


def main() -> None:
    files = pictures(IMAGES)
    gaps = Gaps()
    settings = [(t, p) for t in THREADS for p in PREVIEWS]
    totals = {s: [0.0, 0.0, 0.0, []] for s in settings}  # elapsed, child cpu, parent cpu, gaps
    load = os.getloadavg()[0]
    print(f"{len(files)} 12 MP JPEGs, {PROCESSES} analysis processes; load average {load:.2f}", flush=True)
    for r in range(3):
        for threads, preview in settings if r % 2 == 0 else settings[::-1]:
            elapsed, child, parent, idle = one_round(threads, files, gaps, preview)
            total: Any = totals[threads, preview]
            total[0] += elapsed
            total[1] += child
            total[2] += parent
            total[3] += idle
            print(f"  round {r + 1}, {threads} threads, preview={int(preview)}: {len(files) / elapsed:.2f} images/s"
                  f" (load average {os.getloadavg()[0]:.2f})", flush=True)
    print()
    for (threads, preview), (elapsed, child, parent, idle) in totals.items():
        n = 3 * len(files)
        print(f"bench analysis-pool threads={threads} processes={PROCESSES} preview={int(preview)}"
              f" images_per_s={n / elapsed:.2f}"
              f" child_cpu_ms={1000 * child / n:.0f} parent_cpu_ms={1000 * parent / n:.1f}"
              f" child_idle_ms={1000 * statistics.median(idle) if idle else 0:.1f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
