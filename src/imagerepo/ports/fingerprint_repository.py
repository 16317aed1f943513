"""FingerprintRepository port: each image's perceptual hash and content embedding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import attrs

from imagerepo.domain.similarity import PHASH_BITS, Fingerprint

# same_picture splits a hash into BANDS bands: two hashes within BANDS - 1 bits agree exactly on
# one of them at least, so each band is one indexed lookup. A band value shared by more than
# PER_BAND of the owner's images (a flood of blank frames) is read PER_BAND rows deep only.
BANDS = 4
BAND_BITS = PHASH_BITS // BANDS
MAX_BAND_DISTANCE = BANDS - 1
PER_BAND = 1000


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

    def same_picture(self, owner_id: str, phash: int, max_distance: int, exclude: str) -> Sequence[tuple[str, int]]:
        """(image id, Hamming distance) of the owner's ready images whose perceptual hash is within
        ``max_distance`` bits of ``phash`` (at most MAX_BAND_DISTANCE), closest first (ties by id),
        never ``exclude``: a bounded lookup (see PER_BAND), whatever the owner's image count."""
        ...
