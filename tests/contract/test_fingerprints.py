"""FingerprintRepository on the fake, SQLite and PostgreSQL; SimilarityIndex (brute force and
numpy) over it: the same assertions for every adapter."""

from __future__ import annotations

from typing import Any

import pytest

from imagerepo.adapters.memory_similarity import BruteForceSimilarityIndex, InMemoryFingerprintRepository
from imagerepo.adapters.similarity_index import NumpySimilarityIndex
from imagerepo.adapters.sql.fingerprints import SqlFingerprintRepository
from imagerepo.domain.similarity import Embedding, Fingerprint
from tests.contract.conftest import Backend
from tests.contract.test_image_repository import image


@pytest.fixture
def fingerprints(backend: Backend, image_repo: Any) -> Any:
    if backend.name == "memory":
        return InMemoryFingerprintRepository(image_repo)
    return SqlFingerprintRepository(backend.db)


def ready(image_repo: Any, owner: str = "alice", limit: int = 1000) -> str:
    img = image(owner)
    image_repo.reserve(img, limit)
    image_repo.commit(img.id)
    return img.id


def emb(*values: float) -> Embedding:
    return Embedding.of(values)


TOP = (1 << 64) - 1  # every bit set: the signed storage must keep it
WIDE = (1 << 127) | 3  # a detail hash's top and bottom bits


def test_put_then_get_merges_parts(fingerprints: Any, image_repo: Any) -> None:
    a = ready(image_repo)
    assert fingerprints.get("alice", a) is None
    assert fingerprints.put("alice", a, Fingerprint(phash=TOP))
    assert fingerprints.get("alice", a) == Fingerprint(phash=TOP)
    assert fingerprints.put("alice", a, Fingerprint(embedding=emb(1, -2, 3)))
    assert fingerprints.get("alice", a) == Fingerprint(phash=TOP, embedding=emb(1, -2, 3))
    assert fingerprints.put("alice", a, Fingerprint(phash=5))
    assert fingerprints.get("alice", a) == Fingerprint(phash=5, embedding=emb(1, -2, 3))
    assert fingerprints.put("alice", a, Fingerprint(detail=WIDE))
    assert fingerprints.get("alice", a) == Fingerprint(phash=5, embedding=emb(1, -2, 3), detail=WIDE)
    assert fingerprints.put("alice", a, Fingerprint(phash=6))
    assert fingerprints.get("alice", a) == Fingerprint(phash=6, embedding=emb(1, -2, 3), detail=WIDE)


def test_other_owners_and_unready_images_have_none(fingerprints: Any, image_repo: Any) -> None:
    a = ready(image_repo)
    assert fingerprints.put("alice", a, Fingerprint(phash=1))
    assert fingerprints.get("bob", a) is None
    assert not fingerprints.put("bob", a, Fingerprint(phash=2))
    assert fingerprints.get("alice", a) == Fingerprint(phash=1)
    uploading = image()
    image_repo.reserve(uploading, 1000)
    assert not fingerprints.put("alice", uploading.id, Fingerprint(phash=3))
    assert fingerprints.changes("bob", 0, 10) == []


def test_deleting_the_image_deletes_its_fingerprint(fingerprints: Any, image_repo: Any) -> None:
    a, b = ready(image_repo), ready(image_repo)
    fingerprints.put("alice", a, Fingerprint(phash=1))
    fingerprints.put("alice", b, Fingerprint(phash=2))
    assert image_repo.begin_delete("alice", a) is not None
    assert fingerprints.get("alice", a) is None
    assert [c.image_id for c in fingerprints.changes("alice", 0, 10)] == [b]
    image_repo.discard(a)
    assert fingerprints.get("alice", a) is None
    assert not fingerprints.put("alice", a, Fingerprint(phash=1))


