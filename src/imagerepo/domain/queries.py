"""What a list or search asks for: the query, its validation, keyset cursors and pages."""

from __future__ import annotations

import base64
import enum
import hashlib
import json
import re
from datetime import datetime
from typing import Any

import attrs

from imagerepo.domain.colors import parse_hex
from imagerepo.domain.errors import InvalidQuery
from imagerepo.domain.images import Image
from imagerepo.domain.photos import instant_key, local_key
from imagerepo.domain.text import MAX_QUERY_TERMS, query_terms, tokenize


class SortOrder(enum.StrEnum):
    NEWEST = "-uploaded_at"
    OLDEST = "uploaded_at"
    FILENAME = "filename"
    LARGEST = "-size_bytes"
    SMALLEST = "size_bytes"
    TAKEN_NEWEST = "-taken_at"
    TAKEN_OLDEST = "taken_at"

    @property
    def descending(self) -> bool:
        return self.value.startswith("-")


DEFAULT_LIMIT, MAX_LIMIT = 20, 100
# Not a client-selectable sort: the order of a word query that asks for none (ranking.relevance_key).
RELEVANCE_ORDER = "-relevance"


@attrs.frozen
class ImageQuery:
    owner_id: str
    words: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    color: tuple[int, int, int] | None = None
    # Words each matching the start of a word of the place names.
    place: tuple[str, ...] = ()
    # Capture range: taken_after inclusive, taken_before exclusive. A bound given as a date-time
    # is an instant (photos.instant_key); one given as a plain date is flagged local: a local key
    # (photos.local_key) compared with the photo's own wall-clock time, so the date means the
    # calendar day the photo's page shows, whatever its offset.
    taken_after: int | None = None
    taken_before: int | None = None
    taken_after_local: bool = False
    taken_before_local: bool = False
    # Person ids: every one must be in the image (people_service).
    people: tuple[str, ...] = ()
    sort: SortOrder | None = None
    limit: int = DEFAULT_LIMIT
    cursor: Cursor | None = None

    @property
    def order(self) -> str:
        """The effective order: an explicit sort, else relevance to the words, else color
        closeness, else newest first."""
        if self.sort is not None:
            return self.sort.value
        if self.words:
            return RELEVANCE_ORDER
        if self.color is not None:
            return "color"
        return SortOrder.NEWEST.value

    @property
    def taken_range(self) -> bool:
        return self.taken_after is not None or self.taken_before is not None

    def fingerprint(self) -> str:
        """Binds a cursor to the query that made it."""
        local = [self.taken_after_local, self.taken_before_local]
        raw = json.dumps(
            [self.owner_id, list(self.words), sorted(self.tags), self.color, self.order]
            + ([list(self.place), self.taken_after, self.taken_before] if self.place or self.taken_range else [])
            + (local if any(local) else [])  # absent when both are instants: those cursors outlive the change
            + ([sorted(self.people)] if self.people else [])
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


@attrs.frozen
class Cursor:
    """Keyset position: the sort key and id of the last item of the previous page."""

    key: Any
    id: str

    def encode(self, query: ImageQuery) -> str:
        raw = json.dumps({"k": self.key, "i": self.id, "q": query.fingerprint()}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, query: ImageQuery) -> Cursor:
        bad = InvalidQuery("cursor is not valid for this query.", {"cursor": ["invalid or from another query"]})
        try:
            padded = token + "=" * (-len(token) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        except (ValueError, UnicodeError) as e:
            raise bad from e
        if not isinstance(data, dict) or set(data) != {"k", "i", "q"}:
            raise bad
        key, ident = data["k"], data["i"]
        if data["q"] != query.fingerprint() or not isinstance(ident, str):
            raise bad
        expected: type | tuple[type, ...] = int
        if query.order == "filename":
            expected = str
        elif query.order == "color":
            expected = (int, float)
        if isinstance(key, bool) or not isinstance(key, expected):
            raise bad
        return cls(key=key, id=ident)


@attrs.frozen
class Page:
    items: tuple[Image, ...]
    next_cursor: Cursor | None


def build_query(
    owner_id: str,
    *,
    q: str | None = None,
    tags: list[str] | tuple[str, ...] = (),
    color: str | None = None,
    sort: str | None = None,
    limit: int | str | None = None,
    cursor: str | None = None,
    place: str | None = None,
    taken_after: str | None = None,
    taken_before: str | None = None,
    people: list[str] | tuple[str, ...] = (),
) -> ImageQuery:
    """Validate raw list parameters into an ImageQuery, or raise InvalidQuery naming each field."""
    problems: dict[str, list[str]] = {}
    sort_order = None
    if sort is not None and sort != "":
        try:
            sort_order = SortOrder(sort)
        except ValueError:
            problems["sort"] = [f"must be one of {', '.join(s.value for s in SortOrder)}"]
    lim = DEFAULT_LIMIT
    if limit is not None and limit != "":
        try:
            lim = int(limit)
        except (TypeError, ValueError):
            problems["limit"] = [f"must be a whole number from 1 to {MAX_LIMIT}"]
        else:
            if not 1 <= lim <= MAX_LIMIT:
                problems["limit"] = [f"must be a whole number from 1 to {MAX_LIMIT}"]
    rgb = None
    if color:
        try:
            rgb = parse_hex(color)
        except InvalidQuery:
            problems["color"] = ["must be a hex color like #1f6fb2"]
    if q is not None and len(q) > 500:
        problems["q"] = ["must be at most 500 characters"]
    clean_tags = []
    for t in tags:
        t = t.strip().casefold()
        if not t or len(t) > 100:
            problems["tag"] = ["must be 1 to 100 characters"]
        elif t not in clean_tags:
            clean_tags.append(t)
    if place is not None and len(place) > 200:
        problems["place"] = ["must be at most 200 characters"]
    clean_people = tuple(dict.fromkeys(p.strip() for p in people))
    if any(not p or len(p) > 100 for p in clean_people) or len(clean_people) > MAX_QUERY_TERMS:
        problems["person"] = [f"must be 1 to {MAX_QUERY_TERMS} person ids"]
    after, after_local = _bound(taken_after, "taken_after", problems)
    before, before_local = _bound(taken_before, "taken_before", problems)
    if problems:
        raise InvalidQuery("The query parameters are not valid.", problems)
    query = ImageQuery(
        owner_id=owner_id,
        words=tuple(query_terms(q or "")),
        tags=tuple(clean_tags),
        color=rgb,
        place=tuple(dict.fromkeys(tokenize(place or "")))[:MAX_QUERY_TERMS],
        taken_after=after,
        taken_before=before,
        taken_after_local=after_local,
        taken_before_local=before_local,
        people=clean_people,
        sort=sort_order,
        limit=lim,
    )
    if cursor:
        query = attrs.evolve(query, cursor=Cursor.decode(cursor, query))
    return query


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+\-]\d{2}:\d{2}))?")


def _bound(value: str | None, name: str, problems: dict[str, list[str]]) -> tuple[int | None, bool]:
    """An RFC 3339 date as a local key (its midnight on the photo's own clock), flagged True, or a
    date-time with offset as an instant key."""
    if value is None or value == "":
        return None, False
    try:
        if not _RFC3339.fullmatch(value):
            raise ValueError(value)
        at = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        problems[name] = ["must be an RFC 3339 date (2023-06-14) or date-time (2023-06-14T18:22:05+02:00)"]
        return None, False
    if at.tzinfo is None:  # a plain date: the only form without an offset the pattern lets through
        return local_key(at), True
    return instant_key(at), False


def is_descending(query: ImageQuery) -> bool:
    return query.order.startswith("-")
