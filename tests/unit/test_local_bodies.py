"""The person detector (BlazePose's first stage) on real photos, and the light model profile."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from imagerepo.adapters.local import LocalImageAnalyzer, bodies
from imagerepo.adapters.local import models as m
from imagerepo.adapters.local.decode import decode
from tests.photos import DARKNET, TUXPAINT, package_photo, png

skimage_data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def detector() -> bodies.BodyDetector:
    if not bodies.bodies_available():
        pytest.fail("mediapipe's model file or ai-edge-litert is missing (`local` extra, requirements/extra.txt)")
    return m.shared("bodies", "default", bodies.BodyDetector)


def rgb_of(path: Path) -> np.ndarray:
    return decode(package_photo(path)).rgb


@pytest.mark.slow
def test_a_person_whose_face_is_hidden_is_found(detector: bodies.BodyDetector) -> None:
    """tuxpaint's fireman: walking sideways, the face behind a mask and visor (no face to detect)."""
    assert detector.count(rgb_of(TUXPAINT / "people" / "fireman240a.png")) == 1


@pytest.mark.slow
def test_a_woman_in_profile_is_one_person(detector: bodies.BodyDetector) -> None:
    assert detector.count(rgb_of(DARKNET / "person.jpg")) == 1


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dog.jpg", "horses.jpg", "giraffe.jpg", "eagle.jpg"])
def test_animals_are_not_people(detector: bodies.BodyDetector, name: str) -> None:
    assert detector.count(rgb_of(DARKNET / name)) == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["chelsea", "coffee", "rocket", "page", "brick"])
def test_no_person_in_scikit_image_photos_without_one(detector: bodies.BodyDetector, name: str) -> None:
    assert detector.count(decode(png(getattr(skimage_data, name)())).rgb) == 0


def test_overlapping_detections_are_one_person() -> None:
    """Neighbouring anchors fire on the same person: non-maximum suppression keeps the best."""
    scores = np.zeros(2254, dtype=np.float32)
    regressors = np.zeros((2254, 12), dtype=np.float32)
    regressors[:, 2:4] = 40.0  # 40-pixel boxes centred on their anchors
    regressors[:, 5], regressors[:, 7] = 30.0, -30.0  # hips below the body's top: upright
    anchors = bodies._anchors()
    first = 28 * 28 * 2 // 2 + 28  # a stride-8 anchor mid-image, and its twin on the same cell
    scores[[first, first + 1]] = [0.9, 0.8]
    far = int(np.argmin(np.hypot(anchors[:, 0] - 0.1, anchors[:, 1] - 0.1)))
    scores[far] = 0.7
    scores[far + 40] = bodies.MIN_SCORE - 0.01  # below the cut: not a person
    found = bodies.decode_boxes(regressors, scores)
    assert [round(b[0], 2) for b in found] == [0.9, 0.7]


@given(st.floats(min_value=-180.0, max_value=180.0), st.floats(min_value=5.0, max_value=200.0))
def test_a_body_counts_when_it_points_up_within_45_degrees(degrees_from_up: float, length: float) -> None:
    """The vector from the hips to the body's top keypoint, turned by an angle from straight up."""
    if abs(abs(degrees_from_up) - 45.0) < 0.5:
        return  # the boundary itself is a matter of rounding
    regressor = np.zeros(12, dtype=np.float32)
    regressor[4:6] = [100.0, 150.0]  # the hips
    angle = math.radians(degrees_from_up)
    regressor[6:8] = [100.0 + length * math.sin(angle), 150.0 - length * math.cos(angle)]
    assert bodies.upright(regressor) == (abs(degrees_from_up) < 45.0)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["animals/mammals/aquatic/orca.png", "animals/mammals/rhino_black.png", "vehicles/flight/planes/747.png"]
)
def test_side_on_animals_and_planes_are_not_people(detector: bodies.BodyDetector, name: str) -> None:
    """The detector fires on these tuxpaint stamps, but their "body" lies on its side."""
    assert detector.count(rgb_of(TUXPAINT / name)) == 0


def test_the_light_profile_leaves_out_the_heavy_models() -> None:
    light = LocalImageAnalyzer(nsfw=True, profile="light")
    assert (light.ocr, light.nsfw, light.bodies) == (False, False, False)
    full = LocalImageAnalyzer(nsfw=True)
    assert full.bodies == (full.models and bodies.bodies_available())


@pytest.mark.slow
def test_the_light_profile_still_tags_and_colors() -> None:
    result = LocalImageAnalyzer(profile="light").analyze(png(skimage_data.chelsea()), "image/png")
    assert "cat" in {t.name for t in result.tags}
    assert result.colors
    assert not {"text_find", "nsfw"} & set(result.extra["timings_ms"])


def test_an_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="light"):
        LocalImageAnalyzer(profile="tiny")
