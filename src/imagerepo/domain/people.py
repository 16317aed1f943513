"""Faces and people: what a face is, who it belongs to, and the clustering rules.

A face found in an image carries a 128-value embedding (faces of one person lie close together),
its box and a quality score. Faces are grouped into people per account by :func:`cluster`, which
the incremental path (a new image's faces) and the periodic re-clustering share. The owner's
corrections are data the rules obey, never undo:

- a face the owner placed (a merge or a move) is ``pinned``: clustering never moves it;
- a face the owner said is "not this person" keeps that person in ``rejected`` and is never
  given back to it;
- a named or hidden person is never deleted by clustering, and its faces stay with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

import attrs

from imagerepo.domain.images import blob_key
from imagerepo.domain.text import tokenize

# Two faces nearer than this are the same person (dlib's threshold is 0.6; stricter here, since a
# wrong merge is what owners hate most).
SAME_PERSON = 0.5
# A new face joins a person only if it is this close to at least this many of its faces
# (all of them when the person has fewer).
CLOSE_FACES = 2
# A second person within this margin of the best one makes the choice ambiguous: the face waits.
AMBIGUITY_MARGIN = 0.04
# A face below this quality (tiny, blurred, turned away) never starts a person on its own...
START_QUALITY = 0.5
# ...but this many waiting faces, each within GROUP_DISTANCE of the first, start one together.
GROUP_FACES = 3
GROUP_DISTANCE = 0.42
MAX_NAME_LENGTH = 100


@attrs.frozen
class Box:
    """Where the face is, as fractions of the image's width and height (0..1)."""

    x: float
    y: float
    w: float
    h: float


@attrs.frozen
class FaceFinding:
    """What a face analyzer reports: the box, the embedding, a 0..1 quality and a JPEG crop."""

    box: Box
    embedding: tuple[float, ...]
    quality: float
    crop: bytes = b""


@attrs.frozen
class Face:
    id: str
    owner_id: str
    image_id: str
    box: Box
    embedding: tuple[float, ...]
    quality: float
    person_id: str | None = None
    # Placed by the owner (merge, move): clustering never moves it.
    pinned: bool = False
    # People the owner said this face is not.
    rejected: frozenset[str] = frozenset()

    @property
    def crop_key(self) -> str:
        """The blob of its crop, under its image's keys: it goes with the image."""
        return blob_key(self.owner_id, self.image_id, f"face-{self.id}")


@attrs.frozen
class Person:
    id: str
    owner_id: str
    created_at: datetime
    name: str | None = None
    hidden: bool = False

    @property
    def corrected(self) -> bool:
        """Named or hidden by the owner: clustering keeps it and its faces."""
        return self.name is not None or self.hidden


@attrs.frozen
class PersonSummary:
    person: Person
    face_count: int
    cover: Face | None


def clean_name(name: object) -> str | None:
    """A person's name as stored: trimmed, 1..100 printable characters; None for not valid."""
    if not isinstance(name, str):
        return None
    cleaned = " ".join("".join(ch for ch in name if ch.isprintable()).split())
    return cleaned if 0 < len(cleaned) <= MAX_NAME_LENGTH else None


