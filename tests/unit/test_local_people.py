"""The people stage on real photos: bodies seen from the side, faces, and no people where none are."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from imagerepo.adapters.local import LocalImageAnalyzer
from imagerepo.adapters.local import models as m
from imagerepo.domain.images import AnalysisResult
from tests.photos import DARKNET, ERASE, LOMIRI, MUSIC, TUXPAINT, gcompris_photo, package_photo, png

skimage_data = pytest.importorskip("skimage.data")



@pytest.fixture(scope="module")
def analyzed() -> Callable[[str], AnalysisResult]:
    if not m.models_available():
        pytest.fail("the `local` extra is not installed")
    analyzer = LocalImageAnalyzer(nsfw=False)
    cache: dict[str, AnalysisResult] = {}

    def get(name: str) -> AnalysisResult:
        if name not in cache:
            if ".rcc:" in name:
                cache[name] = analyzer.analyze(gcompris_photo(name), "image/webp")
            elif name.startswith("/"):
                cache[name] = analyzer.analyze(package_photo(Path(name)), "image/jpeg")
            elif name.endswith(".jpg"):
                cache[name] = analyzer.analyze(package_photo(DARKNET / name), "image/jpeg")
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
        str(LOMIRI / "life_by_Aitzol_Berasategi.jpg"),  # a clock face Haar once took for a face
    ],
)
def test_no_person_where_there_is_none(analyzed: Callable[[str], AnalysisResult], name: str) -> None:
    result = analyzed(name)
    assert not names(result) & {"person", "people", "face"}
    assert result.extra["people"] == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    "stamp",
    ["town/roadsigns/school_sign.png", "animals/birds/magpie.png", "animals/mammals/apes/gorilla.png"],
)
def test_a_person_shaped_sign_or_animal_is_no_person(analyzed: Callable[[str], AnalysisResult], stamp: str) -> None:
    """The body detector takes the children on a school sign, a standing bird and a gorilla for
    people; the classifier, sure it sees a sign or an animal, and no face, overrule it."""
    result = analyzed(str(TUXPAINT / stamp))
    assert not names(result) & {"person", "people"}
    assert "person" not in result.description.lower()


@pytest.mark.slow
@pytest.mark.parametrize("photo", ["ireland.webp", "italy.webp", "mexico.webp"])
def test_faces_in_a_group_are_people(analyzed: Callable[[str], AnalysisResult], photo: str) -> None:
    """GCompris' musicians on a stage, a theatre troupe, a mariachi band: faces of 15-40 px that
    the Haar cascade missed (and BlazePose too, at 0.47, for the troupe)."""
    result = analyzed(MUSIC + photo)
    assert {"person", "people", "face"} <= names(result)
    assert result.extra["faces"] >= 2
    assert "people" in result.description


@pytest.mark.slow
@pytest.mark.parametrize("photo", ["calf.webp", "macaque.webp", "long_nosed_monkey.webp", "swans.webp", "bee.webp"])
def test_animals_faces_are_not_people(analyzed: Callable[[str], AnalysisResult], photo: str) -> None:
    """YuNet scores a calf's and monkeys' faces 0.80-0.85 (the Haar cascade took the swans for a
    face; BlazePose a bee on a flower a body, 0.61): the classifier's animal share asks for more."""
    result = analyzed(ERASE + photo)
    assert not names(result) & {"person", "people", "face"}
    assert result.extra["people"] == 0


@pytest.mark.slow
def test_small_people_seen_from_behind_are_found(analyzed: Callable[[str], AnalysisResult]) -> None:
    """darknet's kite.jpg: people walking away on a beach, a few percent of the photo each; the
    classifier (parachute, seashore) has no doubt to raise."""
    result = analyzed("kite.jpg")
    assert "person" in names(result)
    assert "face" not in names(result)


@pytest.mark.slow
def test_a_sure_body_beside_animals_stays_a_person(analyzed: Callable[[str], AnalysisResult]) -> None:
    """darknet's person.jpg: the classifier is sure of the dogs, the detector surer of the woman."""
    assert analyzed("person.jpg").extra["people"] == 1


def test_overlapping_boxes_count_one_person() -> None:
    boxes = [(10, 10, 64, 128), (14, 12, 60, 120), (200, 10, 64, 128)]
    assert len(m._distinct(boxes)) == 2


@pytest.mark.parametrize(
    ("faces", "people", "expected"),
    [(0, 0, set()), (0, 1, {"person"}), (1, 1, {"person", "face"}), (0, 3, {"person", "people"}),
     (2, 2, {"person", "people", "face"})],
)
def test_people_tags_follow_the_count(faces: int, people: int, expected: set[str]) -> None:
    from imagerepo.adapters.local.analyzer import _people_tags
    from imagerepo.domain.images import Tag

    tags = _people_tags([Tag("dog", 0.9), Tag("person", 0.4)], faces=faces, people=people)
    assert {t.name for t in tags} - {"dog"} == expected | ({"person"} if not people else set())
    assert [t.confidence for t in tags] == sorted((t.confidence for t in tags), reverse=True)


def test_faces_are_counted_with_yunet_and_with_haar_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from imagerepo.adapters.local import bodies

    if not m.models_available():
        pytest.fail("the `local` extra is not installed")
    analyzer = LocalImageAnalyzer(nsfw=False)
    assert isinstance(analyzer._face_detector(), bodies.FaceCounter)
    monkeypatch.setattr(bodies, "faces_available", lambda: False)
    assert isinstance(analyzer._face_detector(), m.FaceDetector)
