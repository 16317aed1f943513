"""IMAGEREPO_MAX_PIXELS decides how big an image may be, not Pillow's own limit (about 89
megapixels, and a hard error at twice that)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagerepo.adapters.pillow_inspector import PillowImageInspector
from imagerepo.domain.errors import InvalidImage
from imagerepo.entrypoints.settings import Settings
from tests import images as img


def test_an_image_at_the_default_limit_is_accepted(tmp_path: Path) -> None:
    """100 megapixels is the documented default: a real 10000x10000 image passes."""
    path = tmp_path / "big.png"
    path.write_bytes(img.blank_png(10_000, 10_000))
    inspected = PillowImageInspector(max_pixels=Settings().max_pixels).inspect(path)
    assert (inspected.width, inspected.height) == (10_000, 10_000)


@pytest.mark.parametrize("limit", [95_000_000, 150_000_000, 250_000_000])
def test_the_setting_is_the_limit(tmp_path: Path, limit: int) -> None:
    """Header-only images (tiny on disk): one of exactly ``limit`` pixels gets past the size check
    and fails later, for its missing body; one pixel more is refused for its size."""
    inspector = PillowImageInspector(max_pixels=limit)
    at_limit, over = tmp_path / "at.png", tmp_path / "over.png"
    at_limit.write_bytes(img.decompression_bomb_png(limit // 1000, 1000))
    over.write_bytes(img.decompression_bomb_png(limit // 1000 + 1, 1000))
    with pytest.raises(InvalidImage) as refused:
        inspector.inspect(over)
    assert refused.value.details.get("max_pixels") == limit
    with pytest.raises(InvalidImage) as later:
        inspector.inspect(at_limit)
    assert "max_pixels" not in later.value.details
    assert "truncated or corrupt" in later.value.message
