"""FingerprintRepository port: each image's perceptual hash and content embedding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import attrs

from imagerepo.domain.similarity import Fingerprint


@attrs.frozen
class FingerprintChange:
    """A fingerprint as stored by one put: ``seq`` orders the puts of one owner."""

    seq: int
    image_id: str
    fingerprint: Fingerprint


@runtime_checkable
class FingerprintRepository(Protocol):
    """Fingerprints live and die with their image: only ready images have them, and deleting an
    image deletes its fingerprint."""

    def put(self, owner_id: str, image_id: str, fingerprint: Fingerprint) -> bool:
        """Store the known parts of ``fingerprint`` for the owner's ready image (a part that is
        None keeps what was stored). False, and nothing stored, when the owner has no such ready
        image. Each put of an owner gets a higher ``seq`` than every earlier one, and puts become
        visible in ``seq`` order (a reader never sees seq n+1 before seq n)."""
        ...

    def get(self, owner_id: str, image_id: str) -> Fingerprint | None:
        """The fingerprint of the owner's ready image; None for none, or another owner's image."""
        ...

    def changes(self, owner_id: str, after: int, limit: int) -> Sequence[FingerprintChange]:
        """At most ``limit`` of the owner's fingerprints last put after ``after``, in ``seq`` order,
        of images still ready: what a cache of the owner's fingerprints reads to catch up."""
        ...
