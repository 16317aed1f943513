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
# Longest side text reading asks for (decode's ``longest``): 12 MP decodes at 1/4 scale, 1000×750.
TEXT_SIDE = 896
# Pixels with less alpha than this are left out of the palette.
_OPAQUE = 128


@attrs.frozen
class Decoded:
    """The working image: RGB over white (for the models) and the opaque-pixel mask (for colors)."""

    rgb: npt.NDArray[np.uint8]  # (h, w, 3)
    opaque: npt.NDArray[np.bool_] | None  # (h, w); None when every pixel is opaque
    original_size: tuple[int, int]  # (width, height) of the upload, after EXIF orientation
    reduced: bool = False  # decoded at a JPEG draft scale: a re-decode can give more detail

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


def decode(data: bytes, *, min_side: int = DRAFT_SIDE, longest: int = 0) -> Decoded:
    """Any accepted format and mode -> 8-bit RGB at most WORKING_SIZE on the longest side.

    Grayscale, palette, alpha, CMYK, 16-bit and float modes are all handled; animations give
    their first frame. JPEGs are decoded at a reduced scale that keeps both sides at least
    ``min_side`` and the longest side at least ``longest`` (or the full size). Raises
    AnalysisFailed when the bytes are not a decodable image.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            optional_formats()
            im = Image.open(io.BytesIO(data))
            width, height = im.size
            if im.format == "JPEG":
                # draft keeps both sides at least as large as asked: ask for the longest side's share.
                tall = longest * height // max(width, height, 1)
                wide = longest * width // max(width, height, 1)
                im.draft("RGB", (max(min_side, wide), max(min_side, tall)))
            im.seek(0)
            im.load()
            oriented = ImageOps.exif_transpose(im)
            # exif_transpose swaps the sides for quarter turns (orientations 5-8).
            swapped = oriented.size != im.size and oriented.size == (im.size[1], im.size[0])
            original_size = (height, width) if swapped else (width, height)
            oriented.thumbnail((WORKING_SIZE, WORKING_SIZE), Image.Resampling.BOX)
            rgb, opaque = _to_rgb(oriented)
    except (
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as e:
        raise AnalysisFailed(f"the image could not be decoded: {e}") from e
    return Decoded(rgb=rgb, opaque=opaque, original_size=original_size, reduced=im.size != (width, height))


# Original modes whose preview (a JPEG thumbnail, flattened over white, 8-bit) has the same pixels
# as decode() would give: alpha (the palette leaves transparent pixels out) and 16-bit/float
# modes (scaled here, clipped by the thumbnailer) decode the original.
_PREVIEW_MODES = frozenset({"RGB", "L", "1", "CMYK", "YCbCr", "P"})
# The preview is used only for an original at least this many times its longest side: there decoding
# the original costs the most (a JPEG at 1/4 or 1/8 scale still entropy-decodes every byte: ~30 ms
# for 12 MP), while a smaller original decodes in a few ms and its pixels are kept.
PREVIEW_GAIN = 4


def decode_preferring(data: bytes, preview: bytes | None, *, min_side: int = DRAFT_SIDE) -> Decoded:
    """decode(preview) when it is enough: both its sides at least ``min_side``, the original
    PREVIEW_GAIN times larger and without transparency. A preview larger than decode(data) would
    be is reduced to that size (the stages see the pixel size they always saw). The result keeps
    the original's size (upright) and is ``reduced`` (a re-decode of ``data`` gives more detail).
    Else, or when the preview is unreadable, decode(data).
    """
    if preview is not None:
        sizes, shown = _plain_sizes(data, min_side), _plain_sizes(preview, min_side)  # headers only
        if sizes is not None and shown is not None and min(shown[0]) >= min_side \
                and max(sizes[0]) >= PREVIEW_GAIN * max(shown[0]):
            small = _try_decode(preview)
            if small is not None:
                original, working = sizes
                if working[0] < small.width and working[1] < small.height:
                    small = Decoded(rgb=small.resized(max(working)), opaque=None, original_size=original)
                return attrs.evolve(small, original_size=original, reduced=True)
    return decode(data, min_side=min_side)


def _try_decode(data: bytes) -> Decoded | None:
    try:
        return decode(data)
    except AnalysisFailed:
        return None


def _plain_sizes(data: bytes, min_side: int) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """From the header alone, upright (width, height): the original's and decode()'s result's;
    None when it has transparency, is not 8-bit, does not open (decode() gives its reason), or is
    a PNG without EXIF ahead of its pixels (its orientation is known only once it is decoded)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            optional_formats()
            with Image.open(io.BytesIO(data)) as im:
                if im.mode not in _PREVIEW_MODES or "transparency" in im.info:
                    return None
                if im.format == "PNG" and "exif" not in im.info:
                    return None
                width, height = im.size
                if im.format == "JPEG":
                    im.draft("RGB", (min_side, min_side))  # as decode(): sets the scale, decodes nothing
                scale = min(1.0, WORKING_SIZE / max(im.size))
                working = max(1, round(im.size[0] * scale)), max(1, round(im.size[1] * scale))
                # as exif_transpose: orientations 5-8 are quarter turns
                if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                    return (height, width), (working[1], working[0])
                return (width, height), working
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None


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
