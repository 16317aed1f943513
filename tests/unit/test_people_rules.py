"""The clustering rules (domain/people.py) as properties over random faces and corrections."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from imagerepo.domain.people import (
    START_QUALITY,
    Box,
    Face,
    Person,
    carry_over,
    choose_person,
    cluster,
    overlap,
)
from tests.people_faces import finding

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PEOPLE = ["p0", "p1", "p2"]


@st.composite
def scenes(draw: st.DrawFn) -> tuple[list[Face], list[Person]]:
    persons = [Person(pid, "o", T0, name=draw(st.sampled_from([None, None, "Ada"])), hidden=draw(st.booleans()))
               for pid in PEOPLE]
    faces = []
    for n in range(draw(st.integers(0, 12))):
        who = draw(st.integers(0, 3))
        f = finding(who, n, quality=draw(st.sampled_from([0.1, 0.4, 0.9])))
        faces.append(Face(
            f"f{n:02d}", "o", f"i{n % 4}", f.box, f.embedding, f.quality,
            person_id=draw(st.sampled_from([None, *PEOPLE])), pinned=draw(st.booleans()),
            rejected=frozenset(draw(st.lists(st.sampled_from(PEOPLE), max_size=2))),
        ))
    return faces, persons


@settings(max_examples=150, deadline=None)
@given(scenes())
def test_clustering_obeys_every_correction_and_is_repeatable(scene: tuple[list[Face], list[Person]]) -> None:
    faces, persons = scene
    by_id = {p.id: p for p in persons}
    counter = itertools.count()
    placed = cluster(faces, persons, lambda: f"new{next(counter)}")
    assert set(placed) == {f.id for f in faces}
    for f in faces:
        fixed = f.pinned or (f.person_id is not None and (by_id[f.person_id].name is not None
                                                           or by_id[f.person_id].hidden))
        if fixed:
            assert placed[f.id] == f.person_id
        elif placed[f.id] is not None:
            assert placed[f.id] not in f.rejected
    # A face too poor to start a person never makes a new person alone.
    members: dict[str, list[Face]] = {}
    for f in faces:
        if placed[f.id] is not None:
            members.setdefault(placed[f.id], []).append(f)
    for pid, group in members.items():
        if pid.startswith("new") and len(group) == 1:
            assert group[0].quality >= START_QUALITY
    again = itertools.count()
    assert cluster(list(reversed(faces)), persons, lambda: f"new{next(again)}") == placed


def test_a_face_close_to_two_people_alike_waits() -> None:
    a = finding(1, 1)
    face = Face("x", "o", "i", a.box, a.embedding, 0.9)
    twin = finding(1, 2).embedding
    assert choose_person(face, {"p1": [twin], "p2": [twin]}) is None
    assert choose_person(face, {"p1": [twin], "p2": [finding(2, 1).embedding]}) == "p1"
    assert choose_person(face, {"p1": [twin]}, exclude=["p1"]) is None


@given(st.floats(0, 0.5), st.floats(0, 0.5), st.floats(0.05, 0.5), st.floats(0.05, 0.5))
def test_a_box_overlaps_itself_wholly_and_a_box_apart_not_at_all(x: float, y: float, w: float, h: float) -> None:
    box = Box(x, y, w, h)
    assert abs(overlap(box, box) - 1.0) < 1e-9
    assert overlap(box, Box(x + w + 0.01, y, w, h)) == 0.0


def test_a_face_found_again_keeps_what_the_owner_said() -> None:
    f = finding(1, 1)
    before = Face("old", "o", "i", f.box, f.embedding, 0.9, person_id="p1", pinned=True, rejected=frozenset({"p2"}))
    moved = Box(f.box.x + 0.01, f.box.y, f.box.w, f.box.h)
    elsewhere = Box(0.8, 0.8, 0.1, 0.1)
    again, other = carry_over([Face("n1", "o", "i", moved, f.embedding, 0.9),
                               Face("n2", "o", "i", elsewhere, f.embedding, 0.5)], [before])
    assert (again.id, again.person_id, again.pinned, again.rejected) == ("old", "p1", True, frozenset({"p2"}))
    assert (other.id, other.person_id, other.pinned) == ("n2", None, False)
