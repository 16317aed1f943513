"""BlobStore contract: the fake, the encrypted file store and S3 pass the same assertions."""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import pytest

from imagerepo.adapters.filestore import EncryptedFileBlobStore
from imagerepo.adapters.memory import InMemoryBlobStore, ManualClock
from imagerepo.domain.errors import BlobMissing
from imagerepo.ports.blob_store import BlobStore
from imagerepo.ports.signed_blob_server import SignedBlobServer

MiB = 1024 * 1024


class Harness(Protocol):
    """How a test reaches an adapter's URLs and moves time past their expiry."""

    store: BlobStore

    def deadline(self) -> datetime: ...

    def fetch(self, url: str) -> bytes | None:
        """The body the URL serves, or None when it is refused."""
        ...

    def pass_deadline(self) -> None: ...


class SelfServedHarness:
    """A store that serves its own URLs (the fake, the file store): fetch through its SignedBlobServer port,
    as the app's blob route does."""

    def __init__(self, make: Callable[[ManualClock], BlobStore]) -> None:
        self.clock = ManualClock()
        self.store = make(self.clock)
        assert isinstance(self.store, SignedBlobServer)
        self.server: SignedBlobServer = self.store

    def deadline(self) -> datetime:
        return self.clock.now() + timedelta(minutes=30)

    def fetch(self, url: str) -> bytes | None:
        parts = urlsplit(url)
        key = unquote(parts.path.removeprefix("/blobs/"))
        q = dict(parse_qsl(parts.query))
        try:
            data, _ = self.server.resolve(key, q.get("exp", ""), q.get("sig", ""), lambda k: True)
        except BlobMissing:
            return None
        return data

    def pass_deadline(self) -> None:
        self.clock.advance(timedelta(minutes=31))


class S3Harness:
    """A real server checks the presigned URLs; time passes for real (a few seconds)."""

    TTL = 3

    def __init__(self, store: BlobStore) -> None:
        import httpx

        self.store = store
        self._http = httpx.Client(timeout=30)
        self._deadline: datetime | None = None

    def deadline(self) -> datetime:
        self._deadline = datetime.now(UTC) + timedelta(seconds=self.TTL)
        return self._deadline

    def fetch(self, url: str) -> bytes | None:
        r = self._http.get(url)
        if r.status_code in (403, 404):
            return None
        r.raise_for_status()
        return r.content

    def pass_deadline(self) -> None:
        assert self._deadline is not None
        time.sleep(max(0.0, (self._deadline - datetime.now(UTC)).total_seconds()) + 1.5)

    def close(self) -> None:
        self._http.close()


@pytest.fixture(params=["memory", "file", pytest.param("s3", marks=pytest.mark.integration)])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "memory":
        yield SelfServedHarness(lambda clock: InMemoryBlobStore(secret=b"contract-secret", clock=clock))
    elif request.param == "file":
        yield SelfServedHarness(lambda clock: EncryptedFileBlobStore(tmp_path / "blobs", os.urandom(32),
                                                                     os.urandom(32), clock))
    else:
        from imagerepo.adapters.s3 import S3BlobStore

        client, bucket = request.getfixturevalue("s3_bucket")
        h = S3Harness(S3BlobStore(client, bucket))
        yield h
        h.close()


def test_it_fits_the_port(harness: Harness) -> None:
    assert isinstance(harness.store, BlobStore)


def test_put_get_round_trip(harness: Harness) -> None:
    harness.store.put("owner1/img1/original", io.BytesIO(b"\x89PNG fake pixels"), "image/png")
    assert harness.store.get("owner1/img1/original") == b"\x89PNG fake pixels"


def test_empty_object_round_trip(harness: Harness) -> None:
    harness.store.put("owner1/img1/thumbnail", io.BytesIO(b""), "image/jpeg")
    assert harness.store.get("owner1/img1/thumbnail") == b""
    assert harness.store.exists("owner1/img1/thumbnail")


def test_multi_megabyte_stream_round_trip(harness: Harness, tmp_path: Path) -> None:
    data = os.urandom(9 * MiB + 12345)  # over S3's default multipart threshold
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    with src.open("rb") as f:
        harness.store.put("owner1/big/original", f, "image/jpeg")
    got = harness.store.get("owner1/big/original")
    assert len(got) == len(data)
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


def test_put_replaces(harness: Harness) -> None:
    harness.store.put("o/i/original", io.BytesIO(b"one"), "image/png")
    harness.store.put("o/i/original", io.BytesIO(b"two"), "image/png")
    assert harness.store.get("o/i/original") == b"two"


def test_missing_key_is_blob_missing(harness: Harness) -> None:
    with pytest.raises(BlobMissing):
        harness.store.get("nobody/nothing/original")
    assert not harness.store.exists("nobody/nothing/original")


