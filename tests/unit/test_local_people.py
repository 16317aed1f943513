"""The people stage on real photos: bodies seen from the side, faces, and no people where none are."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imagerepo.adapters.local import LocalImageAnalyzer
from imagerepo.adapters.local import models as m
from imagerepo.domain.images import AnalysisResult

skimage_data = pytest.importorskip("skimage.data")
DARKNET = Path("/usr/share/darknet/data")  # Debian's darknet: scripts/ensure-photos.sh installs it


def darknet(name: str) -> bytes:
    path = DARKNET / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: run scripts/ensure-photos.sh (Debian's darknet sample photos)")
    return path.read_bytes()


def png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def analyzed() -> Callable[[str], AnalysisResult]:
    if not m.models_available():
        pytest.fail("the `local` extra is not installed")
    analyzer = LocalImageAnalyzer(nsfw=False)
    cache: dict[str, AnalysisResult] = {}

    def get(name: str) -> AnalysisResult:
        if name not in cache:
            if name.startswith("/"):
                path = Path(name)
                if not path.is_file():
                    pytest.fail(f"{path} is missing: run scripts/ensure-photos.sh")
                cache[name] = analyzer.analyze(path.read_bytes(), "image/jpeg")
            elif name.endswith(".jpg"):
                cache[name] = analyzer.analyze(darknet(name), "image/jpeg")
            else:
                cache[name] = analyzer.analyze(png(getattr(skimage_data, name)()), "image/png")
        return cache[name]

    return get


def names(result: AnalysisResult) -> set[str]:
    return {t.name for t in result.tags}


@pytest.mark.slow
def test_a_person_in_profile_is_seen(analyzed: Callable[[str], AnalysisResult]) -> None:
    """darknet's person.jpg: a woman beside a horse, in profile (no frontal face to find)."""
    result = analyzed("person.jpg")
    assert "person" in names(result)
    assert "face" not in names(result)
    assert result.extra["people"] >= 1
    assert "person" in result.description.lower()


@pytest.mark.slow
def test_a_face_is_its_own_tag(analyzed: Callable[[str], AnalysisResult]) -> None:
    result = analyzed("astronaut")
    assert {"person", "face"} <= names(result)
    assert result.extra["people"] == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "chelsea", "coffee", "dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg",
        "/usr/share/backgrounds/life_by_Aitzol_Berasategi.jpg",  # a clock face Haar once took for a face
    ],
)
def test_no_person_where_there_is_none(analyzed: Callable[[str], AnalysisResult], name: str) -> None:
    result = analyzed(name)
    assert not names(result) & {"person", "people", "face"}
    assert result.extra["people"] == 0


def test_overlapping_boxes_count_one_person() -> None:
    boxes = [(10, 10, 64, 128), (14, 12, 60, 120), (200, 10, 64, 128)]
    assert len(m._distinct(boxes)) == 2
