"""Color math: hex parsing, sRGB -> CIELAB, distances, and the fixed color-name vocabulary.

Pure Python so every adapter (memory, SQLite, PostgreSQL) scores colors with the same numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from imagerepo.domain.errors import InvalidQuery

_HEX = re.compile(r"#?([0-9a-fA-F]{6})")

RGB = tuple[int, int, int]
Lab = tuple[float, float, float]


def parse_hex(value: str) -> RGB:
    """'#1f6fb2' -> (31, 111, 178); raises InvalidQuery on anything else."""
    m = _HEX.fullmatch(value.strip()) if isinstance(value, str) else None
    if m is None:
        raise InvalidQuery(
            "color must be a hex color like #1f6fb2.", {"color": ["must look like #rrggbb"]}
        )
    h = m.group(1)
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def to_hex(rgb: Sequence[int]) -> str:
    r, g, b = (max(0, min(255, round(c))) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def _srgb_to_linear(c: float) -> float:
    c /= 255.0
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


# D65 reference white.
_XN, _YN, _ZN = 0.95047, 1.0, 1.08883


def _f(t: float) -> float:
    return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116


def rgb_to_lab(rgb: Sequence[float]) -> Lab:
    r, g, b = (_srgb_to_linear(float(c)) for c in rgb)
    x = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b
    y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
    z = 0.0193339 * r + 0.1191920 * g + 0.9503041 * b
    fx, fy, fz = _f(x / _XN), _f(y / _YN), _f(z / _ZN)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def delta_e76(a: Lab, b: Lab) -> float:
    """CIE76: Euclidean distance in CIELAB. About 2.3 is a just-noticeable difference."""
    return math.sqrt((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2)


def delta_e2000(lab1: Lab, lab2: Lab) -> float:
    """CIEDE2000 (Sharma et al. 2005); used for naming, where it matches perception best."""
    l1, a1, b1 = lab1
    l2, a2, b2 = lab2
    c1, c2 = math.hypot(a1, b1), math.hypot(a2, b2)
    cbar = (c1 + c2) / 2
    g = 0.5 * (1 - math.sqrt(cbar**7 / (cbar**7 + 25**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360 if c1p else 0.0
    h2p = math.degrees(math.atan2(b2, a2p)) % 360 if c2p else 0.0
    dlp, dcp = l2 - l1, c2p - c1p
    if c1p * c2p == 0:
        dhp = 0.0
    elif abs(h2p - h1p) <= 180:
        dhp = h2p - h1p
    elif h2p - h1p > 180:
        dhp = h2p - h1p - 360
    else:
        dhp = h2p - h1p + 360
    dhp_big = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dhp / 2))
    lbarp, cbarp = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        hbarp = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        hbarp = (h1p + h2p) / 2
    elif h1p + h2p < 360:
        hbarp = (h1p + h2p + 360) / 2
    else:
        hbarp = (h1p + h2p - 360) / 2
    t = (
        1
        - 0.17 * math.cos(math.radians(hbarp - 30))
        + 0.24 * math.cos(math.radians(2 * hbarp))
        + 0.32 * math.cos(math.radians(3 * hbarp + 6))
        - 0.20 * math.cos(math.radians(4 * hbarp - 63))
    )
    dtheta = 30 * math.exp(-(((hbarp - 275) / 25) ** 2))
    rc = 2 * math.sqrt(cbarp**7 / (cbarp**7 + 25**7))
    sl = 1 + 0.015 * (lbarp - 50) ** 2 / math.sqrt(20 + (lbarp - 50) ** 2)
    sc = 1 + 0.045 * cbarp
    sh = 1 + 0.015 * cbarp * t
    rt = -math.sin(math.radians(2 * dtheta)) * rc
    return math.sqrt(
        (dlp / sl) ** 2 + (dcp / sc) ** 2 + (dhp_big / sh) ** 2 + rt * (dcp / sc) * (dhp_big / sh)
    )


# The fixed vocabulary: broad names people type in a search box. Each name is anchored at one
# or more sRGB points; a color takes the name of the nearest anchor under CIEDE2000.
COLOR_VOCABULARY: dict[str, tuple[RGB, ...]] = {
    "black": ((0, 0, 0), (28, 28, 30)),
    "gray": ((128, 128, 128), (80, 80, 84), (180, 180, 180)),
    "white": ((255, 255, 255), (235, 235, 230)),
    "red": ((220, 20, 30), (160, 20, 25)),
    "pink": ((255, 150, 180), (230, 90, 150)),
    "orange": ((255, 140, 0), (230, 110, 40)),
    "brown": ((140, 80, 30), (100, 60, 35), (170, 120, 80)),
    "beige": ((225, 205, 165), (200, 180, 140)),
    "yellow": ((255, 220, 0), (240, 230, 110)),
    "olive": ((128, 128, 0), (100, 105, 40)),
    "green": ((40, 160, 40), (20, 100, 30), (120, 200, 90)),
    "teal": ((0, 128, 128), (40, 170, 160)),
    "cyan": ((0, 200, 230), (120, 220, 240)),
    "blue": ((30, 90, 200), (20, 40, 120), (100, 150, 230), (0, 0, 255)),
    "navy": ((0, 0, 100), (20, 30, 70)),
    "purple": ((128, 40, 160), (90, 30, 110), (170, 120, 210)),
}

_ANCHORS: list[tuple[str, Lab]] = [
    (name, rgb_to_lab(rgb)) for name, anchors in COLOR_VOCABULARY.items() for rgb in anchors
]


def color_name(rgb: Sequence[int]) -> str:
    """The vocabulary name nearest to ``rgb``."""
    lab = rgb_to_lab(rgb)
    return min(_ANCHORS, key=lambda item: delta_e2000(lab, item[1]))[0]


# Vocabulary names that are shades of a basic color term: a palette keeps them apart, but a
# person naming a photo's color says the basic term (olive foliage is green, a navy coat blue).
_BASIC_TERM = {"olive": "green", "navy": "blue"}


def spoken_color_name(name: str) -> str:
    """The basic color term a person says for a vocabulary name ("olive" -> "green")."""
    return _BASIC_TERM.get(name, name)


# Neutral names: nearly every photo holds some black, gray or white, so neutral queries match by
# distance only (by name, #808080 would find almost every photo).
NEUTRAL_NAMES = frozenset({"black", "gray", "white"})


def same_name_colors(rgb: Sequence[int]) -> frozenset[str]:
    """The palette color names a query color matches whatever their distance: those spoken as
    the query's basic color term (#0000ff: "blue" and "navy"); none for a neutral query.

    A browser's pure blue lies far in CIELAB from any blue a photo holds, so distance alone
    misses what a person calls blue; the name rule widens the matches, distance still orders them.
    """
    spoken = spoken_color_name(color_name(rgb))
    if spoken in NEUTRAL_NAMES:
        return frozenset()
    return frozenset(n for n in (*COLOR_VOCABULARY, *_BASIC_TERM) if spoken_color_name(n) == spoken)


# Color search (scored in domain/ranking.py): a palette color counts within this CIE76 distance,
# or at any distance when it is named like the query (same_name_colors).
COLOR_MATCH_CUTOFF = 25.0
# How much a color's share of the image lowers (improves) its score.
COLOR_SHARE_WEIGHT = 10.0
# Palette colors under this share are too small to match.
COLOR_MIN_FRACTION = 0.03
