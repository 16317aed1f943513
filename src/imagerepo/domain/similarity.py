"""Fingerprints of an image and the rules that compare them: "more like this" and duplicates.

Two fingerprints per image: a 64-bit perceptual hash (the same picture re-encoded, resized or
re-saved keeps nearly all its bits) and a content embedding (the classifier's pooled features,
stored as int8 codes: direction is all that counts, so no scale is kept). ``exact`` duplicates are
perceptual-hash neighbours; ``near`` duplicates are embedding neighbours that are not exact
(bursts, small shifts, the same scene shot again). A third, the *detail* hash (the signs of 128
mid frequencies of the same transform as the perceptual hash), tells a re-saved copy from a shot
framed a little differently when the other two cannot: a shift of a few percent of the frame
turns the phase of those frequencies while the lowest ones barely move.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence

import attrs

PHASH_BITS = 64
# Tuned on bench/bench_similar.py's labeled set (re-encodes, resizes, crops, color changes, bursts,
# different photos of one subject): see the README for the precision and recall they give.
EXACT_MAX_DISTANCE = 8
NEAR_MIN_SIMILARITY = 0.80
# Within this Hamming distance the two images are also checked to look alike, so that two
# different photos whose hashes happen to be close (flat skies, dark frames) are not "exact".
EXACT_SURE_DISTANCE = 3
EXACT_MIN_SIMILARITY = 0.94
# Past EXACT_SURE_DISTANCE, the detail hashes (when both are known) must agree too: at most a
# quarter of their bits differ. Chosen on the tuning half of bench/similar_set.py's first set
# (copies differ in up to 29 bits, shots shifted, zoomed or turned in 53 or more; two unrelated
# images in about 64): a zoomed and a turned shot of one scene had hashes 6 bits apart and
# embeddings 0.95 alike.
DETAIL_BITS = 128
EXACT_MAX_DETAIL_DISTANCE = 32
_INT8_MAX = 127


def _check_phash(_: object, __: object, value: int | None) -> None:
    if value is not None and not 0 <= value < 1 << PHASH_BITS:
        raise ValueError(f"a perceptual hash has {PHASH_BITS} bits")


def _check_detail(_: object, __: object, value: int | None) -> None:
    if value is not None and not 0 <= value < 1 << DETAIL_BITS:
        raise ValueError(f"a detail hash has {DETAIL_BITS} bits")


def hamming(a: int, b: int) -> int:
    """How many of the two hashes' bits differ."""
    return (a ^ b).bit_count()


def phash_to_signed(value: int) -> int:
    """The unsigned 64-bit hash as a signed 64-bit integer (what SQL integer columns hold)."""
    return value - (1 << PHASH_BITS) if value >= 1 << (PHASH_BITS - 1) else value


def phash_from_signed(value: int) -> int:
    return value + (1 << PHASH_BITS) if value < 0 else value


@attrs.frozen
class Embedding:
    """A direction in feature space, as int8 codes (one byte per dimension)."""

    codes: bytes

    @classmethod
    def of(cls, values: Iterable[float]) -> Embedding:
        """Quantize: the largest component becomes ±127, the others in proportion."""
        floats = [float(v) for v in values]
        if not floats or not all(math.isfinite(v) for v in floats):
            raise ValueError("an embedding needs finite values")
        top = max(abs(v) for v in floats)
        if top == 0:
            return cls(bytes(len(floats)))
        return cls(bytes(round(v / top * _INT8_MAX) & 0xFF for v in floats))

    @property
    def dimensions(self) -> int:
        return len(self.codes)

    def values(self) -> list[int]:
        """The codes as signed integers, -127..127."""
        return [b - 256 if b > _INT8_MAX else b for b in self.codes]

    def cosine(self, other: Embedding) -> float:
        """Cosine of the angle between the two; 0 when either is zero or they differ in size."""
        a, b = self.values(), other.values()
        if len(a) != len(b):
            return 0.0
        na = math.sqrt(sum(x * x for x in a))
        nb = math.sqrt(sum(x * x for x in b))
        if na == 0 or nb == 0:
            return 0.0
        return sum(x * y for x, y in zip(a, b, strict=True)) / (na * nb)


def similarity(cosine: float) -> float:
    """A cosine as the API's ``similarity``: 0..1, 1 for the same direction."""
    return min(1.0, max(0.0, cosine))


@attrs.frozen
class Fingerprint:
    """What an image is compared by; either part may be unknown (None)."""

    phash: int | None = attrs.field(default=None, validator=_check_phash)
    embedding: Embedding | None = None
    detail: int | None = attrs.field(default=None, validator=_check_detail)

    def merged(self, newer: Fingerprint) -> Fingerprint:
        """``newer``'s parts where it has them, this one's elsewhere."""
        return Fingerprint(
            phash=newer.phash if newer.phash is not None else self.phash,
            embedding=newer.embedding if newer.embedding is not None else self.embedding,
            detail=newer.detail if newer.detail is not None else self.detail,
        )


