"""Similarity service: "more like this", duplicate groups, and whether an upload is a copy."""

from __future__ import annotations

import logging

import attrs

from imagerepo.domain.accounts import Account
from imagerepo.domain.errors import NotFound
from imagerepo.domain.images import Image
from imagerepo.domain.similarity import (
    EXACT_MIN_SIMILARITY,
    EXACT_SURE_DISTANCE,
    NEAR_MIN_SIMILARITY,
    DuplicateKind,
    Fingerprint,
    Pair,
    group_duplicates,
    is_exact,
    similarity,
)
from imagerepo.ports.fingerprint_repository import FingerprintRepository
from imagerepo.ports.image_repository import ImageRepository
from imagerepo.ports.similarity_index import SimilarityIndex

log = logging.getLogger(__name__)

MAX_SIMILAR = 100
_GET_MANY = 10_000


@attrs.frozen
class SimilarImage:
    image: Image
    similarity: float


@attrs.frozen
class DuplicateImages:
    kind: DuplicateKind
    images: tuple[Image, ...]


class SimilarityService:
    def __init__(self, images: ImageRepository, fingerprints: FingerprintRepository, index: SimilarityIndex) -> None:
        self._images = images
        self._fingerprints = fingerprints
        self._index = index

    def _ready(self, account: Account, ids: list[str]) -> dict[str, Image]:
        """The images still there; those gone are forgotten by the index."""
        found: dict[str, Image] = {}
        for start in range(0, len(ids), _GET_MANY):  # a statement holds at most 65,535 parameters
            found.update((img.id, img) for img in self._images.get_many(account.id, ids[start:start + _GET_MANY]))
        gone = [i for i in ids if i not in found]
        if gone:
            self._index.forget(account.id, gone)
        return found

    def similar(self, account: Account, image_id: str, limit: int = 20) -> list[SimilarImage]:
        """The account's images most like this one by content, most similar first, never itself.
        NotFound for an image that is not the account's; empty until its analysis gave it an
        embedding."""
        if self._images.get(account.id, image_id) is None:
            raise NotFound()
        limit = max(1, min(MAX_SIMILAR, limit))
        fp = self._fingerprints.get(account.id, image_id)
        if fp is None or fp.embedding is None:
            return []
        ask = limit
        while True:
            hits = self._index.nearest(account.id, fp.embedding, ask, exclude=image_id)
            found = self._ready(account, [i for i, _ in hits])
            out = [SimilarImage(found[i], similarity(c)) for i, c in hits if i in found]
            if len(out) >= limit or len(hits) < ask:
                return out[:limit]
            ask *= 2  # deleted images took places: ask again past them

    def exact_copy_of(self, account: Account, image_id: str, phash: int | None) -> str | None:
        """The earliest other image of the account that is the same picture as this one, whose
        perceptual hash (as the upload made it) is ``phash``; None for none or no hash.

        One bounded lookup of hashes within EXACT_SURE_DISTANCE bits: neither the image's own
        fingerprint nor the account's similarity index is read on the upload's path."""
        if phash is None:
            return None
        hits = self._fingerprints.same_picture(account.id, phash, EXACT_SURE_DISTANCE, exclude=image_id)
        found = self._ready(account, [i for i, d in hits if is_exact(Pair(image_id, i, d))])
        if not found:
            return None
        return min(found.values(), key=lambda i: (i.uploaded_at, i.id)).id

    def duplicates(self, account: Account) -> list[DuplicateImages]:
        """The account's duplicate groups, oldest first within each: ``exact`` groups are copies
        of one picture; ``near`` groups are pictures of one scene (one image per picture)."""
        # Every pair the rules can join: within EXACT_SURE_DISTANCE bits, or alike enough to be
        # near or (within EXACT_MAX_DISTANCE bits) exact; the index finds them without
        # comparing every pair.
        pairs = self._index.pairs(account.id, EXACT_SURE_DISTANCE, min(NEAR_MIN_SIMILARITY, EXACT_MIN_SIMILARITY))
        ids = sorted({i for p in pairs for i in (p.a, p.b)})
        found = self._ready(account, ids)
        order = [i.id for i in sorted(found.values(), key=lambda i: (i.uploaded_at, i.id))]
        report = group_duplicates(order, pairs)
        return [DuplicateImages(g.kind, tuple(found[i] for i in g.image_ids)) for g in report.groups]

    def copies(self, account: Account) -> frozenset[str]:
        """Ids of the account's images that are exact copies of an earlier one (a gallery can hide them)."""
        hidden: set[str] = set()
        for group in self.duplicates(account):
            if group.kind == DuplicateKind.EXACT:
                hidden.update(i.id for i in group.images[1:])
        return frozenset(hidden)

    def remember(self, account: Account, image_id: str, fingerprint: Fingerprint) -> None:
        """Store what is known of an image's fingerprint (a failure is logged: the image stands)."""
        try:
            self._fingerprints.put(account.id, image_id, fingerprint)
        except Exception:
            log.warning("fingerprint of %s not stored", image_id, exc_info=True)
