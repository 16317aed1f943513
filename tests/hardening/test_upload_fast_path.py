"""The fast upload path: one scaled decode of a 12 MP JPEG validates it and makes its thumbnail.

Scaled decoding must stay exactly as strict as a full decode (libjpeg still reads every
entropy-coded byte), and the thumbnail it makes must be the one a full decode would give.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import attrs
import numpy as np
import pytest
from dependency_injector import providers
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient
from PIL import Image, ImageOps, JpegImagePlugin

from imagerepo.adapters import photo_metadata
from imagerepo.adapters.memory import ManualClock
from imagerepo.adapters.perceptual_hash import phash_of_image
from imagerepo.adapters.pillow_inspector import PillowImageInspector
from imagerepo.domain.errors import DuplicateImage, InvalidImage
from imagerepo.domain.similarity import EXACT_SURE_DISTANCE
from imagerepo.entrypoints.container import Container
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.http.uploads import receive_file
from imagerepo.entrypoints.settings import Settings
from tests import images as img
from tests.hardening.support import assert_consistent, error_code, signup, upload
from tests.wiring import memory_container

SIZE = (4000, 3000)


def camera_jpeg(seed: int, *, progressive: bool = False, orientation: int = 1) -> bytes:
    """12 MP of smooth gradients with sensor-like noise, so every block carries real entropy data."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(small).resize(SIZE, Image.Resampling.BICUBIC), dtype=np.int16)
    noisy = np.clip(base + rng.integers(-4, 5, base.shape, dtype=np.int16), 0, 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    Image.fromarray(noisy).save(out, "JPEG", quality=85, progressive=progressive, exif=exif.tobytes())
    return out.getvalue()


@pytest.fixture(scope="module")
def photos() -> dict[str, bytes]:
    return {"baseline": camera_jpeg(1), "progressive": camera_jpeg(2, progressive=True)}


@pytest.fixture
def container(tmp_path: Path, clock: ManualClock) -> Container:
    settings = Settings(data_dir=tmp_path, workers=0, max_upload_bytes=20_000_000, upload_quota=50)
    return memory_container(settings, clock=clock)


@pytest.fixture
def scaled_decodes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The size each JPEG decode was scaled to."""
    sizes: list[tuple[int, int]] = []
    real = JpegImagePlugin.JpegImageFile.draft

    def draft(im: Any, mode: str | None, size: tuple[int, int] | None) -> Any:
        result = real(im, mode, size)
        sizes.append(im.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", draft)
    return sizes


@pytest.mark.parametrize("kind", ["baseline", "progressive"])
@pytest.mark.parametrize("keep", [0.5, 0.97, 0.9995])
def test_a_truncated_12_mp_jpeg_is_refused_on_the_scaled_decode(
    client: TestClient[Any], container: Container, photos: dict[str, bytes], scaled_decodes: list[tuple[int, int]],
    kind: str, keep: float,
) -> None:
    auth = signup(client, "alice")
    data = photos[kind]

    r = upload(client, auth, data[: int(len(data) * keep)])

    assert r.status_code == 422, r.text
    assert error_code(r) == "invalid_image"
    assert scaled_decodes == [(500, 375)]  # refused by the 1/8-scale decode, the only one
    assert assert_consistent(client, auth, container.blob_store()) == []


def test_a_12_mp_jpeg_upload_decodes_once(
    client: TestClient[Any], photos: dict[str, bytes], scaled_decodes: list[tuple[int, int]]
) -> None:
    auth = signup(client, "alice")

    r = upload(client, auth, photos["baseline"])

    assert r.status_code == 201, r.text
    assert (r.json()["width"], r.json()["height"]) == SIZE
    assert scaled_decodes == [(500, 375)]  # libjpeg's 1/8 scale: the smallest still above 480×360


def psnr(a: Image.Image, b: Image.Image) -> float:
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return float(10 * np.log10(255**2 / max(np.mean(diff**2), 1e-9)))


@pytest.mark.parametrize("orientation", [1, 6])
def test_the_thumbnail_matches_one_made_from_the_full_decode(tmp_path: Path, orientation: int) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(camera_jpeg(3, orientation=orientation))
    inspector = PillowImageInspector()

    info = inspector.inspect(path)
    thumb = Image.open(io.BytesIO(inspector.thumbnail(path).data))

    with Image.open(path) as full:
        reference = ImageOps.exif_transpose(full).convert("RGB")
    reference.thumbnail((480, 480), Image.Resampling.LANCZOS)
    upright = (3000, 4000) if orientation == 6 else SIZE
    assert (info.width, info.height) == upright
    assert thumb.size == reference.size == (upright[0] * 480 // max(upright), upright[1] * 480 // max(upright))
    assert thumb.format == "JPEG"
    assert psnr(thumb.convert("RGB"), reference) > 35  # the JPEG re-encode's own loss, no more


def _encoded(im: Image.Image) -> Image.Image:
    out = io.BytesIO()
    im.save(out, "JPEG", quality=82, optimize=True)
    return Image.open(out).convert("RGB")


@pytest.mark.parametrize("seed", [4, 5])
def test_the_eighth_scale_thumbnail_is_as_good_as_the_quarter_scale_one(tmp_path: Path, seed: int) -> None:
    """The thumbnail is made from libjpeg's 1/8-scale decode (500×375 for a 4000×3000 photo):
    once encoded it is within 0.1 dB PSNR of the one the 1/4-scale decode made (reduced 2×2,
    then Lanczos), against a Lanczos thumbnail of the full decode, and its pHash is within 2 bits of
    that one's (inside the copy check's EXACT_SURE_DISTANCE, so hashes made before still match)."""
    path = tmp_path / "photo.jpg"
    path.write_bytes(camera_jpeg(seed))
    inspector = PillowImageInspector()
    info = inspector.inspect(path)
    thumb = Image.open(io.BytesIO(inspector.thumbnail(path).data)).convert("RGB")

    with Image.open(path) as im:
        im.draft("RGB", (1000, 750))
        assert im.size == (1000, 750)
        quarter = im.convert("RGB").resize(thumb.size, Image.Resampling.LANCZOS, reducing_gap=1.0)
    with Image.open(path) as im:
        reference = im.convert("RGB").resize(thumb.size, Image.Resampling.LANCZOS)

    assert psnr(thumb, reference) > psnr(_encoded(quarter), reference) - 0.1
    assert info.phash is not None
    assert bin(info.phash ^ phash_of_image(quarter)).count("1") <= min(2, EXACT_SURE_DISTANCE)


def test_a_thumbnail_kept_from_inspection_is_not_given_to_a_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (1200, 900), (200, 30, 30)).save(path, "JPEG")
    inspector = PillowImageInspector()
    inspector.inspect(path)

    Image.new("RGB", (900, 1200), (30, 30, 200)).save(tmp_path / "other.jpg", "JPEG")
    (tmp_path / "other.jpg").replace(path)
    thumb = Image.open(io.BytesIO(inspector.thumbnail(path).data)).convert("RGB")

    assert thumb.size == (360, 480)
    r, _, b = thumb.getpixel((180, 240))  # type: ignore[misc]
    assert b > 150
    assert r < 80


def multipart(data: bytes, boundary: str = "fast-path-boundary") -> bytes:
    return (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 3200), max_size=8))
def test_the_receiver_hashes_the_file_while_reading_it(tmp_path_factory: pytest.TempPathFactory, data: bytes,
                                                       cuts: list[int]) -> None:
    body = multipart(data)
    edges = sorted({0, len(body), *(c for c in cuts if c < len(body))})
    chunks = [body[a:b] for a, b in itertools.pairwise(edges)]

    async def stream() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    received = anyio.run(lambda: receive_file("multipart/form-data; boundary=fast-path-boundary", str(len(body)),
                                              stream(), max_bytes=10_000, tmp_dir=tmp_path_factory.mktemp("rx")))
    try:
        assert received.path.read_bytes() == data
        assert received.sha256 == hashlib.sha256(data).hexdigest()
    finally:
        received.remove()


def test_a_duplicate_whose_hash_came_with_it_is_refused_without_reading_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = memory_container(Settings(data_dir=tmp_path, workers=0, upload_quota=5))
    account = c.account_service().sign_up("alice", "correct horse battery")
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (64, 48), (1, 2, 3)).save(photo, "JPEG")
    images = c.image_service()
    image = images.upload(account, "photo.jpg", photo)

    def refuse(*_: Any) -> Any:
        raise AssertionError("the file was read")

    inspector = c.inspector()
    for name in ("open", "inspect", "thumbnail"):
        monkeypatch.setattr(inspector, name, refuse)
    with pytest.raises(DuplicateImage):
        images.upload(account, "again.jpg", photo, sha256=image.sha256)


def _saved(fmt: str, **params: Any) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), (40, 90, 160)).save(out, fmt, **params)
    return out.getvalue()


@settings(max_examples=25, deadline=None)
@given(
    fmt=st.sampled_from(["JPEG", "PNG", "GIF", "WEBP"]),
    tail=st.binary(max_size=70_000),  # bytes after the image's end: no decoder reads them
)
def test_the_inspector_hashes_the_whole_file_while_decoding_it(
    tmp_path_factory: pytest.TempPathFactory, fmt: str, tail: bytes
) -> None:
    data = _saved(fmt) + tail
    path = tmp_path_factory.mktemp("hash") / "photo"
    path.write_bytes(data)

    info = PillowImageInspector().inspect(path)

    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.size_bytes == len(data)


def test_the_thumbnail_keeps_no_comment_exif_or_icc_profile_of_the_upload(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x0110] = "Secret Camera"
    path.write_bytes(_saved("JPEG", comment=b"my home address", exif=exif.tobytes(), icc_profile=b"\0" * 200))
    inspector = PillowImageInspector()
    inspector.inspect(path)

    data = inspector.thumbnail(path).data

    assert b"my home address" not in data
    assert b"Secret Camera" not in data
    thumb = Image.open(io.BytesIO(data))
    assert "comment" not in thumb.info
    assert "icc_profile" not in thumb.info
    assert dict(thumb.getexif()) == {}


@pytest.mark.parametrize("orientation", [1, 6])
def test_a_jpeg_header_tells_what_its_decode_will_without_decoding(
    tmp_path: Path, scaled_decodes: list[tuple[int, int]], orientation: int
) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(camera_jpeg(4, orientation=orientation))
    inspector = PillowImageInspector()

    header = inspector.probe(path)

    assert scaled_decodes == []  # nothing decoded
    assert header is not None
    assert header.sha256 == ""
    decoded = inspector.inspect(path)
    assert decoded.phash is not None  # the decode also fingerprints the picture
    assert attrs.evolve(decoded, sha256="", phash=None) == header


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP"])
def test_other_formats_are_left_to_the_decode(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "image"
    path.write_bytes(_saved(fmt))

    assert PillowImageInspector().probe(path) is None


def test_the_decode_runs_while_the_original_is_written(tmp_path: Path) -> None:
    c = memory_container(Settings(data_dir=tmp_path, workers=0, upload_quota=5))
    c.inspector.override(providers.Object(PillowImageInspector()))
    inspector, blobs = c.inspector(), c.blob_store()
    meet = threading.Barrier(2, timeout=10)  # passes only when both are under way at once
    inspect, put = inspector.inspect, blobs.put

    def inspect_meeting(path: Path, *, sha256: str | None = None) -> Any:
        meet.wait()
        return inspect(path, sha256=sha256)

    def put_meeting(key: str, data: Any, content_type: str) -> None:
        if key.endswith("/original"):
            meet.wait()
        put(key, data, content_type)

    inspector.inspect = inspect_meeting  # type: ignore[method-assign]
    blobs.put = put_meeting  # type: ignore[method-assign]
    account = c.account_service().sign_up("alice", "correct horse battery")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(_saved("JPEG"))

    image = c.image_service().upload(account, "photo.jpg", photo)

    assert sorted(blobs.keys()) == sorted([image.original_key, image.thumbnail_key])


def test_a_wrong_hash_from_the_caller_does_not_stick(tmp_path: Path) -> None:
    c = memory_container(Settings(data_dir=tmp_path, workers=0, upload_quota=5))
    c.inspector.override(providers.Object(PillowImageInspector()))
    account = c.account_service().sign_up("alice", "correct horse battery")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(_saved("JPEG"))
    images = c.image_service()

    with pytest.raises(InvalidImage):
        images.upload(account, "photo.jpg", photo, sha256="0" * 64)

    assert list(c.blob_store().keys()) == []
    assert images.quota(account).used == 0
    assert images.upload(account, "photo.jpg", photo).sha256 == hashlib.sha256(photo.read_bytes()).hexdigest()


@pytest.fixture
def metadata_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The format of each file whose photo metadata (EXIF, XMP) the inspector read."""
    reads: list[str] = []
    real = photo_metadata.read

    def read(im: Image.Image) -> Any:
        reads.append(str(im.format))
        return real(im)

    monkeypatch.setattr(photo_metadata, "read", read)
    return reads


