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
