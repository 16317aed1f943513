"""Scale-out: two `imagerepo serve --workers 0` and two `imagerepo worker` processes sharing one
PostgreSQL database and one S3 bucket, with Azure played over HTTP so every analysis is counted."""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import httpx
import psycopg
import pytest

from tests import images as img
from tests.fixtures_services import S3Service, _free_ports, fresh_bucket
from tests.integration.stack import AZURE_KEY, AzureServer, fresh_database, keys_of, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUOTA = 4
LEASE_SECONDS = 4
IMAGEREPO = str(Path(sys.executable).with_name("imagerepo"))


@attrs.define
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    def tail(self) -> str:
        return f"--- {self.name} ---\n" + self.log.read_text(errors="replace")[-2000:]


@attrs.define
class Stack:
    apps: list[Proc]
    workers: dict[str, Proc]
    azure: AzureServer
    database_url: str
    bucket: tuple[Any, str]

    def logs(self) -> str:
        return "\n".join(p.tail() for p in [*self.apps, *self.workers.values()])


def _start(name: str, args: list[str], env: dict[str, str], tmp: Path) -> Proc:
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen([IMAGEREPO, *args], env=env, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
    return Proc(name, popen, log)


def _stop(proc: Proc) -> None:
    if proc.popen.poll() is None:
        proc.popen.send_signal(signal.SIGTERM)
        try:
            proc.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait(timeout=5)


@pytest.fixture(scope="module")
def stack(postgres_dsn: str, s3_service: S3Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("multiprocess")
    s3 = s3_service.client()
    with fresh_database(postgres_dsn) as database_url, fresh_bucket(s3) as bucket, AzureServer() as azure:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGEREPO_", "AWS_", "AZURE_"))}
        env.update({
            "IMAGEREPO_DATABASE_URL": database_url,
            "IMAGEREPO_STORAGE_URL": f"s3://{bucket}",
            "IMAGEREPO_S3_ENDPOINT_URL": s3_service.endpoint,
            "AWS_ACCESS_KEY_ID": s3_service.access_key,
            "AWS_SECRET_ACCESS_KEY": s3_service.secret_key,
            "AWS_DEFAULT_REGION": s3_service.region,
            "IMAGEREPO_SECRET_KEY": "one-secret-for-every-process",
            "IMAGEREPO_ANALYZER": "azure",
            "AZURE_CV_KEY": AZURE_KEY,
            "AZURE_CV_ENDPOINT": azure.endpoint("app"),  # apps never analyze; workers get their own
            "IMAGEREPO_ANALYSIS_LEASE_SECONDS": str(LEASE_SECONDS),
            "IMAGEREPO_UPLOAD_QUOTA": str(QUOTA),
            "IMAGEREPO_LOCAL_MODELS": "false",
            "IMAGEREPO_LOG_LEVEL": "WARNING",
        })
        procs: list[Proc] = []
        try:
            # Migrations run once here; the processes then start on an up-to-date schema, though
            # each would migrate under the advisory lock by itself too.
            subprocess.run([IMAGEREPO, "migrate"], env={**env, "IMAGEREPO_DATA_DIR": str(tmp / "migrate")},
                           check=True, capture_output=True, timeout=60)
            apps = []
            for i, port in enumerate(_free_ports(2)):
                app_env = {**env, "IMAGEREPO_DATA_DIR": str(tmp / f"app{i}"), "IMAGEREPO_PORT": str(port)}
                app = _start(f"app{i}", ["serve", "--workers", "0"], app_env, tmp)
                app.url = f"http://127.0.0.1:{port}"
                apps.append(app)
            workers = {}
            for name in ("w1", "w2"):
                worker_env = {**env, "IMAGEREPO_DATA_DIR": str(tmp / name), "AZURE_CV_ENDPOINT": azure.endpoint(name)}
                workers[name] = _start(name, ["worker", "--concurrency", "1"], worker_env, tmp)
            procs = [*apps, *workers.values()]
            result = Stack(apps, workers, azure, database_url, (s3, bucket))
            for app in apps:
                def ready(app: Proc = app) -> bool:
                    if app.popen.poll() is not None:
                        raise AssertionError(f"{app.name} exited\n{result.logs()}")
                    try:
                        return httpx.get(app.url + "/health/ready", timeout=2).status_code == 200
                    except httpx.TransportError:
                        return False

                wait_for(ready, 60, f"{app.name} to be ready", interval=0.3)
            yield result
        finally:
            for proc in procs:
                _stop(proc)


def signup(app: Proc, prefix: str = "user") -> tuple[str, dict[str, str]]:
    username, password = f"{prefix}_{secrets.token_hex(4)}", "correct horse battery"
    r = httpx.post(app.url + "/api/v1/accounts", json={"username": username, "password": password})
    assert r.status_code == 201, r.text
    r = httpx.post(app.url + "/api/v1/sessions", json={"username": username, "password": password})
    assert r.status_code == 201, r.text
    return username, {"Authorization": f"Bearer {r.json()['token']}"}


def unique_jpeg() -> bytes:
    return img.jpeg((120, 90), (secrets.randbelow(256), secrets.randbelow(256), secrets.randbelow(256)))


def upload(app: Proc, auth: dict[str, str], data: bytes) -> httpx.Response:
    return httpx.post(app.url + "/api/v1/images", files={"file": ("p.jpg", data, "image/jpeg")}, headers=auth,
                      timeout=30)


def listed(app: Proc, auth: dict[str, str]) -> list[dict[str, Any]]:
    r = httpx.get(app.url + "/api/v1/images", params={"limit": 100}, headers=auth)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def queue_rows(stack: Stack, ids: list[str]) -> dict[str, dict[str, Any]]:
    with psycopg.connect(stack.database_url, row_factory=psycopg.rows.dict_row) as conn:
        rows = conn.execute("SELECT id, attempts, analysis_status FROM images WHERE id = ANY(%s)", (ids,))
        return {str(r["id"]): r for r in rows}


def all_done(stack: Stack, app: Proc, auth: dict[str, str], count: int, timeout: float = 30) -> list[dict[str, Any]]:
    def done() -> list[dict[str, Any]] | None:
        items = listed(app, auth)
        return items if len(items) == count and all(i["analysis"]["status"] != "pending" for i in items) else None

    try:
        result: list[dict[str, Any]] = wait_for(done, timeout, "every analysis to finish", interval=0.5)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{stack.logs()}") from None
    return result


def test_uploads_through_either_app_are_seen_by_the_other_and_analyzed_once(stack: Stack) -> None:
    a, b = stack.apps
    _, auth = signup(a, "alice")  # the session made by one app works on the other
    sent = {}
    for app in (a, b, a, b):
        data = unique_jpeg()
        r = upload(app, auth, data)
        assert r.status_code == 201, r.text + stack.logs()
        sent[r.json()["id"]] = data
    assert {i["id"] for i in listed(a, auth)} == set(sent)
    assert [i["id"] for i in listed(a, auth)] == [i["id"] for i in listed(b, auth)]

    # An image uploaded through one app, fetched through the other's redirect, straight from S3.
    first = next(iter(sent))
    r = httpx.get(f"{b.url}/api/v1/images/{first}/content", headers=auth)
    assert r.status_code == 307
    assert httpx.get(r.headers["location"]).content == sent[first]

    items = all_done(stack, b, auth, len(sent))
    assert {i["analysis"]["status"] for i in items} == {"done"}
    assert {i["analysis"]["analyzer"] for i in items} == {"azure"}
    for image_id, data in sent.items():
        callers = stack.azure.calls_for(hashlib.sha256(data).hexdigest())
        assert len(callers) == 1, f"{image_id} was sent to Azure by {callers}"
        assert callers[0] in stack.workers
    rows = queue_rows(stack, list(sent))
    assert {r["attempts"] for r in rows.values()} == {1}  # claimed once each, by one worker


def test_quota_holds_across_processes_under_concurrent_uploads(stack: Stack) -> None:
    a, b = stack.apps
    _, auth = signup(a, "racer")
    owner = httpx.get(a.url + "/api/v1/me", headers=auth).json()["id"]
    attempts = 10
    with ThreadPoolExecutor(attempts) as pool:
        results = list(pool.map(lambda i: upload((a, b)[i % 2], auth, unique_jpeg()), range(attempts)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] * QUOTA + [409] * (attempts - QUOTA), [r.text for r in results]
    assert {r.json()["error"]["code"] for r in results if r.status_code == 409} == {"quota_exceeded"}
    for app in (a, b):
        assert httpx.get(app.url + "/api/v1/me", headers=auth).json()["quota"] == {"used": QUOTA, "limit": QUOTA}
        assert len(listed(app, auth)) == QUOTA
    # Refused uploads left nothing behind: two objects (original, thumbnail) per stored image.
    assert len([k for k in keys_of(*stack.bucket) if owner in k]) == 2 * QUOTA
    all_done(stack, a, auth, QUOTA)


def test_a_worker_killed_mid_job_loses_no_analysis(stack: Stack) -> None:
    a, b = stack.apps
    _, auth = signup(b, "crash")
    data = unique_jpeg()
    digest = hashlib.sha256(data).hexdigest()
    stack.azure.hold.add(digest)  # the first worker to send it hangs inside Azure
    image = upload(b, auth, data).json()
    assert stack.azure.holding.wait(20), "no worker picked the job up\n" + stack.logs()
    victim = stack.azure.calls_for(digest)[0]
    stack.workers[victim].popen.send_signal(signal.SIGKILL)
    stack.workers[victim].popen.wait(timeout=10)

    [item] = all_done(stack, a, auth, 1, timeout=LEASE_SECONDS + 25)
    assert item["id"] == image["id"]
    assert item["analysis"]["status"] == "done"
    assert "man pointing at a screen" in item["analysis"]["description"].lower()
    survivor = next(name for name in stack.workers if name != victim)
    assert stack.azure.calls_for(digest) == [victim, survivor]
    assert queue_rows(stack, [image["id"]])[image["id"]]["attempts"] == 2
