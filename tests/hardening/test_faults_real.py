"""The fault matrix of test_faults.py on the real adapters: PostgreSQL and S3 each behind a TCP
fault proxy (cut, stall, reset), and SQLite with encrypted files (a blob directory that is gone,
a full disk, a database locked by another connection).

Every case proves, for the operation it hits:
- the answer is clear: 503 with API.md's ``service_unavailable`` body, never a 500;
- nothing acknowledged (201, 204) is lost and nothing half-made is visible: no image without
  its blobs, no blob without its image once the sweeper ran, no quota held by a failed upload;
- once the fault clears, the same app and client succeed again, without a restart.

Stalls end within the adapters' own timeouts, set short here (psycopg connect, statement and
wait timeouts, botocore connect/read timeouts, SQLite's busy timeout); pytest-timeout is the
safety net. What each fault does to each operation:

| fault                          | upload | list, get           | delete             | analysis                 |
|--------------------------------|--------|---------------------|--------------------|--------------------------|
| database down (PostgreSQL)     | 503    | 503                 | 503, image kept    | stays pending, then done |
| database locked (SQLite)       | 503    | 200 (WAL readers)   | 503, image kept    | stays pending, then done |
| blob store down (S3, files)    | 503    | 200 (URLs signed    | 204, blobs left    | retried, then done       |
|                                |        | locally; the blob   | to the sweeper     |                          |
|                                |        | itself 503 on files)|                    |                          |
"""

from __future__ import annotations

import errno
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs
import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from imagerepo.adapters.memory import FastPasswordHasher, ManualClock
from imagerepo.domain.errors import ServiceUnavailable
from imagerepo.entrypoints.container import Container, encrypted_files, open_analyzer, sql_images
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests import images as img
from tests.faultproxy import FaultProxy, Mode
from tests.fixtures_services import S3Service, fresh_bucket
from tests.hardening.support import assert_consistent, error_code, listed_ids, signup, upload
from tests.integration.stack import fresh_database, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

MODES: list[Mode] = ["cut", "stall", "reset"]
# Short bounds: a stalled call gives up after about a second.
PG_BOUNDS = {"timeout": 2.0, "connect_timeout": 2, "query_timeout": 1.0, "reconnect_timeout": 1.0}
S3_BOUNDS = {"connect_timeout": 0.5, "read_timeout": 0.5, "max_attempts": 1}
SQLITE_BUSY_SECONDS = 0.3


class Tripwire:
    """Wraps a port. ``arm(method, action)`` makes the next call of ``method`` run ``action``
    first, so a fault starts at that very moment; the call then goes to the real adapter."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._armed: dict[str, Callable[[], None]] = {}

    def arm(self, method: str, action: Callable[[], None]) -> None:
        self._armed[method] = action

    def disarm(self) -> None:
        self._armed.clear()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.inner, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            action = self._armed.pop(name, None)
            if action is not None:
                action()
            return value(*args, **kwargs)

        return call


@attrs.define
class App:
    client: TestClient[Any]
    container: Container
    clock: ManualClock
    images: Tripwire
    blobs: Tripwire
    analyzer: Tripwire

    def sweep(self) -> Any:
        self.clock.advance(timedelta(minutes=16))  # past the stale-upload age
        return self.container.image_service().sweep()

    def analyze(self) -> bool:
        return self.container.analysis_service().run_once()

    def analysis(self, auth: dict[str, str], image_id: str) -> dict[str, Any]:
        r = self.client.get(f"/api/v1/images/{image_id}", headers=auth)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()["analysis"]
        return body


def tripwired_analyzer(settings: Settings, http_client: Any) -> Iterator[Tripwire]:
    """The container's analyzer resource, behind a tripwire."""
    with contextmanager(open_analyzer)(settings, http_client) as analyzer:
        yield Tripwire(analyzer)


def start(stack: ExitStack, settings: Settings, database: Callable[[], Iterator[Any]],
          blob_store: Callable[[Settings, Any, Any], Any]) -> App:
    """The app as production wires it (Container + create_app), with short-timeout adapters,
    a manual clock, a fast password hasher, and tripwires around the ports faults hit."""
    clock = ManualClock(datetime.now(UTC))
    c = Container()
    c.settings.override(providers.Object(settings))
    c.clock.override(providers.Object(clock))
    c.hasher.override(providers.Object(FastPasswordHasher()))
    c.database.override(providers.Resource(database))
    c.image_repository.override(providers.Singleton(
        lambda db: Tripwire(sql_images(db)), c.database))
    c.blob_store.override(providers.Singleton(
        lambda s, keys, clk: Tripwire(blob_store(s, keys, clk)), c.settings, c.keys, c.clock))
    c.analyzer.override(providers.Resource(tripwired_analyzer, c.settings, c.http_client))
    client = stack.enter_context(TestClient(create_app(c)))
    return App(client, c, clock, c.image_repository(), c.blob_store(), c.analyzer())


