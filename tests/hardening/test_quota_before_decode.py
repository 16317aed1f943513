"""Refusals that need no pixels come before any decode: a user at quota or an oversize body
cannot make the server decode images."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from litestar.testing import TestClient

from imagerepo.adapters.memory import ManualClock
from imagerepo.adapters.pillow_inspector import PillowImageInspector
from imagerepo.domain.images import InspectedImage
from imagerepo.entrypoints.app import create_app
from imagerepo.entrypoints.container import Container, Settings, memory_container
from imagerepo.ports.image_inspector import Thumbnail
from tests import images as img
from tests.hardening.support import error_code, signup, upload


class CountingInspector:
    """The real inspector, counting the calls that decode pixels."""

    def __init__(self) -> None:
        self.inner = PillowImageInspector()
        self.decodes = 0

    def inspect(self, path: Path) -> InspectedImage:
        self.decodes += 1
        return self.inner.inspect(path)

    def thumbnail(self, path: Path) -> Thumbnail:
        self.decodes += 1
        return self.inner.thumbnail(path)

    def open(self, path: Path) -> BinaryIO:
        return self.inner.open(path)


@pytest.fixture
def inspector() -> CountingInspector:
    return CountingInspector()


@pytest.fixture
def container(tmp_path: Path, inspector: CountingInspector) -> Container:
    settings = Settings(data_dir=tmp_path, workers=0, max_upload_bytes=200_000, upload_quota=2)
    return memory_container(settings, clock=ManualClock(), inspector=inspector)


@pytest.fixture
def client(container: Container) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(container)) as c:
        yield c


def test_an_upload_at_quota_is_refused_without_decoding(client: TestClient[Any], inspector: CountingInspector) -> None:
    auth = signup(client, "alice")
    for shade in (10, 20):
        assert upload(client, auth, img.jpeg((320, 240), (shade, 40, 40))).status_code == 201
    inspector.decodes = 0

    for shade in (30, 40, 50):
        r = upload(client, auth, img.jpeg((320, 240), (shade, 40, 40)))
        assert r.status_code == 409
        assert error_code(r) == "quota_exceeded"
        assert r.json()["error"]["details"] == {"used": 2, "limit": 2}
    assert inspector.decodes == 0


def test_a_duplicate_is_refused_without_decoding(client: TestClient[Any], inspector: CountingInspector) -> None:
    auth = signup(client, "alice")
    data = img.jpeg((320, 240), (200, 40, 40))
    first = upload(client, auth, data)
    assert first.status_code == 201
    inspector.decodes = 0

    r = upload(client, auth, data)
    assert r.status_code == 409
    assert error_code(r) == "duplicate_image"
    assert r.json()["error"]["details"]["existing_id"] == first.json()["id"]
    assert inspector.decodes == 0


def test_a_duplicate_at_quota_is_still_reported_as_the_duplicate(client: TestClient[Any]) -> None:
    auth = signup(client, "alice")
    data = img.jpeg((320, 240), (200, 40, 40))
    assert upload(client, auth, data).status_code == 201
    assert upload(client, auth, img.png()).status_code == 201
    assert error_code(upload(client, auth, data)) == "duplicate_image"


def test_an_oversize_body_is_refused_without_decoding(client: TestClient[Any], inspector: CountingInspector) -> None:
    auth = signup(client, "alice")
    r = upload(client, auth, img.png((1200, 1200)) + b"\0" * 200_001, name="big.png", ctype="image/png")
    assert r.status_code == 413
    assert error_code(r) == "too_large"
    assert inspector.decodes == 0
    assert client.get("/api/v1/me", headers=auth).json()["quota"]["used"] == 0


def test_below_quota_the_upload_is_still_fully_checked(client: TestClient[Any], inspector: CountingInspector) -> None:
    """The early checks are an optimisation: an image that is let through is still decoded."""
    auth = signup(client, "alice")
    truncated = img.jpeg((320, 240))[:-200]
    r = upload(client, auth, truncated)
    assert r.status_code == 422
    assert error_code(r) == "invalid_image"
    assert inspector.decodes >= 1
