"""The local analyzer reads the stored thumbnail (the preview) instead of the original when it is
large enough, and goes back to the original only for what needs more: reading text.

An original cut in half still opens (its header is whole) but cannot be decoded: an analysis that
succeeds on it decoded the preview alone; one that fails on it went back to the original.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imagerepo.adapters.local import LocalImageAnalyzer
from imagerepo.adapters.local import models as m
from imagerepo.adapters.local.decode import decode, decode_preferring
from imagerepo.adapters.pillow_inspector import PillowImageInspector
from imagerepo.domain.errors import AnalysisFailed

skimage_data = pytest.importorskip("skimage.data")


def two_tone(size: tuple[int, int], orientation: int = 1) -> bytes:
    """A noisy JPEG: red left half, blue right half as stored (EXIF ``orientation`` turns it)."""
    w, h = size
    arr = np.zeros((h, w, 3), dtype=np.int16)
    arr[:, : w // 2] = (200, 40, 40)
    arr[:, w // 2 :] = (40, 60, 200)
    arr += np.random.default_rng(0).integers(-8, 9, arr.shape, dtype=np.int16)
    im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def thumbnail(data: bytes, tmp_path: Path, size: int = 480) -> bytes:
    """The preview as the upload stores it: the inspector's thumbnail."""
    path = tmp_path / "upload"
    path.write_bytes(data)
    return PillowImageInspector(thumbnail_size=size).thumbnail(path).data