def unavailable(r: Any) -> None:
    """A clear refusal: 503 and API.md's error body, not a 500 with a traceback."""
    assert r.status_code == 503, r.text
    assert error_code(r) == "service_unavailable"


def recovered(client: TestClient[Any]) -> None:
    """Wait until readiness is back: the database pool reconnects on its own short schedule."""
    wait_for(lambda: client.get("/health/ready").status_code == 200, 30, "the app to be ready again")


def newcomer(app: App) -> dict[str, str]:
    """A fresh account (the PostgreSQL database is shared by the module's tests)."""
    return signup(app.client, f"user_{secrets.token_hex(4)}")


def picture(n: int) -> bytes:
    return img.jpeg((48 + n, 40), (20 * n % 256, 90, 160))


class OwnBlobs:
    """The blob store as one account sees it: only keys under its id (the bucket is shared)."""

    def __init__(self, app: App, auth: dict[str, str]) -> None:
        self.store = app.blobs
        self.prefix = app.client.get("/api/v1/me", headers=auth).json()["id"] + "/"

    def keys(self) -> list[str]:
        return [k for k in self.store.keys() if k.startswith(self.prefix)]


def consistent(app: App, auth: dict[str, str]) -> list[str]:
    """support.assert_consistent for this account: no half-images, quota matches."""
    return assert_consistent(app.client, auth, OwnBlobs(app, auth))


def quota_used(app: App, auth: dict[str, str]) -> int:
    return int(app.client.get("/api/v1/me", headers=auth).json()["quota"]["used"])


# ======================================================================== PostgreSQL + S3


@pytest.fixture(scope="module")
def database_url(postgres_dsn: str) -> Iterator[str]:
    with fresh_database(postgres_dsn) as url:
        yield url


def proxied(url: str, host: str, port: int) -> str:
    """``url`` with its host and port replaced (user and database kept)."""
    parts = urlsplit(url)
    user = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=(f"{user}@" if user else "") + f"{host}:{port}"))


@pytest.fixture(scope="module")
def pg_proxy(database_url: str) -> Iterator[FaultProxy]:
    parts = urlsplit(database_url)
    with FaultProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def s3_proxy(s3_service: S3Service) -> Iterator[FaultProxy]:
    parts = urlsplit(s3_service.endpoint)
    with FaultProxy(parts.hostname or "127.0.0.1", parts.port or 80) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def shared_stack(tmp_path_factory: pytest.TempPathFactory, database_url: str, s3_service: S3Service,
                 pg_proxy: FaultProxy, s3_proxy: FaultProxy) -> Iterator[App]:
    """One app for the module (starting one costs more than most faults)."""
    from imagerepo.adapters.postgres import PostgresDatabase
    from imagerepo.adapters.s3 import S3BlobStore, make_s3_client

    url = proxied(database_url, "127.0.0.1", pg_proxy.port)

    def database() -> Iterator[Any]:
        db = PostgresDatabase(url, min_size=1, max_size=4, **PG_BOUNDS)  # type: ignore[arg-type]
        db.open()
        try:
            yield db
        finally:
            db.close()

    with ExitStack() as stack:
        bucket = stack.enter_context(fresh_bucket(s3_service.client(), "imagerepo-faults"))
        endpoint = f"http://127.0.0.1:{s3_proxy.port}"

        def blob_store(settings: Settings, keys: Any, clock: Any) -> Any:
            client = make_s3_client(endpoint, s3_service.region, access_key=s3_service.access_key,
                                    secret_key=s3_service.secret_key, **S3_BOUNDS)  # type: ignore[arg-type]
            return S3BlobStore(client, bucket)

        settings = Settings(data_dir=tmp_path_factory.mktemp("faults"), database_url=url,
                            storage_url=f"s3://{bucket}", s3_endpoint_url=endpoint, analyzer="local",
                            local_models=False, workers=0, upload_quota=3, secret_key=secrets.token_hex(32))
        yield start(stack, settings, database, blob_store)


