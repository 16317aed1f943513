"""More like this and duplicates through the API (issue 15), with the real local analyzer run in
process: on the in-memory adapters and on SQLite (PostgreSQL runs the same SQL: tests/contract)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from PIL import Image
from skimage import data as sk

from imagerepo.adapters.local import LocalImageAnalyzer
from imagerepo.adapters.memory import ManualClock
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests.unit.test_when_where_api import signup, upload
from tests.wiring import memory_container, real_container

_ANALYZER = LocalImageAnalyzer(nsfw=False)


def jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


CAT = Image.fromarray(sk.chelsea())
PHOTOS = {
    "cat.jpg": jpeg(CAT),
    "coffee.jpg": jpeg(Image.fromarray(sk.coffee())),
    "astronaut.jpg": jpeg(Image.fromarray(sk.astronaut())),
    "cat-copy.jpg": jpeg(CAT.resize((CAT.width // 2, CAT.height // 2)), 65),  # re-saved smaller
    "cat-burst.jpg": jpeg(CAT.crop((30, 10, 30 + int(CAT.width * 0.85), 10 + int(CAT.height * 0.85)))),  # moved
}


@pytest.fixture(params=["memory", "sqlite"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient[Any], Any]]:
    settings = Settings(data_dir=tmp_path, workers=0, upload_quota=50)
    with ExitStack() as stack:
        if request.param == "memory":
            container = memory_container(settings, clock=ManualClock(), analyzer=_ANALYZER)
        else:
            container = real_container(settings, analyzer=_ANALYZER)
        client = stack.enter_context(TestClient(create_app(container)))
        yield client, container


def test_more_like_this_duplicates_and_the_copy_told_at_upload(env: Any) -> None:
    client, container = env
    auth = signup(client)
    ids = {}
    for name, data in PHOTOS.items():
        body = upload(client, auth, data, name)
        ids[name] = body["id"]
        if name == "cat-copy.jpg":
            assert body["duplicate_of"] == ids["cat.jpg"]  # accepted, and told
        else:
            assert body["duplicate_of"] is None
    assert client.get(f"/api/v1/images/{ids['cat.jpg']}/similar", headers=auth).json() == {"items": []}  # not analysed
    assert container.analysis_service().drain()["done"] == len(PHOTOS)

    r = client.get(f"/api/v1/images/{ids['cat.jpg']}/similar", params={"limit": "3"}, headers=auth)
    assert r.status_code == 200
    items = r.json()["items"]
    assert {i["filename"] for i in items[:2]} == {"cat-copy.jpg", "cat-burst.jpg"}
    assert ids["cat.jpg"] not in [i["id"] for i in items]
    assert len(items) == 3
    sims = [i["similarity"] for i in items]
    assert sims == sorted(sims, reverse=True)
    assert all(0 <= s <= 1 for s in sims)
    assert items[0]["analysis"]["status"] == "done"
    for odd, count in (("0", 1), ("abc", 4), ("1000", 4)):  # clamped to 1..100, or the default
        r = client.get(f"/api/v1/images/{ids['cat.jpg']}/similar", params={"limit": odd}, headers=auth)
        assert len(r.json()["items"]) == count

    groups = client.get("/api/v1/duplicates", headers=auth).json()["groups"]
    assert [(g["kind"], [i["filename"] for i in g["images"]]) for g in groups] == [
        ("exact", ["cat.jpg", "cat-copy.jpg"]),
        ("near", ["cat.jpg", "cat-burst.jpg"]),
    ]

    bob = signup(client, "bob")
    assert client.get(f"/api/v1/images/{ids['cat.jpg']}/similar", headers=bob).status_code == 404
    assert client.get("/api/v1/duplicates", headers=bob).json() == {"groups": []}

    assert client.delete(f"/api/v1/images/{ids['cat-copy.jpg']}", headers=auth).status_code == 204
    r = client.get(f"/api/v1/images/{ids['cat.jpg']}/similar", headers=auth)
    assert ids["cat-copy.jpg"] not in [i["id"] for i in r.json()["items"]]
    groups = client.get("/api/v1/duplicates", headers=auth).json()["groups"]
    assert [g["kind"] for g in groups] == ["near"]
