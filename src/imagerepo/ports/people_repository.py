"""PeopleRepository port: an account's faces and the people they are grouped into."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from imagerepo.domain.people import Face, Person


@runtime_checkable
class PeopleRepository(Protocol):
    """Faces are biometric data: every method is scoped to one owner, and the deleting ones
    return what they removed so that the caller can remove the crops from the blob store."""

    def add_faces(self, owner_id: str, image_id: str, faces: Sequence[Face]) -> Sequence[Face]:
        """Replace the image's faces with ``faces`` (a re-analysis); returns the faces replaced.
        Stores nothing when the image is gone (deleted meanwhile). Raises ServiceUnavailable."""
        ...

    def faces(self, owner_id: str, *, image_ids: Sequence[str] | None = None) -> Sequence[Face]:
        """The owner's faces (of ``image_ids`` only, when given), ordered by id."""
        ...

    def covers(self, owner_id: str) -> Sequence[tuple[Face, int]]:
        """For each person of the owner with faces: its best face (highest quality, then the
        greatest id) and how many faces it has; in no particular order."""
        ...

    def persons(self, owner_id: str) -> Sequence[Person]:
        """The owner's people, ordered by id."""
        ...

    def save(self, owner_id: str, persons: Sequence[Person], faces: Sequence[Face],
             deleted_persons: Sequence[str] = ()) -> None:
        """In one transaction: store ``persons`` (insert or replace name and hidden), update the
        person, pinned and rejected of ``faces`` that still exist, and delete ``deleted_persons``.
        Rows of another owner are never touched."""
        ...

    def place(self, owner_id: str, created: Sequence[Person], moves: Mapping[str, str | None],
              deleted_persons: Sequence[str] = ()) -> None:
        """Clustering's write, in one transaction, which never overrides the owner even when the
        owner acted after clustering read: store ``created``; give each face of ``moves`` its new
        person (None: waiting) unless the face is pinned, sits in a named or hidden person, or
        rejected that person; then delete each of ``deleted_persons`` that is unnamed, not hidden
        and has no face left."""
        ...

    def delete_image_faces(self, owner_id: str, image_id: str) -> Sequence[Face]:
        """Delete the image's faces, and the persons (names too) left with no face; returns the faces."""
        ...

    def delete_owner(self, owner_id: str) -> Sequence[Face]:
        """Delete every face and person of the owner; returns the faces deleted."""
        ...