@pytest.fixture
def stack_app(shared_stack: App, pg_proxy: FaultProxy, s3_proxy: FaultProxy) -> Iterator[App]:
    yield shared_stack
    # Whatever the test did, the next one finds the wire whole and the analysis queue empty.
    pg_proxy.set_mode("pass")
    s3_proxy.set_mode("pass")
    for wire in (shared_stack.images, shared_stack.blobs, shared_stack.analyzer):
        wire.disarm()
    recovered(shared_stack.client)
    for _ in range(100):
        if not shared_stack.analyze():
            break


# ------------------------------------------------------------------- the database fails


@pytest.mark.parametrize("mode", MODES)
def test_database_fault_while_committing_an_upload(stack_app: App, pg_proxy: FaultProxy, mode: Mode) -> None:
    app = stack_app
    auth = newcomer(app)
    kept = upload(app.client, auth, picture(1)).json()["id"]
    app.images.arm("commit", lambda: pg_proxy.set_mode(mode))  # blobs stored, the row not yet live
    unavailable(upload(app.client, auth, picture(2)))
    pg_proxy.set_mode("pass")
    recovered(app.client)
    assert listed_ids(app.client, auth) == [kept]  # the acknowledged image, not the half-made one
    assert app.sweep().uploads_rolled_back >= 1  # the reservation the outage left behind
    assert consistent(app, auth) == [kept]
    assert upload(app.client, auth, picture(2)).status_code == 201  # no phantom duplicate


def test_commit_in_doubt_leaves_no_image_without_its_blobs(stack_app: App, pg_proxy: FaultProxy) -> None:
    """The network stalls with the COMMIT in flight: the app gives up (503) and the server still
    commits when the bytes arrive. The upload must not delete the blobs of a row that may yet
    become live."""
    app = stack_app
    auth = newcomer(app)
    app.images.arm("commit", lambda: pg_proxy.switch_on(b"COMMIT", "stall"))
    unavailable(upload(app.client, auth, picture(1)))
    pg_proxy.set_mode("pass")  # the held COMMIT reaches the server now
    recovered(app.client)
    app.sweep()
    [image_id] = consistent(app, auth)  # it landed after all, and whole
    url = app.client.get(f"/api/v1/images/{image_id}", headers=auth).json()["url"]
    assert app.blobs.get(url_key(url)) == picture(1)
    again = upload(app.client, auth, picture(1))  # the client's retry learns where it went
    assert (again.status_code, error_code(again)) == (409, "duplicate_image")
    assert again.json()["error"]["details"]["existing_id"] == image_id


@pytest.mark.parametrize("mode", MODES)
def test_database_fault_on_list_get_and_delete(stack_app: App, pg_proxy: FaultProxy, mode: Mode) -> None:
    app = stack_app
    auth = newcomer(app)
    image_id = upload(app.client, auth, picture(1)).json()["id"]
    calls: list[tuple[str, Callable[[], Any]]] = [
        ("search", lambda: app.client.get("/api/v1/images", headers=auth)),
        ("get", lambda: app.client.get(f"/api/v1/images/{image_id}", headers=auth)),
        ("begin_delete", lambda: app.client.delete(f"/api/v1/images/{image_id}", headers=auth)),
    ]
    for method, call in calls:
        app.images.arm(method, lambda: pg_proxy.set_mode(mode))  # past sign-in, at the query itself
        unavailable(call())
        pg_proxy.set_mode("pass")
        recovered(app.client)
        assert consistent(app, auth) == [image_id], method
    assert app.client.delete(f"/api/v1/images/{image_id}", headers=auth).status_code == 204
    assert consistent(app, auth) == []


@pytest.mark.parametrize("mode", MODES)
def test_database_fault_while_recording_an_analysis(stack_app: App, pg_proxy: FaultProxy, mode: Mode) -> None:
    app = stack_app
    auth = newcomer(app)
    image_id = upload(app.client, auth, picture(1)).json()["id"]
    app.analyzer.arm("analyze", lambda: pg_proxy.set_mode(mode))  # claimed; the result cannot be saved
    with pytest.raises(ServiceUnavailable):
        app.analyze()  # the worker loop logs this and carries on
    pg_proxy.set_mode("pass")
    recovered(app.client)
    assert app.analysis(auth, image_id)["status"] == "pending"
    app.clock.advance(timedelta(minutes=6))  # past the lease of the lost attempt
    assert app.analyze()
    assert app.analysis(auth, image_id)["status"] == "done"


# ------------------------------------------------------------------- the blob store fails


