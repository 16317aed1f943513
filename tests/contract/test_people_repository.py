"""PeopleRepository contract: the fake, SQLite and PostgreSQL keep faces and people alike, scoped
to their owner, and faces never outlive their image."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from imagerepo.domain.people import Box, Face, Person
from imagerepo.domain.queries import build_query
from tests.contract.test_image_repository import image

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def stored_image(image_repo: Any, owner: str = "alice") -> str:
    img = image(owner)
    image_repo.reserve(img, 100)
    image_repo.commit(img.id)
    return img.id


def face(owner: str, image_id: str, *, seed: float = 0.0, person: str | None = None, quality: float = 0.9) -> Face:
    return Face(id=str(uuid.uuid4()), owner_id=owner, image_id=image_id, box=Box(0.1, 0.2, 0.25, 0.3),
                embedding=tuple(seed + n / 256 for n in range(128)), quality=quality, person_id=person)


def test_faces_read_back_exactly_as_stored(image_repo: Any, people_repo: Any) -> None:
    img = stored_image(image_repo)
    f = face("alice", img, seed=-0.5)
    assert people_repo.add_faces("alice", img, [f]) == []
    [got] = people_repo.faces("alice")
    assert got.box == f.box
    assert got.person_id is None
    assert not got.pinned
    assert got.rejected == frozenset()
    assert got.embedding == pytest.approx(f.embedding, abs=1e-6)
    assert got.quality == pytest.approx(0.9)
    assert got.crop_key == f"alice/{img}/face-{f.id}"


def test_a_reanalysis_replaces_the_images_faces_and_returns_the_old_ones(image_repo: Any, people_repo: Any) -> None:
    img, other = stored_image(image_repo), stored_image(image_repo)
    first = [face("alice", img), face("alice", img)]
    people_repo.add_faces("alice", img, first)
    kept = face("alice", other)
    people_repo.add_faces("alice", other, [kept])
    second = face("alice", img, seed=1.0)
    old = people_repo.add_faces("alice", img, [second])
    assert sorted(f.id for f in old) == sorted(f.id for f in first)
    assert {f.id for f in people_repo.faces("alice")} == {second.id, kept.id}
    assert [f.id for f in people_repo.faces("alice", image_ids=[other])] == [kept.id]
    assert people_repo.faces("alice", image_ids=[]) == []


def test_faces_of_an_image_that_is_gone_are_not_stored(image_repo: Any, people_repo: Any) -> None:
    img = stored_image(image_repo)
    image_repo.discard(img)
    assert people_repo.add_faces("alice", img, [face("alice", img)]) == []
    assert people_repo.faces("alice") == []


def test_deleting_an_image_row_deletes_its_faces(image_repo: Any, people_repo: Any) -> None:
    img, other = stored_image(image_repo), stored_image(image_repo)
    people_repo.add_faces("alice", img, [face("alice", img)])
    people_repo.add_faces("alice", other, [face("alice", other)])
    gone = people_repo.delete_image_faces("alice", img)
    assert [f.image_id for f in gone] == [img]
    assert [f.image_id for f in people_repo.faces("alice")] == [other]


def test_a_person_goes_with_the_last_face_when_images_are_deleted(image_repo: Any, people_repo: Any) -> None:
    one, two = stored_image(image_repo), stored_image(image_repo)
    f1, f2 = face("alice", one, person="p-grace"), face("alice", two, person="p-grace")
    people_repo.add_faces("alice", one, [f1])
    people_repo.add_faces("alice", two, [f2])
    people_repo.save("alice", [Person("p-grace", "alice", T0, name="Grace")], [])
    people_repo.delete_image_faces("alice", one)
    assert [p.name for p in people_repo.persons("alice")] == ["Grace"]  # one face is left
    people_repo.delete_image_faces("alice", two)
    assert people_repo.persons("alice") == []


def test_people_are_saved_renamed_and_deleted(image_repo: Any, people_repo: Any) -> None:
    img = stored_image(image_repo)
    f1, f2 = face("alice", img), face("alice", img)
    people_repo.add_faces("alice", img, [f1, f2])
    grace = Person("p-grace", "alice", T0)
    people_repo.save("alice", [grace], [f1.__class__(**{**_fields(f1), "person_id": "p-grace", "pinned": True,
                                                        "rejected": frozenset({"p-x", "p-y"})})])
    assert people_repo.persons("alice") == [grace]
    got = {f.id: f for f in people_repo.faces("alice")}
    assert got[f1.id].person_id == "p-grace"
    assert got[f1.id].pinned
    assert got[f1.id].rejected == {"p-x", "p-y"}
    assert got[f2.id].person_id is None
    named = Person("p-grace", "alice", T0, name="Grace Hopper", hidden=True)
    people_repo.save("alice", [named], [])
    [back] = people_repo.persons("alice")
    assert back.name == "Grace Hopper"
    assert back.hidden
    assert back.created_at == T0
    people_repo.save("alice", [], [], deleted_persons=["p-grace"])
    assert people_repo.persons("alice") == []


def test_another_owners_people_and_faces_are_never_touched(image_repo: Any, people_repo: Any) -> None:
    mine, theirs = stored_image(image_repo, "alice"), stored_image(image_repo, "bob")
    bob_face = face("bob", theirs)
    people_repo.add_faces("bob", theirs, [bob_face])
    people_repo.save("bob", [Person("p-bob", "bob", T0, name="Bob")], [])
    # Alice's writes name bob's rows: nothing changes for bob.
    people_repo.save("alice", [Person("p-bob", "alice", T0, name="Stolen")],
                     [Face(**{**_fields(bob_face), "person_id": "p-bob"})], deleted_persons=["p-bob"])
    assert people_repo.add_faces("alice", theirs, [face("alice", theirs)]) == []
    assert people_repo.delete_image_faces("alice", theirs) == []
    people_repo.add_faces("alice", mine, [face("alice", mine)])
    people_repo.delete_owner("alice")
    assert [p.name for p in people_repo.persons("bob")] == ["Bob"]
    [f] = people_repo.faces("bob")
    assert f.id == bob_face.id
    assert f.person_id is None
    assert people_repo.faces("alice") == []
    assert people_repo.persons("alice") == []


def test_deleting_an_owner_removes_all_its_face_data(image_repo: Any, people_repo: Any) -> None:
    a, b = stored_image(image_repo), stored_image(image_repo)
    faces = [face("alice", a), face("alice", a), face("alice", b)]
    people_repo.add_faces("alice", a, faces[:2])
    people_repo.add_faces("alice", b, faces[2:])
    people_repo.save("alice", [Person("p1", "alice", T0 + timedelta(seconds=1)), Person("p2", "alice", T0)], [])
    gone = people_repo.delete_owner("alice")
    assert sorted(f.id for f in gone) == sorted(f.id for f in faces)
    assert people_repo.faces("alice") == []
    assert people_repo.persons("alice") == []


def _fields(f: Face) -> dict[str, Any]:
    return {k: getattr(f, k) for k in ("id", "owner_id", "image_id", "box", "embedding", "quality", "person_id",
                                       "pinned", "rejected")}


def test_the_image_search_finds_the_images_with_every_person_asked_for(image_repo: Any, people_repo: Any) -> None:
    if hasattr(image_repo, "person_images"):
        image_repo.person_images = people_repo.image_ids_of
    ids = [stored_image(image_repo) for _ in range(4)]
    bob_img = stored_image(image_repo, "bob")
    both, grace_only, ada_only, nobody = ids
    faces = {both: [face("alice", both, person="p-grace"), face("alice", both, person="p-ada")],
             grace_only: [face("alice", grace_only, person="p-grace"), face("alice", grace_only, person="p-grace")],
             ada_only: [face("alice", ada_only, person="p-ada")], nobody: [face("alice", nobody)]}
    for img, fs in faces.items():
        people_repo.add_faces("alice", img, fs)
    people_repo.add_faces("bob", bob_img, [face("bob", bob_img, person="p-grace")])

    def found(*people: str, **kw: Any) -> list[str]:
        return sorted(i.id for i in image_repo.search(build_query("alice", people=list(people), limit=100, **kw)).items)

    assert found("p-grace") == sorted([both, grace_only])
    assert found("p-grace", "p-ada") == [both]
    assert found("p-nobody") == []
    assert found("p-grace", sort="filename") == sorted([both, grace_only])
    page = image_repo.search(build_query("alice", people=["p-grace"], limit=1))
    rest = image_repo.search(build_query("alice", people=["p-grace"], limit=1,
                                         cursor=page.next_cursor.encode(build_query("alice", people=["p-grace"]))))
    assert sorted([page.items[0].id, rest.items[0].id]) == sorted([both, grace_only])
    assert rest.next_cursor is None


def test_clustering_never_overrides_a_correction_made_after_it_read(image_repo: Any, people_repo: Any) -> None:
    img = stored_image(image_repo)
    pinned, in_named, refused, free, hidden_face = (face("alice", img) for _ in range(5))
    people_repo.add_faces("alice", img, [pinned, in_named, refused, free, hidden_face])
    people_repo.save("alice", [Person("p-named", "alice", T0, name="Grace"), Person("p-hid", "alice", T0, hidden=True),
                               Person("p-a", "alice", T0)], [
        Face(**{**_fields(pinned), "person_id": "p-a", "pinned": True}),
        Face(**{**_fields(in_named), "person_id": "p-named"}),
        Face(**{**_fields(refused), "rejected": frozenset({"p-new"})}),
        Face(**{**_fields(hidden_face), "person_id": "p-hid"}),
    ])
    # Clustering read the faces before those corrections and now moves every face to p-new.
    people_repo.place("alice", [Person("p-new", "alice", T0)],
                      {f.id: "p-new" for f in (pinned, in_named, refused, free, hidden_face)},
                      deleted_persons=["p-a", "p-named", "p-hid"])
    got = {f.id: f.person_id for f in people_repo.faces("alice")}
    assert got == {pinned.id: "p-a", in_named.id: "p-named", refused.id: None, free.id: "p-new",
                   hidden_face.id: "p-hid"}
    # Persons that still have faces, or a name, or are hidden, are not deleted.
    assert sorted(p.id for p in people_repo.persons("alice")) == ["p-a", "p-hid", "p-named", "p-new"]
    people_repo.place("alice", [], {free.id: None}, deleted_persons=["p-new"])
    assert "p-new" not in [p.id for p in people_repo.persons("alice")]
    assert {f.id: f.person_id for f in people_repo.faces("alice")}[free.id] is None


def test_each_persons_cover_is_its_best_face_with_the_count(image_repo: Any, people_repo: Any) -> None:
    img = stored_image(image_repo)
    faces = [face("alice", img, person="p1", quality=q) for q in (0.3, 0.95, 0.6)]
    faces += [face("alice", img, person="p2", quality=0.5), face("alice", img, quality=1.0)]
    people_repo.add_faces("alice", img, faces)
    other = stored_image(image_repo, "bob")
    people_repo.add_faces("bob", other, [face("bob", other, person="p1", quality=1.0)])
    got = {f.person_id: (f.id, n) for f, n in people_repo.covers("alice")}
    assert got == {"p1": (faces[1].id, 3), "p2": (faces[3].id, 1)}
