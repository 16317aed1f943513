"""The offline face adapter (YuNet + dlib) on allowed packaged photos: it finds the astronaut's face,
describes the same face alike when flipped and recompressed, and finds no face in a cat or a cup."""

from __future__ import annotations

import importlib.resources
import io

import pytest
from PIL import Image, ImageOps

from imagerepo.adapters.local.faces import LocalFaceAnalyzer
from imagerepo.domain.errors import AnalysisFailed
from imagerepo.domain.people import SAME_PERSON, distance


@pytest.fixture(scope="module")
def analyzer() -> LocalFaceAnalyzer:
    return LocalFaceAnalyzer()


def photo(name: str) -> bytes:
    return importlib.resources.files("skimage").joinpath("data", name).read_bytes()


def test_the_astronauts_face_is_found_boxed_and_cropped(analyzer: LocalFaceAnalyzer) -> None:
    [face] = analyzer.find_faces(photo("astronaut.png"), "image/png")
    # Eileen Collins' face is in the upper middle of the 512 px photo.
    assert 0.25 < face.box.x < 0.45
    assert 0.05 < face.box.y < 0.2
    assert 0.1 < face.box.w < 0.3
    assert len(face.embedding) == 128
    assert 0.5 <= face.quality <= 1.0
    crop = Image.open(io.BytesIO(face.crop))
    assert crop.format == "JPEG"
    assert max(crop.size) <= 160


def test_the_same_face_flipped_and_recompressed_is_described_alike(analyzer: LocalFaceAnalyzer) -> None:
    im = Image.open(io.BytesIO(photo("astronaut.png"))).convert("RGB")
    out = io.BytesIO()
    ImageOps.mirror(im).save(out, "JPEG", quality=40)
    [a] = analyzer.find_faces(photo("astronaut.png"), "image/png")
    [b] = analyzer.find_faces(out.getvalue(), "image/jpeg")
    assert distance(a.embedding, b.embedding) < SAME_PERSON
    [other] = analyzer.find_faces(photo("camera.png"), "image/png")
    assert distance(a.embedding, other.embedding) > SAME_PERSON


@pytest.mark.parametrize("name", ["chelsea.png", "coffee.png", "rocket.jpg"])
def test_no_face_in_photos_without_people(analyzer: LocalFaceAnalyzer, name: str) -> None:
    assert analyzer.find_faces(photo(name), "image/png") == []


def test_bytes_that_are_no_image_fail_as_an_analysis_failure(analyzer: LocalFaceAnalyzer) -> None:
    with pytest.raises(AnalysisFailed):
        analyzer.find_faces(b"not an image", "image/png")


def _in_12mp(orientation: int | None = None) -> bytes:
    """The astronaut pasted at 900 px wide into a 4000×3000 JPEG, at (2500, 600); for orientation 6
    (a camera held upright: viewers turn the stored pixels 90° clockwise) stored on its side."""
    face = Image.open(io.BytesIO(photo("astronaut.png"))).convert("RGB").resize((900, 900))
    if orientation == 6:
        face = face.rotate(90)
    canvas = Image.new("RGB", (4000, 3000), (96, 120, 140))
    canvas.paste(face, (2500, 600))
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def test_a_face_in_a_12mp_photo_is_described_like_the_original(analyzer: LocalFaceAnalyzer) -> None:
    [small] = analyzer.find_faces(photo("astronaut.png"), "image/png")
    [big] = analyzer.find_faces(_in_12mp(), "image/jpeg")
    assert 0.65 < big.box.x < 0.75  # (2500 + 0.35 * 900) / 4000
    assert distance(small.embedding, big.embedding) < SAME_PERSON


def test_the_box_of_a_face_in_a_rotated_photo_is_where_a_viewer_sees_it(analyzer: LocalFaceAnalyzer) -> None:
    # Shown turned 90° clockwise (3000×4000), the face stored top right is seen upright, bottom right.
    [face] = analyzer.find_faces(_in_12mp(orientation=6), "image/jpeg")
    assert face.box.y > 0.6
    assert face.box.x > 0.5