@pytest.mark.parametrize("mode", MODES)
def test_storage_fault_between_the_original_and_the_thumbnail(
    stack_app: App, s3_proxy: FaultProxy, mode: Mode
) -> None:
    app = stack_app
    auth = newcomer(app)
    kept = upload(app.client, auth, picture(1)).json()["id"]
    puts = 0

    def second_put_fails() -> None:
        nonlocal puts
        puts += 1
        if puts == 2:
            s3_proxy.set_mode(mode)
        else:
            app.blobs.arm("put", second_put_fails)

    app.blobs.arm("put", second_put_fails)
    unavailable(upload(app.client, auth, picture(2)))
    assert listed_ids(app.client, auth) == [kept]
    assert quota_used(app, auth) == 1  # the failed upload holds no slot
    ready = app.client.get("/health/ready")
    assert (ready.status_code, ready.json()["failing"]) == (503, ["blob_store"])
    s3_proxy.set_mode("pass")
    recovered(app.client)
    app.sweep()  # the original that landed before the fault is an orphan now
    assert consistent(app, auth) == [kept]
    assert upload(app.client, auth, picture(2)).status_code == 201


@pytest.mark.parametrize("mode", MODES)
def test_storage_fault_on_list_get_and_delete(stack_app: App, s3_proxy: FaultProxy, mode: Mode) -> None:
    app = stack_app
    auth = newcomer(app)
    image_id = upload(app.client, auth, picture(1)).json()["id"]
    other = upload(app.client, auth, picture(2)).json()["id"]
    s3_proxy.set_mode(mode)
    # URLs are signed without a call to the store: reading the library still works.
    assert sorted(listed_ids(app.client, auth)) == sorted([image_id, other])
    assert app.client.get(f"/api/v1/images/{image_id}", headers=auth).status_code == 200
    # A delete is acknowledged: the image is gone for the user, its blobs wait for the sweeper.
    assert app.client.delete(f"/api/v1/images/{other}", headers=auth).status_code == 204
    assert listed_ids(app.client, auth) == [image_id]
    assert quota_used(app, auth) == 1
    s3_proxy.set_mode("pass")
    recovered(app.client)
    assert app.container.image_service().sweep().deletions_finished >= 1
    assert consistent(app, auth) == [image_id]
    url = app.client.get(f"/api/v1/images/{image_id}", headers=auth).json()["url"]
    assert app.blobs.get(url_key(url)) == picture(1)  # the acknowledged image is intact


def url_key(url: str) -> str:
    """The object key of a path-style presigned URL (``/bucket/key``)."""
    return urlsplit(url).path.split("/", 2)[2]


@pytest.mark.parametrize("mode", MODES)
def test_storage_fault_during_analysis_is_retried(stack_app: App, s3_proxy: FaultProxy, mode: Mode) -> None:
    app = stack_app
    auth = newcomer(app)
    image_id = upload(app.client, auth, picture(1)).json()["id"]
    s3_proxy.set_mode(mode)
    assert app.analyze()  # the original cannot be read
    assert app.analysis(auth, image_id)["status"] == "pending"  # an outage is not the image's fault
    s3_proxy.set_mode("pass")
    recovered(app.client)
    app.clock.advance(timedelta(minutes=1))  # past the retry delay
    assert app.analyze()
    assert app.analysis(auth, image_id)["status"] == "done", app.analysis(auth, image_id)


# ======================================================================== SQLite + encrypted files


@pytest.fixture
def local_app(tmp_path: Path) -> Iterator[App]:
    from imagerepo.adapters.sqlite import SqliteDatabase

    def database() -> Iterator[Any]:
        db = SqliteDatabase(tmp_path / "imagerepo.sqlite3", busy_timeout=SQLITE_BUSY_SECONDS)
        db.open()
        try:
            yield db
        finally:
            db.close()

    settings = Settings(data_dir=tmp_path, analyzer="local", local_models=False, workers=0, upload_quota=3)
    with ExitStack() as stack:
        yield start(stack, settings, database, lambda s, keys, clk: encrypted_files(s, keys, clk).blobs)


@pytest.fixture
def blob_dir_gone(tmp_path: Path) -> Iterator[Callable[[bool], None]]:
    """``gone(True)`` puts a plain file where the blob directory was (every read and write
    fails, as on a lost mount); ``gone(False)`` brings the directory back."""
    blobs, away = tmp_path / "blobs", tmp_path / "blobs.away"

    def gone(on: bool) -> None:
        if on:
            blobs.rename(away)
            blobs.write_bytes(b"not a directory")
        else:
            blobs.unlink()
            away.rename(blobs)

    yield gone
    if away.exists():
        gone(False)


