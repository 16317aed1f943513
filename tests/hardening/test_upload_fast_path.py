"""The fast upload path: one scaled decode of a 12 MP JPEG validates it and makes its thumbnail.

Scaled decoding must stay exactly as strict as a full decode (libjpeg still reads every
entropy-coded byte), and the thumbnail it makes must be the one a full decode would give.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from litestar.testing import TestClient
from PIL import Image, ImageOps, JpegImagePlugin

from imagerepo.adapters.memory import ManualClock
from imagerepo.adapters.pillow_inspector import PillowImageInspector
from imagerepo.entrypoints.container import Container
from imagerepo.entrypoints.settings import Settings
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
    assert scaled_decodes == [(1000, 750)]  # refused by the 1/4-scale decode, the only one
    assert assert_consistent(client, auth, container.blob_store()) == []


def test_a_12_mp_jpeg_upload_decodes_once(
    client: TestClient[Any], photos: dict[str, bytes], scaled_decodes: list[tuple[int, int]]
) -> None:
    auth = signup(client, "alice")

    r = upload(client, auth, photos["baseline"])

    assert r.status_code == 201, r.text
    assert (r.json()["width"], r.json()["height"]) == SIZE
    assert scaled_decodes == [(1000, 750)]


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
