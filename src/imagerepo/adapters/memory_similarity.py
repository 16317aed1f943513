"""In-memory fakes of the FingerprintRepository and SimilarityIndex ports (pure Python, brute force)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Collection, Sequence
from typing import Protocol

from imagerepo.domain.images import Image
from imagerepo.domain.similarity import Embedding, Fingerprint, Pair, compare, hamming, similarity
from imagerepo.ports.fingerprint_repository import MAX_BAND_DISTANCE, FingerprintChange, FingerprintRepository


class _ReadyImages(Protocol):
    def get(self, owner_id: str, image_id: str) -> Image | None: ...


class InMemoryFingerprintRepository:
    """Fingerprints beside an image repository, which says which images are ready."""

    def __init__(self, images: _ReadyImages) -> None:
        self._images = images
        self._rows: dict[str, tuple[str, int, Fingerprint]] = {}  # image id -> (owner, seq, fingerprint)
        self._seq: dict[str, int] = {}
        self._lock = threading.Lock()

    def put(self, owner_id: str, image_id: str, fingerprint: Fingerprint) -> bool:
        with self._lock:
            if self._images.get(owner_id, image_id) is None:
                return False
            seq = self._seq[owner_id] = self._seq.get(owner_id, 0) + 1
            old = self._rows.get(image_id)
            merged = old[2].merged(fingerprint) if old else fingerprint
            self._rows[image_id] = (owner_id, seq, merged)
            return True

    def get(self, owner_id: str, image_id: str) -> Fingerprint | None:
        with self._lock:
            row = self._rows.get(image_id)
        if row is None or row[0] != owner_id or self._images.get(owner_id, image_id) is None:
            return None
        return row[2]

    def changes(self, owner_id: str, after: int, limit: int) -> Sequence[FingerprintChange]:
        with self._lock:
            rows = sorted((seq, i, fp) for i, (o, seq, fp) in self._rows.items() if o == owner_id and seq > after)
        ready = [FingerprintChange(s, i, fp) for s, i, fp in rows if self._images.get(owner_id, i) is not None]
        return ready[:limit]

    def same_picture(self, owner_id: str, phash: int, max_distance: int, exclude: str) -> Sequence[tuple[str, int]]:
        if not 0 <= max_distance <= MAX_BAND_DISTANCE:
            raise ValueError(f"the bands find hashes within {MAX_BAND_DISTANCE} bits")
        with self._lock:
            rows = [(i, fp.phash) for i, (o, _, fp) in self._rows.items() if o == owner_id and fp.phash is not None]
        found = [(i, hamming(phash, h)) for i, h in rows
                 if i != exclude and self._images.get(owner_id, i) is not None]
        return sorted([f for f in found if f[1] <= max_distance], key=lambda f: (f[1], f[0]))


class BruteForceSimilarityIndex:
    """Every comparison made afresh from the repository: exact, slow, obviously right."""

    def __init__(self, fingerprints: FingerprintRepository) -> None:
        self._fingerprints = fingerprints

    def _all(self, owner_id: str) -> dict[str, Fingerprint]:
        return {c.image_id: c.fingerprint for c in self._fingerprints.changes(owner_id, 0, 1 << 62)}

    def nearest(self, owner_id: str, embedding: Embedding, limit: int, exclude: str) -> Sequence[tuple[str, float]]:
        found = [(i, embedding.cosine(fp.embedding)) for i, fp in self._all(owner_id).items()
                 if fp.embedding is not None and i != exclude]
        return sorted(found, key=lambda f: (-f[1], f[0]))[:limit]

    def same_picture(self, owner_id: str, phash: int, max_distance: int, exclude: str) -> Sequence[tuple[str, int]]:
        found = [(i, hamming(phash, fp.phash)) for i, fp in self._all(owner_id).items()
                 if fp.phash is not None and i != exclude]
        return sorted([f for f in found if f[1] <= max_distance], key=lambda f: (f[1], f[0]))

    def pairs(self, owner_id: str, max_distance: int, min_similarity: float) -> Sequence[Pair]:
        every = sorted(self._all(owner_id).items())
        found = []
        for (a, fa), (b, fb) in itertools.combinations(every, 2):
            p = compare(a, fa, b, fb)
            if (p.distance is not None and p.distance <= max_distance) or (
                p.similarity is not None and p.similarity >= similarity(min_similarity)
            ):
                found.append(p)
        return found

    def forget(self, owner_id: str, image_ids: Collection[str]) -> None:
        """Nothing is kept between calls."""