def tmp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def test_blob_dir_gone_on_upload(local_app: App, blob_dir_gone: Callable[[bool], None]) -> None:
    app = local_app
    auth = newcomer(app)
    kept = upload(app.client, auth, picture(1)).json()["id"]
    blob_dir_gone(True)
    unavailable(upload(app.client, auth, picture(2)))
    assert listed_ids(app.client, auth) == [kept]
    assert quota_used(app, auth) == 1
    assert app.client.get("/health/ready").json()["failing"] == ["blob_store"]
    blob_dir_gone(False)
    recovered(app.client)
    assert consistent(app, auth) == [kept]
    assert upload(app.client, auth, picture(2)).status_code == 201


def test_disk_full_while_writing_the_thumbnail(
    local_app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The original lands; the thumbnail's bytes are written and its fsync finds the disk full."""
    app = local_app
    auth = newcomer(app)
    real_fsync, calls = os.fsync, []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 3:  # original file, its directory, then the thumbnail file
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)  # the file store's own fsync calls
    unavailable(upload(app.client, auth, picture(1)))
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert tmp_files(tmp_path / "blobs") == []  # the partial file is gone
    assert consistent(app, auth) == []  # and the original with it
    assert upload(app.client, auth, picture(1)).status_code == 201


def test_blob_dir_gone_on_list_get_delete_and_analysis(
    local_app: App, blob_dir_gone: Callable[[bool], None]
) -> None:
    app = local_app
    auth = newcomer(app)
    image_id = upload(app.client, auth, picture(1)).json()["id"]
    other = upload(app.client, auth, picture(2)).json()["id"]
    blob_dir_gone(True)
    assert sorted(listed_ids(app.client, auth)) == sorted([image_id, other])
    url = app.client.get(f"/api/v1/images/{image_id}", headers=auth).json()["url"]
    unavailable(app.client.get(url))  # the blob itself cannot be served now
    assert app.client.delete(f"/api/v1/images/{other}", headers=auth).status_code == 204
    assert listed_ids(app.client, auth) == [image_id]
    assert app.analyze()
    assert app.analysis(auth, image_id)["status"] == "pending"  # retried later, not failed
    blob_dir_gone(False)
    recovered(app.client)
    assert app.client.get(url).content == picture(1)
    assert app.container.image_service().sweep().deletions_finished == 1
    assert consistent(app, auth) == [image_id]
    app.clock.advance(timedelta(minutes=1))
    assert app.analyze()
    assert app.analysis(auth, image_id)["status"] == "done"


@pytest.fixture
def lock(tmp_path: Path) -> Iterator[Callable[[bool], None]]:
    """``lock(True)``: another connection holds the SQLite write lock; ``lock(False)`` ends it."""
    other = sqlite3.connect(tmp_path / "imagerepo.sqlite3", isolation_level=None, check_same_thread=False)

    def hold(on: bool) -> None:
        other.execute("BEGIN EXCLUSIVE" if on else "ROLLBACK")

    yield hold
    if other.in_transaction:
        other.execute("ROLLBACK")
    other.close()


def test_sqlite_locked_by_another_connection(local_app: App, lock: Callable[[bool], None]) -> None:
    app = local_app
    auth = newcomer(app)
    image_id = upload(app.client, auth, picture(1)).json()["id"]
    lock(True)
    unavailable(upload(app.client, auth, picture(2)))
    unavailable(app.client.delete(f"/api/v1/images/{image_id}", headers=auth))
    assert listed_ids(app.client, auth) == [image_id]  # WAL: readers are not blocked
    assert app.client.get(f"/api/v1/images/{image_id}", headers=auth).status_code == 200
    with pytest.raises(ServiceUnavailable):
        app.analyze()  # claiming a job writes
    lock(False)
    assert consistent(app, auth) == [image_id]
    assert app.analyze()
    assert app.analysis(auth, image_id)["status"] == "done"
    assert upload(app.client, auth, picture(2)).status_code == 201


def test_sqlite_locked_while_committing_an_upload(local_app: App, lock: Callable[[bool], None]) -> None:
    app = local_app
    auth = newcomer(app)
    app.images.arm("commit", lambda: lock(True))
    unavailable(upload(app.client, auth, picture(1)))
    lock(False)
    assert listed_ids(app.client, auth) == []
    assert app.sweep().uploads_rolled_back == 1
    assert consistent(app, auth) == []
    assert upload(app.client, auth, picture(1)).status_code == 201

