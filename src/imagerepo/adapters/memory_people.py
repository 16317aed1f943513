"""In-memory fakes of PeopleRepository and FaceAnalyzer (tests and the memory container)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence

import attrs

from imagerepo.domain.people import Face, FaceFinding, Person


class InMemoryPeopleRepository:
    """Faces and people in dicts. ``image_owned(owner_id, image_id)`` plays the SQL foreign key:
    faces of an image that is gone are not stored (the memory container passes the image
    repository's check)."""

    def __init__(self, image_owned: Callable[[str, str], bool] | None = None) -> None:
        self._faces: dict[str, Face] = {}
        self._persons: dict[str, Person] = {}
        self._lock = threading.Lock()
        self._image_owned = image_owned

    def add_faces(self, owner_id: str, image_id: str, faces: Sequence[Face]) -> Sequence[Face]:
        with self._lock:
            if self._image_owned is not None and not self._image_owned(owner_id, image_id):
                return []
            old = [f for f in self._faces.values() if f.image_id == image_id and f.owner_id == owner_id]
            for f in old:
                del self._faces[f.id]
            for f in faces:
                self._faces[f.id] = attrs.evolve(f, owner_id=owner_id, image_id=image_id)
            return sorted(old, key=lambda f: f.id)

    def faces(self, owner_id: str, *, image_ids: Sequence[str] | None = None) -> Sequence[Face]:
        with self._lock:
            wanted = None if image_ids is None else set(image_ids)
            return sorted((f for f in self._faces.values()
                           if f.owner_id == owner_id and (wanted is None or f.image_id in wanted)),
                          key=lambda f: f.id)

    def covers(self, owner_id: str) -> Sequence[tuple[Face, int]]:
        with self._lock:
            groups: dict[str, list[Face]] = {}
            for f in self._faces.values():
                if f.owner_id == owner_id and f.person_id is not None:
                    groups.setdefault(f.person_id, []).append(f)
            return [(max(fs, key=lambda f: (f.quality, f.id)), len(fs)) for fs in groups.values()]

    def persons(self, owner_id: str) -> Sequence[Person]:
        with self._lock:
            return sorted((p for p in self._persons.values() if p.owner_id == owner_id), key=lambda p: p.id)

    def save(self, owner_id: str, persons: Sequence[Person], faces: Sequence[Face],
             deleted_persons: Sequence[str] = ()) -> None:
        with self._lock:
            for p in persons:
                current = self._persons.get(p.id)
                if p.owner_id == owner_id and (current is None or current.owner_id == owner_id):
                    self._persons[p.id] = p if current is None else attrs.evolve(current, name=p.name, hidden=p.hidden)
            for f in faces:
                current_face = self._faces.get(f.id)
                if current_face is not None and current_face.owner_id == owner_id:
                    self._faces[f.id] = attrs.evolve(current_face, person_id=f.person_id, pinned=f.pinned,
                                                     rejected=f.rejected)
            for pid in deleted_persons:
                gone = self._persons.get(pid)
                if gone is not None and gone.owner_id == owner_id:
                    del self._persons[pid]

    def place(self, owner_id: str, created: Sequence[Person], moves: Mapping[str, str | None],
              deleted_persons: Sequence[str] = ()) -> None:
        with self._lock:
            for p in created:
                if p.owner_id == owner_id and p.id not in self._persons:
                    self._persons[p.id] = p
            for face_id, to in moves.items():
                f = self._faces.get(face_id)
                if f is None or f.owner_id != owner_id or f.pinned or (to is not None and to in f.rejected):
                    continue
                now = self._persons.get(f.person_id) if f.person_id else None
                if now is not None and (now.name is not None or now.hidden):
                    continue
                self._faces[face_id] = attrs.evolve(f, person_id=to)
            used = {f.person_id for f in self._faces.values()}
            for pid in deleted_persons:
                gone = self._persons.get(pid)
                if (gone is not None and gone.owner_id == owner_id and gone.name is None and not gone.hidden
                        and pid not in used):
                    del self._persons[pid]

    def delete_image_faces(self, owner_id: str, image_id: str) -> Sequence[Face]:
        with self._lock:
            gone = sorted((f for f in self._faces.values() if f.image_id == image_id and f.owner_id == owner_id),
                          key=lambda f: f.id)
            for f in gone:
                del self._faces[f.id]
            left = {f.person_id for f in self._faces.values()}
            for pid in {f.person_id for f in gone} - left:
                if pid is not None and pid in self._persons and self._persons[pid].owner_id == owner_id:
                    del self._persons[pid]
            return gone

    def delete_owner(self, owner_id: str) -> Sequence[Face]:
        with self._lock:
            gone = sorted((f for f in self._faces.values() if f.owner_id == owner_id), key=lambda f: f.id)
            for f in gone:
                del self._faces[f.id]
            for pid in [p.id for p in self._persons.values() if p.owner_id == owner_id]:
                del self._persons[pid]
            return gone

    def image_ids_of(self, owner_id: str, person_id: str) -> frozenset[str]:
        """For the in-memory image search's person filter."""
        with self._lock:
            return frozenset(f.image_id for f in self._faces.values()
                             if f.owner_id == owner_id and f.person_id == person_id)


class ScriptedFaceAnalyzer:
    """Reports the faces scripted for an image (by the SHA-256 of its bytes); none otherwise."""

    name = "scripted-faces"

    def __init__(self) -> None:
        self._script: dict[str, list[FaceFinding]] = {}
        self.calls = 0

    def script(self, data: bytes, findings: Sequence[FaceFinding]) -> None:
        self._script[hashlib.sha256(data).hexdigest()] = list(findings)

    def find_faces(self, data: bytes, content_type: str) -> Sequence[FaceFinding]:
        self.calls += 1
        return list(self._script.get(hashlib.sha256(data).hexdigest(), []))