def test_changes_come_in_put_order_after_a_seq(fingerprints: Any, image_repo: Any) -> None:
    a, b = ready(image_repo), ready(image_repo)
    fingerprints.put("alice", a, Fingerprint(phash=1))
    fingerprints.put("alice", b, Fingerprint(phash=2))
    first = fingerprints.changes("alice", 0, 10)
    assert [c.image_id for c in first] == [a, b]
    assert first[0].seq < first[1].seq
    fingerprints.put("alice", a, Fingerprint(embedding=emb(1, 1)))  # a is newer now
    later = fingerprints.changes("alice", first[1].seq, 10)
    assert [(c.image_id, c.fingerprint) for c in later] == [(a, Fingerprint(phash=1, embedding=emb(1, 1)))]
    assert [c.image_id for c in fingerprints.changes("alice", 0, 1)] == [b]


def test_same_picture_finds_hashes_within_three_bits_in_any_band(fingerprints: Any, image_repo: Any) -> None:
    """A hash differing in 3 bits (each in another 16-bit band, or all in one) is found; 4 bits
    away is not; another owner's, a deleted image's and ``exclude`` never are."""
    h = 0x0123_4567_89AB_CDEF
    spread = h ^ (1 << 5) ^ (1 << 21) ^ (1 << 63)  # bands 0, 1 and 3 differ: band 2 agrees
    packed = h ^ 0b111 << 40  # three bits of band 2
    far = h ^ 1 ^ (1 << 20) ^ (1 << 40) ^ (1 << 60)  # one bit in each band: 4 away
    ids = {}
    for name, value in (("same", h), ("spread", spread), ("packed", packed), ("far", far), ("gone", h)):
        ids[name] = ready(image_repo)
        assert fingerprints.put("alice", ids[name], Fingerprint(phash=value))
    other = ready(image_repo, "bob")
    fingerprints.put("bob", other, Fingerprint(phash=h))
    unhashed = ready(image_repo)
    fingerprints.put("alice", unhashed, Fingerprint(embedding=emb(1, 0)))
    image_repo.begin_delete("alice", ids["gone"])

    found = fingerprints.same_picture("alice", h, 3, exclude=ids["same"])

    assert found == sorted([(ids["spread"], 3), (ids["packed"], 3)], key=lambda f: (f[1], f[0]))
    assert fingerprints.same_picture("alice", h, 0, exclude="") == [(ids["same"], 0)]
    assert fingerprints.same_picture("alice", TOP, 3, exclude="") == []
    assert fingerprints.same_picture("carol", h, 3, exclude="") == []
    with pytest.raises(ValueError, match="within 3 bits"):
        fingerprints.same_picture("alice", h, 4, exclude="")


def test_same_picture_keeps_the_top_bit_of_a_signed_stored_hash(fingerprints: Any, image_repo: Any) -> None:
    a = ready(image_repo)
    fingerprints.put("alice", a, Fingerprint(phash=TOP ^ 0b10))
    assert fingerprints.same_picture("alice", TOP, 3, exclude="") == [(a, 1)]


