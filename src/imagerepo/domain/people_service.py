"""People service: find faces for opted-in owners, group them, and apply the owner's corrections.

Face data is biometric: nothing is found or kept for an account whose ``face_recognition``
setting is off, and :meth:`PeopleService.forget` (the setting turned off, the account deleted)
removes every face row, person and crop of the account.
"""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta

import attrs

from imagerepo.domain.accounts import Account
from imagerepo.domain.errors import InvalidPersonName, NotFound
from imagerepo.domain.images import Image
from imagerepo.domain.people import (
    Face,
    FaceFinding,
    Person,
    PersonSummary,
    carry_over,
    clean_name,
    cluster,
    names_in_query,
)
from imagerepo.ports.account_repository import AccountRepository
from imagerepo.ports.blob_store import BlobStore
from imagerepo.ports.clock import Clock
from imagerepo.ports.face_analyzer import FaceAnalyzer
from imagerepo.ports.people_repository import PeopleRepository

log = logging.getLogger(__name__)


# Re-clustering compares every face with every other (pure Python): after a new image only for
# accounts up to this many faces; larger ones re-cluster when asked (PeopleService.recluster).
RECLUSTER_UP_TO = 2000


def _new_id() -> str:
    return str(uuid.uuid4())


class PeopleService:
    def __init__(
        self, people: PeopleRepository, accounts: AccountRepository, blobs: BlobStore, analyzer: FaceAnalyzer,
        clock: Clock, url_ttl: timedelta = timedelta(minutes=30),
    ) -> None:
        self._url_ttl = url_ttl
        self._people = people
        self._accounts = accounts
        self._blobs = blobs
        self._analyzer = analyzer
        self._clock = clock

    # ------------------------------------------------------------------ finding faces

    def _opted_in(self, owner_id: str) -> bool:
        account = self._accounts.get(owner_id)
        return account is not None and account.settings.face_recognition

    def index_image(self, image: Image, data: bytes) -> int:
        """Find the image's faces and place them, if its owner opted in; returns how many were
        found. A re-analysis replaces the image's faces; a face found again where it was keeps its
        id and what the owner said about it (people.carry_over)."""
        return self.keep_faces(image, self.find_faces(image, data))

    def find_faces(self, image: Image, data: bytes) -> Sequence[FaceFinding] | None:
        """The image's faces, or None when its owner did not opt in (the analyzer is not even
        called). Stores nothing: the analysis runs this beside the image's own analysis, and
        keeps the faces (:meth:`keep_faces`) only once that analysis is recorded."""
        if not self._opted_in(image.owner_id):
            return None
        return self._analyzer.find_faces(data, image.content_type)

    def keep_faces(self, image: Image, findings: Sequence[FaceFinding] | None) -> int:
        """Store and place what :meth:`find_faces` found; returns how many faces were kept."""
        if findings is None or not self._opted_in(image.owner_id):
            return 0
        fresh = [Face(id=_new_id(), owner_id=image.owner_id, image_id=image.id, box=f.box,
                      embedding=tuple(f.embedding), quality=f.quality) for f in findings]
        crops = {face.id: finding.crop for face, finding in zip(fresh, findings, strict=True)}
        # Two workers may place faces of one new person at once and each start a person: the face
        # that then waits for being near both triggers the re-clustering that joins them, and the
        # repository's conditions keep every correction either way.
        faces = carry_over(fresh, self._people.faces(image.owner_id, image_ids=[image.id]))
        # carry_over answers in the order of sorted(fresh, by quality): pair them up again.
        for found, face in zip(sorted(fresh, key=lambda f: -f.quality), faces, strict=True):
            if crops[found.id]:
                self._blobs.put(face.crop_key, io.BytesIO(crops[found.id]), "image/jpeg")
        return self._store_and_place(image, fresh, faces)

    def _store_and_place(self, image: Image, fresh: list[Face], faces: list[Face]) -> int:
        old = self._people.add_faces(image.owner_id, image.id, faces)
        kept = {f.id for f in faces}
        self._delete_crops([f for f in old if f.id not in kept])
        if not self._opted_in(image.owner_id):  # turned off meanwhile: keep nothing
            self.forget(image.owner_id)
            return 0
        new = {f.id for f in fresh} & kept  # the faces not seen before
        stored = self._people.faces(image.owner_id)
        if not kept & {f.id for f in stored}:  # the image went meanwhile
            self._delete_crops(faces)
            return 0
        placed = self._place(image.owner_id, stored, free=lambda f: f.id in new)
        if any(placed[i] is None for i in new) and len(stored) <= RECLUSTER_UP_TO:
            # A face left waiting may now make a group with others that wait.
            self._place(image.owner_id, self._people.faces(image.owner_id), free=None)
        return len(faces)

    def recluster(self, account: Account) -> None:
        """Re-group every face the owner did not place; corrections stay as they are."""
        self._place(account.id, self._people.faces(account.id), free=None)

    def _place(self, owner_id: str, faces: Sequence[Face], free: object) -> dict[str, str | None]:
        persons = {p.id: p for p in self._people.persons(owner_id)}
        placed = cluster(faces, persons.values(), _new_id, free=free if callable(free) else None)
        moves = {f.id: placed[f.id] for f in faces if placed[f.id] != f.person_id}
        now = self._clock.now()
        created = [Person(pid, owner_id, now) for pid in sorted({p for p in placed.values() if p} - set(persons))]
        used = {p for p in placed.values() if p}
        empty = [pid for pid, p in persons.items() if pid not in used and not p.corrected]
        self._people.place(owner_id, created, moves, deleted_persons=empty)
        return placed

    # ------------------------------------------------------------------ reading

    def people(self, account: Account, *, include_hidden: bool = False) -> list[PersonSummary]:
        """The account's people with at least one face, most faces first (then by id)."""
        covers = {face.person_id: (face, n) for face, n in self._people.covers(account.id)}
        out = [PersonSummary(p, covers[p.id][1], covers[p.id][0]) for p in self._people.persons(account.id)
               if p.id in covers and (include_hidden or not p.hidden)]
        out.sort(key=lambda s: (-s.face_count, s.person.id))
        return out

    def person(self, account: Account, person_id: str) -> PersonSummary:
        for p in self._people.persons(account.id):
            if p.id == person_id:
                cover = next(((f, n) for f, n in self._people.covers(account.id) if f.person_id == p.id), None)
                return PersonSummary(p, cover[1], cover[0]) if cover else PersonSummary(p, 0, None)
        raise NotFound("person")

    def faces_of(self, account: Account, image_ids: Sequence[str]) -> dict[str, list[tuple[Face, Person | None]]]:
        """Each image's faces with their (visible) person, by image id."""
        out: dict[str, list[tuple[Face, Person | None]]] = {i: [] for i in image_ids}
        if not image_ids or not account.settings.face_recognition:  # off: the account keeps no faces
            return out
        faces = self._people.faces(account.id, image_ids=image_ids)
        if not faces:
            return out
        persons = {p.id: p for p in self._people.persons(account.id) if not p.hidden}
        for f in faces:
            out[f.image_id].append((f, persons.get(f.person_id) if f.person_id else None))
        return out

    def people_of(self, account: Account, image_ids: Sequence[str]) -> dict[str, list[Person]]:
        """Each image's visible people (once each, by id), by image id."""
        out: dict[str, list[Person]] = {}
        for image_id, pairs in self.faces_of(account, image_ids).items():
            seen = {p.id: p for _, p in pairs if p is not None}
            out[image_id] = [seen[k] for k in sorted(seen)]
        return out

    def split_query(self, account: Account, q: str | None) -> tuple[str | None, list[str]]:
        """The words of ``q`` that name one of the account's people become a person filter:
        (the rest of q, the person ids). Nothing changes for an account without named people."""
        if not q or not account.settings.face_recognition:  # off: the account has no people
            return q, []
        names = {p.id: p.name for p in self._people.persons(account.id) if p.name and not p.hidden}
        rest, ids = names_in_query(q, names)
        return (rest if ids else q), ids

    def crop(self, account: Account, person_id: str) -> bytes:
        """The JPEG crop of the person's cover face."""
        cover = self.person(account, person_id).cover
        if cover is None:
            raise NotFound("face")
        return self._blobs.get(cover.crop_key)

    def cover_url(self, summary: PersonSummary) -> str | None:
        """A temporary URL of the person's cover face crop (None without faces)."""
        if summary.cover is None:
            return None
        expires = self._clock.now() + self._url_ttl
        return self._blobs.url(summary.cover.crop_key, expires, filename="face.jpg", content_type="image/jpeg")

    def face_url(self, face: Face) -> str:
        expires = self._clock.now() + self._url_ttl
        return self._blobs.url(face.crop_key, expires, filename="face.jpg", content_type="image/jpeg")

    # ------------------------------------------------------------------ the owner's corrections

    def rename(self, account: Account, person_id: str, name: object) -> PersonSummary:
        """Name a person (None clears the name). InvalidPersonName for an empty or too long name."""
        cleaned = None if name is None else clean_name(name)
        if name is not None and cleaned is None:
            raise InvalidPersonName()
        current = self.person(account, person_id)
        self._people.save(account.id, [attrs.evolve(current.person, name=cleaned)], [])
        return self.person(account, person_id)

    def hide(self, account: Account, person_id: str, hidden: bool = True) -> PersonSummary:
        current = self.person(account, person_id)
        self._people.save(account.id, [attrs.evolve(current.person, hidden=hidden)], [])
        return self.person(account, person_id)

    def merge(self, account: Account, person_id: str, into: str) -> PersonSummary:
        """Move every face of ``person_id`` into ``into`` for good; ``into`` keeps its name, or
        takes the merged one's. NotFound when either is not the account's."""
        source, target = self.person(account, person_id).person, self.person(account, into).person
        if source.id == target.id:
            return self.person(account, into)
        faces = []
        for f in self._people.faces(account.id):
            if f.person_id in (source.id, target.id):
                faces.append(attrs.evolve(f, person_id=target.id, pinned=True, rejected=f.rejected - {target.id}))
            elif source.id in f.rejected:  # "not this person" now means not the merged one either
                faces.append(attrs.evolve(f, rejected=f.rejected | {target.id}))
        merged = attrs.evolve(target, name=target.name if target.name is not None else source.name)
        self._people.save(account.id, [merged], faces, deleted_persons=[source.id])
        return self.person(account, into)

    def move_face(self, account: Account, face_id: str, to: str | None) -> Face:
        """Put a face in another person for good (``to``), or say it is not its person (None):
        it is never given back to that person."""
        face = next((f for f in self._people.faces(account.id) if f.id == face_id), None)
        if face is None:
            raise NotFound("face")
        if to is None:
            rejected = face.rejected | ({face.person_id} if face.person_id else set())
            moved = attrs.evolve(face, person_id=None, pinned=False, rejected=frozenset(rejected))
        else:
            self.person(account, to)
            moved = attrs.evolve(face, person_id=to, pinned=True, rejected=face.rejected - {to})
        self._people.save(account.id, [], [moved])
        return moved

    # ------------------------------------------------------------------ privacy

    def forget(self, owner_id: str) -> int:
        """Delete every face, person and crop of the account; returns how many faces went."""
        gone = self._people.delete_owner(owner_id)
        self._delete_crops(gone)
        return len(gone)

    def forget_image(self, owner_id: str, image_id: str) -> int:
        gone = self._people.delete_image_faces(owner_id, image_id)
        self._delete_crops(gone)
        return len(gone)

    def _delete_crops(self, faces: Sequence[Face]) -> None:
        for f in faces:
            try:
                self._blobs.delete(f.crop_key)
            except Exception:  # the sweeper removes blobs whose image is gone
                log.warning("could not delete face crop %s yet", f.crop_key, exc_info=True)


class FacesAlongside:
    """The people service as the analysis's :class:`AlongsideStep`: faces are found while the
    image is analyzed (both run in child processes of their own) and kept once it is."""

    def __init__(self, people: PeopleService) -> None:
        self._people = people

    def find(self, image: Image, data: bytes) -> Sequence[FaceFinding] | None:
        return self._people.find_faces(image, data)

    def keep(self, image: Image, found: Sequence[FaceFinding] | None) -> int:
        return self._people.keep_faces(image, found)
