"""More like this and duplicates: search latency for one big user, and duplicate precision/recall.

`bench similar`: one user with BENCH_SIMILAR_N images (default 20,000; BENCH_SCALE=full: 100,000)
whose fingerprints are synthetic (1,280-d embeddings in clusters, like photos of a few hundred
scenes), on SQLite and, when IMAGEREPO_TEST_DATABASE_URL (or the local server) answers, PostgreSQL.
Timed: SimilarityService.similar (20 results) through the per-process numpy index, after its first
load (printed apart), over 300 queries.

`bench duplicates-speed`: SimilarityService.duplicates for one user at each size of
BENCH_DUP_SIZES (default 10,000 and 100,000; shots in pairs), now and with the old pair search
(every pair's distance and projected cosine, candidates checked in Python; 10k only), with the
ratio.

`bench duplicates`: the labeled sets of bench/similar_set.py (exact copies, near shots, different
photos) fingerprinted as analysis does it, each grouped by the domain rules and scored per pair.
The first set is split by source photo into a tuning half and a held-out half; the second set
(other photos, other transform parameters, seed BENCH_SIMILAR_SEED, default 2) was seen by no
threshold. Each is scored with the rules as they are and without the detail hash (as before it),
in the same run. Lines: `split=holdout` and `split=second`.

BENCH_SIMILAR_ONLY=search or =duplicates runs one part.
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from bench.similar_set import label, labeled_set, second_set

from imagerepo.adapters.local import models as m
from imagerepo.adapters.local.decode import decode
from imagerepo.adapters.perceptual_hash import hashes_of_rgb
from imagerepo.adapters.similarity_index import NumpySimilarityIndex
from imagerepo.adapters.sql.fingerprints import SqlFingerprintRepository
from imagerepo.adapters.sql.repositories import SqlImageRepository
from imagerepo.domain.accounts import Account
from imagerepo.domain.images import Image
from imagerepo.domain.similarity import (
    EXACT_MAX_DISTANCE,
    NEAR_MIN_SIMILARITY,
    Embedding,
    Fingerprint,
    Pair,
    compare,
    group_duplicates,
    is_exact,
    phash_to_signed,
)
from imagerepo.domain.similarity_service import SimilarityService

DIMS = 1280
QUERIES = 300


def scale() -> int:
    if os.environ.get("BENCH_SCALE") == "full":
        return 100_000
    return int(os.environ.get("BENCH_SIMILAR_N", "20000"))


def synthetic_codes(n: int, rng: np.random.Generator, per_scene: int = 200) -> np.ndarray:
    """Non-negative features (as after ReLU6 and pooling) around scene centres, ``per_scene`` each."""
    centres = rng.gamma(0.6, 1.0, size=(max(1, n // per_scene), DIMS)).astype(np.float32)
    which = rng.integers(0, len(centres), size=n)
    out = np.empty((n, DIMS), dtype=np.int8)
    for start in range(0, n, 10_000):
        stop = min(n, start + 10_000)
        v = centres[which[start:stop]] + rng.gamma(0.6, 0.7, size=(stop - start, DIMS)).astype(np.float32)
        out[start:stop] = np.round(v / v.max(axis=1, keepdims=True) * 127).astype(np.int8)
    return out


def load(db: Any, owner: str, n: int, per_scene: int = 200) -> list[str]:
    rng = np.random.default_rng(7)
    repo = SqlImageRepository(db)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    ids = []
    codes = synthetic_codes(n, rng, per_scene)
    hashes = rng.integers(0, 1 << 63, size=n, dtype=np.int64)
    for start in range(0, n, 5000):
        batch = [
            Image(id=str(uuid.uuid4()), owner_id=owner, filename=f"p{i}.jpg", content_type="image/jpeg", width=4000,
                  height=3000, size_bytes=3_000_000, sha256=uuid.uuid4().hex, uploaded_at=t0 + timedelta(seconds=i))
            for i in range(start, min(n, start + 5000))
        ]
        repo.import_ready(batch)
        rows = [(img.id, owner, start + k + 1, phash_to_signed(int(hashes[start + k])), codes[start + k].tobytes())
                for k, img in enumerate(batch)]
        with db.transaction() as tx:
            tx.insert("image_fingerprints", ("image_id", "owner_id", "seq", "phash", "embedding"), rows, bulk=True)
        ids += [img.id for img in batch]
    return ids


def bench_db(name: str, db: Any, n: int) -> None:
    owner = "bench-" + uuid.uuid4().hex[:8]
    t = time.perf_counter()
    ids = load(db, owner, n)
    load_s = time.perf_counter() - t
    repo = SqlImageRepository(db)
    fingerprints = SqlFingerprintRepository(db)
    index = NumpySimilarityIndex(fingerprints)
    service = SimilarityService(repo, fingerprints, index)
    account = Account(id=owner, username=owner, password_hash="", created_at=datetime.now(UTC))
    t = time.perf_counter()
    service.similar(account, ids[0], 20)
    cold_ms = (time.perf_counter() - t) * 1000
    rng = np.random.default_rng(11)
    times = []
    for i in rng.integers(0, n, size=QUERIES):
        t = time.perf_counter()
        found = service.similar(account, ids[int(i)], 20)
        times.append((time.perf_counter() - t) * 1000)
        assert len(found) == 20
    # Recall of the projected search against the exact ranking, on 20 queries.
    codes = synthetic_codes(n, np.random.default_rng(7)).astype(np.float32)
    codes /= np.linalg.norm(codes, axis=1, keepdims=True)
    hits = 0
    for i in rng.integers(0, n, size=20):
        exact = np.argsort(-(codes @ codes[int(i)]))
        truth = {ids[j] for j in exact[:21] if j != i}
        got = {s.image.id for s in service.similar(account, ids[int(i)], 20)}
        hits += len(truth & got)
    times.sort()
    print(f"  {name}: loaded {n} images in {load_s:.1f} s; first search (index load) {cold_ms:.0f} ms; "
          f"recall@20 vs exact {hits / 400:.3f}")
    p50 = statistics.median(times)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"bench similar db={name} n={n} p50_ms={p50:.2f} p99_ms={p99:.2f}")
    bench_duplicate_groups(name, db, repo, fingerprints, account)


def dup_sizes() -> list[int]:
    return [int(x) for x in os.environ.get("BENCH_DUP_SIZES", "10000,100000").split(",") if x]


class BeforeIndex:
    """The index as it was before multi-index hashing: every pair's hash distance and projected
    cosine computed block by block, then each candidate checked in Python (kept here to measure
    against; it ignores the thresholds asked and uses the old ones, 8 bits and 0.80)."""

    def __init__(self, index: NumpySimilarityIndex) -> None:
        self._index = index

    def nearest(self, *args: Any) -> Any:
        return self._index.nearest(*args)

    def same_picture(self, *args: Any) -> Any:
        return self._index.same_picture(*args)

    def forget(self, owner_id: str, image_ids: Any) -> None:
        self._index.forget(owner_id, image_ids)

    def pairs(self, owner_id: str, _max_distance: int, _min_similarity: float) -> list[Pair]:
        max_distance, min_similarity = EXACT_MAX_DISTANCE, NEAR_MIN_SIMILARITY
        with self._index._lock:
            o = self._index._fresh(owner_id)
            n = len(o.ids)
            alive = np.flatnonzero(o.alive[:n])
            ids = [o.ids[i] for i in alive]
            hashes, has_hash = o.hashes[alive], o.has_hash[alive]
            has_emb = o.has_embedding[alive]
            proj, codes = o.projected[alive], o.codes[alive]
        m = len(ids)

        def cosine(a: int, b: int) -> float:
            x, y = codes[a].astype(np.float32), codes[b].astype(np.float32)
            return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-12))

        found: dict[tuple[int, int], None] = {}
        for start in range(0, m, 512):
            stop = min(m, start + 512)
            d = np.bitwise_count(hashes[start:stop, None] ^ hashes[None, :])
            close = (d <= max_distance) & has_hash[start:stop, None] & has_hash[None, :]
            alike = proj[start:stop] @ proj.T >= min_similarity - 0.08
            alike &= has_emb[start:stop, None] & has_emb[None, :]
            rows, cols = np.nonzero(close | alike)
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
                if start + r < c:
                    found[(start + r, c)] = None
        out = []
        for a, b in found:
            dist = int(np.bitwise_count(hashes[a] ^ hashes[b])) if has_hash[a] and has_hash[b] else None
            sim = min(1.0, max(0.0, cosine(a, b))) if has_emb[a] and has_emb[b] else None
            if (dist is not None and dist <= max_distance) or (sim is not None and sim >= min_similarity):
                x, y = (a, b) if ids[a] < ids[b] else (b, a)
                out.append(Pair(ids[x], ids[y], dist, sim))
        return sorted(out, key=lambda p: (p.a, p.b))


def bench_duplicate_groups(name: str, db: Any, repo: Any, fingerprints: Any, account: Account) -> None:
    """``duplicates`` of one user at each size of BENCH_DUP_SIZES (shots in pairs, as a library of
    bursts), after the index has loaded the owner: now, and as before (10k only: quadratic)."""
    for size in dup_sizes():
        owner = "dups-" + uuid.uuid4().hex[:8]
        load(db, owner, size, per_scene=2)
        index = NumpySimilarityIndex(fingerprints)
        t = time.perf_counter()
        index.same_picture(owner, 0, 0, exclude="")  # loads the owner's fingerprints
        load_s = time.perf_counter() - t
        who = attrs.evolve(account, id=owner)
        t = time.perf_counter()
        groups = SimilarityService(repo, fingerprints, index).duplicates(who)
        after = time.perf_counter() - t
        before_text, ratio = "not run (quadratic: ~100x the 10k figure)", ""
        if size <= 20_000:
            t = time.perf_counter()
            old = SimilarityService(repo, fingerprints, BeforeIndex(index)).duplicates(who)
            before = time.perf_counter() - t
            assert [(g.kind, [i.id for i in g.images]) for g in old] == [
                (g.kind, [i.id for i in g.images]) for g in groups], "before and after disagree"
            before_text, ratio = f"{before:.2f} s", f" ratio={before / after:.1f}x"
        print(f"  {name}: duplicates of {size} images: {after:.2f} s (before: {before_text}); "
              f"{len(groups)} groups; index load {load_s:.1f} s")
        print(f"bench duplicates-speed db={name} n={size} seconds={after:.3f}{ratio}")


def bench_search() -> None:
    n = scale()
    from imagerepo.adapters.sqlite import SqliteDatabase

    with tempfile.TemporaryDirectory() as tmp:
        db = SqliteDatabase(Path(tmp) / "bench.sqlite3")
        db.open()
        try:
            bench_db("sqlite", db, n)
        finally:
            db.close()
    url = os.environ.get("IMAGEREPO_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        import psycopg

        from imagerepo.adapters.postgres import PostgresDatabase

        name = "bench_similar_" + uuid.uuid4().hex[:8]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except Exception as e:  # no server: say so, the SQLite figure stands
        print(f"  postgres: not measured ({type(e).__name__}: {e})")
        return
    try:
        db = PostgresDatabase(url.rsplit("/", 1)[0] + "/" + name)
        db.open()
        try:
            bench_db("postgres", db, n)
        finally:
            db.close()
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def split_sources(sources: list[str]) -> tuple[set[str], set[str]]:
    """The labeled set's source photos in two halves, by name: (tuning, held out). Alternate
    photos in name order, so each half has photos of every folder; the same split on every run."""
    ordered = sorted(set(sources))
    return set(ordered[0::2]), set(ordered[1::2])


def score(items: list[Any], fps: list[Fingerprint]) -> tuple[tuple[float, float, float, float], int, list[str]]:
    """Per-pair precision and recall of exact and near, grouping these images alone; and the pairs
    the rules call exact that are not (before grouping joins others to them)."""
    names = [it.name for it in items]
    pairs = [compare(names[i], fps[i], names[j], fps[j]) for i, j in itertools.combinations(range(len(items)), 2)]
    report = group_duplicates(names, pairs)
    counts: dict[tuple[str | None, str | None], int] = {}
    for i, j in itertools.combinations(range(len(items)), 2):
        got = report.relation(names[i], names[j])
        key = (label(items[i], items[j]), got.value if got else None)
        counts[key] = counts.get(key, 0) + 1
    by_name = {it.name: it for it in items}
    wrong = [f"{p.a} ~ {p.b}: {label(by_name[p.a], by_name[p.b]) or 'different'}, hash {p.distance} bits, "
             f"similarity {p.similarity:.3f}, detail {p.detail_distance} bits"
             for p in pairs if is_exact(p) and label(by_name[p.a], by_name[p.b]) != "exact"]

    def pr(kind: str) -> tuple[float, float]:
        tp = counts.get((kind, kind), 0)
        predicted = sum(v for (_, p), v in counts.items() if p == kind)
        labeled = sum(v for (lab, _), v in counts.items() if lab == kind)
        return tp / max(predicted, 1), tp / max(labeled, 1)

    (ep, er), (np_, nr) = pr("exact"), pr("near")
    return (ep, er, np_, nr), len(pairs), wrong


def fingerprints_of(items: list[Any], classifier: Any) -> list[Fingerprint]:
    fps = []
    for it in items:
        d = decode(it.data)
        _, features = classifier.probabilities_and_features(d.rgb)
        phash, detail = hashes_of_rgb(d.rgb)
        fps.append(Fingerprint(phash=phash, embedding=Embedding.of(features.tolist()), detail=detail))
    return fps


def bench_duplicates() -> None:
    """Thresholds may be tuned on the first set's tuning half only; the held-out half's and the
    second set's figures are the ones to quote."""
    classifier = m.Classifier(m.default_weights())
    first = labeled_set()
    first_fps = fingerprints_of(first, classifier)
    seed = int(os.environ.get("BENCH_SIMILAR_SEED", "2"))
    second = second_set(seed)
    second_fps = fingerprints_of(second, classifier)
    tuning, holdout = split_sources([it.source for it in first])
    print("  duplicates: the first set (the rules were tuned on it) is split by source photo, alternate photos"
          " in name order: thresholds may be tuned on the tuning half only; the second set (other photos, other"
          f" transform parameters, seed {seed}) was seen by no threshold")
    splits = [
        ("tuning", [k for k, it in enumerate(first) if it.source in tuning], first, first_fps),
        ("holdout", [k for k, it in enumerate(first) if it.source in holdout], first, first_fps),
        ("second", list(range(len(second))), second, second_fps),
    ]
    for split, chosen, items, fps in splits:
        photos = len({items[k].source for k in chosen})
        subset = [items[k] for k in chosen]
        before, _, _ = score(subset, [attrs.evolve(fps[k], detail=None) for k in chosen])
        (ep, er, np_, nr), n_pairs, wrong = score(subset, [fps[k] for k in chosen])
        line = f"exact_precision={ep:.3f} exact_recall={er:.3f} near_precision={np_:.3f} near_recall={nr:.3f}"
        print(f"  {split}: {len(chosen)} images of {photos} photos, {n_pairs} pairs; without the detail hash: "
              "exact P {:.3f} R {:.3f}, near P {:.3f} R {:.3f}".format(*before))
        for w in wrong[:10]:
            print(f"    called exact: {w}")
        if split == "tuning":
            print(f"  tuning half (thresholds may be tuned on it): {line}")
        else:
            print(f"bench duplicates {line} split={split}")


if __name__ == "__main__":
    only = os.environ.get("BENCH_SIMILAR_ONLY", "")
    if only in ("", "search"):
        bench_search()
    if only in ("", "duplicates"):
        bench_duplicates()
