"""Upload latency and throughput of 12 MP camera JPEGs against a server this script starts on loopback.

Run with `make bench-upload`. For each stack (the embedded default always; PostgreSQL + S3 when
IMAGEREPO_TEST_DATABASE_URL is set, as in bench/load.py) and with analysis off
(IMAGEREPO_WORKERS=0) and on (the default workers and local analyzer), it uploads distinct
~2 MB 12 MP JPEGs one at a time, then from 8 clients at once. Each phase uploads as a fresh
account, so the same generated files serve every phase without tripping the duplicate check.
BENCH_SCALE=tiny uploads a few images only, to check that the bench works. BENCH_UPLOAD_WORKERS and
BENCH_UPLOAD_PROCESSES set IMAGEREPO_WORKERS and IMAGEREPO_ANALYSIS_PROCESSES for the analysis-on runs.

The machine may be shared: the load average is printed beside the figures; compare ratios
measured in one run (off against on, before against after on the same machine state).
Ends with lines
  bench upload stack=<embedded|postgres-s3> analysis=<off|on> clients=<1|8> p50_ms=... p99_ms=... uploads_per_s=...
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from load import PASSWORD, Server, each_stack, pct
from PIL import Image
from skimage import data as skdata

TINY = os.environ.get("BENCH_SCALE", "").lower() == "tiny"
SEQUENTIAL = 4 if TINY else 30
CONCURRENT = 16 if TINY else 80
CLIENTS = 8
PROCESSES = os.environ.get("BENCH_UPLOAD_PROCESSES", "")  # analysis processes when on; default: the server's
PHOTOS = ("coffee", "chelsea", "astronaut", "rocket", "immunohistochemistry", "cat")
CACHE = Path(tempfile.gettempdir()) / "imagerepo-bench-upload-v2"


def camera_jpeg(seed: int) -> bytes:
    """A skimage photo upscaled to 4000×3000 with sensor-like noise, distinct per seed (~2 MB)."""
    rng = np.random.default_rng(seed)
    photo = Image.fromarray(getattr(skdata, PHOTOS[seed % len(PHOTOS)])()).convert("RGB")
    x, y = rng.integers(0, 20, 2)  # a slightly different crop, so the pictures differ too
    photo = photo.crop((int(x), int(y), photo.width - 20 + int(x), photo.height - 20 + int(y)))
    big = np.asarray(photo.resize((4000, 3000), Image.Resampling.BICUBIC), dtype=np.int16)
    noisy = np.clip(big + rng.integers(-7, 8, big.shape, dtype=np.int16), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(noisy).save(out, "JPEG", quality=90)
    return out.getvalue()


def pictures(count: int) -> list[Path]:
    """``count`` distinct files, made once and kept in the temp directory between runs."""
    CACHE.mkdir(exist_ok=True)
    paths = [CACHE / f"{n:04d}.jpg" for n in range(count)]
    missing = [n for n, p in enumerate(paths) if not p.exists()]
    if missing:
        print(f"generating {len(missing)} 12 MP JPEGs in {CACHE} ...", flush=True)
        with ProcessPoolExecutor(max_workers=2) as pool:
            for n, data in zip(missing, pool.map(camera_jpeg, missing), strict=True):
                tmp = paths[n].with_suffix(".tmp")
                tmp.write_bytes(data)
                tmp.replace(paths[n])
    return paths


def signed_in(base: str, username: str) -> httpx.Client:
    http = httpx.Client(base_url=base, timeout=120)
    r = http.post("/api/v1/accounts", json={"username": username, "password": PASSWORD})
    assert r.status_code == 201, r.text
    r = http.post("/api/v1/sessions", json={"username": username, "password": PASSWORD})
    assert r.status_code == 201, r.text
    http.cookies.clear()
    http.headers["Authorization"] = f"Bearer {r.json()['token']}"
    return http


def phase(base: str, name: str, files: list[Path], clients: int) -> tuple[list[float], float]:
    """Upload every file once, from ``clients`` threads; (latencies in seconds, elapsed seconds)."""
    https = [signed_in(base, f"{name}_{n}") for n in range(clients)]
    latencies: list[float] = []
    lock = threading.Lock()
    queue = list(enumerate(files))
    failures: list[str] = []

    def work(http: httpx.Client) -> None:
        while True:
            with lock:
                if not queue:
                    return
                n, path = queue.pop(0)
            data = path.read_bytes()
            started = time.perf_counter()
            r = http.post("/api/v1/images", files={"file": (f"IMG_{n:04d}.jpg", data, "image/jpeg")})
            took = time.perf_counter() - started
            with lock:
                if r.status_code == 201:
                    latencies.append(took)
                else:
                    failures.append(f"{r.status_code} {r.text[:200]}")

    threads = [threading.Thread(target=work, args=(h,)) for h in https]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    for h in https:
        h.close()
    if failures:
        raise RuntimeError(f"{len(failures)} uploads failed, first: {failures[0]}")
    return latencies, elapsed


def run_stack(stack: str, env: dict[str, str], files: list[Path]) -> list[str]:
    lines = []
    for analysis in ("off", "on"):
        workers = {"IMAGEREPO_WORKERS": "0"} if analysis == "off" else {
            "IMAGEREPO_WORKERS": os.environ.get("BENCH_UPLOAD_WORKERS", "2"), "IMAGEREPO_LOCAL_MODELS": "1",
            **({"IMAGEREPO_ANALYSIS_PROCESSES": PROCESSES} if PROCESSES else {})}
        with tempfile.TemporaryDirectory(prefix="imagerepo-bench-upload-") as tmp:
            server = Server({**env, **workers, "IMAGEREPO_UPLOAD_QUOTA": "100000"}, Path(tmp) / "data")
            try:
                phase(server.base, f"warm{analysis}{os.getpid()}", files[:2], 1)  # imports, first connections
                for clients, batch in ((1, files[:SEQUENTIAL]), (CLIENTS, files[:CONCURRENT])):
                    load = os.getloadavg()[0]
                    lat, elapsed = phase(server.base, f"c{clients}{analysis}_{os.getpid()}", batch, clients)
                    lines.append(
                        f"bench upload stack={stack} analysis={analysis} clients={clients} "
                        f"p50_ms={pct(lat, 0.5):.1f} p99_ms={pct(lat, 0.99):.1f} "
                        f"uploads_per_s={len(lat) / elapsed:.1f}"
                    )
                    print(f"{lines[-1]}  (load average before {load:.2f}, after {os.getloadavg()[0]:.2f})", flush=True)
            finally:
                server.stop()
    return lines


def main() -> None:
    files = pictures(max(SEQUENTIAL, CONCURRENT))
    sizes = [p.stat().st_size for p in files]
    print(f"{len(files)} files, {min(sizes) / 1e6:.2f}–{max(sizes) / 1e6:.2f} MB, 4000×3000; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    each_stack(lambda stack, env: run_stack(stack, env, files))


if __name__ == "__main__":
    main()
