"""Hypothesis strategies for hostile uploads: real images (made with Pillow), mutated."""

from __future__ import annotations

import io
from functools import cache

from hypothesis import strategies as st
from PIL import Image


@cache
def seeds() -> tuple[bytes, ...]:
    """Small real files of every accepted format, in the variants decoders treat differently."""
    base = Image.new("RGB", (40, 30), (30, 110, 180))
    base.paste((240, 200, 20), (0, 0, 20, 10))
    rgba = base.convert("RGBA")
    rgba.putpixel((3, 3), (0, 0, 0, 0))
    out: list[bytes] = []

    def save(im: Image.Image, fmt: str, **kw: object) -> None:
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        out.append(buf.getvalue())

    save(base, "JPEG", quality=85)
    save(base, "JPEG", quality=70, progressive=True)
    save(base.convert("L"), "JPEG")
    save(base, "PNG")
    save(rgba, "PNG")
    save(base.convert("P"), "PNG")
    save(base, "GIF")
    frames = [base, base.rotate(90), base.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    save(base, "WEBP", quality=80)
    save(rgba, "WEBP", lossless=True)
    return tuple(out)


@st.composite
def mutated_image(draw: st.DrawFn) -> bytes:
    """A real image with byte flips, a truncation, a splice, an insertion, or several."""
    data = bytearray(draw(st.sampled_from(seeds())))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "splice", "insert", "zero_run"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[at:]
        elif kind == "splice":
            other = draw(st.sampled_from(seeds()))
            data[at:] = other[draw(st.integers(0, len(other) - 1)):]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        else:
            data[at:at + draw(st.integers(1, 64))] = b"\x00" * draw(st.integers(1, 64))
    return bytes(data)


MAGICS = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"<svg", b"%PDF-"]

hostile_bytes = st.one_of(
    mutated_image(),
    st.binary(max_size=2048),
    st.builds(lambda m, tail: m + tail, st.sampled_from(MAGICS), st.binary(max_size=512)),
)

hostile_filenames = st.one_of(
    st.text(max_size=40),
    st.sampled_from([
        "../../etc/passwd", "..\\..\\boot.ini", "/absolute/path.jpg", "a\x00b.jpg", "x" * 10_000 + ".jpg",
        "\u202egpj.exe", "photo\u200f\u202b.png", "CON", ".", "..", "", " ", "💥.gif", "\r\nSet-Cookie: x=1",
    ]),
)

declared_types = st.sampled_from(
    ["image/jpeg", "image/png", "application/octet-stream", "text/html", "image/svg+xml", "", "image/x-nonsense"]
)
