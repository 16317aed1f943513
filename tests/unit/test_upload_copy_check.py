"""An upload is told the copy of a picture it holds from the hash its own decode made: the copy
check neither reads that fingerprint back nor loads the account's fingerprints (the similarity
index), on the in-memory adapters and on SQLite (PostgreSQL: tests/contract/test_fingerprints.py)."""

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

from imagerepo.adapters.memory import ManualClock
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests.unit.test_when_where_api import signup, upload
from tests.wiring import memory_container, real_container


def jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


CAT = Image.fromarray(sk.chelsea())
COFFEE = Image.fromarray(sk.coffee())


@pytest.fixture(params=["memory", "sqlite"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient[Any], Any, list[str]]]:
    """A client, its container, and the names of the fingerprint reads made (get, changes)."""
    settings = Settings(data_dir=tmp_path, workers=0, upload_quota=50)
    with ExitStack() as stack:
        if request.param == "memory":
            container = memory_container(settings, clock=ManualClock())
        else:
            container = real_container(settings)
        client = stack.enter_context(TestClient(create_app(container)))
        fingerprints = container.fingerprint_repository()
        reads: list[str] = []
        for name in ("get", "changes"):
            real = getattr(fingerprints, name)

            def recorded(*args: Any, _real: Any = real, _name: str = name) -> Any:
                reads.append(_name)
                return _real(*args)

            stack.enter_context(pytest.MonkeyPatch.context()).setattr(fingerprints, name, recorded)
        yield client, container, reads


def test_a_copy_is_told_at_upload_without_reading_fingerprints_back(env: Any) -> None:
    client, _, reads = env
    auth = signup(client)

    cat = upload(client, auth, jpeg(CAT), "cat.jpg")
    coffee = upload(client, auth, jpeg(COFFEE), "coffee.jpg")
    copy = upload(client, auth, jpeg(CAT.resize((CAT.width // 2, CAT.height // 2)), 65), "cat-small.jpg")

    assert (cat["duplicate_of"], coffee["duplicate_of"]) == (None, None)
    assert copy["duplicate_of"] == cat["id"]
    assert reads == []  # neither the upload's own fingerprint nor the account's index was read


def test_the_earliest_copy_still_there_is_named_and_never_another_accounts(env: Any) -> None:
    client, _, _ = env
    alice, bob = signup(client, "alice"), signup(client, "bob")
    first = upload(client, alice, jpeg(CAT, 95), "cat.jpg")
    second = upload(client, alice, jpeg(CAT, 80), "cat-80.jpg")
    assert second["duplicate_of"] == first["id"]

    assert upload(client, bob, jpeg(CAT, 70), "bobs-cat.jpg")["duplicate_of"] is None  # alice's are not his
    assert client.delete(f"/api/v1/images/{first['id']}", headers=alice).status_code == 204
    assert upload(client, alice, jpeg(CAT, 70), "cat-70.jpg")["duplicate_of"] == second["id"]
