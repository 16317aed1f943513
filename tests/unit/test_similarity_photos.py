"""Perceptual hashes of real photos (scikit-image's): a re-encoded or resized copy stays in its
picture's exact group; a different photo does not join it; the detail hash keeps a copy cropped
by a few percent close and moves for a shot framed differently."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from skimage import data as sk

from imagerepo.adapters.local.decode import decode
from imagerepo.adapters.perceptual_hash import hashes_of_rgb
from imagerepo.adapters.pillow_inspector import PillowImageInspector
from imagerepo.domain.similarity import (
    EXACT_MAX_DETAIL_DISTANCE,
    DuplicateKind,
    Fingerprint,
    compare,
    group_duplicates,
    hamming,
)

PHOTOS = {name: Image.fromarray(getattr(sk, name)()).convert("RGB") for name in ("chelsea", "coffee", "astronaut")}


def jpeg(im: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def fingerprint(data: bytes) -> Fingerprint:
    phash, detail = hashes_of_rgb(decode(data).rgb)
    return Fingerprint(phash=phash, detail=detail)  # as analysis makes it, less the embedding


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(PHOTOS)), st.integers(60, 100), st.floats(0.25, 1.0))
def test_a_reencoded_or_resized_copy_stays_in_its_exact_group(name: str, quality: int, scale: float) -> None:
    im = PHOTOS[name]
    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    copy = im.resize(size, Image.Resampling.LANCZOS) if scale < 1 else im
    original, other = fingerprint(jpeg(im, 92)), fingerprint(jpeg(copy, quality))
    report = group_duplicates(["original", "copy"], [compare("original", original, "copy", other)])
    assert report.relation("original", "copy") == DuplicateKind.EXACT


@pytest.mark.parametrize(("a", "b"), [("chelsea", "coffee"), ("coffee", "astronaut"), ("chelsea", "astronaut")])
def test_different_photos_are_not_the_same_picture(a: str, b: str) -> None:
    fa, fb = fingerprint(jpeg(PHOTOS[a], 90)), fingerprint(jpeg(PHOTOS[b], 90))
    assert group_duplicates([a, b], [compare(a, fa, b, fb)]).groups == ()


def test_the_upload_hash_from_the_thumbnail_agrees_with_the_analysis_hash(tmp_path: Path) -> None:
    data = jpeg(PHOTOS["chelsea"], 92)
    path = tmp_path / "chelsea.jpg"
    path.write_bytes(data)
    at_upload = PillowImageInspector().inspect(path).phash  # from the thumbnail's pixels
    assert at_upload is not None
    assert (at_upload ^ fingerprint(data).phash).bit_count() <= 3  # type: ignore[operator]


def window(im: Image.Image, left: float, top: float, keep: float) -> Image.Image:
    w, h = im.size
    return im.crop((round(w * left), round(h * top), round(w * (left + keep)), round(h * (top + keep))))


@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_the_detail_hash_tells_a_cropped_copy_from_a_shot_framed_differently(name: str) -> None:
    im = PHOTOS[name]
    original = fingerprint(jpeg(im, 92)).detail
    copies = [window(im, 0.02, 0.02, 0.97), im.resize((im.width // 4, im.height // 4), Image.Resampling.LANCZOS)]
    shots = [
        window(im, 0.145, 0.075, 0.85),  # the frame moved right by 7%
        window(im, 0.17, 0.17, 0.7),  # zoomed in
        im.rotate(4, resample=Image.Resampling.BICUBIC).crop(
            (im.width // 12, im.height // 12, im.width - im.width // 12, im.height - im.height // 12)),
    ]
    assert original is not None
    for copy in copies:
        assert hamming(original, fingerprint(jpeg(copy, 60)).detail or 0) <= EXACT_MAX_DETAIL_DISTANCE
    for shot in shots:
        assert hamming(original, fingerprint(jpeg(shot, 90)).detail or 0) > EXACT_MAX_DETAIL_DISTANCE
