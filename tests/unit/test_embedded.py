"""The embedded default end to end: SQLite + encrypted files + Pillow + argon2 + local analyzer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from imagerepo.adapters.memory import ManualClock
from imagerepo.entrypoints.container import Container
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests import images as img


def make_client(data_dir: Path, clock: ManualClock | None = None) -> TestClient[Any]:
    container = Container()
    container.settings.override(providers.Object(Settings(data_dir=data_dir, workers=0, local_models=False)))
    if clock is not None:
        container.clock.override(providers.Object(clock))
    return TestClient(create_app(container))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient[Any]]:
    with make_client(tmp_path) as c:
        yield c


def sign_in(c: TestClient[Any], create: bool = True) -> dict[str, str]:
    creds = {"username": "alice", "password": "correct horse"}
    if create:
        assert c.post("/api/v1/accounts", json=creds).status_code == 201
    r = c.post("/api/v1/sessions", json=creds)
    assert r.status_code == 201
    c.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_journey_survives_a_restart_and_keeps_no_plaintext(tmp_path: Path) -> None:
    marker = img.encode("PNG", (97, 61), (12, 200, 90))
    with make_client(tmp_path) as c:
        auth = sign_in(c)
        r = c.post("/api/v1/images", files={"file": ("green.png", marker, "image/png")}, headers=auth)
        assert r.status_code == 201
        image_id = r.json()["id"]
        c.app.state.container.worker().drain()
        analysis = c.get(f"/api/v1/images/{image_id}", headers=auth).json()["analysis"]
        assert analysis["status"] == "done"
        assert analysis["analyzer"] == "local"
        assert "green" in {col["name"] for col in analysis["colors"]}
    # Restart on the same data dir: the account, the token's session and the image are all there.
    with make_client(tmp_path) as c:
        auth = sign_in(c, create=False)
        items = c.get("/api/v1/images", headers=auth).json()["items"]
        assert [i["id"] for i in items] == [image_id]
        original = c.get(items[0]["url"])
        assert original.status_code == 200
        assert original.content == marker
        thumb = c.get(items[0]["thumbnail_url"])
        assert thumb.status_code == 200
        assert thumb.headers["content-type"] == "image/jpeg"
    # No file in the data dir holds the image's bytes or a recognisable part of them.
    needle = marker[-64:]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert needle not in path.read_bytes(), path
            assert b"IHDR" not in path.read_bytes() or path.suffix.startswith(".sqlite"), path


def test_urls_expire_and_die_on_delete(tmp_path: Path) -> None:
    clock = ManualClock()
    with make_client(tmp_path, clock) as c:
        auth = sign_in(c)
        image = c.post("/api/v1/images", files={"file": ("a.jpg", img.jpeg(), "image/jpeg")}, headers=auth).json()
        assert c.get(image["url"]).status_code == 200
        # Altered to reach the thumbnail with the original's signature: refused.
        assert c.get(image["url"].replace("/original?", "/thumbnail?")).status_code == 404
        second = c.get(f"/api/v1/images/{image['id']}", headers=auth).json()
        c.delete(f"/api/v1/images/{image['id']}", headers=auth)
        assert c.get(second["url"]).status_code == 404
        other = c.post("/api/v1/images", files={"file": ("b.png", img.png(), "image/png")}, headers=auth).json()
        clock.advance(timedelta(minutes=31))
        assert c.get(other["url"]).status_code == 404


def test_quota_holds_on_sqlite_under_concurrent_uploads(client: TestClient[Any]) -> None:
    import threading

    auth = sign_in(client)
    codes: list[int] = []

    def go(i: int) -> None:
        r = client.post("/api/v1/images", files={"file": (f"{i}.png", img.png(color=(i, 9, 9)), "image/png")},
                        headers=auth)
        codes.append(r.status_code)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes.count(201) == 5
    assert client.get("/api/v1/me", headers=auth).json()["quota"] == {"used": 5, "limit": 5}
