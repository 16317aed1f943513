"""How images match a query and in what order, the same for every adapter.

Adapters store ``document_terms(image)`` (with their field weights) beside each image and match
query terms as prefixes of those stored terms; they sort by the keys below and score colors with
the integer arithmetic below, which the SQL adapters reproduce bit for bit. The functions at the
bottom search a plain list for the in-memory adapter; the property tests hold every adapter, that
one included, to the separate brute force in tests/search_reference.py.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from imagerepo.domain.colors import (
    COLOR_MATCH_CUTOFF,
    COLOR_MIN_FRACTION,
    COLOR_SHARE_WEIGHT,
    Lab,
    rgb_to_lab,
    same_name_colors,
)
from imagerepo.domain.images import Image
from imagerepo.domain.photos import instant_key, local_key, taken_keys, taken_words
from imagerepo.domain.queries import ImageQuery, is_descending
from imagerepo.domain.text import stem, tokenize

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# Relevance: a query word scores the weight of the best field it hits; an image's relevance is
# the sum over the query's words. Powers of two, so "hit in a tag" always beats "hit in the
# description" whatever else matched.
FIELD_WEIGHTS = {"tags": 8, "description": 4, "place": 4, "text": 2, "filename": 1, "keywords": 2, "taken": 1}
# Place filter terms ride in the word index under this mark, which no query word starts with.
PLACE_MARK = "@"
# relevance_key packs (score, uploaded) into one integer: timestamp keys of dates between 1970
# and 2255 lie in [0, 2**53), so the score dominates and the upload time breaks ties.
_RELEVANCE_SHIFT = 2**53


def weighted_terms(image: Image) -> dict[str, int]:
    """Every document term (words and stems) with the weight of the best field it occurs in."""
    a = image.analysis
    parts = [
        (a.description, FIELD_WEIGHTS["description"]),
        (a.text, FIELD_WEIGHTS["text"]),
        (image.filename, FIELD_WEIGHTS["filename"]),
        (" ".join(t.name for t in a.tags), FIELD_WEIGHTS["tags"]),
        (" ".join(a.extra.get("keywords", ())), FIELD_WEIGHTS["keywords"]),  # analyzer's synonyms
        (image.location.names if image.location else "", FIELD_WEIGHTS["place"]),
        (taken_words(image.taken_at), FIELD_WEIGHTS["taken"]),
    ]
    out: dict[str, int] = {}
    for part, weight in parts:
        for w in tokenize(part):
            for term in (w, stem(w)):
                if out.get(term, 0) < weight:
                    out[term] = weight
    return out


def place_terms(image: Image) -> list[str]:
    """The words of the image's place names (city, region, country), marked for the place filter."""
    names = image.location.names if image.location else ""
    return sorted({PLACE_MARK + w for w in tokenize(names)})


def document_terms(image: Image) -> list[str]:
    """Everything a word query may hit: description, tags, text read, filename; words and stems."""
    return list(weighted_terms(image))


def relevance(image: Image, words: Iterable[str]) -> int:
    """Sum over query words of the best weight among the stored terms the word is a prefix of."""
    terms = weighted_terms(image)
    return sum(max((wt for t, wt in terms.items() if t.startswith(w)), default=0) for w in words)


def relevance_key(score: int, uploaded_key: int) -> int:
    """The sort (and cursor) key of the relevance order: higher score first, then newest."""
    return score * _RELEVANCE_SHIFT + uploaded_key


def tag_names(image: Image) -> list[str]:
    return sorted({t.name.casefold() for t in image.analysis.tags})


def timestamp_key(at: datetime) -> int:
    """Microseconds since the epoch: the stored, sortable form of uploaded_at."""
    return (at - _EPOCH) // timedelta(microseconds=1)


def filename_key(filename: str) -> str:
    return filename.casefold()


def palette_labs(image: Image) -> list[tuple[Lab, float, str]]:
    return [(c.lab, c.fraction, c.name) for c in image.analysis.colors]


# Color buckets: each palette color is filed under the CIELAB cube of side COLOR_CELL holding it,
# so a color query reads only the cubes that reach within the cut-off of the query color.
COLOR_CELL = 10.0
_CELL_SPAN = 64  # cube indices are offset by 32 into 0..63 per axis (sRGB Lab needs -13..12)


def _cell_index(v: float) -> int:
    return math.floor(v / COLOR_CELL)


def color_cell(lab: Lab) -> int:
    """The bucket of one palette color (the SQL backfills compute floor(v / 10.0) the same way)."""
    li, ai, bi = (_cell_index(v) + 32 for v in lab)
    return (li * _CELL_SPAN + ai) * _CELL_SPAN + bi


