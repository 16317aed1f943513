"""NumpySimilarityIndex past its clustering threshold: it finds what the brute force finds, sees
images put after the clusters were built, and an image whose embedding changed since."""

from __future__ import annotations

import numpy as np
import pytest

from imagerepo.adapters import similarity_index as si
from imagerepo.adapters.memory import InMemoryImageRepository
from imagerepo.adapters.memory_similarity import BruteForceSimilarityIndex, InMemoryFingerprintRepository
from imagerepo.domain.similarity import Embedding, Fingerprint
from tests.contract.test_fingerprints import ready


@pytest.fixture(autouse=True)
def small_clusters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(si, "IVF_MIN", 200)
    monkeypatch.setattr(si, "IVF_CLUSTERS", 16)
    monkeypatch.setattr(si, "IVF_PROBES", 4)
    monkeypatch.setattr(si, "IVF_SAMPLE", 400)
    monkeypatch.setattr(si, "RERANK_MIN", 20)


def test_clustered_search_matches_the_brute_force() -> None:
    rng = np.random.default_rng(3)
    images = InMemoryImageRepository()
    fingerprints = InMemoryFingerprintRepository(images)
    centres = rng.gamma(0.6, 1.0, size=(12, 64))
    ids = []
    for k in range(400):
        v = centres[k % 12] + rng.gamma(0.6, 0.3, size=64)
        ids.append(ready(images))
        fingerprints.put("alice", ids[-1], Fingerprint(embedding=Embedding.of(v.tolist())))
    index, brute = si.NumpySimilarityIndex(fingerprints), BruteForceSimilarityIndex(fingerprints)
    queries = [fingerprints.get("alice", i).embedding for i in ids[:30]]  # type: ignore[union-attr]
    assert index.nearest("alice", queries[0], 5, exclude="")  # builds the clusters
    assert index._owners["alice"].centroids is not None
    found = sum(len({h[0] for h in index.nearest("alice", q, 5, exclude="")}
                    & {h[0] for h in brute.nearest("alice", q, 5, exclude="")}) for q in queries)
    assert found >= 0.95 * 5 * len(queries)

    # Put after the build, and changed since the build: both found.
    odd = Embedding.of([0.0] * 63 + [1.0])
    late = ready(images)
    fingerprints.put("alice", late, Fingerprint(embedding=odd))
    assert index.nearest("alice", odd, 1, exclude="")[0][0] == late
    fingerprints.put("alice", ids[5], Fingerprint(embedding=Embedding.of([0.0] * 62 + [1.0, 0.0])))
    assert index.nearest("alice", Embedding.of([0.0] * 62 + [1.0, 0.0]), 1, exclude="")[0][0] == ids[5]


def test_only_the_most_recently_searched_owners_stay_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(si, "MAX_OWNERS", 2)
    images = InMemoryImageRepository()
    fingerprints = InMemoryFingerprintRepository(images)
    index = si.NumpySimilarityIndex(fingerprints)
    for owner in ("a", "b", "c"):
        i = ready(images, owner)
        fingerprints.put(owner, i, Fingerprint(phash=1))
        assert index.same_picture(owner, 1, 0, exclude="") == [(i, 0)]
    assert list(index._owners) == ["b", "c"]
    assert len(index.same_picture("a", 1, 0, exclude="")) == 1  # reloaded when asked again


def test_the_cache_takes_about_two_kilobytes_an_image(monkeypatch: pytest.MonkeyPatch) -> None:
    """README: 1,820 bytes a row, grown a quarter at a time (so 100k images take 180–230 MB)."""
    import gc
    import tracemalloc

    monkeypatch.setattr(si, "_BATCH", 260)  # loads in batches, as a big owner's first search does
    rng = np.random.default_rng(5)
    images = InMemoryImageRepository()
    fingerprints = InMemoryFingerprintRepository(images)
    n = 1050
    for _ in range(n):
        fingerprints.put("alice", ready(images, limit=n), Fingerprint(
            phash=int(rng.integers(1, 2**63)), detail=int(rng.integers(1, 2**63)) << 64,
            embedding=Embedding.of(rng.gamma(0.6, 1.0, 1280).tolist())))
    index = si.NumpySimilarityIndex(fingerprints)
    query = Embedding.of(rng.gamma(0.6, 1.0, 1280).tolist())
    index.nearest("alice", query, 5, exclude="")  # the projection matrix, made once per process
    index._owners.clear()
    gc.collect()
    tracemalloc.start()
    try:
        index.nearest("alice", query, 5, exclude="")
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    per_image = held / n
    assert 1_820 <= per_image <= 1.25 * 1_820 + 150
