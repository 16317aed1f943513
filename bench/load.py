"""Mixed load against a server this script starts on loopback: 16 clients, bounded in time.

BENCH_LOAD_SECONDS (default 30), BENCH_LOAD_CLIENTS (16). The embedded default always runs;
PostgreSQL + S3 runs when IMAGEREPO_TEST_DATABASE_URL is set (S3 from IMAGEREPO_TEST_S3_ENDPOINT,
or a SeaweedFS server started here), otherwise it is reported as skipped.
Ends with: bench load stack=... requests=... rps=... p99_ms=... errors_5xx=... lost=... rss_growth_mb=...
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "30"))
CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "16"))
MAX_REQUESTS = int(os.environ.get("BENCH_LOAD_MAX_REQUESTS", "2000000"))
PASSWORD = "bench password 1"
MIX = {"sign_in": 4, "upload": 20, "list": 25, "search": 15, "fetch": 21, "delete": 15}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def picture(seed: int) -> bytes:
    rng = random.Random(seed)
    im = Image.new("RGB", (96, 64), tuple(rng.randrange(256) for _ in range(3)))
    im.paste(tuple(rng.randrange(256) for _ in range(3)), (0, 0, rng.randrange(8, 96), rng.randrange(8, 64)))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85)
    return out.getvalue()


class Server:
    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        full = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEREPO_")}
        full.update(IMAGEREPO_HOST="127.0.0.1", IMAGEREPO_PORT=str(self.port), IMAGEREPO_DATA_DIR=str(workdir),
                    IMAGEREPO_UPLOAD_QUOTA="1000000", IMAGEREPO_LOCAL_MODELS="0", IMAGEREPO_WORKERS="1",
                    IMAGEREPO_LOG_LEVEL="WARNING")
        full.update(env)
        self.log = (workdir.parent / f"server-{self.port}.log").open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "imagerepo.entrypoints.cli", "serve"], env=full,
                                     stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: see {self.log.name}")
            try:
                if httpx.get(self.base + "/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not become ready in 60 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Client(threading.Thread):
    def __init__(self, n: int, base: str, stop: threading.Event, stats: Stats) -> None:
        super().__init__(name=f"client-{n}", daemon=True)
        self.n, self.stop, self.stats = n, stop, stats
        self.http = httpx.Client(base_url=base, timeout=60)
        self.username = f"bench{n}_{os.getpid()}"
        self.rng = random.Random(n)
        self.acked: dict[str, str] = {}  # id -> sha256 of the bytes uploaded
        self.deleted: set[str] = set()
        self.uploads = 0
        r = self.http.post("/api/v1/accounts", json={"username": self.username, "password": PASSWORD})
        assert r.status_code == 201, r.text
        self.sign_in()

    def call(self, op: str, method: str, url: str, **kw: Any) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            r = self.http.request(method, url, **kw)
        except httpx.HTTPError as e:
            self.stats.record(op, time.perf_counter() - started, 599, str(e))
            return None
        sample = r.text[:200] if r.status_code >= 500 else ""
        self.stats.record(op, time.perf_counter() - started, r.status_code, sample)
        return r

    def sign_in(self) -> None:
        r = self.call("sign_in", "POST", "/api/v1/sessions", json={"username": self.username, "password": PASSWORD})
        if r is not None and r.status_code == 201:
            self.http.cookies.clear()
            self.http.headers["Authorization"] = f"Bearer {r.json()['token']}"

    def run(self) -> None:
        ops, weights = list(MIX), list(MIX.values())
        while not self.stop.is_set() and self.stats.total < MAX_REQUESTS:
            op = self.rng.choices(ops, weights)[0]
            live = [i for i in self.acked if i not in self.deleted]
            if op == "sign_in":
                self.sign_in()
            elif op == "upload" or (op in ("fetch", "delete") and not live):
                self.uploads += 1
                data = picture(self.n * 1_000_000 + self.uploads)
                files = {"file": (f"{self.uploads}.jpg", data, "image/jpeg")}
                r = self.call("upload", "POST", "/api/v1/images", files=files)
                if r is not None and r.status_code == 201:
                    self.acked[r.json()["id"]] = hashlib.sha256(data).hexdigest()
            elif op == "list":
                self.call("list", "GET", "/api/v1/images", params={"limit": 20})
            elif op == "search":
                words = self.rng.choice(["jpg", "image", "7"])
                self.call("search", "GET", "/api/v1/images", params={"q": words, "limit": 20})
            elif op == "fetch":
                image_id = self.rng.choice(live)
                r = self.call("fetch", "GET", f"/api/v1/images/{image_id}/content", follow_redirects=True)
            else:
                image_id = self.rng.choice(live)
                r = self.call("delete", "DELETE", f"/api/v1/images/{image_id}")
                if r is not None and r.status_code == 204:
                    self.deleted.add(image_id)

    def audit(self) -> int:
        """Acknowledged uploads present with their bytes; deleted ones gone. Returns how many are lost."""
        listed: set[str] = set()
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = self.http.get("/api/v1/images", params=params).json()
            listed |= {i["id"] for i in page["items"]}
            cursor = page["next_cursor"]
            if not cursor:
                break
        lost = 0
        for image_id, digest in self.acked.items():
            if image_id in self.deleted:
                if image_id in listed or self.http.get(f"/api/v1/images/{image_id}").status_code != 404:
                    lost += 1  # a deleted image came back
                continue
            r = self.http.get(f"/api/v1/images/{image_id}/content", follow_redirects=True)
            if image_id not in listed or r.status_code != 200 or hashlib.sha256(r.content).hexdigest() != digest:
                lost += 1
        return lost


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.total = 0
        self.errors_5xx = 0
        self.samples: list[str] = []

    def record(self, op: str, seconds: float, status: int, text: str) -> None:
        with self.lock:
            self.latency[op].append(seconds)
            self.status[op][status] += 1
            self.total += 1
            if status >= 500:
                self.errors_5xx += 1
                if len(self.samples) < 5:
                    self.samples.append(f"{op} {status} {text}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def run_stack(stack: str, env: dict[str, str]) -> str:
    with tempfile.TemporaryDirectory(prefix="imagerepo-bench-") as tmp:
        server = Server(env, Path(tmp) / "data")
        try:
            stats = Stats()
            stop = threading.Event()
            clients = [Client(n, server.base, stop, stats) for n in range(CLIENTS)]
            rss: list[tuple[float, float]] = []
            started = time.monotonic()
            for c in clients:
                c.start()
            while time.monotonic() - started < SECONDS and stats.total < MAX_REQUESTS:
                rss.append((time.monotonic() - started, rss_mb(server.proc.pid)))
                time.sleep(1.0)
            stop.set()
            for c in clients:
                c.join(timeout=120)
            elapsed = time.monotonic() - started
            rss.append((elapsed, rss_mb(server.proc.pid)))
            lost = sum(c.audit() for c in clients)
        finally:
            server.stop()
    print(f"\n== stack {stack}: {CLIENTS} clients, {elapsed:.1f} s")
    print(f"{'operation':<10}{'count':>8}{'rps':>8}{'p50 ms':>9}{'p99 ms':>9}  statuses")
    every: list[float] = []
    for op in MIX:
        lat = stats.latency.get(op, [])
        every += lat
        codes = " ".join(f"{k}:{v}" for k, v in sorted(stats.status[op].items()))
        print(f"{op:<10}{len(lat):>8}{len(lat) / elapsed:>8.1f}{pct(lat, 0.5):>9.1f}{pct(lat, 0.99):>9.1f}  {codes}")
    step = max(1, len(rss) // 10)
    print("server RSS MB over time: " + ", ".join(f"{t:.0f}s={m:.0f}" for t, m in rss[::step]))
    warm = next((m for t, m in rss if t >= elapsed * 0.2), rss[0][1])
    growth = rss[-1][1] - warm
    for s in stats.samples:
        print("5xx sample:", s)
    return (f"bench load stack={stack} requests={stats.total} rps={stats.total / elapsed:.1f} "
            f"p99_ms={pct(every, 0.99):.1f} errors_5xx={stats.errors_5xx} lost={lost} rss_growth_mb={growth:.1f}")


def postgres_s3_env(workdir: Path) -> tuple[dict[str, str], Any] | str:
    dsn = os.environ.get("IMAGEREPO_TEST_DATABASE_URL", "")
    if not dsn:
        return "IMAGEREPO_TEST_DATABASE_URL is not set"
    sys.path.insert(0, str(ROOT))
    from tests.fixtures_services import S3Service, _start_seaweedfs, _stop

    proc = None
    if os.environ.get("IMAGEREPO_TEST_S3_ENDPOINT"):
        s3 = S3Service(os.environ["IMAGEREPO_TEST_S3_ENDPOINT"], os.environ.get("IMAGEREPO_TEST_S3_ACCESS_KEY", ""),
                       os.environ.get("IMAGEREPO_TEST_S3_SECRET_KEY", ""))
    else:
        started = _start_seaweedfs(workdir)
        if isinstance(started, str):
            return started
        proc, s3 = started
    bucket = f"bench-{os.getpid()}"
    s3.client().create_bucket(Bucket=bucket)
    database_url, drop_database = throwaway_database(dsn)
    env = {"IMAGEREPO_DATABASE_URL": database_url, "IMAGEREPO_STORAGE_URL": f"s3://{bucket}",
           "IMAGEREPO_S3_ENDPOINT_URL": s3.endpoint, "AWS_ACCESS_KEY_ID": s3.access_key,
           "AWS_SECRET_ACCESS_KEY": s3.secret_key, "AWS_DEFAULT_REGION": s3.region}

    def stop() -> None:
        if proc:
            _stop(proc)
        drop_database()

    return env, stop


def throwaway_database(server_url: str) -> tuple[str, Any]:
    """A fresh database on the server named by ``server_url``, and how to drop it afterwards."""
    from urllib.parse import quote

    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    name = f"imagerepo_load_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(server_url)
    auth = quote(str(params.get("user", "postgres")))
    if params.get("password"):
        auth += ":" + quote(str(params["password"]))
    url = f"postgresql://{auth}@{params.get('host', '127.0.0.1')}:{params.get('port', 5432)}/{name}"

    def drop() -> None:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


def each_stack(run: Callable[[str, dict[str, str]], list[str]]) -> list[str]:
    """``run(stack, env)`` on the embedded default, then on PostgreSQL + S3 when available;
    the ``bench`` lines of both, printed at the end."""
    lines = run("embedded", {})
    with tempfile.TemporaryDirectory(prefix="imagerepo-bench-s3-") as tmp:
        got = postgres_s3_env(Path(tmp))
        if isinstance(got, str):
            print(f"\n== stack postgres-s3: skipped ({got})")
        else:
            env, stop = got
            try:
                lines += run("postgres-s3", env)
            finally:
                stop()
    print()
    for line in lines:
        print(line)
    return lines


def main() -> None:
    each_stack(lambda stack, env: [run_stack(stack, env)])


if __name__ == "__main__":
    main()
