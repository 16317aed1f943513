"""API.md: "a URL is useless to anyone ... once its image is deleted" — even when the blob store
failed to delete the blob, which the service then leaves for the sweeper (row hidden, blob kept).

Embedded files: the app serves the signed URL itself, so it checks the image is still live.
S3: the object is served by S3, so the delete is retried before the request returns, and pending
deletions are finished at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pytest
from litestar.testing import TestClient

from imagerepo.adapters.filestore import EncryptedFileBlobStore
from imagerepo.adapters.memory import InMemoryImageRepository, ManualClock
from imagerepo.adapters.s3 import S3BlobStore
from imagerepo.adapters.system import SystemClock
from imagerepo.domain.errors import ServiceUnavailable
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests import images as img
from tests.hardening.support import signup, upload
from tests.wiring import memory_container


class FailingDeletes:
    """A BlobStore whose first ``failures`` deletes fail (None: every delete fails)."""

    def __init__(self, inner: Any, failures: int | None = 1) -> None:
        self._inner = inner
        self.failures = failures
        self.attempts = 0

    def delete(self, key: str) -> None:
        self.attempts += 1
        if self.failures is None or self.failures > 0:
            if self.failures is not None:
                self.failures -= 1
            raise ServiceUnavailable("blob store refused the delete")
        self._inner.delete(key)

    def put(self, key: str, data: BinaryIO, content_type: str) -> None:
        self._inner.put(key, data, content_type)

    def __getattr__(self, name: str) -> Any:  # get, exists, url, keys, check, resolve…
        return getattr(self._inner, name)


def serve(container: Any) -> TestClient[Any]:
    return TestClient(create_app(container))


# ---------------------------------------------------------------------------------- embedded files


@pytest.fixture
def files(tmp_path: Path) -> tuple[EncryptedFileBlobStore, ManualClock]:
    clock = ManualClock()
    return EncryptedFileBlobStore(tmp_path / "blobs", b"b" * 32, b"u" * 32, clock), clock


def test_an_embedded_url_dies_with_its_image_though_the_blob_stays(
    tmp_path: Path, files: tuple[EncryptedFileBlobStore, ManualClock]
) -> None:
    store, clock = files
    failing = FailingDeletes(store, failures=None)
    container = memory_container(Settings(data_dir=tmp_path, workers=0), clock=clock, blob_store=failing)
    with serve(container) as client:
        auth = signup(client, "alice")
        image = upload(client, auth, img.jpeg()).json()
        assert client.get(image["url"]).content == img.jpeg()
        assert client.get(image["thumbnail_url"]).status_code == 200
        assert client.delete(f"/api/v1/images/{image['id']}", headers=auth).status_code == 204
        assert failing.attempts >= 1
        assert len(list(store.keys())) == 2  # the store refused: both blobs are still on disk
        for url in (image["url"], image["thumbnail_url"]):
            r = client.get(url)
            assert r.status_code == 404, (url, r.status_code)
            assert img.jpeg() not in r.content


def test_an_embedded_url_of_a_live_image_still_works(
    tmp_path: Path, files: tuple[EncryptedFileBlobStore, ManualClock]
) -> None:
    store, clock = files
    container = memory_container(Settings(data_dir=tmp_path, workers=0), clock=clock, blob_store=store)
    with serve(container) as client:
        auth = signup(client, "alice")
        keep, drop = upload(client, auth, img.jpeg()).json(), upload(client, auth, img.png()).json()
        assert client.delete(f"/api/v1/images/{drop['id']}", headers=auth).status_code == 204
        assert client.get(keep["url"]).content == img.jpeg()
        assert client.get(drop["url"]).status_code == 404


# ---------------------------------------------------------------------------------- S3


@pytest.fixture
def s3_store(s3_bucket: tuple[Any, str]) -> S3BlobStore:
    client, name = s3_bucket
    return S3BlobStore(client, name, clock=SystemClock())


@pytest.mark.integration
def test_an_s3_url_dies_with_its_image_when_the_first_delete_fails(tmp_path: Path, s3_store: S3BlobStore) -> None:
    failing = FailingDeletes(s3_store, failures=1)
    container = memory_container(Settings(data_dir=tmp_path, workers=0), clock=SystemClock(), blob_store=failing)
    with serve(container) as client:
        auth = signup(client, "alice")
        image = upload(client, auth, img.jpeg()).json()
        assert httpx.get(image["url"]).content == img.jpeg()
        assert client.delete(f"/api/v1/images/{image['id']}", headers=auth).status_code == 204
        for url in (image["url"], image["thumbnail_url"]):
            r = httpx.get(url)
            assert r.status_code in (403, 404), (url, r.status_code)
        assert list(s3_store.keys()) == []
        assert failing.attempts >= 2  # refused once, then retried before the answer


@pytest.mark.integration
def test_a_deletion_left_pending_is_finished_when_the_app_starts(tmp_path: Path, s3_store: S3BlobStore) -> None:
    """The store refused every delete (an outage): the next start removes the objects at once."""
    images = InMemoryImageRepository()  # the database both processes share
    settings = Settings(data_dir=tmp_path, workers=0)
    down = FailingDeletes(s3_store, failures=None)
    first = memory_container(settings, clock=SystemClock(), blob_store=down, image_repository=images)
    with serve(first) as client:
        auth = signup(client, "alice")
        image = upload(client, auth, img.jpeg()).json()
        assert client.delete(f"/api/v1/images/{image['id']}", headers=auth).status_code == 204
    assert len(list(s3_store.keys())) == 2  # still there while the store refused
    second = memory_container(settings, clock=SystemClock(), blob_store=s3_store, image_repository=images)
    with serve(second):
        assert list(s3_store.keys()) == []  # gone by the time the app serves its first request
        for url in (image["url"], image["thumbnail_url"]):
            assert httpx.get(url).status_code in (403, 404), url


class HangingDeletes(FailingDeletes):
    """Each delete takes 6 s of the manual clock, then fails: a store that hangs, not one that blips."""

    def __init__(self, inner: Any, clock: ManualClock) -> None:
        super().__init__(inner, failures=None)
        self._clock = clock

    def delete(self, key: str) -> None:
        self._clock.advance(6)
        super().delete(key)


def test_a_hanging_store_is_not_retried_so_the_delete_answers_promptly(
    tmp_path: Path, files: tuple[EncryptedFileBlobStore, ManualClock]
) -> None:
    store, clock = files
    blips, hangs = FailingDeletes(store, failures=None), HangingDeletes(store, clock)
    for failing, most in ((blips, 4), (hangs, 1)):  # retried within a 5 s budget, never past it
        container = memory_container(Settings(data_dir=tmp_path, workers=0), clock=clock, blob_store=failing)
        with serve(container) as client:
            auth = signup(client, "alice")
            image = upload(client, auth, img.jpeg()).json()
            assert client.delete(f"/api/v1/images/{image['id']}", headers=auth).status_code == 204
            assert failing.attempts == most
            assert client.get(image["url"]).status_code == 404
