"""The perceptual hash (DCT pHash) of decoded pixels.

Grey levels at 32×32, a 2-D DCT, and the 8×8 lowest frequencies (bar the constant term's row
and column weighting, which the median absorbs) compared with their median: 64 bits that a
re-encode, resize or mild color change barely moves. Computed on pixels already decoded small
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


def phash_of_image(im: Image.Image) -> int:
    """64-bit pHash of a Pillow image (any mode; alpha is dropped)."""
    gray = im.convert("L").resize((_SIDE, _SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return _bits(np.asarray(gray, dtype=np.float64))


def phash_of_rgb(rgb: npt.NDArray[np.uint8]) -> int:
    """64-bit pHash of (h, w, 3) RGB pixels."""
    return phash_of_image(Image.fromarray(np.ascontiguousarray(rgb)))


def _bits(gray: npt.NDArray[np.float64]) -> int:
    low = (_DCT @ gray @ _DCT.T)[:_LOW, :_LOW].ravel()
    above = low > np.median(low)
    value = 0
    for bit in above:
        value = (value << 1) | int(bit)
    return value
