"""Pillow helpers shared by analyzers: probe cheaply, decode small, re-encode within a service's limits."""

from __future__ import annotations

import io
import math
import threading

import attrs
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from imagerepo.adapters.codecs import optional_formats
from imagerepo.domain.errors import InvalidImage

# Pillow format name -> the MIME type sent when an image goes out untouched.
_MIME = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
    "ICO": "image/x-icon",
    "MPO": "image/jpeg",
}


_pixel_limit_lock = threading.Lock()


def allow_pixels(max_pixels: int) -> None:
    """Let Pillow open images of up to ``max_pixels`` in this process.

    Pillow's own decompression-bomb limit is process-wide (``Image.MAX_IMAGE_PIXELS``, about 89
    megapixels: it warns above it and refuses twice that), so left alone it would quietly cap
    IMAGEREPO_MAX_PIXELS. It is only ever raised here: the inspector enforces the setting itself,
    and analyzers only decode images the inspector accepted.
    """
    with _pixel_limit_lock:
        current = PILImage.MAX_IMAGE_PIXELS
        if current is not None and current < max_pixels:
            PILImage.MAX_IMAGE_PIXELS = max_pixels


@attrs.frozen
class ImageLimits:
    """What a remote service accepts. Sides are inclusive bounds; bytes must stay strictly below."""

    max_bytes: int
    min_side: int
    max_side: int
    formats: frozenset[str]
    # Re-encoded copies are never larger than this (long side): analysis gains nothing from more.
    reencode_side: int = 4096
    # Images whose short side is below this are refused rather than blown up into mush.
    min_upscale_source: int = 16


@attrs.frozen
class PreparedImage:
    """The bytes to send: the original when it already fits, else a JPEG copy."""

    data: bytes
    content_type: str
    width: int
    height: int
    reencoded: bool


def probe(data: bytes) -> tuple[str, int, int]:
    """(Pillow format, width, height) from the header only; raises InvalidImage when unreadable."""
    try:
        optional_formats()
        with PILImage.open(io.BytesIO(data)) as img:
            return str(img.format or ""), img.width, img.height
    except (UnidentifiedImageError, PILImage.DecompressionBombError, OSError, ValueError) as e:
        raise InvalidImage(f"The image cannot be read: {e}") from e


def load_rgb(data: bytes, max_side: int) -> PILImage.Image:
    """Decode to RGB, upright (EXIF orientation applied), long side at most ``max_side``.

    JPEG draft mode lets libjpeg decode at 1/2, 1/4 or 1/8 scale: 3-6x faster on photos.
    """
    try:
        optional_formats()
        with PILImage.open(io.BytesIO(data)) as img:
            if img.format == "JPEG" and max(img.size) > max_side:
                img.draft("RGB", (max_side, max_side))
            upright = ImageOps.exif_transpose(img)
            upright.thumbnail((max_side, max_side), PILImage.Resampling.LANCZOS, reducing_gap=3.0)
            return _to_rgb(upright)
    except (UnidentifiedImageError, PILImage.DecompressionBombError, OSError, ValueError) as e:
        raise InvalidImage(f"The image cannot be decoded: {e}") from e


def _to_rgb(img: PILImage.Image) -> PILImage.Image:
    """Flatten transparency onto white (what a viewer shows) and drop alpha, palettes and CMYK."""
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img = img.point(lambda v: v / 256).convert("L")  # 16-bit grey to 8-bit
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        canvas = PILImage.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return img.convert("RGB")


def target_size(
    width: int, height: int, limits: ImageLimits, *, shrink_to: int | None = None
) -> tuple[int, int]:
    """The size to send: aspect kept, long side <= max(and ``shrink_to``), short side >= min.

    Raises InvalidImage when no such size exists (too small to enlarge, or too thin a strip).
    """
    long_side, short_side = max(width, height), min(width, height)
    need = f"the analyzer needs {limits.min_side}–{limits.max_side} pixels per side"
    if short_side < limits.min_upscale_source:
        raise InvalidImage(f"The image is too small to analyze ({width}×{height}); {need}.")
    if long_side * limits.min_side > short_side * limits.max_side:
        raise InvalidImage(f"The image is too long and thin to analyze ({width}×{height}); {need}.")
    scale = 1.0
    cap = min(limits.max_side, shrink_to) if shrink_to else limits.max_side
    if long_side > cap:
        scale = cap / long_side
    if short_side * scale < limits.min_side:
        scale = limits.min_side / short_side

    def side(v: int) -> int:
        return max(limits.min_side, min(limits.max_side, round(v * scale)))

    return side(width), side(height)


def fit_within(data: bytes, limits: ImageLimits) -> PreparedImage:
    """Send ``data`` as it is when it fits ``limits``; otherwise a resized JPEG copy that does.

    The caller's bytes are never changed. Raises InvalidImage when the image cannot be read or
    cannot be made to fit.
    """
    fmt, width, height = probe(data)
    sides_ok = all(limits.min_side <= s <= limits.max_side for s in (width, height))
    if fmt in limits.formats and sides_ok and len(data) < limits.max_bytes:
        return PreparedImage(data, _MIME.get(fmt, "application/octet-stream"), width, height, reencoded=False)
    w, h = target_size(width, height, limits, shrink_to=limits.reencode_side)
    img = load_rgb(data, min(max(w, h), max(width, height)))
    return _encode_under(img, limits)


def _encode_under(img: PILImage.Image, limits: ImageLimits) -> PreparedImage:
    """JPEG at falling quality, then falling size, until it is under the byte limit."""
    w, h = target_size(img.width, img.height, limits, shrink_to=limits.reencode_side)
    quality = 88
    for _ in range(12):
        sized = img if (w, h) == img.size else img.resize((w, h), PILImage.Resampling.LANCZOS)
        buf = io.BytesIO()
        sized.save(buf, "JPEG", quality=quality)
        out = buf.getvalue()
        if len(out) < limits.max_bytes:
            return PreparedImage(out, "image/jpeg", w, h, reencoded=True)
        if quality > 70:
            quality -= 9
            continue
        shrink = math.sqrt(limits.max_bytes / len(out)) * 0.9
        nw, nh = round(w * shrink), round(h * shrink)
        if min(nw, nh) < limits.min_side:
            break
        w, h = nw, nh
    raise InvalidImage(f"The image cannot be made smaller than {limits.max_bytes} bytes for analysis.")
