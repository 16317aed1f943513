"""The similarity rules: fingerprints, their measures, and how duplicates are grouped."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imagerepo.domain.images import AnalysisResult
from imagerepo.domain.similarity import (
    EXACT_MAX_DETAIL_DISTANCE,
    EXACT_SURE_DISTANCE,
    NEAR_MIN_SIMILARITY,
    DuplicateKind,
    Embedding,
    Fingerprint,
    Pair,
    group_duplicates,
    hamming,
    is_exact,
    is_near,
    phash_from_signed,
    phash_to_signed,
    similarity,
)

hashes = st.integers(0, (1 << 64) - 1)
details = st.integers(0, (1 << 128) - 1)
vectors = st.lists(st.floats(-100, 100, allow_nan=False), min_size=2, max_size=64)


@given(hashes)
def test_a_hash_survives_signed_storage(h: int) -> None:
    assert -(1 << 63) <= phash_to_signed(h) < 1 << 63
    assert phash_from_signed(phash_to_signed(h)) == h


@given(hashes, hashes)
def test_hamming_is_a_symmetric_bit_count(a: int, b: int) -> None:
    assert hamming(a, b) == hamming(b, a) == bin(a ^ b).count("1")
    assert hamming(a, a) == 0


@given(vectors)
def test_quantized_embedding_keeps_its_direction(values: list[float]) -> None:
    e = Embedding.of(values)
    assert e.dimensions == len(values)
    top = max(abs(v) for v in values)
    if top > 0:  # each code is the value in 127ths of the largest, to half a step
        assert all(abs(q / 127 - v / top) <= 0.5 / 127 + 1e-9 for q, v in zip(e.values(), values, strict=True))
        assert e.cosine(e) == pytest.approx(1.0)


@given(vectors, vectors)
def test_similarity_is_within_zero_and_one(a: list[float], b: list[float]) -> None:
    c = Embedding.of(a).cosine(Embedding.of(b))
    assert -1.0001 <= c <= 1.0001
    assert 0.0 <= similarity(c) <= 1.0


def test_quantization_error_is_small() -> None:
    values = [((i * 37) % 101 - 50) / 7 for i in range(1280)]
    e = Embedding.of(values)
    top = max(abs(v) for v in values)
    assert all(abs(q * top / 127 - v) <= top / 254 + 1e-9 for q, v in zip(e.values(), values, strict=True))


@given(st.one_of(st.none(), hashes), st.one_of(st.none(), vectors), st.one_of(st.none(), details))
def test_a_fingerprint_crosses_processes_as_json(
    phash: int | None, values: list[float] | None, detail: int | None
) -> None:
    fp = Fingerprint(phash=phash, embedding=Embedding.of(values) if values else None, detail=detail)
    result = AnalysisResult("local", fingerprint=fp)
    assert AnalysisResult.from_json(result.to_json()).fingerprint == fp


ids = st.lists(st.text("abcdefgh", min_size=1, max_size=3), min_size=1, max_size=8, unique=True)


@st.composite
def pairs_over(draw: st.DrawFn) -> tuple[list[str], list[Pair]]:
    order = draw(ids)
    found = []
    for a, b in itertools.combinations(order, 2):
        if draw(st.booleans()):
            found.append(Pair(a, b, draw(st.one_of(st.none(), st.integers(0, 64))),
                              draw(st.one_of(st.none(), st.floats(0, 1)))))
    return order, found


@given(pairs_over(), st.randoms())
def test_grouping_rules(case: tuple[list[str], list[Pair]], rnd: object) -> None:
    order, pairs = case
    report = group_duplicates(order, pairs)
    seen: dict[DuplicateKind, set[str]] = {DuplicateKind.EXACT: set(), DuplicateKind.NEAR: set()}
    for g in report.groups:
        assert len(g.image_ids) >= 2
        assert list(g.image_ids) == sorted(g.image_ids, key=order.index)  # in the given order
        assert not seen[g.kind] & set(g.image_ids)  # an image is in one group of each kind at most
        seen[g.kind] |= set(g.image_ids)
    for p in pairs:
        if p.distance is not None and p.distance <= EXACT_SURE_DISTANCE:
            assert report.relation(p.a, p.b) == DuplicateKind.EXACT
        elif p.similarity is not None and p.similarity >= NEAR_MIN_SIMILARITY:
            assert report.relation(p.a, p.b) is not None  # the same picture or the same scene
    for g in report.groups:
        if g.kind == DuplicateKind.NEAR:  # one image per picture
            for a, b in itertools.combinations(g.image_ids, 2):
                assert report.relation(a, b) == DuplicateKind.NEAR
    shuffled = list(pairs)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert group_duplicates(order, shuffled).groups == report.groups
    assert report.copies() == {i for g in report.groups if g.kind == DuplicateKind.EXACT for i in g.image_ids[1:]}


def test_a_burst_is_near_and_a_resave_exact() -> None:
    pairs = [Pair("orig", "resave", 1, 0.99), Pair("orig", "burst", 20, 0.9), Pair("orig", "cat", 30, 0.3)]
    report = group_duplicates(["orig", "resave", "burst", "cat"], pairs)
    assert [(g.kind, g.image_ids) for g in report.groups] == [
        (DuplicateKind.EXACT, ("orig", "resave")), (DuplicateKind.NEAR, ("orig", "burst"))
    ]
    assert report.relation("resave", "burst") == DuplicateKind.NEAR
    assert report.relation("orig", "cat") is None


def test_detail_hashes_that_disagree_make_a_close_pair_a_scene_not_a_picture() -> None:
    """Two shots of one scene can have close hashes and alike embeddings (a zoomed and a turned
    shot had 6 bits and 0.95): the detail hash tells them apart; old images without it are judged
    by the other two alone, and very close hashes need nothing more."""
    shots = Pair("zoomed", "turned", 6, 0.95, EXACT_MAX_DETAIL_DISTANCE + 6)
    assert not is_exact(shots)
    assert is_near(shots)
    assert is_exact(Pair("orig", "crop", 6, 0.95, EXACT_MAX_DETAIL_DISTANCE - 4))
    assert is_exact(Pair("orig", "crop", 6, 0.95, None))
    assert is_exact(Pair("orig", "resave", EXACT_SURE_DISTANCE, 0.95, 64))
    report = group_duplicates(["orig", "zoomed", "turned"], [shots, Pair("orig", "zoomed", 20, 0.9)])
    assert [(g.kind, g.image_ids) for g in report.groups] == [(DuplicateKind.NEAR, ("orig", "zoomed", "turned"))]


def test_a_detail_hash_has_128_bits() -> None:
    with pytest.raises(ValueError, match="128 bits"):
        Fingerprint(detail=1 << 128)
