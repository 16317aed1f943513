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


def photo_exif(
    taken: str | None = "2023:06:14 18:22:05",
    offset: str | None = "+02:00",
    gps: tuple[float, float] | None = (48.8584, 2.2945),
    make: str | None = "Canon",
    model: str | None = "Canon EOS 5D Mark IV",
    lens: str | None = "EF24-70mm f/2.8L II USM",
) -> Image.Exif:
    """EXIF as a camera writes it: capture time and offset, camera, exposure, GPS in D/M/S rationals."""
    from PIL.TiffImagePlugin import IFDRational

    exif = Image.Exif()
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    sub = exif.get_ifd(0x8769)
    if taken:
        sub[0x9003] = taken
    if offset:
        sub[0x9011] = offset
    if lens:
        sub[0xA434] = lens
    sub[0x829D], sub[0x829A], sub[0x8827], sub[0x920A] = IFDRational(28, 10), IFDRational(1, 250), 400, IFDRational(50)
    if gps is not None:

        def dms(v: float) -> tuple[IFDRational, IFDRational, IFDRational]:
            v = abs(v)
            d = int(v)
            m = int((v - d) * 60)
            s = round(((v - d) * 60 - m) * 60 * 10000)
            return IFDRational(d), IFDRational(m), IFDRational(s, 10000)

        g = exif.get_ifd(0x8825)
        g[1], g[2] = ("N" if gps[0] >= 0 else "S"), dms(gps[0])
        g[3], g[4] = ("E" if gps[1] >= 0 else "W"), dms(gps[1])
    return exif


def photo(
    fmt: str = "JPEG", exif: Image.Exif | None = None, color: tuple[int, int, int] = (30, 110, 180), **kw: object
) -> bytes:
    """An image file carrying ``exif`` (default: photo_exif()); HEIF wants the raw bytes."""
    exif = exif if exif is not None else photo_exif(**kw)  # type: ignore[arg-type]
    raw = exif.tobytes()
    return encode(fmt, (64, 48), color, exif=raw)


def png_with_xmp(xmp: str, color: tuple[int, int, int] = (90, 20, 160)) -> bytes:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp)
    return encode("PNG", (64, 48), color, pnginfo=info)


def xmp_packet(**attrs: str) -> str:
    fields = " ".join(f'{k}="{v}"' for k, v in attrs.items())
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
        f' xmlns:tiff="http://ns.adobe.com/tiff/1.0/" {fields}/></rdf:RDF></x:xmpmeta>'
    )
