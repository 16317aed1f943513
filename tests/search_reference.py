"""The search every ImageRepository (the in-memory fake, SQLite, PostgreSQL) is held to.

Written from the contract (shared/API.md, ``GET /api/v1/images``) as plainly as it can be: one
pass over a list, a filter and a sort, no index, no stored keys, no cursor arithmetic. It reuses
only the domain's word and color *rules*, which have tests of their own (tests/unit/
test_search_rules.py, test_search_index_rules.py, test_colors.py): how text splits into words
(``tokenize``, ``stem``), how much a field counts (``FIELD_WEIGHTS``), how close a palette color
is (``color_term_score``) and what a color is called (``color_name``, ``spoken_color_name``). It
shares no code with ``imagerepo.domain.ranking.reference_search``, the in-memory adapter's
implementation, so that adapter is tested, not compared with itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from imagerepo.domain.colors import NEUTRAL_NAMES, color_name, rgb_to_lab, spoken_color_name
from imagerepo.domain.images import Image
from imagerepo.domain.queries import ImageQuery
from imagerepo.domain.ranking import FIELD_WEIGHTS, color_term_score
from imagerepo.domain.text import stem, tokenize


def fields(image: Image) -> dict[str, str]:
    """The text a word query looks at, by field."""
    a = image.analysis
    return {
        "tags": " ".join(t.name for t in a.tags),
        "description": a.description,
        "text": a.text,
        "filename": image.filename,
        "keywords": " ".join(a.extra.get("keywords", ())),
        "place": place_names(image),
        # The month's English name and the year ("june 2023"), from the time as the file gives it.
        "taken": image.taken_at.strftime("%B %Y") if image.taken_at else "",
    }


def place_names(image: Image) -> str:
    loc = image.location
    return " ".join(filter(None, (loc.city, loc.region, loc.country))) if loc else ""


def instant(at: datetime) -> datetime:
    """When a photo was taken, as an aware time; a time without offset is read as UTC."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def after_or_at(at: datetime, bound: int, date: bool) -> bool:
    """``at`` against a query bound given in microseconds since the epoch. A bound given as a
    plain ``date`` is a calendar day on the photo's own clock, the date its page shows: compared
    with its wall-clock time as written, whatever its offset. Any other is an instant."""
    when = at.replace(tzinfo=UTC) if date else instant(at)
    return (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) >= bound


def word_weight(image: Image, word: str) -> int:
    """The weight of the best field holding a word (or its stem) that starts with ``word``; 0 when none."""
    best = 0
    for field, text in fields(image).items():
        for w in tokenize(text):
            if w.startswith(word) or stem(w).startswith(word):
                best = max(best, FIELD_WEIGHTS[field])
    return best


def same_basic_color(query: tuple[int, int, int], name: str) -> bool:
    """Whether a palette color's name is the query color's basic color term (neutral ones aside)."""
    spoken = spoken_color_name(color_name(query))
    return spoken not in NEUTRAL_NAMES and spoken_color_name(name) == spoken


def color_closeness(image: Image, query: ImageQuery) -> int | None:
    """The best (lowest) score of the image's palette colors near the query color or named like
    it; None when none is."""
    assert query.color is not None
    target = rgb_to_lab(query.color)
    scores = [
        color_term_score(target, c.lab, c.fraction, same_basic_color(query.color, c.name))
        for c in image.analysis.colors
    ]
    return min((s for s in scores if s is not None), default=None)


def is_hit(image: Image, query: ImageQuery) -> bool:
    if image.owner_id != query.owner_id:
        return False
    names = {t.name.casefold() for t in image.analysis.tags}
    if any(tag not in names for tag in query.tags):
        return False
    if any(word_weight(image, word) == 0 for word in query.words):
        return False
    if any(not any(w.startswith(p) for w in tokenize(place_names(image))) for p in query.place):
        return False
    if query.taken_after is not None or query.taken_before is not None:
        if image.taken_at is None:
            return False
        at = image.taken_at
        if query.taken_after is not None and not after_or_at(at, query.taken_after, query.taken_after_local):
            return False
        if query.taken_before is not None and after_or_at(at, query.taken_before, query.taken_before_local):
            return False
    return query.color is None or color_closeness(image, query) is not None


def sort_key(image: Image, query: ImageQuery) -> tuple[Any, ...]:
    """Ascending key of the query's order; the image id breaks ties in the order's direction."""
    order = query.order
    if order in ("uploaded_at", "-uploaded_at"):
        return (image.uploaded_at, image.id)
    if order == "filename":
        return (image.filename.casefold(), image.id)
    if order in ("size_bytes", "-size_bytes"):
        return (image.size_bytes, image.id)
    if order in ("taken_at", "-taken_at"):
        # Dated images first in either direction; undated ones after them, by upload time.
        dated = image.taken_at is not None
        first = dated if order == "-taken_at" else not dated
        return (first, instant(image.taken_at) if image.taken_at else image.uploaded_at, image.id)
    if order == "-relevance":  # the most relevant first, then the newest
        return (sum(word_weight(image, w) for w in query.words), image.uploaded_at, image.id)
    assert order == "color", order  # the closest first
    return (color_closeness(image, query), image.id)


def search_all(images: Iterable[Image], query: ImageQuery) -> list[Image]:
    """Every image the query finds among ``images`` (ready ones), in the query's order, unpaged."""
    hits = [i for i in images if is_hit(i, query)]
    return sorted(hits, key=lambda i: sort_key(i, query), reverse=query.order.startswith("-"))


def page_after(images: Iterable[Image], query: ImageQuery, last: Image | None) -> list[Image]:
    """The page a keyset cursor promises: the first ``query.limit`` hits that come after ``last``
    (the previous page's last image, which may be gone since) in the query's order."""
    present = [i for i in images if last is None or i.id != last.id]
    ordered = search_all([*present, last] if last is not None else present, query)
    start = 0 if last is None else [i.id for i in ordered].index(last.id) + 1
    return ordered[start : start + query.limit]
