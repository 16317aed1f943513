"""The text stage: the detector looks at every photo, recognition keeps only confident words."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from imagerepo.adapters.local import LocalImageAnalyzer
from imagerepo.adapters.local import models as m
from tests.photos import DARKNET, TOOLS, TUXPAINT, gcompris_photo, package_photo, png

skimage_data = pytest.importorskip("skimage.data")



@pytest.fixture(scope="module")
def analyzer() -> LocalImageAnalyzer:
    if not (m.models_available() and LocalImageAnalyzer().ocr):
        pytest.fail("the `local` extra and rapidocr-onnxruntime are not installed")
    return LocalImageAnalyzer(nsfw=False)


@pytest.mark.slow
def test_a_page_is_read_in_reading_order(analyzer: LocalImageAnalyzer) -> None:
    result = analyzer.analyze(png(skimage_data.page()), "image/png")
    lines = result.text.splitlines()
    assert lines[0] == "Region-based segmentation"
    assert "text_find" in result.extra["timings_ms"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["brick", "grass", "gravel", "coins", "chelsea", "coffee", "astronaut", "rocket"])
def test_textures_and_photos_without_text_read_nothing(analyzer: LocalImageAnalyzer, name: str) -> None:
    arr = getattr(skimage_data, name)()
    result = analyzer.analyze(png(arr), "image/png")
    assert result.text == ""
    assert "text" not in [t.name for t in result.tags]


@pytest.mark.slow
def test_recognition_runs_only_where_the_detector_found_text(analyzer: LocalImageAnalyzer) -> None:
    result = analyzer.analyze(png(skimage_data.chelsea()), "image/png")
    assert "text_find" in result.extra["timings_ms"]
    assert "text" not in result.extra["timings_ms"]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "word"), [("multimeter2.webp", "VC160"), ("multimeter1.webp", "UT33C")])
def test_print_on_a_photographed_object_is_read(analyzer: LocalImageAnalyzer, name: str, word: str) -> None:
    """Photographs of multimeters (GCompris): a model name printed on a device, not a scanned page."""
    result = analyzer.analyze(gcompris_photo(TOOLS + name), "image/webp")
    assert word in result.text.split()
    assert "text" in [t.name for t in result.tags]


@pytest.mark.parametrize(
    ("line", "kept"),
    [("No parking", True), ("OPEN 24h", True), ("®", False), ("O", False), ("*-~.", False), ("米*", False),
     ("a|/;:", False)],
)
def test_only_word_like_lines_are_kept(line: str, kept: bool) -> None:
    assert m._word_like(line) is kept


@pytest.mark.slow
@pytest.mark.parametrize(("name", "word"), [("stop.png", "STOP"), ("school_sign.png", "School")])
def test_a_street_sign_is_read(analyzer: LocalImageAnalyzer, name: str, word: str) -> None:
    """tuxpaint's road signs: a red octagon and a school warning sign, not scanned pages."""
    result = analyzer.analyze(package_photo(TUXPAINT / "town" / "roadsigns" / name), "image/png")
    assert word in result.text.split()
    assert word in result.description
    assert "text" in [t.name for t in result.tags]  # the tag filter finds signs, as with Azure


@pytest.mark.slow
@pytest.mark.parametrize(("name", "side", "word"), [("stop.png", 450, "STOP"), ("school_sign.png", 600, "School")])
def test_a_street_sign_in_a_12_mp_camera_jpeg_is_read(
    analyzer: LocalImageAnalyzer, name: str, side: int, word: str
) -> None:
    """The sign fills a small part of a 4000×3000 JPEG: read from the one, reduced-scale decode."""
    photo = Image.open(io.BytesIO(package_photo(DARKNET / "person.jpg"))).convert("RGB")
    photo = photo.resize((4000, 3000), Image.Resampling.BICUBIC)
    sign = Image.open(io.BytesIO(package_photo(TUXPAINT / "town" / "roadsigns" / name))).convert("RGBA")
    sign = sign.resize((side, round(sign.height * side / sign.width)), Image.Resampling.BICUBIC)
    photo.paste(sign, (1800, 900), sign)
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=90)
    result = analyzer.analyze(buf.getvalue(), "image/jpeg")
    assert word in result.text.split()
    assert result.extra["width"] == 4000


@pytest.mark.slow
def test_two_threads_read_text_at_once_as_one_does(analyzer: LocalImageAnalyzer) -> None:
    """Worker threads share one reader and each gets its own photo's text."""
    from concurrent.futures import ThreadPoolExecutor

    photos = [png(skimage_data.page()), package_photo(TUXPAINT / "town" / "roadsigns" / "stop.png")] * 3
    alone = [analyzer.analyze(p, "image/png").text for p in photos[:2]]
    with ThreadPoolExecutor(max_workers=2) as pool:
        together = list(pool.map(lambda p: analyzer.analyze(p, "image/png").text, photos))
    assert together == alone * 3
    assert "STOP" in alone[1].split()
