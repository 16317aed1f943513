"""The local analyzer without models: decoding of every mode, palettes, honest descriptions."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from imagerepo.adapters.local import LocalImageAnalyzer
from imagerepo.adapters.local.decode import TEXT_SIDE, WORKING_SIZE, decode
from imagerepo.adapters.local.describe import describe
from imagerepo.adapters.local.palette import palette
from imagerepo.domain.colors import delta_e76, parse_hex, rgb_to_lab
from imagerepo.domain.errors import AnalysisFailed
from imagerepo.domain.images import Color
from imagerepo.ports.image_analyzer import ImageAnalyzer

BLUE = (30, 90, 200)
WHITE = (255, 255, 255)
RED = (220, 20, 30)
GREEN = (40, 160, 40)


def encode(im: Image.Image, fmt: str = "PNG", **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def stripes(
    parts: list[tuple[tuple[int, int, int], float]], size: tuple[int, int] = (400, 300)
) -> Image.Image:
    """Vertical bands of solid colors, each covering the given share of the width."""
    w, h = size
    arr = np.zeros((h, w, 3), dtype=np.uint8)
    x = 0
    for i, (rgb, share) in enumerate(parts):
        x2 = w if i == len(parts) - 1 else x + round(share * w)
        arr[:, x:x2] = rgb
        x = x2
    return Image.fromarray(arr)


def close(color: Color, rgb: tuple[int, int, int], tolerance: float = 3.0) -> bool:
    return delta_e76(color.lab, rgb_to_lab(rgb)) <= tolerance


@pytest.fixture(scope="module")
def analyzer() -> LocalImageAnalyzer:
    return LocalImageAnalyzer(models=False)


def test_fits_the_port(analyzer: LocalImageAnalyzer) -> None:
    assert isinstance(analyzer, ImageAnalyzer)
    assert analyzer.name == "local"


def test_palette_finds_known_colors_and_their_shares(analyzer: LocalImageAnalyzer) -> None:
    data = encode(stripes([(BLUE, 0.6), (WHITE, 0.3), (RED, 0.1)]))
    result = analyzer.analyze(data, "image/png")
    assert [c.name for c in result.colors] == ["blue", "white", "red"]
    for color, rgb, share in zip(result.colors, (BLUE, WHITE, RED), (0.6, 0.3, 0.1), strict=True):
        assert close(color, rgb), (color, rgb)
        assert color.fraction == pytest.approx(share, abs=0.03)
    assert sum(c.fraction for c in result.colors) == pytest.approx(1.0, abs=0.005)
    assert result.description == "A mostly blue and white image."
    assert result.tags == ()
    assert result.analyzer == "local"


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)),
        min_size=1,
        max_size=4,
        unique=True,
    ),
    st.data(),
)
def test_palette_of_solid_bands_recovers_every_distinct_color(
    rgbs: list[tuple[int, int, int]], data: st.DataObject
) -> None:
    labs = [rgb_to_lab(c) for c in rgbs]
    # Keep colors a viewer can tell apart; nearly equal colors are rightly merged.
    if any(delta_e76(a, b) < 20 for i, a in enumerate(labs) for b in labs[i + 1 :]):
        return
    weights = [data.draw(st.integers(1, 5)) for _ in rgbs]
    shares = [w / sum(weights) for w in weights]
    arr = np.asarray(stripes(list(zip(rgbs, shares, strict=True)), size=(240, 60)))
    colors = palette(arr)
    assert sum(c.fraction for c in colors) == pytest.approx(1.0, abs=0.01)
    for rgb, share in zip(rgbs, shares, strict=True):
        if share < 0.05:
            continue
        match = [c for c in colors if close(c, rgb)]
        assert match, (rgb, colors)
        assert match[0].fraction == pytest.approx(share, abs=0.05)


def test_same_image_same_palette(analyzer: LocalImageAnalyzer) -> None:
    rng = np.random.default_rng(1)
    noisy = Image.fromarray(rng.integers(0, 256, size=(200, 200, 3), dtype=np.uint8))
    data = encode(noisy)
    assert analyzer.analyze(data, "image/png").colors == analyzer.analyze(data, "image/png").colors


def test_gradient_gives_a_few_colors_ordered_by_share(analyzer: LocalImageAnalyzer) -> None:
    ramp = np.linspace(0, 255, 300).astype(np.uint8)
    arr = np.stack(
        [np.tile(ramp, (100, 1)), np.zeros((100, 300), np.uint8), np.tile(ramp[::-1], (100, 1))], axis=2
    )
    colors = analyzer.analyze(encode(Image.fromarray(arr)), "image/png").colors
    assert 2 <= len(colors) <= 6
    fractions = [c.fraction for c in colors]
    assert fractions == sorted(fractions, reverse=True)


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [
        ("L", "PNG"),
        ("1", "PNG"),
        ("P", "PNG"),
        ("P", "GIF"),
        ("CMYK", "JPEG"),
        ("RGBA", "PNG"),
        ("LA", "PNG"),
        ("RGB", "WEBP"),
        ("RGB", "JPEG"),
        ("I;16", "PNG"),
        ("RGBA", "WEBP"),
    ],
)
def test_every_mode_decodes_to_rgb(analyzer: LocalImageAnalyzer, mode: str, fmt: str) -> None:
    im = stripes([(BLUE, 0.5), (WHITE, 0.5)])
    if mode == "I;16":
        gray = np.asarray(im.convert("L"), dtype=np.uint16) * 257  # full 16-bit range
        im = Image.fromarray(gray)
    else:
        im = im.convert(mode)
    result = analyzer.analyze(encode(im, fmt), f"image/{fmt.lower()}")
    assert result.colors
    assert sum(c.fraction for c in result.colors) == pytest.approx(1.0, abs=0.005)
    if mode in ("L", "LA", "1", "I;16"):
        assert {c.name for c in result.colors} <= {"black", "gray", "white"}
    else:
        assert "blue" in {c.name for c in result.colors}


def test_sixteen_bit_white_stays_white(analyzer: LocalImageAnalyzer) -> None:
    """A naive 16->8 bit conversion clips; 65535 must come out white, 32768 mid-gray."""
    arr = np.full((50, 100), 65535, dtype=np.uint16)
    arr[:, 50:] = 32768
    colors = analyzer.analyze(encode(Image.fromarray(arr)), "image/png").colors
    assert {c.name for c in colors} == {"white", "gray"}


def test_transparent_pixels_do_not_count_as_colors(analyzer: LocalImageAnalyzer) -> None:
    arr = np.zeros((100, 100, 4), dtype=np.uint8)  # transparent black...
    arr[:, :30] = (*RED, 255)  # ...beside an opaque red band
    colors = analyzer.analyze(encode(Image.fromarray(arr, mode="RGBA")), "image/png").colors
    assert [c.name for c in colors] == ["red"]
    assert colors[0].fraction == 1.0


def test_animated_gif_uses_the_first_frame(analyzer: LocalImageAnalyzer) -> None:
    frames = [Image.new("RGB", (64, 64), RED), Image.new("RGB", (64, 64), GREEN)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert [c.name for c in analyzer.analyze(data, "image/gif").colors] == ["red"]


def test_exif_orientation_is_applied() -> None:
    im = stripes([(BLUE, 0.5), (WHITE, 0.5)], size=(200, 100))  # blue left, white right
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    decoded = decode(encode(im, "JPEG", exif=exif.tobytes(), quality=95))
    assert decoded.original_size == (100, 200)
    top, bottom = decoded.rgb[5, 50], decoded.rgb[-5, 50]
    assert top[2] > 150 > top[0]  # blue on top after the turn
    assert min(bottom) > 230


def test_large_jpeg_is_decoded_small() -> None:
    rng = np.random.default_rng(0)
    big = Image.fromarray(rng.integers(0, 256, size=(3000, 4000, 3), dtype=np.uint8))
    decoded = decode(encode(big, "JPEG", quality=80))
    assert decoded.original_size == (4000, 3000)
    assert max(decoded.width, decoded.height) <= WORKING_SIZE


@pytest.mark.parametrize("orientation", [1, 6])
def test_text_asks_a_12_mp_jpeg_for_more_pixels_than_the_other_stages(orientation: int) -> None:
    im = stripes([(BLUE, 0.5), (WHITE, 0.5)], size=(4000, 3000))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(im, "JPEG", exif=exif.tobytes(), quality=90)
    small, sharp = decode(data), decode(data, longest=TEXT_SIDE)
    assert small.reduced
    assert max(small.width, small.height) < TEXT_SIDE <= max(sharp.width, sharp.height) <= WORKING_SIZE
    assert sharp.original_size == small.original_size
    assert (sharp.height > sharp.width) == (small.height > small.width)  # the same orientation


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40])
def test_undecodable_bytes_fail_with_a_reason(analyzer: LocalImageAnalyzer, data: bytes) -> None:
    with pytest.raises(AnalysisFailed, match="decoded") as info:
        analyzer.analyze(data, "image/png")
    assert info.value.retryable is False


def test_truncated_jpeg_fails_with_a_reason(analyzer: LocalImageAnalyzer) -> None:
    data = encode(stripes([(BLUE, 1.0)]), "JPEG")
    with pytest.raises(AnalysisFailed):
        analyzer.analyze(data[: len(data) // 2], "image/jpeg")


def test_timeout_fails_without_retry() -> None:
    slow = LocalImageAnalyzer(models=False, timeout_seconds=0.0)
    with pytest.raises(AnalysisFailed, match="longer than") as info:
        slow.analyze(encode(stripes([(BLUE, 1.0)])), "image/png")
    assert info.value.retryable is False


def c(name: str, fraction: float, hex_: str = "#808080") -> Color:
    return Color(hex_, fraction, name)


@pytest.mark.parametrize(
    ("colors", "kwargs", "expected"),
    [
        ([c("blue", 0.6), c("white", 0.3), c("red", 0.1)], {}, "A mostly blue and white image."),
        ([c("blue", 0.5), c("blue", 0.4), c("red", 0.1)], {}, "A mostly blue image."),
        ([c("brown", 0.5), c("gray", 0.3)], {"subject": "tabby cat"}, "A tabby cat, mostly brown and gray."),
        ([c("white", 0.9)], {"subject": "espresso"}, "An espresso, mostly white."),
        ([c("white", 0.9)], {"people": 1}, "A person, mostly white."),
        ([c("gray", 0.6), c("red", 0.4)], {"subject": "fire engine", "first": "red"},
         "A fire engine, mostly red and gray."),
        ([c("gray", 0.9), c("red", 0.1)], {"first": "red"}, "A mostly gray image."),
        ([c("white", 0.9)], {"people": 3, "subject": "suit"}, "Three people and a suit, mostly white."),
        ([c("white", 0.9)], {"people": 1, "subject": "suit", "worn": True}, "A person wearing a suit, mostly white."),
        ([c("white", 0.9)], {"people": 2, "subject": "jersey", "worn": True},
         "Two people, one wearing a jersey, mostly white."),
        ([c("white", 0.9)], {"people": 1, "subject": "clothing", "worn": True}, "A person, mostly white."),
        ([c("blue", 0.9)], {"subject": "clothing"}, "Clothing, mostly blue."),
        ([c("olive", 0.6), c("brown", 0.4)], {"subject": "landscape"}, "A landscape, mostly green and brown."),
        # Shades of one basic term add up: olive and green leaves are green, not a second color.
        ([c("olive", 0.4), c("brown", 0.35), c("green", 0.25)], {}, "A mostly green and brown image."),
        ([c("navy", 0.5), c("white", 0.5)], {}, "A mostly blue and white image."),
        ([c("red", 0.9)], {"subject": "street sign", "text": "No  parking"},
         'A street sign reading "No parking", mostly red.'),
        ([c("red", 0.9)], {"text": "STOP"}, 'The text "STOP" on a mostly red image.'),
        ([c("red", 0.9)], {"people": 1, "text": "STOP"}, 'A person, mostly red. Text: "STOP"'),
        ([c("green", 0.9)], {"subject": "European fire salamander"}, "A European fire salamander, mostly green."),
        ([c("white", 0.9)], {"text": "Hello   world " * 5},
         'A mostly white image. Text: "' + " ".join(["Hello world"] * 5) + '"'),
        ([], {}, "An image."),
        ([c("blue", 0.9)], {"people": 2, "subject": "seashore", "setting": "on a beach", "subject_is_setting": True},
         "Two people on a beach, mostly blue."),
        ([c("blue", 0.9)], {"subject": "seashore", "setting": "on a beach", "subject_is_setting": True},
         "A seashore, mostly blue."),
        ([c("white", 0.9)], {"people": 1, "subject": "golden retriever", "setting": "in the snow"},
         "A person and a golden retriever in the snow, mostly white."),
    ],
)
def test_description_says_only_what_was_measured(
    colors: list[Color], kwargs: dict[str, object], expected: str
) -> None:
    assert describe(colors, **kwargs) == expected  # type: ignore[arg-type]


def test_hex_colors_are_valid(analyzer: LocalImageAnalyzer) -> None:
    for color in analyzer.analyze(encode(stripes([(BLUE, 0.5), (RED, 0.5)])), "image/png").colors:
        parse_hex(color.hex)