def test_same_picture_reads_a_flooded_band_only_so_deep(
    backend: Backend, fingerprints: Any, image_repo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Images agreeing with the hash on one band only are read PER_BAND deep (the fake, brute force,
    reads them all); a copy agreeing on another band is still found."""
    monkeypatch.setattr("imagerepo.adapters.sql.fingerprints.PER_BAND", 2)
    h = 0
    for n in range(5):  # 3 bits away, equal on band 0 only
        i = ready(image_repo)
        fingerprints.put("alice", i, Fingerprint(phash=(1 << (16 + n)) | (1 << (32 + n)) | (1 << (48 + n))))
    copy = ready(image_repo)
    fingerprints.put("alice", copy, Fingerprint(phash=0b111))  # 3 bits of band 0: equal on bands 1-3

    found = fingerprints.same_picture("alice", h, 3, exclude="")

    assert (copy, 3) in found
    assert len(found) == 1 + (5 if backend.name == "memory" else 2)


# ---------------------------------------------------------------- the index over the repository


@pytest.fixture(params=["brute-force", "numpy"])
def index(request: pytest.FixtureRequest, fingerprints: Any) -> Any:
    return BruteForceSimilarityIndex(fingerprints) if request.param == "brute-force" else NumpySimilarityIndex(
        fingerprints
    )


def test_nearest_is_most_similar_first_never_itself_and_sees_later_puts(
    index: Any, fingerprints: Any, image_repo: Any
) -> None:
    ids = [ready(image_repo) for _ in range(4)]
    vectors = [(1, 0, 0), (0.9, 0.1, 0), (0, 1, 0), (0.5, 0.5, 0.1)]
    for i, v in zip(ids, vectors, strict=True):
        fingerprints.put("alice", i, Fingerprint(embedding=emb(*v)))
    hits = index.nearest("alice", emb(1, 0, 0), 10, exclude=ids[0])
    assert [h[0] for h in hits] == [ids[1], ids[3], ids[2]]
    assert hits[0][1] == pytest.approx(emb(1, 0, 0).cosine(emb(0.9, 0.1, 0)))
    assert index.nearest("alice", emb(1, 0, 0), 1, exclude=ids[0]) == hits[:1]
    late = ready(image_repo)
    fingerprints.put("alice", late, Fingerprint(embedding=emb(1, 0, 0)))
    assert index.nearest("alice", emb(1, 0, 0), 1, exclude=ids[0])[0][0] == late
    assert index.nearest("bob", emb(1, 0, 0), 5, exclude="") == []


def test_same_picture_by_hamming_distance(index: Any, fingerprints: Any, image_repo: Any) -> None:
    a, b, c = ready(image_repo), ready(image_repo), ready(image_repo)
    fingerprints.put("alice", a, Fingerprint(phash=0b1111))
    fingerprints.put("alice", b, Fingerprint(phash=0b0111))
    fingerprints.put("alice", c, Fingerprint(phash=TOP))
    assert index.same_picture("alice", 0b1111, 2, exclude="") == [(a, 0), (b, 1)]
    assert index.same_picture("alice", 0b1111, 2, exclude=a) == [(b, 1)]
    assert index.same_picture("alice", TOP, 0, exclude="") == [(c, 0)]


def test_pairs_are_the_close_or_alike_ones(index: Any, fingerprints: Any, image_repo: Any) -> None:
    a, b, c = sorted(ready(image_repo) for _ in range(3))
    fingerprints.put("alice", a, Fingerprint(phash=0, embedding=emb(1, 0, 0)))
    fingerprints.put("alice", b, Fingerprint(phash=1, embedding=emb(0, 1, 0)))
    fingerprints.put("alice", c, Fingerprint(phash=TOP, embedding=emb(0, 1, 0.05), detail=WIDE))
    pairs = index.pairs("alice", 2, 0.9)
    assert [(p.a, p.b, p.distance) for p in pairs] == [(a, b, 1), (b, c, 63)]
    assert [p.detail_distance for p in pairs] == [None, None]  # a and b have no detail hash
    fingerprints.put("alice", b, Fingerprint(detail=1))
    assert [p.detail_distance for p in index.pairs("alice", 2, 0.9)] == [None, 2]
    assert pairs[0].similarity == pytest.approx(0.0)
    assert pairs[1].similarity == pytest.approx(emb(0, 1, 0).cosine(emb(0, 1, 0.05)))


def test_forget_drops_a_deleted_image(index: Any, fingerprints: Any, image_repo: Any) -> None:
    a, b = ready(image_repo), ready(image_repo)
    fingerprints.put("alice", a, Fingerprint(phash=0, embedding=emb(1, 0)))
    fingerprints.put("alice", b, Fingerprint(phash=0, embedding=emb(1, 0)))
    assert len(index.nearest("alice", emb(1, 0), 5, exclude="")) == 2
    image_repo.begin_delete("alice", b)
    index.forget("alice", [b])
    assert [h[0] for h in index.nearest("alice", emb(1, 0), 5, exclude="")] == [a]
    assert index.same_picture("alice", 0, 0, exclude="") == [(a, 0)]


def test_get_many_returns_only_the_owners_ready_images(image_repo: Any) -> None:
    a, b = ready(image_repo), ready(image_repo)
    other = ready(image_repo, "bob")
    uploading = image()
    image_repo.reserve(uploading, 1000)
    image_repo.begin_delete("alice", b)
    found = image_repo.get_many("alice", [a, b, other, uploading.id, "nope", a])
    assert [i.id for i in found] == [a]
    assert image_repo.get_many("alice", []) == []
