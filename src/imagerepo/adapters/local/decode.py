"""Decode once, small: the one place that turns upload bytes into pixels for every stage."""

from __future__ import annotations

import io
import warnings

import attrs
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from imagerepo.adapters.codecs import optional_formats
from imagerepo.domain.errors import AnalysisFailed

# Longest side kept after decoding; every stage reduces further to what it needs.
WORKING_SIZE = 1024
# JPEG draft target: DCT scaling keeps each side at least this large (12 MP -> 500×375),
# enough for colors, tags and faces; OCR asks for more.
DRAFT_SIDE = 256
# Longest side text reading wants when asked for detail (a 12 MP photo at 1/4 scale: 1000×750).
DETAIL_SIDE = 896
# Pixels with less alpha than this are left out of the palette.
_OPAQUE = 128


@attrs.frozen
class Decoded:
    """The working image: RGB over white (for the models) and the opaque-pixel mask (for colors)."""

    rgb: npt.NDArray[np.uint8]  # (h, w, 3)
    opaque: npt.NDArray[np.bool_] | None  # (h, w); None when every pixel is opaque
    original_size: tuple[int, int]  # (width, height) of the upload, after EXIF orientation
    # Sharper pixels of the same picture (for text), when decode(detail=True) got more than ``rgb``.
    detail: npt.NDArray[np.uint8] | None = None

    @property
    def sharpest(self) -> npt.NDArray[np.uint8]:
        return self.rgb if self.detail is None else self.detail

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    def _size_within(self, longest: int) -> tuple[int, int] | None:
        h, w = self.rgb.shape[:2]
        if max(h, w) <= longest:
            return None
        scale = longest / max(h, w)
        return max(1, round(w * scale)), max(1, round(h * scale))

    def resized(self, longest: int) -> npt.NDArray[np.uint8]:
        """The RGB pixels with the longest side at most ``longest`` (box filter, aspect kept)."""
        size = self._size_within(longest)
        if size is None:
            return self.rgb
        return np.asarray(Image.fromarray(self.rgb).resize(size, Image.Resampling.BOX))

    def resized_opaque(self, longest: int) -> npt.NDArray[np.bool_] | None:
        """The opaque mask matching ``resized(longest)``."""
        size = self._size_within(longest)
        if self.opaque is None or size is None:
            return self.opaque
        mask = Image.fromarray(self.opaque.astype(np.uint8) * 255).resize(size, Image.Resampling.NEAREST)
        return np.asarray(mask) >= _OPAQUE


def decode(data: bytes, *, min_side: int = DRAFT_SIDE, detail: bool = False) -> Decoded:
    """Any accepted format and mode -> 8-bit RGB at most WORKING_SIZE on the longest side.

    Grayscale, palette, alpha, CMYK, 16-bit and float modes are all handled; animations give
    their first frame. JPEGs are decoded at a reduced scale that keeps both sides at least
    ``min_side`` (or the full size). Raises AnalysisFailed when the bytes are not a decodable image.

    With ``detail``, a JPEG is decoded once at the larger scale that keeps its longest side at
    least DETAIL_SIDE too; ``detail`` keeps those pixels and ``rgb`` is them reduced by the whole
    factor between the two scales: the same size as without ``detail``, so every stage sees what
    it saw before. Huffman decoding costs the same at any scale, so this is one decode, not two.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            optional_formats()
            im = Image.open(io.BytesIO(data))
            width, height = im.size
            factor = 1  # from the pixels decoded to ``rgb``
            if im.format == "JPEG":
                if detail:
                    longest = max(width, height)
                    request = tuple(max(min_side, -(-side * DETAIL_SIDE // longest)) for side in (width, height))
                    drafted = im.draft("RGB", (request[0], request[1]))
                    scale = round(width / drafted[1][2]) if drafted else 1
                    factor = max(1, _draft_scale((width, height), min_side) // scale)
                else:
                    im.draft("RGB", (min_side, min_side))
            im.seek(0)
            im.load()
            oriented = ImageOps.exif_transpose(im)
            # exif_transpose swaps the sides for quarter turns (orientations 5-8).
            swapped = oriented.size != im.size and oriented.size == (im.size[1], im.size[0])
            original_size = (height, width) if swapped else (width, height)
            sharp: Image.Image | None = None
            if factor > 1 and oriented.mode in _REDUCIBLE:
                sharp = oriented.copy()
                sharp.thumbnail((WORKING_SIZE, WORKING_SIZE), Image.Resampling.BOX)
                oriented = oriented.reduce(factor)
            oriented.thumbnail((WORKING_SIZE, WORKING_SIZE), Image.Resampling.BOX)
            rgb, opaque = _to_rgb(oriented)
            sharp_rgb = _to_rgb(sharp)[0] if sharp is not None else None
    except (
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as e:
        raise AnalysisFailed(f"the image could not be decoded: {e}") from e
    return Decoded(rgb=rgb, opaque=opaque, original_size=original_size, detail=sharp_rgb)


# Modes of a decoded JPEG that Image.reduce takes (none has alpha, so no mask to reduce).
_REDUCIBLE = ("L", "RGB", "CMYK")


def _draft_scale(size: tuple[int, int], min_side: int) -> int:
    """The scale Pillow's JPEG draft picks to keep both sides at least ``min_side``."""
    fits = min(size[0] // min_side, size[1] // min_side)
    return next((s for s in (8, 4, 2) if fits >= s), 1)


def _to_rgb(im: Image.Image) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_] | None]:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        gray = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2), None
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info)
    if mode in ("L", "1"):
        gray = np.asarray(im.convert("L"), dtype=np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2), None
    if not has_alpha:
        return np.asarray(im.convert("RGB"), dtype=np.uint8), None
    rgba = np.asarray(im.convert("RGBA"), dtype=np.uint8)
    alpha = rgba[:, :, 3:4].astype(np.float32) / 255.0
    # Over white, as a viewer would show it.
    over = rgba[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    opaque = rgba[:, :, 3] >= _OPAQUE
    return np.clip(over + 0.5, 0, 255).astype(np.uint8), (None if bool(opaque.all()) else opaque)