def color_cells_near(lab: Lab, radius: float = COLOR_MATCH_CUTOFF) -> list[int]:
    """Every bucket whose cube comes within ``radius`` of ``lab``: a superset of the buckets of
    colors that can match (a hair of slack covers rounding at cube faces)."""

    def gap(v: float, i: int) -> float:
        lo, hi = i * COLOR_CELL, (i + 1) * COLOR_CELL
        return lo - v if v < lo else v - hi if v > hi else 0.0

    ranges = [range(_cell_index(v - radius), _cell_index(v + radius) + 1) for v in lab]
    out = []
    for li in ranges[0]:
        for ai in ranges[1]:
            for bi in ranges[2]:
                d2 = gap(lab[0], li) ** 2 + gap(lab[1], ai) ** 2 + gap(lab[2], bi) ** 2
                if d2 <= radius * radius + 1e-6:
                    out.append(((li + 32) * _CELL_SPAN + ai + 32) * _CELL_SPAN + bi + 32)
    return out


# Color score: lower is closer. An integer (millionths of ΔE) computed from IEEE doubles by
# +, -, *, sqrt and floor only, each correctly rounded, so SQLite and PostgreSQL evaluate the very
# same number in plain SQL (adapters/sql/colors.py) and order and page exactly like this reference.
COLOR_SCORE_SCALE = 1_000_000.0
COLOR_CUTOFF_SQUARED = COLOR_MATCH_CUTOFF * COLOR_MATCH_CUTOFF


def color_distance_squared(query: Lab, lab: Lab) -> float:
    dl, da, db = query[0] - lab[0], query[1] - lab[1], query[2] - lab[2]
    return dl * dl + da * da + db * db


def color_term_score(query: Lab, lab: Lab, fraction: float, named: bool = False) -> int | None:
    """One palette color's score: floor((ΔE76 + weight × (1 − share)) × 10⁶), or None when the
    color is too small, or farther than the cut-off (compared squared, as the SQL does) and not
    ``named`` like the query (colors.same_name_colors): the name widens the match, not the score."""
    d2 = color_distance_squared(query, lab)
    if fraction < COLOR_MIN_FRACTION or (d2 > COLOR_CUTOFF_SQUARED and not named):
        return None
    return math.floor((math.sqrt(d2) + COLOR_SHARE_WEIGHT * (1.0 - fraction)) * COLOR_SCORE_SCALE)


def color_match_score(
    query: Lab, palette: Iterable[tuple[Lab, float, str]], names: Collection[str] = frozenset()
) -> int | None:
    """An image's score: the best (lowest) of its colors' scores; None when none matches.
    ``names``: the color names matching the query whatever their distance (same_name_colors)."""
    scores = [s for lab, f, n in palette if (s := color_term_score(query, lab, f, n in names)) is not None]
    return min(scores, default=None)


# ------------------------------------------------------------ search over a list (in-memory adapter)


def matches(image: Image, query: ImageQuery) -> bool:
    if image.owner_id != query.owner_id:
        return False
    if query.tags:
        have = set(tag_names(image))
        if not all(t in have for t in query.tags):
            return False
    if query.words:
        terms = document_terms(image)
        if not all(any(d.startswith(w) for d in terms) for w in query.words):
            return False
    if query.place:
        places = place_terms(image)
        if not all(any(p.startswith(PLACE_MARK + w) for p in places) for w in query.place):
            return False
    if query.taken_after is not None or query.taken_before is not None:
        if image.taken_at is None:
            return False
        at, local = instant_key(image.taken_at), local_key(image.taken_at)
        if query.taken_after is not None and (local if query.taken_after_local else at) < query.taken_after:
            return False
        if query.taken_before is not None and (local if query.taken_before_local else at) >= query.taken_before:
            return False
    return query.color is None or color_score(image, query) is not None


def color_score(image: Image, query: ImageQuery) -> int | None:
    assert query.color is not None
    return color_match_score(rgb_to_lab(query.color), palette_labs(image), same_name_colors(query.color))


def order_key(image: Image, query: ImageQuery) -> Any:
    order = query.order.lstrip("-")
    if order == "uploaded_at":
        return timestamp_key(image.uploaded_at)
    if order == "filename":
        return filename_key(image.filename)
    if order == "size_bytes":
        return image.size_bytes
    if order == "taken_at":
        desc, asc = taken_keys(image.taken_at, image.uploaded_at)
        return desc if is_descending(query) else asc
    if order == "relevance":
        return relevance_key(relevance(image, query.words), timestamp_key(image.uploaded_at))
    return color_score(image, query)


def after_cursor(key: Any, ident: str, query: ImageQuery) -> bool:
    """True when (key, id) comes strictly after the query's cursor in the query's order."""
    if query.cursor is None:
        return True
    pos = (query.cursor.key, query.cursor.id)
    return (key, ident) < pos if is_descending(query) else (key, ident) > pos


def reference_search(images: Iterable[Image], query: ImageQuery) -> tuple[list[Image], Any]:
    """Filter, order and page ``images``; returns (page, (key, id) of the last item or None)."""
    rows = [(order_key(i, query), i.id, i) for i in images if matches(i, query)]
    rows = [r for r in rows if after_cursor(r[0], r[1], query)]
    rows.sort(key=lambda r: (r[0], r[1]), reverse=is_descending(query))
    page = rows[: query.limit + 1]
    more = len(page) > query.limit
    page = page[: query.limit]
    last = (page[-1][0], page[-1][1]) if more and page else None
    return [r[2] for r in page], last
