"""People: faces found for opted-in owners only, grouped, corrected by the owner, and deleted
with their image and when the owner turns face recognition off."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imagerepo.adapters.memory import (
    FakeImageInspector,
    InMemoryBlobStore,
    ManualClock,
    RecordingScheduler,
    png_bytes,
)
from imagerepo.adapters.memory_people import InMemoryPeopleRepository, ScriptedFaceAnalyzer
from imagerepo.domain.accounts import Account
from imagerepo.domain.errors import InvalidPersonName, NotFound
from imagerepo.domain.images import Image
from imagerepo.domain.people import FaceFinding, names_in_query
from imagerepo.domain.queries import build_query
from imagerepo.entrypoints.settings import Settings
from tests.people_faces import finding
from tests.wiring import memory_container


class World:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.clock = ManualClock()
        c = memory_container(
            Settings(data_dir=tmp, workers=0, upload_quota=1000),
            clock=self.clock, inspector=FakeImageInspector(), scheduler=RecordingScheduler(),
        )
        self.faces: ScriptedFaceAnalyzer = c.face_analyzer()
        self.blobs: InMemoryBlobStore = c.blob_store()
        self.repo: InMemoryPeopleRepository = c.people_repository()
        self.accounts = c.account_service()
        self.images = c.image_service()
        self.analysis = c.analysis_service()
        self.people = c.people_service()
        self.n = 0

    def account(self, name: str = "alice", *, opted_in: bool = True) -> Account:
        a = self.accounts.sign_up(name, "correct horse")
        return self.accounts.update_settings(a, face_recognition=opted_in)

    def photo(self, account: Account, *faces: FaceFinding) -> Image:
        self.n += 1
        data = png_bytes(seed=self.n)
        self.faces.script(data, faces)
        p = self.tmp / f"f{self.n}"
        p.write_bytes(data)
        image = self.images.upload(account, f"p{self.n}.png", p)
        self.analysis.drain()
        return image

    def face_blobs(self) -> list[str]:
        return [k for k in self.blobs.keys() if "/face-" in k]


@pytest.fixture
def w(tmp_path: Path) -> World:
    return World(tmp_path)


def test_nothing_is_looked_for_or_kept_until_the_owner_opts_in(w: World) -> None:
    alice = w.account(opted_in=False)
    w.photo(alice, finding(1, 1))
    assert w.faces.calls == 0
    assert w.repo.faces(alice.id) == []
    assert w.face_blobs() == []
    assert w.people.people(alice) == []


def test_faces_of_one_person_become_one_person_and_strangers_stay_apart(w: World) -> None:
    alice = w.account()
    grace = [w.photo(alice, finding(1, n)) for n in range(4)]
    group = w.photo(alice, finding(2, 1), finding(1, 9))
    people = w.people.people(alice)
    assert [p.face_count for p in people] == [5, 1]
    assert people[0].person.name is None
    assert len(w.face_blobs()) == 6
    assert all(w.blobs.get(k).startswith(b"crop") for k in w.face_blobs())
    # person= finds every photo of the person, and only those.
    page = w.images.search(build_query(alice.id, people=[people[0].person.id], limit=100))
    assert {i.id for i in page.items} == {i.id for i in grace} | {group.id}
    both = w.images.search(build_query(alice.id, people=[p.person.id for p in people]))
    assert [i.id for i in both.items] == [group.id]


def test_a_tiny_or_blurred_face_waits_instead_of_starting_a_person(w: World) -> None:
    alice = w.account()
    w.photo(alice, finding(3, 1, quality=0.2))
    assert w.people.people(alice) == []
    assert len(w.repo.faces(alice.id)) == 1
    w.photo(alice, finding(3, 2), finding(3, 3))
    w.people.recluster(alice)
    [person] = w.people.people(alice)
    assert person.face_count == 3


def test_deleting_an_image_deletes_its_faces_and_crops(w: World) -> None:
    alice = w.account()
    keep = w.photo(alice, finding(1, 1))
    gone = w.photo(alice, finding(1, 2), finding(2, 1))
    w.images.delete(alice, gone.id)
    assert {f.image_id for f in w.repo.faces(alice.id)} == {keep.id}
    assert [k.split("/")[1] for k in w.face_blobs()] == [keep.id]


def test_turning_face_recognition_off_deletes_all_the_accounts_face_data(w: World) -> None:
    alice, bob = w.account("alice"), w.account("bob")
    w.photo(alice, finding(1, 1), finding(2, 1))
    w.photo(bob, finding(1, 2))
    [p, _] = w.people.people(alice)
    w.people.rename(alice, p.person.id, "Grace")
    alice = w.accounts.update_settings(alice, face_recognition=False)
    w.people.forget(alice.id)
    assert w.repo.faces(alice.id) == []
    assert w.repo.persons(alice.id) == []
    assert all(k.startswith(bob.id) for k in w.face_blobs())
    assert len(w.face_blobs()) == 1
    w.photo(alice, finding(1, 3))  # off: nothing new is kept either
    assert w.repo.faces(alice.id) == []


def test_naming_and_merging_survive_reclustering(w: World) -> None:
    alice = w.account()
    w.photo(alice, finding(1, 1), finding(1, 2))
    w.photo(alice, finding(2, 1))
    first, second = w.people.people(alice)
    named = w.people.rename(alice, second.person.id, "  Grace   Hopper ")
    assert named.person.name == "Grace Hopper"
    merged = w.people.merge(alice, first.person.id, into=second.person.id)
    assert merged.face_count == 3
    assert merged.person.name == "Grace Hopper"
    w.people.recluster(alice)
    [only] = w.people.people(alice)
    assert only.person.id == second.person.id
    assert only.face_count == 3
    with pytest.raises(NotFound):
        w.people.person(alice, first.person.id)


def test_not_this_person_is_never_undone(w: World) -> None:
    alice = w.account()
    w.photo(alice, finding(1, 1), finding(1, 2), finding(1, 3))
    [grace] = w.people.people(alice)
    wrong = w.repo.faces(alice.id)[0]
    w.people.move_face(alice, wrong.id, None)
    w.people.recluster(alice)
    w.photo(alice, finding(1, 4))
    w.people.recluster(alice)
    assert next(f for f in w.repo.faces(alice.id) if f.id == wrong.id).person_id != grace.person.id
    assert w.people.person(alice, grace.person.id).face_count == 3


def test_names_are_checked_and_people_are_private(w: World) -> None:
    alice, bob = w.account("alice"), w.account("bob")
    w.photo(alice, finding(1, 1))
    [p] = w.people.people(alice)
    for bad in ("", "   ", "x" * 101, 7):
        with pytest.raises(InvalidPersonName):
            w.people.rename(alice, p.person.id, bad)
    with pytest.raises(NotFound):
        w.people.rename(bob, p.person.id, "Mallory")
    with pytest.raises(NotFound):
        w.people.merge(bob, p.person.id, into=p.person.id)
    assert w.people.people(bob) == []
    assert w.images.search(build_query(bob.id, people=[p.person.id])).items == ()


def test_faces_too_poor_to_start_a_person_alone_start_one_together(w: World) -> None:
    alice = w.account()
    w.photo(alice, finding(4, 1, quality=0.1, spread=0.1))
    w.photo(alice, finding(4, 2, quality=0.1, spread=0.1))
    assert w.people.people(alice) == []
    w.photo(alice, finding(4, 3, quality=0.1, spread=0.1), finding(5, 1, quality=0.1, spread=0.1))
    [together] = w.people.people(alice)
    assert together.face_count == 3


@given(st.lists(st.sampled_from(["grace", "hopper", "kelly", "ada", "beach", "Grâce"]), max_size=5))
def test_names_in_a_query_become_people_and_the_other_words_stay(words: list[str]) -> None:
    names = {"p-gh": "Grace Hopper", "p-gk": "Grace Kelly", "p-ada": "Ada"}
    rest, ids = names_in_query(" ".join(words), names)
    folded = [w.casefold().replace("â", "a") for w in words]
    kept = [w.casefold().replace("â", "a") for w in rest.split()]
    # Every word is either kept or the word of a person found; nobody is found without a word.
    for pid in ids:
        assert any(w in names[pid].casefold().split() for w in folded)
    for w in folded:
        assert w in kept or any(w in names[p].casefold().split() for p in ids)
    assert ("ada" in folded) == ("p-ada" in ids)
    if "hopper" in folded:
        assert "p-gh" in ids
    if "grace" in folded and "hopper" not in folded and "kelly" not in folded:
        assert not {"p-gh", "p-gk"} & set(ids)  # ambiguous: a plain word
    assert "beach" in kept or "beach" not in folded


def test_analyzing_again_keeps_the_faces_and_what_the_owner_said(w: World) -> None:
    alice = w.account()
    image = w.photo(alice, finding(1, 1), finding(2, 1))
    w.photo(alice, finding(1, 2))
    grace, other = w.people.people(alice)
    w.people.rename(alice, other.person.id, "Ada")
    stranger = next(f for f in w.repo.faces(alice.id) if f.person_id == other.person.id)
    w.people.move_face(alice, stranger.id, grace.person.id)
    before = {f.id: f for f in w.repo.faces(alice.id)}
    w.images.reanalyze(alice, image.id)
    w.analysis.drain()
    after = {f.id: f for f in w.repo.faces(alice.id)}
    assert after.keys() == before.keys()
    assert after[stranger.id].person_id == grace.person.id
    assert after[stranger.id].pinned
    assert sorted(w.face_blobs()) == sorted(f.crop_key for f in after.values())


def test_a_failing_face_analysis_leaves_the_image_analyzed_without_faces(w: World) -> None:
    from imagerepo.domain.errors import AnalysisFailed
    from imagerepo.domain.images import AnalysisStatus

    def broken(data: bytes, content_type: str) -> list[FaceFinding]:
        raise AnalysisFailed("the face model fell over")

    alice = w.account()
    w.faces.find_faces = broken  # type: ignore[method-assign]
    image = w.photo(alice, finding(1, 1))
    assert w.images.get(alice, image.id).analysis.status == AnalysisStatus.DONE
    assert w.repo.faces(alice.id) == []


def test_photos_of_one_new_person_analyzed_at_once_make_one_person(w: World) -> None:
    import contextlib
    import threading

    alice = w.account()
    jobs = []
    for n in range(6):
        data = png_bytes(seed=100 + n)
        w.faces.script(data, [finding(7, n)])
        p = w.tmp / f"c{n}"
        p.write_bytes(data)
        jobs.append(w.images.upload(alice, f"c{n}.png", p))
    start, together = threading.Barrier(3), threading.Barrier(3, timeout=10)
    find = w.faces.find_faces

    def find_together(data: bytes, content_type: str) -> list[FaceFinding]:
        found = list(find(data, content_type))
        with contextlib.suppress(threading.BrokenBarrierError):
            together.wait()  # the first three images' faces reach the grouping at the same moment
        return found

    w.faces.find_faces = find_together  # type: ignore[method-assign]

    def work() -> None:
        start.wait()
        w.analysis.drain()

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [s.face_count for s in w.people.people(alice)] == [6]