def test_delete_is_idempotent(harness: Harness) -> None:
    harness.store.put("o/i/original", io.BytesIO(b"bytes"), "image/png")
    assert harness.store.exists("o/i/original")
    harness.store.delete("o/i/original")
    assert not harness.store.exists("o/i/original")
    with pytest.raises(BlobMissing):
        harness.store.get("o/i/original")
    harness.store.delete("o/i/original")
    harness.store.delete("never/was/there")


def test_keys_lists_every_stored_key(harness: Harness) -> None:
    wanted = {f"owner{n % 3}/img{n}/{kind}" for n in range(7) for kind in ("original", "thumbnail")}
    for key in wanted:
        harness.store.put(key, io.BytesIO(key.encode()), "image/png")
    harness.store.delete("owner0/img0/thumbnail")
    assert set(harness.store.keys()) == wanted - {"owner0/img0/thumbnail"}


def test_check_passes_when_reachable(harness: Harness) -> None:
    harness.store.check()


def _url(harness: Harness, key: str) -> str:
    return harness.store.url(key, harness.deadline(), filename="beach.png", content_type="image/png")


def test_url_serves_the_object_before_expiry_and_never_after(harness: Harness) -> None:
    harness.store.put("o/i/original", io.BytesIO(b"pixels"), "image/png")
    url = _url(harness, "o/i/original")
    assert harness.fetch(url) == b"pixels"
    assert harness.fetch(url) == b"pixels"  # reusable until the deadline
    harness.pass_deadline()
    assert harness.fetch(url) is None


def test_url_dies_with_the_object(harness: Harness) -> None:
    harness.store.put("o/i/original", io.BytesIO(b"pixels"), "image/png")
    url = _url(harness, "o/i/original")
    harness.store.delete("o/i/original")
    assert harness.fetch(url) is None


def _alter_query(url: str, change: Callable[[str, str], str]) -> str:
    parts = urlsplit(url)
    query = [(k, change(k, v)) for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _flip_last(value: str) -> str:
    return value[:-1] + ("0" if value[-1] != "0" else "1")


SIGNATURE_PARAMS = {"sig", "X-Amz-Signature"}
EXPIRY_PARAMS = {"exp", "X-Amz-Expires"}


def test_url_cannot_be_altered_to_reach_another_key(harness: Harness) -> None:
    harness.store.put("alice/a1/original", io.BytesIO(b"alice"), "image/png")
    harness.store.put("bob/b1/original", io.BytesIO(b"bob"), "image/png")
    url = _url(harness, "alice/a1/original")
    assert "alice/a1/original" in url
    assert harness.fetch(url.replace("alice/a1/original", "bob/b1/original")) is None
    assert harness.fetch(url.replace("alice/a1/original", "alice/a1/thumbnail")) is None


def test_url_with_altered_signature_is_refused(harness: Harness) -> None:
    harness.store.put("o/i/original", io.BytesIO(b"pixels"), "image/png")
    url = _url(harness, "o/i/original")
    tampered = _alter_query(url, lambda k, v: _flip_last(v) if k in SIGNATURE_PARAMS else v)
    assert tampered != url
    assert harness.fetch(tampered) is None


def test_url_expiry_cannot_be_extended(harness: Harness) -> None:
    harness.store.put("o/i/original", io.BytesIO(b"pixels"), "image/png")
    url = _url(harness, "o/i/original")

    def extend(k: str, v: str) -> str:
        return str(int(v) + 3600) if k in EXPIRY_PARAMS else v

    assert harness.fetch(_alter_query(url, extend)) is None



@pytest.fixture(params=["memory", "file"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> SelfServedHarness:
    if request.param == "memory":
        return SelfServedHarness(lambda clock: InMemoryBlobStore(clock=clock))
    return SelfServedHarness(lambda clock: EncryptedFileBlobStore(tmp_path / "blobs", os.urandom(32),
                                                                  os.urandom(32), clock))


def test_a_self_served_url_gives_the_content_type_and_asks_liveness_only_when_signed(
    served: SelfServedHarness,
) -> None:
    served.store.put("o/i/original", io.BytesIO(b"pixels"), "image/webp")
    parts = urlsplit(_url(served, "o/i/original"))
    q = dict(parse_qsl(parts.query))
    asked: list[str] = []

    def live(key: str) -> bool:
        asked.append(key)
        return key != "o/i/original" or len(asked) < 2

    assert served.server.resolve("o/i/original", q["exp"], q["sig"], live) == (b"pixels", "image/webp")
    with pytest.raises(BlobMissing):
        served.server.resolve("o/i/original", q["exp"], _flip_last(q["sig"]), live)
    assert asked == ["o/i/original"]  # a forged link learns nothing, not even whether the image lives
    with pytest.raises(BlobMissing):
        served.server.resolve("o/i/original", q["exp"], q["sig"], live)  # the image died
