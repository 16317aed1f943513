"""Upload latency and throughput of 12 MP camera JPEGs against a server this script starts on loopback.

Run with `make bench-upload`. For each stack (the embedded default always; PostgreSQL + S3 when
IMAGEREPO_TEST_DATABASE_URL is set, as in bench/load.py) and with analysis off
(IMAGEREPO_WORKERS=0) and on (the default workers and local analyzer), it uploads distinct
~2 MB 12 MP JPEGs one at a time, then from 8 clients at once. Each phase uploads as a fresh
account, so the same generated files serve every phase without tripping the duplicate check.
BENCH_SCALE=tiny uploads a few images only, to check that the bench works. BENCH_UPLOAD_WORKERS and
BENCH_UPLOAD_PROCESSES set IMAGEREPO_WORKERS and IMAGEREPO_ANALYSIS_PROCESSES for the analysis-on runs.

The machine may be shared: the load average is printed beside the figures, and so is the server
process's own CPU time per upload (user + system, analysis processes not included), which other
jobs on the machine inflate far less than they inflate latency. Compare ratios measured in one run.

BENCH_UPLOAD_BASELINE=<git ref> (e.g. HEAD~3) A/B-tests this checkout against that commit in one
run: the ref's src/ is extracted to a temporary directory and served beside this one, and the
phases alternate between the two (AB, BA, AB: each phase is split into rounds) so a change of load
on a shared machine falls on both alike. Before each round the analysis left over from the
previous one is waited for, so neither side runs against the other's backlog.
Ends with lines
  bench upload stack=<embedded|postgres-s3> analysis=<off|on> clients=<1|8> p50_ms=... p99_ms=...
    uploads_per_s=... server_cpu_ms=... client_cpu_ms=...            (one line each)
and, with a baseline, the same lines for it starting `bench upload-baseline ref=<ref>`.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
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
BASELINE = os.environ.get("BENCH_UPLOAD_BASELINE", "")
ROUNDS = 3 if BASELINE else 1
ROOT = Path(__file__).resolve().parent.parent


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
    try:
        return _upload_all(https, files)
    finally:
        for h in https:
            h.close()


def analysis_settled(base: str, name: str, clients: int, timeout: float = 300.0) -> None:
    """Wait until no image of the phase ``name`` still waits for its analysis."""
    https = [signed_in_again(base, f"{name}_{n}") for n in range(clients)]
    deadline = time.monotonic() + timeout
    try:
        for http in https:
            while time.monotonic() < deadline:
                items = http.get("/api/v1/images", params={"limit": "100"}).json()["items"]
                if not any(i["analysis"]["status"] == "pending" for i in items):
                    break
                time.sleep(0.5)
    finally:
        for h in https:
            h.close()


def signed_in_again(base: str, username: str) -> httpx.Client:
    http = httpx.Client(base_url=base, timeout=120)
    r = http.post("/api/v1/sessions", json={"username": username, "password": PASSWORD})
    assert r.status_code == 201, r.text
    http.cookies.clear()
    http.headers["Authorization"] = f"Bearer {r.json()['token']}"
    return http


def _upload_all(https: list[httpx.Client], files: list[Path]) -> tuple[list[float], float]:
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
    if failures:
        raise RuntimeError(f"{len(failures)} uploads failed, first: {failures[0]}")
    return latencies, elapsed


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (its analysis children not included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def baseline_source(ref: str, into: Path) -> Path:
    """The src/ directory of ``ref``, extracted from git into ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


