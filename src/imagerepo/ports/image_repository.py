"""ImageRepository port: image metadata, the quota, search, and what puts an analysis in the queue.

An image row moves through three hidden states: ``uploading`` (reserved, counts toward the
quota, invisible), ``ready`` (visible) and ``deleting`` (invisible, quota freed, blobs being
removed). Only ready images are returned by get and search. A reserved image's analysis is
pending; workers take it through the AnalysisQueue port once the image is ready.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from imagerepo.domain.images import Image
from imagerepo.domain.photos import PhotoInfo
from imagerepo.domain.queries import ImageQuery, Page


@runtime_checkable
class ImageRepository(Protocol):
    def reserve(self, image: Image, quota_limit: int) -> None:
        """Insert ``image`` as uploading, atomically with the quota and duplicate checks.

        Raises QuotaExceeded when the owner already holds ``quota_limit`` images (uploading or
        ready), DuplicateImage when a ready or uploading image of the owner has the same sha256.
        Concurrent calls never let an owner exceed the limit.
        """
        ...

    def commit(self, image_id: str) -> None:
        """Make a reserved image visible."""
        ...

    def discard(self, image_id: str) -> None:
        """Forget a row in any state (reservation rolled back, or deletion finished)."""
        ...

    def get(self, owner_id: str, image_id: str) -> Image | None:
        """A ready image of this owner, else None (another owner's image is None too)."""
        ...

    def get_many(self, owner_id: str, image_ids: Sequence[str]) -> Sequence[Image]:
        """The owner's ready images among ``image_ids``, in no particular order (one query)."""
        ...

    def find_by_sha256(self, owner_id: str, sha256: str) -> str | None:
        """Id of the owner's ready or uploading image with these bytes."""
        ...

    def count(self, owner_id: str) -> int:
        """Images counted against the quota: uploading and ready."""
        ...

    def search(self, query: ImageQuery) -> Page:
        """Ready images of ``query.owner_id`` matching it, in its order, one page after its cursor.

        The semantics are spelled out as a brute force in tests/search_reference.py, which the
        contract tests hold every adapter to.
        """
        ...

    def begin_delete(self, owner_id: str, image_id: str) -> Image | None:
        """Hide a ready image and free its quota slot; returns it, or None if not found."""
        ...

    def stale(self, now: datetime, uploading_older_than: datetime) -> Sequence[tuple[Image, str]]:
        """Rows the sweeper must finish: (image, state) for uploads begun before the cut-off and
        every deletion in progress."""
        ...

    def exists(self, image_id: str) -> bool:
        """True when a row with this id exists in any state."""
        ...

    def tag_counts(self, owner_id: str) -> list[tuple[str, int]]:
        """Each tag the owner's ready images carry (casefolded, as search matches them) with how
        many images carry it, most used first, then by name."""
        ...

    def request_analysis(self, owner_id: str, image_id: str, now: datetime) -> Image | None:
        """Set a ready image's analysis back to pending (new generation, attempts reset): the
        queue hands it out again and a job still running for the old generation is superseded."""
        ...

    def set_photo(self, owner_id: str, image_id: str, photo: PhotoInfo) -> Image | None:
        """Store what a ready image's file says (capture time, camera, position); its search
        index follows. None when the owner has no such ready image."""
        ...

    def erase_locations(self, owner_id: str) -> int:
        """Forget the position and place names of every image of the owner, in any state, and
        drop them from the search index. Returns how many images had one."""
        ...

    def unread_photos(self, after_id: str, limit: int) -> Sequence[Image]:
        """Ready images, of every owner, whose file was not read for its photo information yet
        (uploaded before it was kept), in id order after ``after_id``: what a backfill walks."""
        ...

    def check(self) -> None:
        """Raise ServiceUnavailable when the database cannot be reached."""
        ...