@attrs.frozen
class Pair:
    """Two images compared: their hashes' distance and their embeddings' similarity, when known."""

    a: str
    b: str
    distance: int | None = None
    similarity: float | None = None
    detail_distance: int | None = None


def compare(a_id: str, a: Fingerprint, b_id: str, b: Fingerprint) -> Pair:
    distance = hamming(a.phash, b.phash) if a.phash is not None and b.phash is not None else None
    sim = similarity(a.embedding.cosine(b.embedding)) if a.embedding and b.embedding else None
    detail = hamming(a.detail, b.detail) if a.detail is not None and b.detail is not None else None
    return Pair(a_id, b_id, distance, sim, detail)


def is_exact(pair: Pair) -> bool:
    """The same picture: hashes within EXACT_MAX_DISTANCE bits, and when the embeddings are known
    and the hashes not within EXACT_SURE_DISTANCE, embeddings that agree too, and detail hashes
    within EXACT_MAX_DETAIL_DISTANCE bits when they are known (images analysed before them have
    none: the first two decide)."""
    if pair.distance is None or pair.distance > EXACT_MAX_DISTANCE:
        return False
    if pair.distance <= EXACT_SURE_DISTANCE or pair.similarity is None:
        return pair.distance <= EXACT_SURE_DISTANCE
    if pair.detail_distance is not None and pair.detail_distance > EXACT_MAX_DETAIL_DISTANCE:
        return False
    return pair.similarity >= EXACT_MIN_SIMILARITY


def is_near(pair: Pair) -> bool:
    """The same scene: embeddings at least NEAR_MIN_SIMILARITY alike (exactness is checked apart)."""
    return pair.similarity is not None and pair.similarity >= NEAR_MIN_SIMILARITY


class DuplicateKind(enum.StrEnum):
    EXACT = "exact"
    NEAR = "near"


@attrs.frozen
class DuplicateGroup:
    kind: DuplicateKind
    image_ids: tuple[str, ...]


class _Sets:
    """Union-find over ids."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        root = x
        while (up := self.parent.get(root, root)) != root:
            root = up
        while (up := self.parent.get(x, x)) != root:
            self.parent[x] = root
            x = up
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@attrs.frozen
class Duplicates:
    """The owner's duplicate groups. ``exact`` groups hold every copy of one picture; ``near``
    groups hold one image per picture (the first, in the given order) of pictures of one scene."""

    groups: tuple[DuplicateGroup, ...]
    # Each image of a group: the first image of its exact group (itself when it has none).
    _picture: Mapping[str, str] = attrs.field(factory=dict, alias="picture")
    # Each picture in a near group: that group's first picture.
    _scene: Mapping[str, str] = attrs.field(factory=dict, alias="scene")

    def relation(self, a: str, b: str) -> DuplicateKind | None:
        """How two images are grouped: the same picture, the same scene, or neither."""
        pa, pb = self._picture.get(a, a), self._picture.get(b, b)
        if pa == pb:
            return DuplicateKind.EXACT if a != b or a in self._picture else None
        sa, sb = self._scene.get(pa), self._scene.get(pb)
        return DuplicateKind.NEAR if sa is not None and sa == sb else None

    def copies(self) -> frozenset[str]:
        """Images that are an exact copy of an earlier one (what a gallery hides)."""
        return frozenset(i for i, first in self._picture.items() if i != first)


def group_duplicates(order: Sequence[str], pairs: Iterable[Pair]) -> Duplicates:
    """Exact groups: images joined by exact pairs (transitively). Near groups: pictures joined by
    near pairs that are not exact. ``order`` lists the images (say, oldest first): groups list
    their images in it and come in the order of their first image; pairs naming an image not in
    ``order`` are ignored."""
    rank = {image_id: i for i, image_id in enumerate(order)}
    exact, near = _Sets(), _Sets()
    near_pairs: list[Pair] = []
    for p in pairs:
        if p.a not in rank or p.b not in rank or p.a == p.b:
            continue
        if is_exact(p):
            exact.union(p.a, p.b)
        elif is_near(p):
            near_pairs.append(p)
    members: dict[str, list[str]] = {}
    for image_id in order:
        members.setdefault(exact.find(image_id), []).append(image_id)
    picture = {i: m[0] for m in members.values() if len(m) > 1 for i in m}
    for p in near_pairs:
        near.union(picture.get(p.a, p.a), picture.get(p.b, p.b))
    scenes: dict[str, list[str]] = {}
    for image_id in order:
        if picture.get(image_id, image_id) == image_id:  # one image per picture
            scenes.setdefault(near.find(image_id), []).append(image_id)
    groups = [(m[0], DuplicateGroup(DuplicateKind.EXACT, tuple(m))) for m in members.values() if len(m) > 1]
    groups += [(m[0], DuplicateGroup(DuplicateKind.NEAR, tuple(m))) for m in scenes.values() if len(m) > 1]
    groups.sort(key=lambda g: (rank[g[0]], g[1].kind != DuplicateKind.EXACT))
    scene = {i: m[0] for m in scenes.values() if len(m) > 1 for i in m}
    return Duplicates(tuple(g for _, g in groups), picture=picture, scene=scene)
