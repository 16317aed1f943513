"""Real image files made with Pillow, and hostile ones, for tests."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def encode(
    fmt: str, size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (30, 110, 180), **kw: object
) -> bytes:
    im = Image.new("RGB", size, color)
    # A second color so images are not flat.
    im.paste((240, 240, 240), (0, 0, size[0] // 2, size[1] // 3))
    out = io.BytesIO()
    im.save(out, fmt, **kw)
    return out.getvalue()


def jpeg(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (30, 110, 180)) -> bytes:
    return encode("JPEG", size, color, quality=90)


def png(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (30, 110, 180)) -> bytes:
    return encode("PNG", size, color)


def gif(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (30, 110, 180)) -> bytes:
    return encode("GIF", size, color)


def webp(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (30, 110, 180)) -> bytes:
    return encode("WEBP", size, color)


def truncated_jpeg() -> bytes:
    data = encode("JPEG", (400, 300), (200, 50, 50), quality=95)
    return data[: len(data) // 2]


def _png(width: int, height: int, bit_depth: int, idat: bytes) -> bytes:
    """A grey PNG with this header and this (compressed) pixel data, however short."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0))
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def decompression_bomb_png(width: int = 40_000, height: int = 40_000) -> bytes:
    """A valid PNG header declaring 1.6 gigapixels (by default) with a tiny body."""
    return _png(width, height, 8, zlib.compress(b"\x00" * 1024))


def blank_png(width: int, height: int) -> bytes:
    """A complete, valid all-white PNG of any size that stays small on disk (1 bit a pixel,
    compressed): 10000x10000 is about 12 kB."""
    row = b"\x00" + b"\xff" * ((width + 7) // 8)  # filter byte "none", then the pixels
    return _png(width, height, 1, zlib.compress(row * height, 9))


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<rect width="10" height="10"/></svg>'
)
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
TEXT = b"This is plain text pretending to be a JPEG.\n"
