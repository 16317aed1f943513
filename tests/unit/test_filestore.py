"""EncryptedFileBlobStore: what lands on disk, and that any change to it is caught."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imagerepo.adapters.filestore import CHUNK, EncryptedFileBlobStore
from imagerepo.adapters.memory import ManualClock
from imagerepo.domain.errors import BlobMissing, ServiceUnavailable

KEY = bytes(range(32))
SECRET = b"url-secret-for-tests-0123456789"
MARKER = b"PLAINTEXT-MARKER-7f3a9c"


def make_store(root: Path, key: bytes = KEY, clock: ManualClock | None = None) -> EncryptedFileBlobStore:
    return EncryptedFileBlobStore(root, key, SECRET, clock or ManualClock())


def blob_file(root: Path, key: str) -> Path:
    return root.joinpath(*key.split("/")[:-1], key.split("/")[-1] + ".blob")


def sample(n: int) -> bytes:
    """Distinct, mostly incompressible bytes with the marker sprinkled through."""
    block = MARKER + os.urandom(1000)
    return (block * (n // len(block) + 1))[:n]


@pytest.fixture
def store(tmp_path: Path) -> EncryptedFileBlobStore:
    return make_store(tmp_path)


def test_no_plaintext_and_no_content_type_on_disk(tmp_path: Path, store: EncryptedFileBlobStore) -> None:
    data = sample(3 * CHUNK + 123)
    store.put("u1/i1/original", io.BytesIO(data), "image/x-secret-type")
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files
    for p in files:
        raw = p.read_bytes()
        assert MARKER not in raw
        assert b"x-secret-type" not in raw
        assert data[1000:1100] not in raw
    assert store.get("u1/i1/original") == data
    assert store.content_type("u1/i1/original") == "image/x-secret-type"


def test_files_are_private_to_the_owner(tmp_path: Path, store: EncryptedFileBlobStore) -> None:
    store.put("u1/i1/original", io.BytesIO(b"x"), "image/png")
    assert blob_file(tmp_path, "u1/i1/original").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 5])
def test_round_trip_at_chunk_boundaries(store: EncryptedFileBlobStore, size: int) -> None:
    data = sample(size)
    store.put("u/i/k", io.BytesIO(data), "image/png")
    assert store.get("u/i/k") == data


class Trickle(io.RawIOBase):
    """A raw stream that hands out at most 1000 bytes per read, like a socket."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        n = min(len(b), 1000, len(self._data))
        b[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def test_short_reads_from_the_source_are_reassembled(store: EncryptedFileBlobStore) -> None:
    data = sample(2 * CHUNK + 7)
    store.put("u/i/k", Trickle(data), "image/png")  # type: ignore[arg-type]
    assert store.get("u/i/k") == data


class Generated(io.RawIOBase):
    """``size`` bytes made up on demand, so the test itself holds no big buffer."""

    def __init__(self, size: int) -> None:
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        n = min(len(b), self._left)
        b[:n] = bytes([self._left % 251]) * n
        self._left -= n
        return n


def test_a_50_mb_put_never_holds_the_object_in_memory(store: EncryptedFileBlobStore) -> None:
    size = 50 * 1024 * 1024
    tracemalloc.start()
    try:
        store.put("u/i/big", Generated(size), "image/png")  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes while storing {size}"
    _, chunks = store.open("u/i/big")
    assert sum(len(c) for c in chunks) == size


def test_tampered_byte_anywhere_is_detected() -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        store = make_store(root)
        data = sample(2 * CHUNK + 50)
        store.put("u/i/k", io.BytesIO(data), "image/png")
        path = blob_file(root, "u/i/k")
        original = path.read_bytes()

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(pos=st.integers(0, len(original) - 1), flip=st.integers(1, 255))
        def check(pos: int, flip: int) -> None:
            tampered = bytearray(original)
            tampered[pos] ^= flip
            path.write_bytes(bytes(tampered))
            with pytest.raises(BlobMissing):
                store.get("u/i/k")

        check()
        path.write_bytes(original)
        assert store.get("u/i/k") == data


def test_truncated_or_extended_file_is_detected() -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        store = make_store(root)
        store.put("u/i/k", io.BytesIO(sample(3 * CHUNK)), "image/png")
        path = blob_file(root, "u/i/k")
        original = path.read_bytes()
        boundaries = [len(original) - k * (CHUNK + 16) for k in range(1, 4)]

        @settings(max_examples=100, deadline=None)
        @given(cut=st.one_of(st.sampled_from(boundaries), st.integers(0, len(original) - 1)))
        def check(cut: int) -> None:
            path.write_bytes(original[:cut])
            with pytest.raises(BlobMissing):
                store.get("u/i/k")

        check()
        path.write_bytes(original + os.urandom(16 + 1))
        with pytest.raises(BlobMissing):
            store.get("u/i/k")


def test_reordered_chunks_are_detected(tmp_path: Path, store: EncryptedFileBlobStore) -> None:
    store.put("u/i/k", io.BytesIO(sample(3 * CHUNK)), "image/png")
    path = blob_file(tmp_path, "u/i/k")
    raw = path.read_bytes()
    body_start = len(raw) - 3 * (CHUNK + 16)
    c = [raw[body_start + i * (CHUNK + 16): body_start + (i + 1) * (CHUNK + 16)] for i in range(3)]
    path.write_bytes(raw[:body_start] + c[1] + c[0] + c[2])
    with pytest.raises(BlobMissing):
        store.get("u/i/k")


def test_swapped_files_are_detected(tmp_path: Path, store: EncryptedFileBlobStore) -> None:
    store.put("alice/i1/original", io.BytesIO(b"alice's photo"), "image/png")
    store.put("bob/i2/original", io.BytesIO(b"bob's photo"), "image/png")
    a, b = blob_file(tmp_path, "alice/i1/original"), blob_file(tmp_path, "bob/i2/original")
    tmp = tmp_path / "swap"
    shutil.move(a, tmp)
    shutil.move(b, a)
    shutil.move(tmp, b)
    for key in ("alice/i1/original", "bob/i2/original"):
        with pytest.raises(BlobMissing):
            store.get(key)


def test_a_copy_under_another_key_is_detected(tmp_path: Path, store: EncryptedFileBlobStore) -> None:
    store.put("alice/i1/original", io.BytesIO(b"alice's photo"), "image/png")
    store.put("alice/i1/thumbnail", io.BytesIO(b"thumb"), "image/jpeg")
    shutil.copy(blob_file(tmp_path, "alice/i1/original"), blob_file(tmp_path, "alice/i1/thumbnail"))
    with pytest.raises(BlobMissing):
        store.get("alice/i1/thumbnail")


def test_another_master_key_cannot_read(tmp_path: Path, store: EncryptedFileBlobStore) -> None:
    store.put("u/i/k", io.BytesIO(b"secret"), "image/png")
    with pytest.raises(BlobMissing):
        make_store(tmp_path, key=bytes(32)).get("u/i/k")
    assert make_store(tmp_path).get("u/i/k") == b"secret"  # same key, new instance: still readable


@pytest.mark.parametrize(
    "bad", ["../x/y", "/etc/passwd", "a/../../b", "", "a//b", "a/./b", ".hidden/x", "a\\b", "a/b\x00"]
)
def test_keys_that_could_escape_the_root_are_refused(store: EncryptedFileBlobStore, bad: str) -> None:
    with pytest.raises(ValueError, match="invalid blob key"):
        store.put(bad, io.BytesIO(b"x"), "image/png")
    with pytest.raises(BlobMissing):
        store.get(bad)
    assert not store.exists(bad)
    store.delete(bad)  # nothing to delete, not an error


class Exploding(io.RawIOBase):
    def __init__(self, after: int) -> None:
        self._left = after

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        if self._left <= 0:
            raise ConnectionResetError("client went away")
        n = min(len(b), self._left)
        b[:n] = b"z" * n
        self._left -= n
        return n


def test_a_failed_put_leaves_the_previous_version_and_no_debris(
    tmp_path: Path, store: EncryptedFileBlobStore
) -> None:
    store.put("u/i/k", io.BytesIO(b"version one"), "image/png")
    with pytest.raises(ServiceUnavailable):
        store.put("u/i/k", Exploding(3 * CHUNK), "image/png")  # type: ignore[arg-type]
    assert store.get("u/i/k") == b"version one"
    with pytest.raises(ServiceUnavailable):
        store.put("u/i/new", Exploding(10), "image/png")  # type: ignore[arg-type]
    assert not store.exists("u/i/new")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["k.blob"]


def test_keys_lists_blobs_only(tmp_path: Path, store: EncryptedFileBlobStore) -> None:
    for key in ("a/1/original", "a/1/thumbnail", "b/2/original", "solo"):
        store.put(key, io.BytesIO(b"x"), "image/png")
    (tmp_path / "a" / "1" / ".original.blob.deadbeef.tmp").write_bytes(b"half written")
    (tmp_path / "stray.txt").write_bytes(b"not a blob")
    assert sorted(store.keys()) == ["a/1/original", "a/1/thumbnail", "b/2/original", "solo"]


def test_delete_prunes_empty_directories(tmp_path: Path, store: EncryptedFileBlobStore) -> None:
    store.put("a/1/original", io.BytesIO(b"x"), "image/png")
    store.put("a/2/original", io.BytesIO(b"x"), "image/png")
    store.delete("a/1/original")
    assert not (tmp_path / "a" / "1").exists()
    assert (tmp_path / "a" / "2").is_dir()
    store.put("a/1/original", io.BytesIO(b"back"), "image/png")
    assert store.get("a/1/original") == b"back"


def test_check_reports_an_unwritable_root(tmp_path: Path) -> None:
    make_store(tmp_path / "fresh").check()  # creates the directory
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(ServiceUnavailable):
        make_store(tmp_path / "file" / "sub").check()


def test_url_shape_and_resolve(tmp_path: Path) -> None:
    clock = ManualClock()
    store = make_store(tmp_path, clock=clock)
    store.put("u/i/original", io.BytesIO(b"pixels"), "image/webp")
    expires = clock.now() + timedelta(minutes=30)
    url = store.url("u/i/original", expires, filename="a.webp", content_type="image/webp")
    path, _, query = url.partition("?")
    assert path == "/blobs/u/i/original"
    params = dict(p.split("=") for p in query.split("&"))
    assert set(params) == {"exp", "sig"}
    assert store.resolve("u/i/original", params["exp"], params["sig"]) == (b"pixels", "image/webp")
    ctype, chunks = store.resolve_stream("u/i/original", params["exp"], params["sig"])
    assert (ctype, b"".join(chunks)) == ("image/webp", b"pixels")
    for exp, sig in [("soon", params["sig"]), (params["exp"], ""), (params["exp"], "é" * 64)]:
        with pytest.raises(BlobMissing):
            store.resolve("u/i/original", exp, sig)


def test_a_streamed_read_stops_at_a_tampered_tail(tmp_path: Path, store: EncryptedFileBlobStore) -> None:
    data = sample(3 * CHUNK)
    store.put("u/i/k", io.BytesIO(data), "image/png")
    path = blob_file(tmp_path, "u/i/k")
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    _, chunks = store.open("u/i/k")
    received: list[bytes] = []

    def drain(it: Iterator[bytes]) -> None:
        for c in it:
            received.append(c)

    with pytest.raises(BlobMissing):
        drain(chunks)
    assert b"".join(received) == data[: 2 * CHUNK]


def test_constructor_refuses_weak_keys(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        EncryptedFileBlobStore(tmp_path, b"short", SECRET, ManualClock())
    with pytest.raises(ValueError, match="16 bytes"):
        EncryptedFileBlobStore(tmp_path, KEY, b"short", ManualClock())


@settings(max_examples=300, deadline=None)
@given(key=st.text(alphabet=st.sampled_from("ab./\\-_\x00~ é"), max_size=12))
def test_any_key_is_refused_or_stays_inside_the_root(key: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "blobs"
        store = make_store(root)
        try:
            store.put(key, io.BytesIO(b"x"), "image/png")
        except ValueError:
            assert not any(Path(d).rglob("*.blob"))
            return
        written = [p.resolve() for p in Path(d).rglob("*") if p.is_file()]
        assert written
        assert all(p.is_relative_to(root.resolve()) for p in written)
        assert list(store.keys()) == [key]
        assert store.get(key) == b"x"


@pytest.mark.parametrize(
    ("threads", "rounds", "key_of", "read_back"),
    [
        # several images of one owner, each thread its own directories
        (6, 40, lambda n, i: f"owner/img{n}-{i % 2}/original", True),
        # a delete prunes empty directories that another thread's put is making again at that moment
        (8, 300, lambda n, i: f"owner{i % 3}/img{n}-{i % 2}/original", False),
    ],
    ids=["one-directory", "shared-parents"],
)
def test_concurrent_puts_and_deletes(store: EncryptedFileBlobStore, threads: int, rounds: int,
                                     key_of: Callable[[int, int], str], read_back: bool) -> None:
    import threading

    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(rounds):
                key = key_of(n, i)
                store.put(key, io.BytesIO(key.encode()), "image/png")
                if read_back:
                    assert store.get(key) == key.encode()
                store.delete(key)
        except BaseException as e:
            errors.append(e)

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert errors == []
    assert list(store.keys()) == []