class Tally:
    """Latencies, elapsed time and server CPU of one (code, clients) cell, summed over rounds."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.elapsed = 0.0
        self.cpu = 0.0
        self.client_cpu = 0.0  # this script's own (the clients'), which shares the machine
    def line(self, prefix: str, stack: str, analysis: str, clients: int) -> str:
        n = len(self.latencies)
        return (f"{prefix} stack={stack} analysis={analysis} clients={clients} "
                f"p50_ms={pct(self.latencies, 0.5):.1f} p99_ms={pct(self.latencies, 0.99):.1f} "
                f"uploads_per_s={n / self.elapsed:.1f} server_cpu_ms={1000 * self.cpu / n:.1f} "
                f"client_cpu_ms={1000 * self.client_cpu / n:.1f}")


def run_stack(stack: str, env: dict[str, str], files: list[Path]) -> list[str]:
    lines = []
    for analysis in ("off", "on"):
        workers = {"IMAGEREPO_WORKERS": "0"} if analysis == "off" else {
            "IMAGEREPO_WORKERS": os.environ.get("BENCH_UPLOAD_WORKERS", "2"), "IMAGEREPO_LOCAL_MODELS": "1",
            **({"IMAGEREPO_ANALYSIS_PROCESSES": PROCESSES} if PROCESSES else {})}
        with tempfile.TemporaryDirectory(prefix="imagerepo-bench-upload-") as tmp:
            codes: dict[str, dict[str, str]] = {"bench upload": {}}  # the prefix of its lines -> extra env
            if BASELINE:
                src = baseline_source(BASELINE, Path(tmp))
                codes[f"bench upload-baseline ref={BASELINE}"] = {"PYTHONPATH": f"{src}{os.pathsep}{ROOT}"}
            servers: dict[str, Server] = {}
            try:
                for code, code_env in codes.items():
                    server = Server({**env, **workers, **code_env, "IMAGEREPO_UPLOAD_QUOTA": "100000"},
                                    Path(tmp) / f"data-{len(servers)}")
                    servers[code] = server
                    phase(server.base, f"warm{analysis}{os.getpid()}", files[:2], 1)  # imports, first connections
                tallies = {(code, c): Tally() for code in codes for c in (1, CLIENTS)}
                order = list(codes)
                for r in range(ROUNDS):
                    for code in order if r % 2 == 0 else order[::-1]:
                        server = servers[code]
                        for clients, batch in ((1, files[:SEQUENTIAL]), (CLIENTS, files[:CONCURRENT])):
                            part = batch[r * len(batch) // ROUNDS:(r + 1) * len(batch) // ROUNDS]
                            name = f"c{clients}{analysis}r{r}_{os.getpid()}"
                            https = [signed_in(server.base, f"{name}_{n}") for n in range(clients)]
                            before = cpu_seconds(server.proc.pid)  # after signing in: argon2 is not the upload's
                            client_before = time.process_time()
                            try:
                                lat, elapsed = _upload_all(https, part)
                            finally:
                                for h in https:
                                    h.close()
                            tally = tallies[(code, clients)]
                            tally.cpu += cpu_seconds(server.proc.pid) - before
                            tally.client_cpu += time.process_time() - client_before
                            tally.latencies += lat
                            tally.elapsed += elapsed
                            if analysis == "on":
                                analysis_settled(server.base, name, clients)
                for code in codes:
                    for clients in (1, CLIENTS):
                        load = os.getloadavg()[0]
                        lines.append(tallies[(code, clients)].line(code, stack, analysis, clients))
                        print(f"{lines[-1]}  (load average {load:.2f})", flush=True)
            finally:
                for server in servers.values():
                    server.stop()
    return lines


def floor(files: list[Path]) -> str:
    """The upload's unavoidable work on one core, each part timed alone in this process (CPU
    time, so other jobs on the machine barely change it): what a 12 MP upload cannot go below."""
    import statistics

    from imagerepo.adapters.pillow_inspector import PillowImageInspector

    inspector = PillowImageInspector()
    parts: dict[str, list[float]] = {"sha256": [], "decode_quarter": [], "decode_eighth": [], "inspect": []}
    for path in files[:12]:
        data = path.read_bytes()
        for name, run in (
            ("sha256", lambda d=data: hashlib.sha256(d).digest()),
            ("decode_quarter", lambda d=data: _scaled_decode(d, 4)),
            ("decode_eighth", lambda d=data: _scaled_decode(d, 8)),
            ("inspect", lambda p=path: (inspector.inspect(p), inspector.thumbnail(p))),
        ):
            started = time.thread_time()
            run()
            parts[name].append((time.thread_time() - started) * 1000)
    line = "bench upload-floor " + " ".join(f"{k}_cpu_ms={statistics.median(v):.1f}" for k, v in parts.items())
    print(f"{line}  (inspect = the upload's scaled decode, 1/8 for 12 MP, the thumbnail and the hash)", flush=True)
    return line


def _scaled_decode(data: bytes, scale: int) -> None:
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (im.width // scale, im.height // scale))
        im.load()


def main() -> None:
    files = pictures(max(SEQUENTIAL, CONCURRENT))
    sizes = [p.stat().st_size for p in files]
    print(f"{len(files)} files, {min(sizes) / 1e6:.2f}–{max(sizes) / 1e6:.2f} MB, 4000×3000; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    lines = each_stack(lambda stack, env: run_stack(stack, env, files))
    if lines:
        print(floor(files))


if __name__ == "__main__":
    main()
