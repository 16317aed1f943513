"""The perceptual hash (DCT pHash) of decoded pixels.

Grey levels at 32×32, a 2-D DCT, and the 8×8 lowest frequencies (bar the constant term's row
and column weighting, which the median absorbs) compared with their median: 64 bits that a
re-encode, resize or mild color change barely moves. The detail hash (domain.similarity) is the
signs of the next band of the same transform: the 128 frequencies with one index in 8..15 and
the other below 8. Computed on pixels already decoded small
(the upload's thumbnail, the analysis's working image), so it costs well under a millisecond.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image

_SIDE = 32
_LOW = 8


def _dct_matrix(n: int) -> npt.NDArray[np.float64]:
    """Orthonormal DCT-II: ``m @ x`` transforms a column, ``m @ x @ m.T`` a square."""
    k = np.arange(n)[:, None]
    m = np.cos(np.pi * (2 * np.arange(n)[None, :] + 1) * k / (2 * n)) * np.sqrt(2 / n)
    m[0] /= np.sqrt(2)
    return np.asarray(m, dtype=np.float64)


_DCT = _dct_matrix(_SIDE)
_u, _v = np.meshgrid(np.arange(2 * _LOW), np.arange(2 * _LOW), indexing="ij")
# One of the two frequencies in 8..15, the other below 8: 2 × 8 × 8 = 128 of them.
_DETAIL = (np.maximum(_u, _v) >= _LOW) & (np.minimum(_u, _v) < _LOW)


def _gray(im: Image.Image) -> npt.NDArray[np.float64]:
    gray = im.convert("L").resize((_SIDE, _SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.asarray(gray, dtype=np.float64)


def phash_of_image(im: Image.Image) -> int:
    """64-bit pHash of a Pillow image (any mode; alpha is dropped)."""
    return hashes_of_image(im)[0]


def hashes_of_image(im: Image.Image) -> tuple[int, int]:
    """(64-bit pHash, 128-bit detail hash) of a Pillow image, from one transform."""
    dct = _DCT @ _gray(im) @ _DCT.T
    low = dct[:_LOW, :_LOW].ravel()
    return _int(low > np.median(low)), _int(dct[: 2 * _LOW, : 2 * _LOW][_DETAIL] > 0)


def phash_of_rgb(rgb: npt.NDArray[np.uint8]) -> int:
    """64-bit pHash of (h, w, 3) RGB pixels."""
    return phash_of_image(Image.fromarray(np.ascontiguousarray(rgb)))


def hashes_of_rgb(rgb: npt.NDArray[np.uint8]) -> tuple[int, int]:
    """(pHash, detail hash) of (h, w, 3) RGB pixels."""
    return hashes_of_image(Image.fromarray(np.ascontiguousarray(rgb)))


def _int(bits: npt.NDArray[np.bool_]) -> int:
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value
