"""Duplicate pairs without comparing every pair: the numpy index (multi-index hashing, projected
candidates) finds the same pairs as the brute force, and the narrower question the service asks
groups images exactly as the domain rules over every pair do."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagerepo.adapters import similarity_index as si
from imagerepo.adapters.memory import InMemoryImageRepository
from imagerepo.adapters.memory_similarity import BruteForceSimilarityIndex, InMemoryFingerprintRepository
from imagerepo.domain.similarity import (
    EXACT_MIN_SIMILARITY,
    EXACT_SURE_DISTANCE,
    NEAR_MIN_SIMILARITY,
    Embedding,
    Fingerprint,
    compare,
    group_duplicates,
)
from tests.contract.test_fingerprints import ready

DIMS = 6
# A few pictures; each image is one of them with some hash bits flipped and its codes nudged, so
# that pairs land on both sides of every threshold.
BASE_HASHES = [0, (1 << 64) - 1, 0x0123_4567_89AB_CDEF]
BASE_CODES = [[100, 20, 0, 5, 60, 0], [0, 90, 90, 0, 10, 3], [50, 50, 50, 50, 50, 50]]
BASE_DETAILS = [0, (1 << 128) - 1, 0x0123_4567_89AB_CDEF << 40]


@st.composite
def fingerprint(draw: st.DrawFn) -> Fingerprint:
    picture = draw(st.integers(0, len(BASE_HASHES) - 1))
    phash = None
    if draw(st.integers(0, 9)) > 0:
        bits = draw(st.lists(st.integers(0, 63), max_size=10))
        phash = BASE_HASHES[picture]
        for b in bits:
            phash ^= 1 << b
    embedding = None
    if draw(st.integers(0, 9)) > 0:
        nudge = draw(st.lists(st.integers(-40, 40), min_size=DIMS, max_size=DIMS))
        codes = [max(-127, min(127, c + d)) for c, d in zip(BASE_CODES[picture], nudge, strict=True)]
        embedding = Embedding(bytes(c & 0xFF for c in codes))
    detail = None
    if draw(st.booleans()):  # some images analysed before the detail hash have none
        detail = BASE_DETAILS[picture]
        for b in draw(st.lists(st.integers(0, 127), max_size=48)):
            detail ^= 1 << b
    return Fingerprint(phash=phash, embedding=embedding, detail=detail)


def owner_with(fps: list[Fingerprint]) -> tuple[InMemoryFingerprintRepository, list[str]]:
    images = InMemoryImageRepository()
    fingerprints = InMemoryFingerprintRepository(images)
    ids = [ready(images) for _ in fps]
    for i, fp in zip(ids, fps, strict=True):
        fingerprints.put("alice", i, fp)
    return fingerprints, ids


@settings(max_examples=150, deadline=None)
@given(st.lists(fingerprint(), min_size=2, max_size=14))
def test_the_services_question_groups_as_the_rules_over_every_pair(fps: list[Fingerprint]) -> None:
    fingerprints, ids = owner_with(fps)
    every = [compare(a, fa, b, fb) for (a, fa), (b, fb) in itertools.combinations(zip(ids, fps, strict=True), 2)]
    truth = group_duplicates(ids, every)
    for index in (BruteForceSimilarityIndex(fingerprints), si.NumpySimilarityIndex(fingerprints)):
        pairs = index.pairs("alice", EXACT_SURE_DISTANCE, min(NEAR_MIN_SIMILARITY, EXACT_MIN_SIMILARITY))
        assert group_duplicates(ids, pairs) == truth


@settings(max_examples=150, deadline=None)
@given(st.lists(fingerprint(), min_size=2, max_size=14), st.integers(0, 12), st.sampled_from([0.5, 0.8, 0.94]))
def test_numpy_pairs_are_the_brute_force_pairs(
    fps: list[Fingerprint], max_distance: int, min_similarity: float
) -> None:
    fingerprints, _ = owner_with(fps)
    expected = BruteForceSimilarityIndex(fingerprints).pairs("alice", max_distance, min_similarity)
    assert si.NumpySimilarityIndex(fingerprints).pairs("alice", max_distance, min_similarity) == expected


@pytest.mark.parametrize("max_distance", [3, 8])
def test_projected_candidates_and_hash_bands_miss_no_pair(monkeypatch: pytest.MonkeyPatch, max_distance: int) -> None:
    """A bigger owner, past the exact path: 192-d embeddings (searched through 128 projected
    dimensions) of photos in bursts, hashes with copies a few bits off."""
    monkeypatch.setattr(si, "EXACT_PAIRS_BELOW", 0)
    monkeypatch.setattr(si, "_PAIRS_BLOCK", 64)
    rng = np.random.default_rng(5)
    n = 300
    centres = rng.gamma(0.6, 1.0, size=(n // 3, 192))
    scene = rng.integers(0, len(centres), size=n)
    vectors = centres[scene] + rng.gamma(0.6, 0.25, size=(n, 192))
    hashes = [int(h) for h in rng.integers(0, 1 << 63, size=n // 2, dtype=np.int64)]
    fps = []
    for k in range(n):
        h = hashes[k % len(hashes)]
        for b in rng.integers(0, 64, size=int(rng.integers(0, 5))):
            h ^= 1 << int(b)
        fps.append(Fingerprint(phash=h, embedding=Embedding.of(vectors[k].tolist())))
    fingerprints, _ = owner_with(fps)
    expected = BruteForceSimilarityIndex(fingerprints).pairs("alice", max_distance, NEAR_MIN_SIMILARITY)
    assert sum(p.distance is not None and p.distance <= max_distance for p in expected) > 50
    assert sum(p.similarity is not None and p.similarity >= NEAR_MIN_SIMILARITY for p in expected) > 100
    assert si.NumpySimilarityIndex(fingerprints).pairs("alice", max_distance, NEAR_MIN_SIMILARITY) == expected



def test_duplicates_of_many_images_are_read_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Images are read a batch at a time (PostgreSQL takes at most 65,535 parameters a statement,
    fewer than the images in the groups of a big library): every group is whole all the same."""
    from datetime import UTC, datetime

    from imagerepo.domain import similarity_service as service_module
    from imagerepo.domain.accounts import Account

    monkeypatch.setattr(service_module, "_GET_MANY", 2)
    images = InMemoryImageRepository()
    fingerprints = InMemoryFingerprintRepository(images)
    ids = [ready(images) for _ in range(7)]
    for k, i in enumerate(ids):
        fingerprints.put("alice", i, Fingerprint(phash=BASE_HASHES[k % 2]))
    account = Account(id="alice", username="alice", password_hash="", created_at=datetime.now(UTC))
    service = service_module.SimilarityService(images, fingerprints, si.NumpySimilarityIndex(fingerprints))
    groups = service.duplicates(account)
    assert sorted(sorted(i.id for i in g.images) for g in groups) == sorted([sorted(ids[0::2]), sorted(ids[1::2])])
