"""Faults: storage and database failures mid-request, analyzer failures, and a crash between
storing the blob and committing the row. Each ends with a clear answer and a consistent store."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from imagerepo.adapters.memory import (
    FakeImageAnalyzer,
    InMemoryBlobStore,
    InMemoryImageRepository,
    ManualClock,
)
from imagerepo.adapters.worker import TimeoutImageAnalyzer
from imagerepo.domain.errors import AnalysisFailed, ServiceUnavailable
from imagerepo.domain.images import AnalysisResult
from imagerepo.entrypoints.container import Container
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests import images as img
from tests.hardening.support import assert_consistent, error_code, listed_ids, signup, upload
from tests.wiring import memory_container


class FaultyBlobStore:
    """Fault injection around the in-memory store: run ``before_put`` hooks, fail the n-th put."""

    def __init__(self, inner: InMemoryBlobStore) -> None:
        self.inner = inner
        self.puts = 0
        self.fail_put_number: int | None = None
        self.before_put: Callable[[], None] | None = None

    def put(self, key: str, data: BinaryIO, content_type: str) -> None:
        self.puts += 1
        if self.before_put is not None:
            self.before_put()
        if self.puts == self.fail_put_number:
            raise ServiceUnavailable("blob store unavailable")
        self.inner.put(key, data, content_type)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def store() -> InMemoryBlobStore:
    return InMemoryBlobStore()


@pytest.fixture
def faulty(store: InMemoryBlobStore) -> FaultyBlobStore:
    return FaultyBlobStore(store)


@pytest.fixture
def env(tmp_path: Path, clock: ManualClock, faulty: FaultyBlobStore) -> Iterator[tuple[TestClient[Any], Container]]:
    settings = Settings(data_dir=tmp_path, workers=0, upload_quota=3)
    container = memory_container(settings, clock=clock, blob_store=faulty)
    with TestClient(create_app(container)) as client:
        yield client, container


def test_put_of_the_thumbnail_fails_after_the_original_landed(
    env: tuple[TestClient[Any], Container], faulty: FaultyBlobStore, store: InMemoryBlobStore
) -> None:
    client, _ = env
    auth = signup(client, "alice")
    faulty.fail_put_number = 2  # the original is stored, the thumbnail is not
    r = upload(client, auth, img.jpeg())
    assert r.status_code == 503
    assert error_code(r) == "service_unavailable"
    assert assert_consistent(client, auth, store) == []  # the stored original was rolled back
    faulty.fail_put_number = None
    assert upload(client, auth, img.jpeg()).status_code == 201  # same bytes: no phantom duplicate


def test_delete_while_the_store_refuses_deletes_then_a_sweep(
    env: tuple[TestClient[Any], Container], store: InMemoryBlobStore, clock: ManualClock
) -> None:
    client, container = env
    auth = signup(client, "alice")
    image_id = upload(client, auth, img.jpeg()).json()["id"]
    store.fail_deletes = True
    assert client.delete(f"/api/v1/images/{image_id}", headers=auth).status_code == 204
    # Gone for the user at once, slot freed, though its blobs are still in the store.
    assert client.get(f"/api/v1/images/{image_id}", headers=auth).status_code == 404
    assert listed_ids(client, auth) == []
    assert client.get("/api/v1/me", headers=auth).json()["quota"]["used"] == 0
    assert len(list(store.keys())) == 2
    report = container.image_service().sweep()  # still failing: nothing lost, nothing claimed
    assert report.deletions_finished == 0
    store.fail_deletes = False
    report = container.image_service().sweep()
    assert report.deletions_finished == 1
    assert assert_consistent(client, auth, store) == []


def test_blob_store_that_times_out_gives_503_and_stores_nothing(tmp_path: Path) -> None:
    """A real S3 client against a server that accepts connections and never answers."""
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config

    from imagerepo.adapters.s3 import S3BlobStore

    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def swallow() -> None:
        hole.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(hole.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=swallow, daemon=True)
    t.start()
    try:
        s3 = boto3.session.Session().client(
            "s3", endpoint_url=f"http://127.0.0.1:{hole.getsockname()[1]}", region_name="us-east-1",
            aws_access_key_id="k", aws_secret_access_key="s",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, connect_timeout=0.5,
                          read_timeout=0.5, retries={"max_attempts": 1, "mode": "standard"}),
        )
        blobs = S3BlobStore(s3, "bucket")
        container = memory_container(Settings(data_dir=tmp_path, workers=0), blob_store=blobs)
        with TestClient(create_app(container)) as client:
            auth = signup(client, "alice")
            r = upload(client, auth, img.png())
            # The server listens and never answers: the 503 can only come from the client's own
            # timeout (a missing timeout would hang here until pytest-timeout fails the test).
            assert r.status_code == 503, r.text
            assert error_code(r) == "service_unavailable"
            assert client.get("/api/v1/me", headers=auth).json()["quota"]["used"] == 0
            assert listed_ids(client, auth) == []
            ready = client.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["failing"] == ["blob_store"]
    finally:
        stop.set()
        t.join()
        hole.close()
        for conn in accepted:
            conn.close()


def test_database_drops_between_blob_put_and_commit(
    env: tuple[TestClient[Any], Container], faulty: FaultyBlobStore, store: InMemoryBlobStore, clock: ManualClock
) -> None:
    client, container = env
    auth = signup(client, "alice")
    repo: InMemoryImageRepository = container.image_repository()

    def drop_database() -> None:
        if faulty.puts == 2:
            repo.available = False

    faulty.before_put = drop_database
    r = upload(client, auth, img.jpeg())
    assert r.status_code == 503
    assert error_code(r) == "service_unavailable"
    assert client.get("/health/ready").json()["failing"] == ["database"]
    faulty.before_put = None
    repo.available = True
    assert client.get("/health/ready").status_code == 200
    assert listed_ids(client, auth) == []  # never visible without its blob
    clock.advance(timedelta(minutes=16))  # the half-made reservation is now stale
    report = container.image_service().sweep()
    assert report.uploads_rolled_back + report.orphan_blobs_removed >= 1
    assert assert_consistent(client, auth, store) == []


def test_database_down_on_delete_changes_nothing(
    env: tuple[TestClient[Any], Container], store: InMemoryBlobStore
) -> None:
    client, container = env
    auth = signup(client, "alice")
    image_id = upload(client, auth, img.jpeg()).json()["id"]
    container.image_repository().available = False
    r = client.delete(f"/api/v1/images/{image_id}", headers=auth)
    assert r.status_code == 503
    container.image_repository().available = True
    assert assert_consistent(client, auth, store) == [image_id]


@pytest.mark.parametrize("dependency", ["database", "blob_store"])
def test_ready_names_the_failing_dependency_and_recovers(
    env: tuple[TestClient[Any], Container], store: InMemoryBlobStore, dependency: str
) -> None:
    client, container = env
    target = container.image_repository() if dependency == "database" else store
    target.available = False
    r = client.get("/health/ready")
    assert r.status_code == 503
    assert r.json()["failing"] == [dependency]
    assert client.get("/health/live").status_code == 200
    target.available = True
    assert client.get("/health/ready").json() == {"status": "ok"}


# ------------------------------------------------------------------------------------ analysis


def analysis_of(client: TestClient[Any], auth: dict[str, str], image_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/api/v1/images/{image_id}", headers=auth).json()["analysis"]
    return body


def test_analyzer_that_raises_fails_the_analysis_with_the_reason(env: tuple[TestClient[Any], Container]) -> None:
    client, container = env
    analyzer: FakeImageAnalyzer = container.analyzer()
    analyzer.fail_with = RuntimeError("model file is corrupt")
    auth = signup(client, "alice")
    image_id = upload(client, auth, img.jpeg()).json()["id"]
    assert container.analysis_service().run_once()
    a = analysis_of(client, auth, image_id)
    assert a["status"] == "failed"
    assert "model file is corrupt" in a["error"]
    analyzer.fail_with = None  # a re-run after the fix succeeds
    assert client.post(f"/api/v1/images/{image_id}/analysis", headers=auth).status_code == 202
    assert container.analysis_service().run_once()
    assert analysis_of(client, auth, image_id)["status"] == "done"


class HangingAnalyzer:
    """Hangs until the test lets it go."""

    name = "hanging"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.returned = threading.Event()

    def analyze(self, data: bytes, content_type: str, preview: bytes | None = None) -> AnalysisResult:
        self.release.wait(60)
        self.returned.set()
        return AnalysisResult(analyzer=self.name, description="late")


def test_analyzer_that_hangs_is_cut_off_by_the_timeout(tmp_path: Path, clock: ManualClock) -> None:
    hanging = HangingAnalyzer()
    analyzer = TimeoutImageAnalyzer(hanging, timeout_seconds=0.3)
    container = memory_container(Settings(data_dir=tmp_path, workers=0), clock=clock, analyzer=analyzer)
    try:
        with TestClient(create_app(container)) as client:
            auth = signup(client, "alice")
            image_id = upload(client, auth, img.jpeg()).json()["id"]
            assert container.analysis_service().run_once()
            assert not hanging.returned.is_set()  # the job ended while the analyzer still hung
            a = analysis_of(client, auth, image_id)
            assert a["status"] == "failed"
            assert "timed out" in a["error"]
    finally:
        hanging.release.set()


def test_analyzer_rate_limited_forever_backs_off_then_gives_up(
    env: tuple[TestClient[Any], Container], clock: ManualClock
) -> None:
    client, container = env
    analyzer: FakeImageAnalyzer = container.analyzer()
    analyzer.fail_with = AnalysisFailed("429: rate limit, retry after 30 seconds", retryable=True, retry_after=30)
    auth = signup(client, "alice")
    image_id = upload(client, auth, img.jpeg()).json()["id"]
    service = container.analysis_service()
    runs = 0
    for _ in range(50):
        if service.run_once():
            runs += 1
            assert not service.run_once()  # not due again before Retry-After
        if analysis_of(client, auth, image_id)["status"] != "pending":
            break
        clock.advance(timedelta(seconds=30))
        clock.advance(timedelta(seconds=2 ** runs * 5))
    a = analysis_of(client, auth, image_id)
    assert a["status"] == "failed"
    assert "gave up after 5 attempts" in a["error"]
    assert runs == analyzer.calls == 5
    assert client.get("/api/v1/me", headers=auth).json()["quota"]["used"] == 1  # the image itself is fine


# ------------------------------------------------------------------- a crash mid-upload (SIGKILL)

CRASHER = r"""
import sys, time
from pathlib import Path
from imagerepo.entrypoints.container import Container

