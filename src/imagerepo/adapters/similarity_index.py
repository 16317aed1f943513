"""NumpySimilarityIndex: each owner's fingerprints cached in this process, searched with numpy.

The cache catches up before every answer by reading the fingerprints put since the last one it
saw (FingerprintRepository.changes: one indexed query, empty most of the time), so every process
sees every other's writes. A deleted image stays in the cache until a caller reports it gone
(``forget``). Embeddings are searched through a fixed random orthogonal projection to
PROJECTED dimensions (float32, 512 bytes an image), and the best candidates re-ranked exactly on
their int8 codes (1,280 bytes an image); with the hashes 1,820 bytes a row, rows grown a quarter
at a time: 100k images of one owner take 180–230 MB.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from imagerepo.domain.similarity import PHASH_BITS, Embedding, Pair
from imagerepo.ports.fingerprint_repository import FingerprintChange, FingerprintRepository

PROJECTED = 128
# Candidates re-ranked exactly per result asked for (at least RERANK_MIN).
RERANK_FACTOR = 8
RERANK_MIN = 200
_BATCH = 20_000
# Past IVF_MIN embeddings an owner's vectors are also clustered (k-means on the projections, once
# per 10% of growth): a search scores the IVF_PROBES clusters nearest the query, plus the rows put
# since, instead of every row.
IVF_MIN = 20_000
IVF_CLUSTERS = 256
IVF_PROBES = 24
IVF_SAMPLE = 20_000
# Owners kept in memory at once; the least recently searched is dropped (and reloaded when needed).
MAX_OWNERS = 32
_NO_HASH = np.uint64(0)


def _projection(dimensions: int) -> npt.NDArray[np.float32]:
    """The same orthonormal (dimensions × PROJECTED) matrix in every process (fixed seed)."""
    rng = np.random.default_rng(20261130 + dimensions)
    q, _ = np.linalg.qr(rng.standard_normal((dimensions, min(PROJECTED, dimensions))))
    return np.ascontiguousarray(q, dtype=np.float32)


class _Owner:
    """One owner's fingerprints, as growable arrays (row i is image ids[i])."""

    def __init__(self) -> None:
        self.seq = 0
        self.ids: list[str] = []
        self.row: dict[str, int] = {}
        self.alive: npt.NDArray[Any] = np.zeros(0, dtype=bool)
        self.has_hash: npt.NDArray[Any] = np.zeros(0, dtype=bool)
        self.hashes: npt.NDArray[Any] = np.zeros(0, dtype=np.uint64)
        self.has_detail: npt.NDArray[Any] = np.zeros(0, dtype=bool)
        self.details: npt.NDArray[Any] = np.zeros((0, 2), dtype=np.uint64)  # high, low 64 bits
        self.dims = 0
        self.codes: npt.NDArray[Any] = np.zeros((0, 0), dtype=np.int8)
        self.projected: npt.NDArray[Any] = np.zeros((0, 0), dtype=np.float32)
        self.has_embedding: npt.NDArray[Any] = np.zeros(0, dtype=bool)
        self.unprojected: list[int] = []
        # The clusters (see IVF_MIN): rows perm[starts[c]:starts[c + 1]] are in cluster c; rows
        # from built_n on, and those re-put since (stale), are scored apart.
        self.centroids: npt.NDArray[Any] | None = None
        self.perm: npt.NDArray[Any] = np.zeros(0, dtype=np.int64)
        self.starts: npt.NDArray[Any] = np.zeros(1, dtype=np.int64)
        self.built_n = 0
        self.stale: set[int] = set()

    def _grow(self, n: int) -> None:
        cap = len(self.alive)
        if n <= cap:
            return
        new = max(n, cap + cap // 4, 64)  # a quarter's slack at most (see the module's docstring)

        def grown(a: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
            out = np.zeros((new, *a.shape[1:]), dtype=a.dtype)
            out[:cap] = a
            return out

        self.alive, self.has_hash, self.hashes, self.has_embedding = (
            grown(self.alive), grown(self.has_hash), grown(self.hashes), grown(self.has_embedding))
        self.codes, self.projected = grown(self.codes), grown(self.projected)
        self.has_detail, self.details = grown(self.has_detail), grown(self.details)

    def add(self, changes: Sequence[FingerprintChange]) -> None:
        """Take a batch of fingerprints in, as if one by one in order (a later one for the same image
        wins); their projections wait for ``project``. Array by array, not row by row: 100k rows of
        one owner are read in a fraction of a second."""
        for c in changes:
            if c.fingerprint.embedding is not None:
                self.set_dims(c.fingerprint.embedding.dimensions)
                break
        latest = {c.image_id: c.fingerprint for c in changes}
        rows = np.empty(len(latest), dtype=np.int64)
        for k, image_id in enumerate(latest):
            i = self.row.get(image_id)
            if i is None:
                i = self.row[image_id] = len(self.ids)
                self.ids.append(image_id)
            rows[k] = i
        self._grow(len(self.ids))
        fps = list(latest.values())
        self.alive[rows] = True
        self.has_hash[rows] = [fp.phash is not None for fp in fps]
        self.hashes[rows] = np.array([fp.phash or 0 for fp in fps], dtype=np.uint64)
        self.has_detail[rows] = [fp.detail is not None for fp in fps]
        details = [fp.detail or 0 for fp in fps]
        self.details[rows, 0] = np.array([d >> 64 for d in details], dtype=np.uint64)
        self.details[rows, 1] = np.array([d & 0xFFFF_FFFF_FFFF_FFFF for d in details], dtype=np.uint64)
        self.stale.update(rows[rows < self.built_n].tolist())  # their clusters may no longer fit them
        usable = np.array([fp.embedding is not None and fp.embedding.dimensions == self.dims for fp in fps], dtype=bool)
        self.has_embedding[rows] = usable
        if usable.any():
            codes = b"".join(fp.embedding.codes for fp in fps if fp.embedding and fp.embedding.dimensions == self.dims)
            self.codes[rows[usable]] = np.frombuffer(codes, dtype=np.int8).reshape(-1, self.dims)
            self.unprojected += rows[usable].tolist()

    def project(self, projection: npt.NDArray[np.float32]) -> None:
        if not self.unprojected:
            return
        rows = np.asarray(self.unprojected)
        v = self.codes[rows].astype(np.float32) @ projection
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        self.projected[rows] = v
        self.unprojected = []

    def cluster(self) -> None:
        """(Re)build the clusters when the owner has grown 10% since the last build."""
        n = len(self.ids)
        if n < IVF_MIN or (self.centroids is not None and n < 1.1 * self.built_n):
            return
        rng = np.random.default_rng(n)
        vectors = self.projected[:n]
        sample = vectors[rng.choice(n, size=min(n, IVF_SAMPLE), replace=False)]
        centroids = sample[rng.choice(len(sample), size=IVF_CLUSTERS, replace=False)].copy()
        for _ in range(6):  # a few Lloyd steps on the sample: good enough to route queries
            nearest = np.argmax(sample @ centroids.T, axis=1)
            for c in range(IVF_CLUSTERS):
                members = sample[nearest == c]
                if len(members):
                    v = members.mean(axis=0)
                    centroids[c] = v / (np.linalg.norm(v) or 1.0)
        assign = np.concatenate([np.argmax(vectors[s:s + 10_000] @ centroids.T, axis=1) for s in range(0, n, 10_000)])
        self.perm = np.argsort(assign, kind="stable")
        self.starts = np.searchsorted(assign[self.perm], np.arange(IVF_CLUSTERS + 1))
        self.centroids, self.built_n, self.stale = centroids, n, set()

    def candidates(self, q: npt.NDArray[np.float32]) -> npt.NDArray[Any] | None:
        """The rows worth scoring for ``q``: the nearest clusters' and the unclustered; None: all."""
        if self.centroids is None:
            return None
        best = np.argpartition(-(self.centroids @ q), IVF_PROBES - 1)[:IVF_PROBES]
        parts = [self.perm[self.starts[c]:self.starts[c + 1]] for c in best]
        parts.append(np.arange(self.built_n, len(self.ids)))
        if self.stale:  # rare (a re-analysed image): may repeat a row of a cluster
            parts.append(np.fromiter(self.stale, dtype=np.int64))
            return np.unique(np.concatenate(parts))
        return np.concatenate(parts)  # clusters and the tail are disjoint

    def set_dims(self, dims: int) -> None:
        if self.dims == 0:
            self.dims = dims
            n = len(self.alive)
            self.codes = np.zeros((n, dims), dtype=np.int8)
            self.projected = np.zeros((n, min(PROJECTED, dims)), dtype=np.float32)


# Duplicate pairs (``pairs``). Projected cosines err by a few hundredths: candidates within this
# margin of the threshold are checked exactly on the codes. Owners with fewer embeddings than
# EXACT_PAIRS_BELOW skip the projections: every pair is checked exactly.
PAIRS_MARGIN = 0.08
EXACT_PAIRS_BELOW = 256
_PAIRS_BLOCK = 1024
_PAIRS_CELLS = 1 << 22  # at most this many pairs' figures in memory at once (16 to 32 MB)
# Hash neighbours by multi-index hashing up to this distance (bands of at least 8 bits); past it,
# every pair's distance is counted.
_BANDED_MAX_DISTANCE = 7


def _within_runs(values: npt.NDArray[Any], rows: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Every pair (as rows of ``rows``) that shares a value: rows sorted by value, then each row
    paired with the 1st, 2nd, ... next one while they still share it."""
    order = np.argsort(values, kind="stable")
    v, r = values[order], rows[order]
    out = []
    i = np.flatnonzero(v[:-1] == v[1:]) if len(v) > 1 else np.zeros(0, dtype=np.int64)
    k = 1
    while len(i):
        out.append(np.stack([r[i], r[i + k]], axis=1))
        k += 1
        i = i[i + k < len(v)]
        i = i[v[i] == v[i + k]]
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)


def _hash_neighbours(hashes: npt.NDArray[Any], has_hash: npt.NDArray[Any], max_distance: int) -> npt.NDArray[Any]:
    """Candidate pairs (row, row) holding every pair of hashes within ``max_distance`` bits. Split
    into max_distance + 1 bands, two such hashes agree on at least one band exactly (pigeonhole):
    pairs sharing a band's value are the candidates, checked by the caller."""
    rows = np.flatnonzero(has_hash)
    if max_distance < 0 or len(rows) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    h = hashes[rows]
    if max_distance > _BANDED_MAX_DISTANCE:
        out = []
        step = max(1, min(_PAIRS_BLOCK, _PAIRS_CELLS // len(rows)))
        for start in range(0, len(rows), step):
            d = np.bitwise_count(h[start:start + step, None] ^ h[None, :])
            r, c = np.nonzero(d <= max_distance)
            r += start
            upper = r < c
            out.append(np.stack([rows[r[upper]], rows[c[upper]]], axis=1))
        return np.concatenate(out)
    bands = max_distance + 1
    edges = [round(PHASH_BITS * k / bands) for k in range(bands + 1)]
    parts = []
    for lo, hi in itertools.pairwise(edges):
        band = (h >> np.uint64(lo)) & np.uint64((1 << (hi - lo)) - 1)
        parts.append(_within_runs(band, rows))
    return np.concatenate(parts)


def _alike(proj: npt.NDArray[Any], has_emb: npt.NDArray[Any], min_similarity: float) -> npt.NDArray[Any]:
    """Candidate pairs (row, row) whose embeddings may be ``min_similarity`` alike: their projected
    cosine within PAIRS_MARGIN of it, or every pair for a small owner. Every pair's projected
    cosine is computed, block by block over the upper triangle: quadratic, but a matrix product
    (the owner's clusters were tried: they found a third of the pairs of photos shot in pairs)."""
    rows = np.flatnonzero(has_emb)
    if len(rows) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    if len(rows) < EXACT_PAIRS_BELOW:
        r, c = np.triu_indices(len(rows), k=1)
        return np.stack([rows[r], rows[c]], axis=1)
    p = proj[rows]
    threshold = np.float32(min_similarity - PAIRS_MARGIN)
    out = []
    step = max(1, min(_PAIRS_BLOCK, _PAIRS_CELLS // len(rows)))
    for start in range(0, len(rows), step):
        stop = min(len(rows), start + step)
        flat = np.flatnonzero(p[start:stop] @ p[start:].T >= threshold)
        r, c = np.divmod(flat, len(rows) - start)
        upper = r < c  # c counts from start, as r does
        out.append(np.stack([rows[r[upper] + start], rows[c[upper] + start]], axis=1))
    return np.concatenate(out)


def _cosines(codes: npt.NDArray[Any], a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """Cosine of rows a[k] and b[k] of the int8 codes as Embedding.cosine computes it (integer
    sums, then float64: the same figure to the last bit); 0 where either is zero."""
    out = np.zeros(len(a), dtype=np.float64)
    used = np.unique(np.concatenate([a, b]))
    squares = np.zeros(len(codes), dtype=np.int64)
    for s in range(0, len(used), 4096):  # int32 holds 1,280 products of int8 codes
        x = codes[used[s:s + 4096]].astype(np.int32)
        squares[used[s:s + 4096]] = np.einsum("ij,ij->i", x, x)
    norms = np.sqrt(squares.astype(np.float64))
    step = 4096
    for s in range(0, len(a), step):
        x = codes[a[s:s + step]].astype(np.int32)
        y = codes[b[s:s + step]].astype(np.int32)
        dot = np.einsum("ij,ij->i", x, y).astype(np.float64)
        denom = norms[a[s:s + step]] * norms[b[s:s + step]]
        out[s:s + step] = np.divide(dot, denom, out=np.zeros_like(dot), where=denom > 0)
    return out


class NumpySimilarityIndex:
    def __init__(self, fingerprints: FingerprintRepository) -> None:
        self._fingerprints = fingerprints
        self._owners: OrderedDict[str, _Owner] = OrderedDict()
        self._projections: dict[int, npt.NDArray[np.float32]] = {}
        self._lock = threading.Lock()

    def _projection(self, dims: int) -> npt.NDArray[np.float32]:
        if dims not in self._projections:
            self._projections[dims] = _projection(dims)
        return self._projections[dims]

    def _fresh(self, owner_id: str) -> _Owner:
        """The owner's cache, caught up (call with the lock held)."""
        o = self._owners.setdefault(owner_id, _Owner())
        self._owners.move_to_end(owner_id)
        while len(self._owners) > MAX_OWNERS:
            self._owners.popitem(last=False)
        while changes := self._fingerprints.changes(owner_id, o.seq, _BATCH):
            o.add(changes)
            o.seq = changes[-1].seq
            if o.dims:
                o.project(self._projection(o.dims))
            if len(changes) < _BATCH:
                break
        if o.dims:
            o.cluster()
        return o

    def nearest(self, owner_id: str, embedding: Embedding, limit: int, exclude: str) -> Sequence[tuple[str, float]]:
        with self._lock:
            o = self._fresh(owner_id)
            n = len(o.ids)
            if limit <= 0 or n == 0 or embedding.dimensions != o.dims:
                return []
            codes = np.frombuffer(embedding.codes, dtype=np.int8).astype(np.float32)
            norm = float(np.linalg.norm(codes))
            if norm == 0:
                return []
            q = codes @ self._projection(o.dims)
            q /= np.linalg.norm(q) or 1.0
            rows = o.candidates(q)
            if rows is None:
                rows = np.arange(n)
            usable = o.alive[rows] & o.has_embedding[rows]
            if exclude in o.row:
                usable &= rows != o.row[exclude]
            rows = rows[usable]
            k = min(len(rows), max(RERANK_MIN, RERANK_FACTOR * limit))
            if k == 0:
                return []
            # einsum, not BLAS: one thread, and no thread pool to wake for a matrix-vector product
            scores = np.einsum("ij,j->i", o.projected[rows], q)
            top = rows[np.argpartition(-scores, k - 1)[:k]] if k < len(rows) else rows
            cand = o.codes[top].astype(np.float32)
            exact = (cand @ codes) / (np.linalg.norm(cand, axis=1) * norm + 1e-12)
            ids = [o.ids[i] for i in top]
        ranked = sorted(zip(ids, exact.tolist(), strict=True), key=lambda r: (-r[1], r[0]))
        return [(i, float(s)) for i, s in ranked[:limit]]

    def same_picture(self, owner_id: str, phash: int, max_distance: int, exclude: str) -> Sequence[tuple[str, int]]:
        with self._lock:
            o = self._fresh(owner_id)
            n = len(o.ids)
            distance = np.bitwise_count(o.hashes[:n] ^ np.uint64(phash))
            hits = np.flatnonzero(o.alive[:n] & o.has_hash[:n] & (distance <= max_distance))
            found = [(o.ids[i], int(distance[i])) for i in hits if o.ids[i] != exclude]
        return sorted(found, key=lambda f: (f[1], f[0]))

    def pairs(self, owner_id: str, max_distance: int, min_similarity: float) -> Sequence[Pair]:
        """Candidates found apart, then checked exactly: hash neighbours by multi-index hashing
        (``_hash_neighbours``), alike embeddings through the projections (``_alike``)."""
        with self._lock:
            o = self._fresh(owner_id)
            n = len(o.ids)
            alive = np.flatnonzero(o.alive[:n])
            ids = [o.ids[i] for i in alive]
            hashes, has_hash = o.hashes[alive], o.has_hash[alive]
            details, has_detail = o.details[alive], o.has_detail[alive]
            has_emb = o.has_embedding[alive]
            proj = o.projected[alive] if o.dims else np.zeros((len(alive), 1), np.float32)
            codes = o.codes[alive] if o.dims else np.zeros((len(alive), 1), np.int8)
        found = np.concatenate([
            _hash_neighbours(hashes, has_hash, max_distance),
            _alike(proj, has_emb, min_similarity),
        ])
        if not len(found):
            return []
        m = len(ids)
        key = np.unique(np.minimum(found[:, 0], found[:, 1]) * m + np.maximum(found[:, 0], found[:, 1]))
        a, b = key // m, key % m
        both_hash = has_hash[a] & has_hash[b]
        dist = np.bitwise_count(hashes[a] ^ hashes[b]).astype(np.int64)
        both_emb = has_emb[a] & has_emb[b]
        sim = _cosines(codes, a, b)
        sim = np.minimum(1.0, np.maximum(0.0, sim))
        keep = (both_hash & (dist <= max_distance)) | (both_emb & (sim >= min_similarity))
        a, b, both_hash, dist, both_emb, sim = a[keep], b[keep], both_hash[keep], dist[keep], both_emb[keep], sim[keep]
        both_detail = has_detail[a] & has_detail[b]
        detail = np.bitwise_count(details[a] ^ details[b]).sum(axis=1, dtype=np.int64)
        out = []
        for x, y, h, d, e, s, k, t in zip(a.tolist(), b.tolist(), both_hash.tolist(), dist.tolist(), both_emb.tolist(),
                                          sim.tolist(), both_detail.tolist(), detail.tolist(), strict=True):
            first, second = (ids[x], ids[y]) if ids[x] < ids[y] else (ids[y], ids[x])
            out.append(Pair(first, second, d if h else None, s if e else None, t if k else None))
        return sorted(out, key=lambda p: (p.a, p.b))

    def forget(self, owner_id: str, image_ids: Collection[str]) -> None:
        with self._lock:
            o = self._owners.get(owner_id)
            if o is None:
                return
            for image_id in image_ids:
                i = o.row.get(image_id)
                if i is not None:
                    o.alive[i] = False
