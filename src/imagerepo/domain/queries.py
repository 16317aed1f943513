"""What a list or search asks for: the query, its validation, keyset cursors and pages."""

from __future__ import annotations

import base64
import enum
import hashlib
import json
from typing import Any

import attrs

from imagerepo.domain.colors import parse_hex
from imagerepo.domain.errors import InvalidQuery
from imagerepo.domain.images import Image
from imagerepo.domain.text import query_terms


class SortOrder(enum.StrEnum):
    NEWEST = "-uploaded_at"
    OLDEST = "uploaded_at"
    FILENAME = "filename"
    LARGEST = "-size_bytes"
    SMALLEST = "size_bytes"

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

    def fingerprint(self) -> str:
        """Binds a cursor to the query that made it."""
        raw = json.dumps([self.owner_id, list(self.words), sorted(self.tags), self.color, self.order])
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
    if problems:
        raise InvalidQuery("The query parameters are not valid.", problems)
    query = ImageQuery(
        owner_id=owner_id,
        words=tuple(query_terms(q or "")),
        tags=tuple(clean_tags),
        color=rgb,
        sort=sort_order,
        limit=lim,
    )
    if cursor:
        query = attrs.evolve(query, cursor=Cursor.decode(cursor, query))
    return query


def is_descending(query: ImageQuery) -> bool:
    return query.order.startswith("-")
