"""SqlFingerprintRepository: image fingerprints in a side table, once for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from imagerepo.adapters.sql.dialect import Database
from imagerepo.domain.similarity import (
    DETAIL_BITS,
    Embedding,
    Fingerprint,
    hamming,
    phash_from_signed,
    phash_to_signed,
)
from imagerepo.ports.fingerprint_repository import BAND_BITS, BANDS, MAX_BAND_DISTANCE, PER_BAND, FingerprintChange

# One indexed lookup per band, each bounded (PER_BAND rows): the band expressions are migration
# 0130's index expressions, term for term, so each subquery is an index search (BANDS = 4 bands
# of BAND_BITS = 16).
_SAME_BAND = (
    "SELECT image_id, phash FROM (SELECT image_id, phash FROM image_fingerprints"
    " WHERE owner_id = ? AND (phash & 65535) = ? LIMIT ?) AS band0"
    " UNION SELECT image_id, phash FROM (SELECT image_id, phash FROM image_fingerprints"
    " WHERE owner_id = ? AND ((phash >> 16) & 65535) = ? LIMIT ?) AS band1"
    " UNION SELECT image_id, phash FROM (SELECT image_id, phash FROM image_fingerprints"
    " WHERE owner_id = ? AND ((phash >> 32) & 65535) = ? LIMIT ?) AS band2"
    " UNION SELECT image_id, phash FROM (SELECT image_id, phash FROM image_fingerprints"
    " WHERE owner_id = ? AND ((phash >> 48) & 65535) = ? LIMIT ?) AS band3"
)

# Holds the image row until commit, so a deletion beginning (which removes the fingerprint) waits.
_READY = "UPDATE images SET state = state WHERE id = ? AND owner_id = ? AND state = 'ready' RETURNING id"


def _fingerprint(row: Any) -> Fingerprint:
    phash, embedding, detail = row["phash"], row["embedding"], row["detail"]
    return Fingerprint(
        phash=phash_from_signed(int(phash)) if phash is not None else None,
        embedding=Embedding(bytes(embedding)) if embedding is not None else None,
        detail=int.from_bytes(bytes(detail), "big") if detail is not None else None,
    )


class SqlFingerprintRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def put(self, owner_id: str, image_id: str, fingerprint: Fingerprint) -> bool:
        phash = phash_to_signed(fingerprint.phash) if fingerprint.phash is not None else None
        embedding = fingerprint.embedding.codes if fingerprint.embedding is not None else None
        detail = fingerprint.detail.to_bytes(DETAIL_BITS // 8, "big") if fingerprint.detail is not None else None
        with self._db.transaction() as tx:
            tx.lock(owner_id)  # one owner's seqs are taken and committed in order
            if tx.execute(_READY, (image_id, owner_id)).fetchone() is None:
                return False
            seq = int(tx.execute(
                "SELECT coalesce(max(seq), 0) + 1 AS n FROM image_fingerprints WHERE owner_id = ?", (owner_id,)
            ).fetchone()["n"])
            tx.execute(
                "INSERT INTO image_fingerprints (image_id, owner_id, seq, phash, embedding, detail)"
                " VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (image_id) DO UPDATE SET seq = excluded.seq,"
                " phash = coalesce(excluded.phash, image_fingerprints.phash),"
                " embedding = coalesce(excluded.embedding, image_fingerprints.embedding),"
                " detail = coalesce(excluded.detail, image_fingerprints.detail)",
                (image_id, owner_id, seq, phash, embedding, detail),
            )
        return True

    def get(self, owner_id: str, image_id: str) -> Fingerprint | None:
        with self._db.transaction(write=False) as tx:
            # The table holds ready images only: begin_delete removes the row.
            row = tx.execute(
                "SELECT phash, embedding, detail FROM image_fingerprints WHERE image_id = ? AND owner_id = ?",
                (image_id, owner_id),
            ).fetchone()
        return _fingerprint(row) if row else None

    def changes(self, owner_id: str, after: int, limit: int) -> Sequence[FingerprintChange]:
        with self._db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT seq, image_id, phash, embedding, detail FROM image_fingerprints"
                " WHERE owner_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (owner_id, after, limit),
            ).fetchall()
        return [FingerprintChange(int(r["seq"]), str(r["image_id"]), _fingerprint(r)) for r in rows]

    def same_picture(self, owner_id: str, phash: int, max_distance: int, exclude: str) -> Sequence[tuple[str, int]]:
        if not 0 <= max_distance <= MAX_BAND_DISTANCE:
            raise ValueError(f"the bands find hashes within {MAX_BAND_DISTANCE} bits")
        params: list[Any] = []
        for k in range(BANDS):
            params += [owner_id, (phash >> (k * BAND_BITS)) & ((1 << BAND_BITS) - 1), PER_BAND]
        with self._db.transaction(write=False) as tx:
            rows = tx.execute(_SAME_BAND, params).fetchall()
        found = [(str(r["image_id"]), hamming(phash, phash_from_signed(int(r["phash"])))) for r in rows]
        return sorted((f for f in found if f[1] <= max_distance and f[0] != exclude), key=lambda f: (f[1], f[0]))
