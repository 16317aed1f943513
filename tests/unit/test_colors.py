"""Color math and the color vocabulary: the rules every adapter's color search relies on."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from imagerepo.adapters.local.palette import srgb_to_lab
from imagerepo.domain.colors import (
    COLOR_VOCABULARY,
    color_name,
    delta_e76,
    delta_e2000,
    parse_hex,
    rgb_to_lab,
    spoken_color_name,
    to_hex,
)
from imagerepo.domain.errors import InvalidQuery

channels = st.integers(min_value=0, max_value=255)
rgbs = st.tuples(channels, channels, channels)
labs = st.tuples(
    st.floats(min_value=0, max_value=100), st.floats(min_value=-128, max_value=127), st.floats(-128, 127)
)


@given(rgbs)
def test_hex_round_trip(rgb: tuple[int, int, int]) -> None:
    h = to_hex(rgb)
    assert len(h) == 7
    assert h.startswith("#")
    assert parse_hex(h) == rgb
    assert parse_hex(h.upper().lstrip("#")) == rgb


@pytest.mark.parametrize("bad", ["", "#12345", "#1234567", "blue", "#gg0000", "rgb(1,2,3)"])
def test_parse_hex_rejects_what_is_not_a_hex_color(bad: str) -> None:
    with pytest.raises(InvalidQuery):
        parse_hex(bad)


@given(rgbs)
def test_lab_stays_in_range(rgb: tuple[int, int, int]) -> None:
    lightness, a, b = rgb_to_lab(rgb)
    assert -1e-4 <= lightness <= 100 + 1e-4
    assert -128 <= a <= 128
    assert -128 <= b <= 128


def test_lab_of_known_colors() -> None:
    assert rgb_to_lab((255, 255, 255)) == pytest.approx((100.0, 0.0, 0.0), abs=0.01)
    assert rgb_to_lab((0, 0, 0)) == pytest.approx((0.0, 0.0, 0.0), abs=0.01)
    # sRGB red, reference values from Lindbloom's calculator (D65).
    assert rgb_to_lab((255, 0, 0)) == pytest.approx((53.24, 80.09, 67.20), abs=0.05)


@given(rgbs)
def test_gray_has_no_chroma(rgb: tuple[int, int, int]) -> None:
    _, a, b = rgb_to_lab((rgb[0], rgb[0], rgb[0]))
    assert abs(a) < 1e-3
    assert abs(b) < 1e-3


@given(st.lists(rgbs, min_size=1, max_size=50))
def test_vectorized_lab_matches_the_domain(rgb_list: list[tuple[int, int, int]]) -> None:
    got = srgb_to_lab(np.array(rgb_list, dtype=np.uint8))
    want = np.array([rgb_to_lab(c) for c in rgb_list])
    assert np.allclose(got, want, atol=1e-6)


@given(labs, labs)
def test_delta_e_is_symmetric_and_zero_only_on_identity(a: tuple[float, ...], b: tuple[float, ...]) -> None:
    for de in (delta_e76, delta_e2000):
        assert de(a, a) == pytest.approx(0.0, abs=1e-9)  # type: ignore[arg-type]
        assert de(a, b) == pytest.approx(de(b, a), abs=1e-6)  # type: ignore[arg-type]
        assert de(a, b) >= 0  # type: ignore[arg-type]
    if max(abs(x - y) for x, y in zip(a, b, strict=True)) > 1e-6:
        assert delta_e76(a, b) > 0  # type: ignore[arg-type]


@given(labs, labs, labs)
def test_delta_e76_triangle_inequality(
    a: tuple[float, ...], b: tuple[float, ...], c: tuple[float, ...]
) -> None:
    assert delta_e76(a, c) <= delta_e76(a, b) + delta_e76(b, c) + 1e-9  # type: ignore[arg-type]


# Sharma, Wu, Dalal (2005), "The CIEDE2000 color-difference formula", table 1 (selected pairs).
SHARMA = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
    ((50.0, -1.3802, -84.2814), (50.0, 0.0, -82.7485), 1.0000),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0009), 7.1792),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((22.7233, 20.0904, -46.694), (23.0331, 14.973, -42.5619), 2.0373),
    ((90.8027, -2.0831, 1.441), (91.1528, -1.6435, 0.0447), 1.4441),
    ((2.0776, 0.0795, -1.135), (0.9033, -0.0636, -0.5514), 0.9082),
]


@pytest.mark.parametrize(("lab1", "lab2", "expected"), SHARMA)
def test_delta_e2000_matches_the_published_test_data(
    lab1: tuple[float, float, float], lab2: tuple[float, float, float], expected: float
) -> None:
    assert delta_e2000(lab1, lab2) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize(
    ("name", "anchor"), [(name, rgb) for name, anchors in COLOR_VOCABULARY.items() for rgb in anchors]
)
def test_every_vocabulary_anchor_is_named_by_its_own_name(name: str, anchor: tuple[int, int, int]) -> None:
    assert color_name(anchor) == name


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((255, 0, 0), "red"),
        ((0, 0, 255), "blue"),
        ((0, 255, 0), "green"),
        ((255, 255, 0), "yellow"),
        ((250, 250, 250), "white"),
        ((5, 5, 5), "black"),
        ((120, 120, 120), "gray"),
        ((0, 0, 128), "navy"),
        ((128, 0, 128), "purple"),
        ((255, 165, 0), "orange"),
        ((139, 69, 19), "brown"),  # saddlebrown
        ((255, 192, 203), "pink"),
    ],
)
def test_common_colors_get_the_name_people_use(rgb: tuple[int, int, int], name: str) -> None:
    assert color_name(rgb) == name


@given(st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)))
def test_the_spoken_name_is_a_basic_term_of_the_vocabulary(rgb: tuple[int, int, int]) -> None:
    name = color_name(rgb)
    spoken = spoken_color_name(name)
    assert spoken in COLOR_VOCABULARY
    assert spoken not in {"olive", "navy"}  # shades people name by their basic term
    assert spoken == name or (name, spoken) in {("olive", "green"), ("navy", "blue")}


@given(rgbs)
def test_every_color_gets_a_vocabulary_name(rgb: tuple[int, int, int]) -> None:
    assert color_name(rgb) in COLOR_VOCABULARY


@given(channels)
def test_neutral_grays_are_named_black_gray_or_white(v: int) -> None:
    assert color_name((v, v, v)) in {"black", "gray", "white"}


def test_delta_e76_is_euclidean() -> None:
    assert delta_e76((0, 3, 4), (0, 0, 0)) == pytest.approx(5.0)
    assert math.isfinite(delta_e2000((100, 127, -128), (0, -128, 127)))