def test_a_jpeg_uploads_metadata_is_read_once(tmp_path: Path, metadata_reads: list[str]) -> None:
    c = memory_container(Settings(data_dir=tmp_path, workers=0, upload_quota=5))
    c.inspector.override(providers.Object(PillowImageInspector()))
    account = c.account_service().sign_up("alice", "correct horse battery")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(img.photo(taken="2023:06:14 18:22:05", make="Canon", model="Canon EOS 5D Mark IV"))

    image = c.image_service().upload(account, "photo.jpg", photo)

    assert metadata_reads == ["JPEG"]  # by the header's probe; the decode reuses it
    assert image.photo.taken_at is not None
    assert image.photo.taken_at.replace(tzinfo=None).isoformat() == "2023-06-14T18:22:05"
    assert image.photo.camera is not None
    assert image.photo.camera.model == "Canon EOS 5D Mark IV"


def test_metadata_probed_from_a_file_is_not_given_to_the_file_that_replaced_it(
    tmp_path: Path, metadata_reads: list[str]
) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(img.photo(make="Canon", model="Canon EOS 5D Mark IV"))
    inspector = PillowImageInspector()
    inspector.probe(path)

    (tmp_path / "other.jpg").write_bytes(img.photo(make="Nikon", model="Nikon Z 6", color=(200, 10, 10)))
    (tmp_path / "other.jpg").replace(path)
    info = inspector.inspect(path)

    assert len(metadata_reads) == 2  # read afresh for the new file
    assert info.photo.camera is not None
    assert info.photo.camera.model == "Nikon Z 6"


