"""The first color: what a person names first (subject over background, saturated over gray)."""

from __future__ import annotations

import numpy as np
import pytest

from imagerepo.adapters.local import LocalImageAnalyzer
from tests.photos import LOMIRI, package_photo, png

skimage_data = pytest.importorskip("skimage.data")



@pytest.fixture(scope="module")
def analyzer() -> LocalImageAnalyzer:
    return LocalImageAnalyzer(models=False)  # colors need no model


def test_the_orange_suit_comes_before_the_gray_background(analyzer: LocalImageAnalyzer) -> None:
    result = analyzer.analyze(png(skimage_data.astronaut()), "image/png")
    assert result.colors[0].name != "orange"  # by share, the background wins
    assert result.extra["first_color"] == "orange"
    assert abs(sum(c.fraction for c in result.colors) - 1.0) < 0.01  # the palette keeps its shares


def test_a_red_fig_on_gray_stone_is_red(analyzer: LocalImageAnalyzer) -> None:
    result = analyzer.analyze(package_photo(LOMIRI / "Picture_0B_by_freespace.jpg"), "image/jpeg")
    assert result.colors[0].name == "gray"
    assert result.extra["first_color"] == "red"
    assert result.description.startswith("A mostly red")


def test_a_small_bright_spot_on_a_flat_image_is_named_first() -> None:
    from imagerepo.adapters.local.decode import decode
    from imagerepo.adapters.local.palette import colors_of, first_color

    arr = np.full((200, 300, 3), 128, dtype=np.uint8)
    arr[50:150, 90:210] = (220, 20, 30)  # red, a fifth of the image, in the middle
    image = decode(png(arr))
    colors = colors_of(image)
    assert colors[0].name == "gray"
    assert first_color(image, colors) == "red"
    arr[:, :] = 128
    gray = decode(png(arr))
    assert first_color(gray, colors_of(gray)) == "gray"


def test_olive_foliage_is_named_green_and_the_palette_keeps_olive(analyzer: LocalImageAnalyzer) -> None:
    result = analyzer.analyze(package_photo(LOMIRI / "aitzgorri_by_Aitzol_Berasategi.jpg"), "image/jpeg")
    assert result.colors[0].name == "olive"  # color search keeps the finer name
    assert result.extra["first_color"] == "green"
    assert "mostly green" in result.description
    assert "olive" not in result.description
