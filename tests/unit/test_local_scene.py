"""The sky cue: a smooth blue band across the top of a photo is tagged "sky"; nothing else is."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from imagerepo.adapters.local import LocalImageAnalyzer
from imagerepo.adapters.local import models as m
from imagerepo.adapters.local.decode import Decoded
from imagerepo.adapters.local.scene import has_sky
from imagerepo.domain.images import AnalysisResult
from tests.photos import ERASE, LOMIRI, MONUMENTS, TUXPAINT, gcompris_photo, package_photo


def picture(top: tuple[int, int, int], *, noise: int = 0, alpha: bool = False, seed: int = 0) -> Decoded:
    """A 96 px image: ``top`` over its upper third, darker toward the top as skies are (plus
    uniform noise), brown ground below."""
    rng = np.random.default_rng(seed)
    rgb = np.zeros((96, 96, 3), np.int32)
    rgb[:32] = top
    rgb[:32] -= np.linspace(40, 0, 32).astype(np.int32)[:, None, None]
    rgb[32:] = (120, 90, 50)
    if noise:
        rgb[:32] += rng.integers(-noise, noise + 1, size=(32, 96, 3))
    opaque = None
    if alpha:
        opaque = np.ones((96, 96), bool)
        opaque[90:, :6] = False
    return Decoded(np.clip(rgb, 0, 255).astype(np.uint8), opaque, (96, 96))


blue_skies = st.tuples(st.integers(40, 150), st.integers(90, 200), st.integers(180, 255)).filter(
    lambda c: c[2] > c[0] + 15 and c[2] >= c[1] - 5 and c[1] >= c[0] - 5
)


@given(blue_skies)
def test_a_smooth_blue_top_is_sky(top: tuple[int, int, int]) -> None:
    assert has_sky(picture(top))


@given(blue_skies, st.integers(1, 4))
def test_flat_fills_and_stripes_are_graphics_not_sky(top: tuple[int, int, int], stripes: int) -> None:
    """A blue fill, or a flag's vertical stripes of blue and white: no shading from row to row."""
    flat = picture(top)
    flat.rgb[:32] = top
    assert not has_sky(flat)
    for k in range(stripes):
        flat.rgb[:, 96 * k // stripes : 96 * k // stripes + 8] = 255
    assert not has_sky(flat)


@given(blue_skies, st.integers(0, 3))
def test_a_cut_out_never_has_sky(top: tuple[int, int, int], seed: int) -> None:
    assert not has_sky(picture(top, alpha=True, seed=seed))


@given(blue_skies, st.integers(0, 10))
def test_a_textured_blue_top_is_not_sky(top: tuple[int, int, int], seed: int) -> None:
    """Blue but busy (water seen from above, a blue car, a crowd in blue): no sky."""
    assert not has_sky(picture(top, noise=60, seed=seed))


@given(st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)))
def test_only_blue_to_cyan_is_sky(top: tuple[int, int, int]) -> None:
    image = picture(top)
    r, g, b = (float(v) for v in image.rgb[:30].reshape(-1, 3).mean(axis=0))
    if has_sky(image):  # never purple, gray or green
        assert b > r + 14
        assert b >= 89
        assert g >= r - 6
        assert b >= g - 6


@pytest.fixture(scope="module")
def analyzed() -> Callable[[str, str], AnalysisResult]:
    if not m.models_available():
        pytest.fail("the `local` extra is not installed")
    analyzer = LocalImageAnalyzer(nsfw=False)

    def get(source: str, name: str) -> AnalysisResult:
        if source == "gcompris":
            return analyzer.analyze(gcompris_photo(name), "image/webp")
        return analyzer.analyze(package_photo({"lomiri": LOMIRI, "tuxpaint": TUXPAINT}[source] / name), "image/jpeg")

    return get


@pytest.mark.slow
@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("lomiri", "Bridge_by_Sander_Klootwijk.jpg"),
        ("lomiri", "sunset_by_Aitzol_Berasategi.jpg"),
        ("gcompris", MONUMENTS + "empireState.webp"),
    ],
)
def test_photos_under_open_sky_get_sky(analyzed: Callable[[str, str], AnalysisResult], source: str, name: str) -> None:
    """A suspension bridge at dusk and a sunset, which no ImageNet class named, and a skyscraper."""
    assert "sky" in {t.name for t in analyzed(source, name).tags[:5]}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("lomiri", "goldfish.png"),  # ukui-wallpapers' goldfish (same folder): a smooth purple backdrop
        ("lomiri", "friends_by_Aitzol_Berasategi.jpg"),
        ("tuxpaint", "plants/flowers/anemone_red.png"),  # a cut-out
        ("gcompris", ERASE + "dolphin.webp"),  # blue water, textured light
        ("gcompris", ERASE + "kitten.webp"),
    ],
)
def test_other_photos_get_no_sky(analyzed: Callable[[str, str], AnalysisResult], source: str, name: str) -> None:
    assert "sky" not in {t.name for t in analyzed(source, name).tags}
