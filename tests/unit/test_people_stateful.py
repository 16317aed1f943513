"""A stateful test of people (issue 16): images with faces come and go, the owner names, merges,
hides and moves faces, clustering runs again, and face recognition is turned off and on. No
correction of the owner is ever lost, and no face data outlives its image or the setting."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from imagerepo.domain.errors import NotFound
from tests.people_faces import finding
from tests.unit.test_people import World

# Face and person ids are random (uuid4), so how many people there are can differ when hypothesis
# replays a case: draws pick by index, never from a list whose length could change.
pick = st.integers(0, 10_000)
faces_st = st.lists(st.tuples(st.integers(0, 3), st.sampled_from([0.2, 0.9])), min_size=0, max_size=3)


class People(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._tmp = tempfile.TemporaryDirectory()
        self.w = World(Path(self._tmp.name))
        self.alice = self.w.account("alice")
        self.bob = self.w.account("bob")
        self.bob_image = self.w.photo(self.bob, finding(0, 99))  # bob's faces must never be touched
        self.on = True
        self.images: list[str] = []
        self.shot = 0
        # The owner's corrections, as the model remembers them.
        self.names: dict[str, str] = {}
        self.hidden: set[str] = set()
        self.pinned: dict[str, str] = {}
        self.rejected: dict[str, set[str]] = {}

    def teardown(self) -> None:
        self._tmp.cleanup()

    def _people_ids(self) -> list[str]:
        return sorted(p.id for p in self.w.repo.persons(self.alice.id))

    def _face_ids(self) -> list[str]:
        return [f.id for f in self.w.repo.faces(self.alice.id)]

    @rule(faces=faces_st)
    def add_image(self, faces: list[tuple[int, float]]) -> None:
        found = []
        for who, quality in faces:
            self.shot += 1
            found.append(finding(who, self.shot, quality=quality))
        self.images.append(self.w.photo(self.alice, *found).id)

    @precondition(lambda self: self.images)
    @rule(data=st.data())
    def delete_image(self, data: st.DataObject) -> None:
        image_id = self.images[data.draw(pick) % len(self.images)]
        gone = {f.id for f in self.w.repo.faces(self.alice.id, image_ids=[image_id])}
        theirs = {f.person_id for f in self.w.repo.faces(self.alice.id, image_ids=[image_id])} - {None}
        self.w.images.delete(self.alice, image_id)
        self.images.remove(image_id)
        for face_id in gone:
            self.pinned.pop(face_id, None)
            self.rejected.pop(face_id, None)
        # A person left with no face goes, with the name given: nothing is left to recognize.
        still = {f.person_id for f in self.w.repo.faces(self.alice.id)}
        for pid in theirs - still:
            assert pid not in self._people_ids()
            self.names.pop(pid, None)
            self.hidden.discard(pid)
        assert self.w.repo.faces(self.alice.id, image_ids=[image_id]) == []
        assert not [k for k in self.w.face_blobs() if f"/{image_id}/" in k]

    @rule(data=st.data(), name=st.sampled_from(["Grace", "Ada", "Alan"]))
    def name(self, data: st.DataObject, name: str) -> None:
        ids, n = self._people_ids(), data.draw(pick)  # always drawn: the same draws on a replay
        if ids:
            pid = ids[n % len(ids)]
            self.w.people.rename(self.alice, pid, name)
            self.names[pid] = name

    @rule(data=st.data())
    def hide(self, data: st.DataObject) -> None:
        ids, n = self._people_ids(), data.draw(pick)
        if ids:
            pid = ids[n % len(ids)]
            self.w.people.hide(self.alice, pid)
            self.hidden.add(pid)

    @rule(data=st.data())
    def merge(self, data: st.DataObject) -> None:
        ids, a, b = self._people_ids(), data.draw(pick), data.draw(pick)
        if len(ids) < 2:
            return
        n = a % len(ids)
        source, into = ids[n], ids[(n + 1 + b % (len(ids) - 1)) % len(ids)]
        merged = self.w.people.merge(self.alice, source, into)
        assert merged.person.id == into
        if into not in self.names and source in self.names:
            self.names[into] = self.names[source]
        self.names.pop(source, None)
        self.hidden.discard(source)
        for face_id, pid in self.pinned.items():
            if pid == source:
                self.pinned[face_id] = into
        for f in self.w.repo.faces(self.alice.id):
            if f.person_id == into:
                self.pinned[f.id] = into
        for face_id, rejected in self.rejected.items():
            if source in rejected and self.pinned.get(face_id) != into:
                rejected.add(into)
        with_target = {f.id for f in self.w.repo.faces(self.alice.id) if f.person_id == into}
        for face_id in with_target:
            self.rejected.get(face_id, set()).discard(into)

    @rule(data=st.data(), to_nobody=st.booleans())
    def move_face(self, data: st.DataObject, to_nobody: bool) -> None:
        faces = self.w.repo.faces(self.alice.id)
        ids, a, b = self._people_ids(), data.draw(pick), data.draw(pick)
        if not faces or (not to_nobody and not ids):
            return
        face = faces[a % len(faces)]
        if to_nobody:
            self.w.people.move_face(self.alice, face.id, None)
            self.pinned.pop(face.id, None)
            if face.person_id:
                self.rejected.setdefault(face.id, set()).add(face.person_id)
        else:
            to = ids[b % len(ids)]
            self.w.people.move_face(self.alice, face.id, to)
            self.pinned[face.id] = to
            self.rejected.get(face.id, set()).discard(to)

    @precondition(lambda self: self.images)
    @rule(data=st.data())
    def reanalyze(self, data: st.DataObject) -> None:
        """The same faces are found again: every correction about them stays."""
        image_id = self.images[data.draw(pick) % len(self.images)]
        self.w.images.reanalyze(self.alice, image_id)
        self.w.analysis.drain()

    @rule()
    def recluster(self) -> None:
        self.w.people.recluster(self.alice)

    @rule()
    def turn_off(self) -> None:
        self.alice = self.w.accounts.update_settings(self.alice, face_recognition=False)
        self.w.people.forget(self.alice.id)
        self.on = False
        self.names, self.hidden, self.pinned, self.rejected = {}, set(), {}, {}

    @precondition(lambda self: not self.on)
    @rule()
    def turn_on(self) -> None:
        self.alice = self.w.accounts.update_settings(self.alice, face_recognition=True)
        self.on = True

    @invariant()
    def no_correction_is_lost(self) -> None:
        persons = {p.id: p for p in self.w.repo.persons(self.alice.id)}
        for pid, name in self.names.items():
            assert persons[pid].name == name
        for pid in self.hidden:
            assert persons[pid].hidden
        faces = {f.id: f for f in self.w.repo.faces(self.alice.id)}
        for face_id, pid in self.pinned.items():
            assert faces[face_id].person_id == pid
        for face_id, rejected in self.rejected.items():
            assert faces[face_id].person_id not in rejected

    @invariant()
    def no_face_data_outlives_its_image_or_the_setting(self) -> None:
        faces = self.w.repo.faces(self.alice.id)
        assert {f.image_id for f in faces} <= set(self.images)
        crops = {k for k in self.w.face_blobs() if k.startswith(self.alice.id + "/")}
        assert crops == {f.crop_key for f in faces}
        if not self.on:
            assert faces == []
            assert self.w.repo.persons(self.alice.id) == []
            assert self.w.people.people(self.alice) == []
        # Bob's face is never touched by anything alice does.
        [bob_face] = self.w.repo.faces(self.bob.id)
        assert bob_face.image_id == self.bob_image.id

    @invariant()
    def every_listed_person_can_be_read(self) -> None:
        for s in self.w.people.people(self.alice):
            assert self.w.people.person(self.alice, s.person.id).face_count == s.face_count
        try:
            self.w.people.person(self.alice, "no-such-person")
        except NotFound:
            pass
        else:
            raise AssertionError("an unknown person was found")


People.TestCase.settings = settings(max_examples=150, stateful_step_count=25, deadline=None)
TestPeople = People.TestCase