def names_in_query(q: str, names: Mapping[str, str]) -> tuple[str, list[str]]:
    """Take the people named in the words of ``q`` out of it: (the other words, the person ids).

    ``names`` maps person id → name. A query word that is a word of a person's name (case and
    accents aside) names that person: "grace" names Grace Hopper. The person with the most words
    in the query wins them; words that name two people equally ("grace" for Grace Hopper and
    Grace Kelly) stay plain words."""
    words = tokenize(q)
    matched = {pid: frozenset(w for w in words if w in tokenize(name)) for pid, name in names.items()}
    left = set(words)
    found = []
    for pid, got in sorted(matched.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        if not got or not got <= left:
            continue
        if any(other != pid and matched[other] == got for other in matched):
            continue  # ambiguous
        left -= got
        found.append(pid)
    if not found:
        return q, []
    return " ".join(w for w in words if w in left), found


def overlap(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0: apart, 1: the same)."""
    w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (a.w * a.h + b.w * b.h - inter)


# A face found again by a re-analysis at this overlap or more is the same face: it keeps its id
# and what the owner said about it.
SAME_FACE_OVERLAP = 0.5


def carry_over(found: Sequence[Face], before: Sequence[Face]) -> list[Face]:
    """The faces of a re-analysis, each taking the id, person, pin and rejections of the face
    it was before (the best overlapping one, each old face used once)."""
    left = list(before)
    out = []
    for f in sorted(found, key=lambda f: -f.quality):
        match = max(left, key=lambda o: overlap(o.box, f.box), default=None)
        if match is not None and overlap(match.box, f.box) >= SAME_FACE_OVERLAP:
            left.remove(match)
            f = attrs.evolve(f, id=match.id, person_id=match.person_id, pinned=match.pinned,
                             rejected=match.rejected)
        out.append(f)
    return out


def distance(a: Sequence[float], b: Sequence[float]) -> float:
    return math.sqrt(sum((x - y) * (x - y) for x, y in zip(a, b, strict=True)))


def choose_person(
    face: Face, people: Mapping[str, Sequence[Sequence[float]]], exclude: Iterable[str] = ()
) -> str | None:
    """The person ``face`` clearly belongs to, or None (no one close enough, or two alike).

    Clearly: within SAME_PERSON of CLOSE_FACES of the person's faces (all, when it has fewer),
    and no other such person nearly as close. Never one of ``face.rejected`` or ``exclude``."""
    barred = face.rejected | frozenset(exclude)
    scored: list[tuple[float, str]] = []
    for person_id, embeddings in people.items():
        if person_id in barred or not embeddings:
            continue
        near = sorted(distance(face.embedding, e) for e in embeddings)
        need = min(CLOSE_FACES, len(near))
        if near[need - 1] < SAME_PERSON:
            scored.append((sum(near[:need]) / need, person_id))
    if not scored:
        return None
    scored.sort()
    if len(scored) > 1 and scored[1][0] - scored[0][0] < AMBIGUITY_MARGIN:
        return None
    return scored[0][1]


def _close_to(face: Face, embeddings: Sequence[Sequence[float]]) -> bool:
    return any(distance(face.embedding, e) < SAME_PERSON for e in embeddings)


def cluster(
    faces: Iterable[Face],
    people: Iterable[Person],
    new_id: Callable[[], str],
    *,
    free: Callable[[Face], bool] | None = None,
) -> dict[str, str | None]:
    """Where each face belongs: face id → person id (None: waiting, no person yet).

    ``free`` picks the faces clustering may place (default: every face that is not pinned and
    not in a named or hidden person); the others stay where they are and anchor their people.
    Free faces are placed best quality first: each joins the person it clearly belongs to; one
    near no one starts a person (keeping its former person's id when that is still free) if its
    quality allows and the owner took it out of none; any other waits. At the end, waiting faces
    that agree closely (GROUP_FACES of them) start a person together. Faces are read in id
    order, so the same faces give the same grouping."""
    by_id = {p.id: p for p in people}

    def fixed(f: Face) -> bool:
        p = by_id.get(f.person_id) if f.person_id else None
        return f.pinned or (p is not None and p.corrected)

    is_free = free or (lambda f: not fixed(f))
    everyone = sorted(faces, key=lambda f: f.id)
    placed: dict[str, str | None] = {}
    groups: dict[str, list[tuple[float, ...]]] = {}
    # A "not this person" binds both ways: a group holding a face that refused person P takes
    # no face that was P's, and a face that refused P joins no group holding P's former faces.
    refused: dict[str, set[str]] = {}
    formers: dict[str, set[str]] = {}

    def join(f: Face, target: str) -> None:
        groups.setdefault(target, []).append(f.embedding)
        refused.setdefault(target, set()).update(f.rejected)
        if f.person_id is not None:
            formers.setdefault(target, set()).add(f.person_id)

    for f in everyone:
        if not is_free(f):
            placed[f.id] = f.person_id
            if f.person_id is not None:
                join(f, f.person_id)
    for f in sorted((f for f in everyone if is_free(f)), key=lambda f: (-f.quality, f.id)):
        barred = {g for g, r in refused.items() if f.person_id in r}
        barred |= {g for g, r in formers.items() if r & f.rejected}
        target = choose_person(f, groups, barred)
        near_someone = any(_close_to(f, groups[g]) for g in groups if g not in barred and g not in f.rejected)
        # Ambiguous (close to someone, but not clearly one person) waits; so does a face the
        # owner took out of a person, which would otherwise start a lookalike of it.
        if target is None and f.quality >= START_QUALITY and not near_someone and not f.rejected:
            former = f.person_id
            reusable = former is not None and former not in groups and former not in f.rejected
            target = former if reusable else new_id()
        placed[f.id] = target
        if target is not None:
            join(f, target)
    _start_groups([f for f in everyone if is_free(f) and placed[f.id] is None and not f.rejected], placed, new_id)
    return placed


def _start_groups(waiting: list[Face], placed: dict[str, str | None], new_id: Callable[[], str]) -> None:
    """Waiting faces that agree closely, GROUP_FACES or more, become a person together."""
    for f in sorted(waiting, key=lambda f: (-f.quality, f.id)):
        if placed[f.id] is not None:
            continue
        near = [g for g in waiting if g.id != f.id and placed[g.id] is None
                and distance(f.embedding, g.embedding) < GROUP_DISTANCE]
        if len(near) + 1 >= GROUP_FACES:
            pid = new_id()
            for g in (f, *near):
                placed[g.id] = pid