def cut(data: bytes) -> bytes:
    return data[: len(data) // 2]


def test_given_a_preview_the_original_is_not_decoded(tmp_path: Path) -> None:
    original = two_tone((2000, 1500))
    preview = thumbnail(original, tmp_path)
    analyzer = LocalImageAnalyzer(models=False)
    with pytest.raises(AnalysisFailed):
        analyzer.analyze(cut(original), "image/jpeg")
    result = analyzer.analyze(cut(original), "image/jpeg", preview=preview)
    assert (result.extra["width"], result.extra["height"]) == (2000, 1500)  # the original's, not 480×360
    assert result.colors == analyzer.analyze(original, "image/jpeg", preview=preview).colors
    assert {c.name for c in result.colors[:2]} == {"red", "blue"}


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_an_upright_preview_is_not_turned_again_and_the_size_is_the_upright_one(
    tmp_path: Path, orientation: int
) -> None:
    original = two_tone((2000, 1500), orientation)
    preview = thumbnail(original, tmp_path)
    from_original = decode(original)
    from_preview = decode_preferring(original, preview)
    assert from_preview.original_size == from_original.original_size
    assert from_preview.original_size == (1500, 2000) if orientation in (6, 8) else (2000, 1500)
    for corner in [(0, 0), (-1, -1)]:  # the same color in the same corner either way
        assert np.abs(from_preview.rgb[corner].astype(int) - from_original.rgb[corner].astype(int)).max() < 40
    result = LocalImageAnalyzer(models=False).analyze(original, "image/jpeg", preview=preview)
    assert (result.extra["width"], result.extra["height"]) == from_original.original_size


@pytest.mark.parametrize(
    ("original_size", "working"),
    [((2880, 2160), (360, 270)), ((4000, 3000), (480, 360))],
    ids=["preview-larger-than-the-draft-decode-is-reduced", "12mp-preview-as-is"],
)
def test_the_stages_never_see_more_pixels_than_the_original_would_give(
    tmp_path: Path, original_size: tuple[int, int], working: tuple[int, int]
) -> None:
    original = two_tone(original_size)
    image = decode_preferring(original, thumbnail(original, tmp_path))
    assert (image.width, image.height) == working
    assert working <= (decode(original).width, decode(original).height)


@pytest.mark.parametrize(
    ("original_size", "thumbnail_size"),
    [((2000, 1500), 200), ((4000, 1000), 480), ((1600, 1200), 480), ((400, 300), 480)],
    ids=["preview-short-side-150", "panorama-preview-120-high", "original-under-4x", "original-no-larger"],
)
def test_a_preview_too_small_or_no_smaller_falls_back_to_the_original(
    tmp_path: Path, original_size: tuple[int, int], thumbnail_size: int
) -> None:
    original = two_tone(original_size)
    preview = thumbnail(original, tmp_path, thumbnail_size)
    analyzer = LocalImageAnalyzer(models=False)
    with pytest.raises(AnalysisFailed):  # it decoded the original
        analyzer.analyze(cut(original), "image/jpeg", preview=preview)
    with_preview = analyzer.analyze(original, "image/jpeg", preview=preview)
    assert with_preview.colors == analyzer.analyze(original, "image/jpeg").colors


def test_a_transparent_original_is_decoded_not_its_preview_flattened_over_white(tmp_path: Path) -> None:
    rgba = np.zeros((900, 1200, 4), dtype=np.uint8)
    rgba[:, 600:] = (200, 40, 40, 255)  # the left half is transparent
    out = io.BytesIO()
    Image.fromarray(rgba).save(out, "PNG")
    original = out.getvalue()
    preview = thumbnail(original, tmp_path)
    analyzer = LocalImageAnalyzer(models=False)
    result = analyzer.analyze(original, "image/png", preview=preview)
    assert [c.name for c in result.colors] == ["red"]
    assert result.colors == analyzer.analyze(original, "image/png").colors


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_png_whose_orientation_follows_its_pixels_is_decoded_not_its_preview(fmt: str) -> None:
    """A green preview of a red and blue picture shows which one was decoded."""
    out = io.BytesIO()
    Image.open(io.BytesIO(two_tone((2000, 1500)))).save(out, fmt)  # the PNG: no EXIF chunk before IDAT
    green = io.BytesIO()
    Image.new("RGB", (480, 360), (40, 200, 40)).save(green, "JPEG")
    result = LocalImageAnalyzer(models=False).analyze(out.getvalue(), f"image/{fmt.lower()}", preview=green.getvalue())
    assert {c.name for c in result.colors} == ({"red", "blue"} if fmt == "PNG" else {"green"})


def test_an_unreadable_preview_is_ignored() -> None:
    original = two_tone((2000, 1500))
    analyzer = LocalImageAnalyzer(models=False)
    assert analyzer.analyze(original, "image/jpeg", preview=b"not a jpeg").colors == (
        analyzer.analyze(original, "image/jpeg").colors
    )


@pytest.fixture(scope="module")
def full() -> LocalImageAnalyzer:
    if not (m.models_available() and LocalImageAnalyzer().ocr):
        pytest.fail("the `local` extra and rapidocr-onnxruntime are not installed")
    return LocalImageAnalyzer(nsfw=False)


def jpeg_of(arr: np.ndarray, size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.fromarray(arr).convert("RGB").resize(size, Image.Resampling.BICUBIC).save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.mark.slow
def test_a_photo_without_text_is_tagged_from_the_preview_alone(full: LocalImageAnalyzer, tmp_path: Path) -> None:
    original = jpeg_of(skimage_data.chelsea(), (2000, 1500))
    preview = thumbnail(original, tmp_path)
    result = full.analyze(cut(original), "image/jpeg", preview=preview)
    assert result.text == ""
    assert "decode_text" not in result.extra["timings_ms"]
    assert result.tags == full.analyze(original, "image/jpeg", preview=preview).tags
    assert "cat" in {t.name for t in result.tags}


@pytest.mark.slow
def test_text_found_on_the_preview_is_read_from_the_original(full: LocalImageAnalyzer, tmp_path: Path) -> None:
    page = Image.new("RGB", (2000, 1500), (255, 255, 255))  # 4:3, so the preview is 480×360
    page.paste(Image.fromarray(skimage_data.page()).convert("RGB").resize((2000, 995), Image.Resampling.BICUBIC))
    original = jpeg_of(np.asarray(page), (2000, 1500))
    preview = thumbnail(original, tmp_path)
    with pytest.raises(AnalysisFailed):  # the text stage went back to the original
        full.analyze(cut(original), "image/jpeg", preview=preview)
    result = full.analyze(original, "image/jpeg", preview=preview)
    assert "decode_text" in result.extra["timings_ms"]
    assert result.text.splitlines()[0] == "Region-based segmentation"