class HashSeen:
    """The real inspector, noting the hash each decode was handed (None: it hashed the file)."""

    def __init__(self) -> None:
        self.inner = PillowImageInspector()
        self.given: list[str | None] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def inspect(self, path: Path, *, sha256: str | None = None) -> Any:
        self.given.append(sha256)
        return self.inner.inspect(path, sha256=sha256)


@pytest.mark.parametrize("kind", ["jpeg", "png"])
def test_an_http_upload_is_hashed_once_as_it_is_received(container: Container, kind: str) -> None:
    seen = HashSeen()
    container.inspector.override(providers.Object(seen))
    data = camera_jpeg(6) if kind == "jpeg" else _saved("PNG")
    with TestClient(create_app(container)) as client:
        auth = signup(client, "alice")

        r = upload(client, auth, data, name=f"photo.{kind}", ctype=f"image/{kind}")

        assert r.status_code == 201, r.text
        truth = hashlib.sha256(data).hexdigest()
        assert seen.given == [truth]  # the receiver's hash, handed to the decode: not computed again
        assert r.json()["sha256"] == truth
        again = upload(client, auth, data, name=f"again.{kind}", ctype=f"image/{kind}")
        assert (again.status_code, error_code(again)) == (409, "duplicate_image")


def test_a_decode_handed_the_hash_still_refuses_a_truncated_file(tmp_path: Path) -> None:
    data = camera_jpeg(7)
    path = tmp_path / "photo.jpg"
    path.write_bytes(data[: len(data) * 9 // 10])

    with pytest.raises(InvalidImage):
        PillowImageInspector().inspect(path, sha256="0" * 64)

    path.write_bytes(data)
    info = PillowImageInspector().inspect(path, sha256=hashlib.sha256(data).hexdigest())
    assert (info.sha256, info.size_bytes) == (hashlib.sha256(data).hexdigest(), len(data))
