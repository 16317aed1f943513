"""Refusals that need no pixels come before any decode: a user at quota or an oversize body
cannot make the server decode images."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from imagerepo.adapters.pillow_inspector import PillowImageInspector
from imagerepo.domain.images import InspectedImage
from imagerepo.entrypoints.container import Container
from imagerepo.ports.image_inspector import Thumbnail
from tests import images as img
from tests.hardening.support import error_code, signup, upload


class CountingInspector:
    """The real inspector, counting the calls that decode pixels."""

    def __init__(self) -> None:
        self.inner = PillowImageInspector()
        self.decodes = 0

    def inspect(self, path: Path, *, sha256: str | None = None) -> InspectedImage:
        self.decodes += 1
        return self.inner.inspect(path, sha256=sha256)

    def probe(self, path: Path) -> InspectedImage | None:
        return self.inner.probe(path)  # the header only: no pixels

    def thumbnail(self, path: Path) -> Thumbnail:
        self.decodes += 1
        return self.inner.thumbnail(path)

    def open(self, path: Path) -> BinaryIO:
        return self.inner.open(path)


@pytest.fixture
def inspector(container: Container) -> CountingInspector:
    """Requested before ``client``, so the app's upload path uses it."""
    counting = CountingInspector()
    container.inspector.override(providers.Object(counting))
    return counting


def test_an_upload_at_quota_is_refused_without_decoding(inspector: CountingInspector, client: TestClient[Any]) -> None:
    auth = signup(client, "alice")
    for shade in range(5):
        assert upload(client, auth, img.jpeg((320, 240), (shade * 40, 40, 40))).status_code == 201
    inspector.decodes = 0

    for shade in (210, 220, 230):
        r = upload(client, auth, img.jpeg((320, 240), (shade, 40, 40)))
        assert r.status_code == 409
        assert error_code(r) == "quota_exceeded"
        assert r.json()["error"]["details"] == {"used": 5, "limit": 5}
    assert inspector.decodes == 0


def test_a_duplicate_is_refused_without_decoding(inspector: CountingInspector, client: TestClient[Any]) -> None:
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
    for shade in range(4):
        assert upload(client, auth, img.png((64, 48), (shade * 40, 1, 1))).status_code == 201
    assert error_code(upload(client, auth, data)) == "duplicate_image"


def test_an_oversize_body_is_refused_without_decoding(inspector: CountingInspector, client: TestClient[Any]) -> None:
    auth = signup(client, "alice")
    r = upload(client, auth, img.png((1200, 1200)) + b"\0" * 2_000_001, name="big.png", ctype="image/png")
    assert r.status_code == 413
    assert error_code(r) == "too_large"
    assert inspector.decodes == 0
    assert client.get("/api/v1/me", headers=auth).json()["quota"]["used"] == 0


def test_below_quota_the_upload_is_still_fully_checked(inspector: CountingInspector, client: TestClient[Any]) -> None:
    """The early checks are an optimisation: an image that is let through is still decoded."""
    auth = signup(client, "alice")
    truncated = img.jpeg((320, 240))[:-200]
    r = upload(client, auth, truncated)
    assert r.status_code == 422
    assert error_code(r) == "invalid_image"
    assert inspector.decodes >= 1


@pytest.mark.parametrize(("kind", "counts"), [("jpeg", 0), ("png", 1)])
def test_a_jpeg_upload_counts_the_quota_once_in_its_reservation(
    inspector: CountingInspector, container: Container, client: TestClient[Any], kind: str, counts: int
) -> None:
    """A JPEG is reserved on its header, before its decode: the reservation's atomic count is the
    only one. Another format is decoded before it is reserved, so its quota is counted first."""
    auth = signup(client, "alice")
    images = container.image_repository()
    real, seen = images.count, []

    def count(owner_id: str) -> int:
        seen.append(owner_id)
        return real(owner_id)

    images.count = count  # type: ignore[method-assign]
    data = img.jpeg((320, 240)) if kind == "jpeg" else img.png((320, 240))

    r = upload(client, auth, data, name=f"photo.{kind}", ctype=f"image/{kind}")

    assert r.status_code == 201, r.text
    assert len(seen) == counts