container = Container()
container.init_resources()
account = container.account_service().sign_up("victim", "correct horse")
images = container.image_service()
mode, path = sys.argv[1], Path(sys.argv[2])
if mode == "before-commit":
    repo = container.image_repository()
    def hang(image_id):
        print("BLOBS-STORED", image_id, flush=True)
        time.sleep(600)
    repo.commit = hang
    images.upload(account, "x.png", path)
else:
    image = images.upload(account, "x.png", path)
    job = container.analysis_service().claim()
    print("CLAIMED", job.image.id, flush=True)
    time.sleep(600)
"""


def crash(mode: str, tmp_path: Path, env: dict[str, str]) -> str:
    """Run CRASHER until it reports its point, SIGKILL it there; returns the image id it printed."""
    picture = tmp_path / "in.png"
    picture.write_bytes(img.png((80, 60)))
    proc = subprocess.Popen([sys.executable, "-c", CRASHER, mode, str(picture)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.split()[:1] in (["BLOBS-STORED"], ["CLAIMED"]), (line, proc.stderr.read() if proc.stderr else "")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    if proc.stdout:
        proc.stdout.close()
    if proc.stderr:
        proc.stderr.close()
    return line.split()[1]


def restarted(data_dir: Path, later: timedelta) -> Container:
    settings = Settings(data_dir=data_dir, workers=0, local_models=False)
    container = Container()
    container.settings.override(providers.Object(settings))
    container.clock.override(providers.Object(ManualClock(datetime.now(UTC) + later)))
    container.analyzer.override(providers.Object(FakeImageAnalyzer()))
    return container


@pytest.fixture
def crash_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGEREPO_", "AWS_", "AZURE_"))}
    env.update(IMAGEREPO_DATA_DIR=str(tmp_path / "data"), IMAGEREPO_WORKERS="0", IMAGEREPO_LOCAL_MODELS="0")
    return env


@pytest.mark.slow
def test_killed_between_blob_and_commit_then_swept(tmp_path: Path, crash_env: dict[str, str]) -> None:
    image_id = crash("before-commit", tmp_path, crash_env)
    container = restarted(tmp_path / "data", later=timedelta(minutes=20))
    with TestClient(create_app(container)) as client:
        blobs = container.blob_store()
        owners = {k.split("/")[1] for k in blobs.keys()}
        assert owners == {image_id}  # the crash left its blobs
        auth = signup_existing(client, "victim")
        assert listed_ids(client, auth) == []  # but no image is visible without a commit
        assert client.get(f"/api/v1/images/{image_id}", headers=auth).status_code == 404
        report = container.image_service().sweep()
        assert report.uploads_rolled_back == 1
        assert assert_consistent(client, auth, blobs) == []
        assert client.get("/api/v1/me", headers=auth).json()["quota"]["used"] == 0


@pytest.mark.slow
def test_killed_mid_analysis_then_the_analysis_resumes_after_restart(
    tmp_path: Path, crash_env: dict[str, str]
) -> None:
    image_id = crash("mid-analysis", tmp_path, crash_env)
    container = restarted(tmp_path / "data", later=timedelta(minutes=6))  # past the 5-minute lease
    with TestClient(create_app(container)) as client:
        auth = signup_existing(client, "victim")
        assert listed_ids(client, auth) == [image_id]
        assert analysis_of(client, auth, image_id)["status"] == "pending"
        assert container.analysis_service().run_once()
        assert analysis_of(client, auth, image_id)["status"] == "done"
        assert assert_consistent(client, auth, container.blob_store()) == [image_id]
        r = client.get(f"/api/v1/images/{image_id}", headers=auth).json()
        assert client.get(r["url"]).content == img.png((80, 60))


def signup_existing(client: TestClient[Any], username: str) -> dict[str, str]:
    r = client.post("/api/v1/sessions", json={"username": username, "password": "correct horse"})
    assert r.status_code == 201, r.text
    client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}
