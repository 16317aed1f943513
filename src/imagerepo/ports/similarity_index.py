"""SimilarityIndex port: nearest neighbours among one owner's fingerprints."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol, runtime_checkable

from imagerepo.domain.similarity import Embedding, Pair


@runtime_checkable
class SimilarityIndex(Protocol):
    """Answers from the owner's fingerprints as the FingerprintRepository holds them; it may still
    name images deleted since (callers drop them and ``forget`` them), never miss a fingerprint
    put before the call began."""

    def nearest(self, owner_id: str, embedding: Embedding, limit: int, exclude: str) -> Sequence[tuple[str, float]]:
        """Up to ``limit`` (image id, cosine) of the owner's images by embedding, most similar
        first (ties by id), never ``exclude``."""
        ...

    def same_picture(self, owner_id: str, phash: int, max_distance: int, exclude: str) -> Sequence[tuple[str, int]]:
        """(image id, Hamming distance) of the owner's images whose perceptual hash is within
        ``max_distance`` bits of ``phash``, closest first (ties by id), never ``exclude``."""
        ...

    def pairs(self, owner_id: str, max_distance: int, min_similarity: float) -> Sequence[Pair]:
        """Every pair of the owner's images (a < b by id) whose hashes are within ``max_distance``
        bits or whose embeddings' similarity is at least ``min_similarity``, with both measures
        where known."""
        ...

    def forget(self, owner_id: str, image_ids: Collection[str]) -> None:
        """Drop images found gone (deleted) from what this index answers."""
        ...
