"""Dominant colors: k-means in CIELAB on a deterministic pixel sample."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from imagerepo.adapters.local.decode import Decoded
from imagerepo.domain.colors import color_name, delta_e76, rgb_to_lab, spoken_color_name, to_hex
from imagerepo.domain.images import Color

# Pixels the clustering looks at: enough for shares to about ±1%.
SAMPLE_SIZE = 3000
MAX_COLORS = 6
# Clusters closer than this (CIE76) are one color to a viewer and are merged.
MERGE_DELTA_E = 12.0
# Colors covering less of the image than this are dropped (the rest is renormalized).
MIN_SHARE = 0.02
_ITERATIONS = 12
_SEED = 20240601

FloatArray = npt.NDArray[np.float64]

# sRGB -> linear for every 8-bit value, and the matrix to XYZ (D65), as in domain/colors.py.
_LINEAR = np.array([c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in np.arange(256) / 255.0])
_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_WHITE = np.array([0.95047, 1.0, 1.08883])


def srgb_to_lab(rgb: npt.NDArray[np.uint8]) -> FloatArray:
    """Vectorized ``domain.colors.rgb_to_lab`` for an (n, 3) uint8 array."""
    xyz = (_LINEAR[rgb] @ _TO_XYZ.T) / _WHITE
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def sample_pixels(
    rgb: npt.NDArray[np.uint8], opaque: npt.NDArray[np.bool_] | None, size: int = SAMPLE_SIZE
) -> npt.NDArray[np.uint8]:
    """Up to ``size`` opaque pixels, the same ones for the same image."""
    pixels = rgb.reshape(-1, 3)
    if opaque is not None:
        pixels = pixels[opaque.reshape(-1)]
    if len(pixels) <= size:
        return pixels
    rng = np.random.default_rng(_SEED)
    return pixels[rng.choice(len(pixels), size=size, replace=False)]


def kmeans(points: FloatArray, k: int, *, seed: int = _SEED, iterations: int = _ITERATIONS) -> npt.NDArray[np.intp]:
    """Lloyd's algorithm with k-means++ seeding; returns each point's cluster index."""
    rng = np.random.default_rng(seed)
    n = len(points)
    k = min(k, n)
    centers = np.empty((k, points.shape[1]))
    centers[0] = points[rng.integers(n)]
    d2 = ((points - centers[0]) ** 2).sum(axis=1)
    for i in range(1, k):
        total = d2.sum()
        if total <= 0:  # fewer distinct points than k
            centers = centers[:i]
            break
        centers[i] = points[rng.choice(n, p=d2 / total)]
        d2 = np.minimum(d2, ((points - centers[i]) ** 2).sum(axis=1))
    labels = np.full(n, -1, dtype=np.intp)
    for _ in range(iterations):
        # |x - c|² = |x|² - 2x·c + |c|²; |x|² is the same for every center.
        new = ((centers**2).sum(axis=1)[None, :] - 2.0 * (points @ centers.T)).argmin(axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        counts = np.bincount(labels, minlength=len(centers)).astype(np.float64)
        sums = np.stack([np.bincount(labels, weights=points[:, d], minlength=len(centers)) for d in range(3)], 1)
        filled = counts > 0
        centers[filled] = sums[filled] / counts[filled, None]
    return labels


def palette(rgb: npt.NDArray[np.uint8], opaque: npt.NDArray[np.bool_] | None = None) -> tuple[Color, ...]:
    """The image's main colors, largest share first; shares sum to 1 (rounded to 3 places)."""
    pixels = sample_pixels(rgb, opaque)
    if len(pixels) == 0:
        return ()
    labels = kmeans(srgb_to_lab(pixels), MAX_COLORS)
    groups: list[tuple[npt.NDArray[np.float64], int]] = []
    for j in range(int(labels.max()) + 1):
        members = pixels[labels == j]
        if len(members):
            groups.append((members.astype(np.float64).sum(axis=0), len(members)))
    groups = _merge_close(groups)
    total = sum(count for _, count in groups)
    kept = [(s, c) for s, c in groups if c / total >= MIN_SHARE] or groups
    kept_total = sum(c for _, c in kept)
    kept.sort(key=lambda g: -g[1])
    colors = []
    for sums, count in kept:
        mean = tuple(round(float(v)) for v in sums / count)
        colors.append(Color(hex=to_hex(mean), fraction=round(count / kept_total, 3), name=color_name(mean)))
    return tuple(colors)


def _merge_close(groups: list[tuple[FloatArray, int]]) -> list[tuple[FloatArray, int]]:
    """Merge the closest pair of clusters while any two are within MERGE_DELTA_E."""
    groups = list(groups)
    while len(groups) > 1:
        labs = [rgb_to_lab(tuple(s / c)) for s, c in groups]
        best: tuple[float, int, int] | None = None
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                d = delta_e76(labs[i], labs[j])
                if d < MERGE_DELTA_E and (best is None or d < best[0]):
                    best = (d, i, j)
        if best is None:
            break
        _, i, j = best
        merged = (groups[i][0] + groups[j][0], groups[i][1] + groups[j][1])
        groups = [g for n, g in enumerate(groups) if n not in (i, j)] + [merged]
    return groups


def colors_of(image: Decoded) -> tuple[Color, ...]:
    """The palette of a decoded upload, as the analyzer's colors stage computes it.

    The sample is drawn from the decoded pixels as they are (a 12 MP JPEG arrives at 500×375
    from its 1/8 DCT draft): resizing first would cost more than the clustering and change
    nothing a sample of SAMPLE_SIZE pixels can see.
    """
    return palette(image.rgb, image.opaque)


# First color: how much the center (where the subject usually is) and saturation count.
_CENTER_SIGMA = 0.45  # of the image's width/height (wide: a mild pull to the middle)
_CHROMA_SCALE = 25.0  # CIELAB chroma at which a color counts double a gray of the same area
_GRID = 64


def first_color(image: Decoded, colors: tuple[Color, ...]) -> str | None:
    """The color name a person says first: the palette weighted toward the middle and toward
    saturated colors (a red bus on a gray street is red), named by its basic term (olive leaves
    are green); the palette's names and shares stay as they are."""
    if not colors:
        return None
    rgb = image.rgb
    h, w = rgb.shape[:2]
    ys = np.linspace(0, h - 1, min(h, _GRID)).astype(np.intp)
    xs = np.linspace(0, w - 1, min(w, _GRID)).astype(np.intp)
    grid = rgb[np.ix_(ys, xs)].reshape(-1, 3)
    yy, xx = np.meshgrid(ys / max(h - 1, 1) - 0.5, xs / max(w - 1, 1) - 0.5, indexing="ij")
    weight = np.exp(-(yy**2 + xx**2) / (2 * _CENTER_SIGMA**2)).reshape(-1)
    if image.opaque is not None:
        weight = weight * image.opaque[np.ix_(ys, xs)].reshape(-1)
    labs = srgb_to_lab(grid)
    centers = srgb_to_lab(np.array([[int(c.hex[i : i + 2], 16) for i in (1, 3, 5)] for c in colors], dtype=np.uint8))
    nearest = ((labs[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    chroma = np.hypot(centers[:, 1], centers[:, 2])
    scores: dict[str, float] = {}
    for j, c in enumerate(colors):
        seen = float(weight[nearest == j].sum()) * (1.0 + chroma[j] / _CHROMA_SCALE)
        name = spoken_color_name(c.name)
        scores[name] = scores.get(name, 0.0) + seen
    best = max(scores.items(), key=lambda kv: kv[1])
    return best[0] if best[1] > 0 else spoken_color_name(colors[0].name)
