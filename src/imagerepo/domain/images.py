"""Images, their analysis, and the list/search query with keyset cursors."""

from __future__ import annotations

import base64
import enum
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from imagerepo.domain.colors import Lab, parse_hex, rgb_to_lab
from imagerepo.domain.errors import InvalidQuery

# Formats accepted for upload; HEIC/AVIF join when their codecs are installed.
ACCEPTED_CONTENT_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


class AnalysisStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


@attrs.frozen
class Tag:
    name: str
    confidence: float


@attrs.frozen
class Color:
    hex: str
    fraction: float
    name: str

    @property
    def lab(self) -> Lab:
        return rgb_to_lab(parse_hex(self.hex))


@attrs.frozen
class AnalysisResult:
    """What an analyzer returns."""

    analyzer: str
    description: str = ""
    tags: tuple[Tag, ...] = ()
    colors: tuple[Color, ...] = ()
    text: str = ""
    # Analyzer-specific extras (e.g. nsfw score, Azure's own color names), not shown by the API;
    # only extra["keywords"] (synonyms of what was seen) is searchable (search.weighted_terms).
    extra: Mapping[str, Any] = attrs.field(factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        """Plain data, e.g. to cross from an analysis process without unpickling its output."""
        return {
            "analyzer": self.analyzer,
            "description": self.description,
            "tags": [[t.name, t.confidence] for t in self.tags],
            "colors": [[c.hex, c.fraction, c.name] for c in self.colors],
            "text": self.text,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AnalysisResult:
        return cls(
            analyzer=data.get("analyzer", ""),
            description=data.get("description", ""),
            tags=tuple(Tag(n, float(c)) for n, c in data.get("tags", ())),
            colors=tuple(Color(h, float(f), n) for h, f, n in data.get("colors", ())),
            text=data.get("text", ""),
            extra=dict(data.get("extra") or {}),
        )


@attrs.frozen
class Analysis:
    status: AnalysisStatus
    analyzer: str = ""
    description: str = ""
    tags: tuple[Tag, ...] = ()
    colors: tuple[Color, ...] = ()
    text: str = ""
    error: str = ""
    updated_at: datetime | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, hash=False)

    @classmethod
    def pending(cls, analyzer: str = "") -> Analysis:
        return cls(status=AnalysisStatus.PENDING, analyzer=analyzer)

    @classmethod
    def done(cls, result: AnalysisResult, at: datetime) -> Analysis:
        return cls(
            status=AnalysisStatus.DONE,
            analyzer=result.analyzer,
            description=result.description,
            tags=result.tags,
            colors=result.colors,
            text=result.text,
            updated_at=at,
            extra=dict(result.extra),
        )

    @classmethod
    def failed(cls, analyzer: str, error: str, at: datetime) -> Analysis:
        return cls(status=AnalysisStatus.FAILED, analyzer=analyzer, error=error, updated_at=at)

    def to_json(self) -> dict[str, Any]:
        """Storage form, used by every database adapter."""
        result = AnalysisResult(self.analyzer, self.description, self.tags, self.colors, self.text, self.extra)
        return {
            "status": self.status.value,
            **result.to_json(),
            "error": self.error,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Analysis:
        updated = data.get("updated_at")
        r = AnalysisResult.from_json(data)
        return cls(
            status=AnalysisStatus(data["status"]),
            analyzer=r.analyzer,
            description=r.description,
            tags=r.tags,
            colors=r.colors,
            text=r.text,
            error=data.get("error", ""),
            updated_at=datetime.fromisoformat(updated) if updated else None,
            extra=r.extra,
        )


@attrs.frozen
class InspectedImage:
    """What inspection learned from the bytes (never from the name or declared type)."""

    content_type: str
    format: str
    width: int
    height: int
    size_bytes: int
    sha256: str


@attrs.frozen
class Image:
    id: str
    owner_id: str
    filename: str
    content_type: str
    width: int
    height: int
    size_bytes: int
    sha256: str
    uploaded_at: datetime
    analysis: Analysis = attrs.field(factory=Analysis.pending)

    @property
    def original_key(self) -> str:
        return blob_key(self.owner_id, self.id, "original")

    @property
    def thumbnail_key(self) -> str:
        return blob_key(self.owner_id, self.id, "thumbnail")


def blob_key(owner_id: str, image_id: str, kind: str) -> str:
    return f"{owner_id}/{image_id}/{kind}"


def parse_blob_key(key: str) -> tuple[str, str, str] | None:
    """(owner id, image id, kind) of a key made by :func:`blob_key`, else None."""
    parts = key.split("/")
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


@attrs.frozen
class AnalysisJob:
    """A claimed pending analysis; ``generation`` guards against a stale worker's result."""

    image: Image
    generation: int
    attempts: int


MAX_FILENAME_LENGTH = 255
# Right-to-left overrides and isolates let "gpj.exe" display as "exe.jpg".
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_filename(name: str | None) -> str:
    """A display name: no directories, no control characters, at most 255 characters."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in _BIDI_CONTROLS)
    name = name.strip().strip(".") or "image"
    return name[:MAX_FILENAME_LENGTH]


# ---------------------------------------------------------------- listing and search

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
# Not a client-selectable sort: the order of a word query that asks for none (search.relevance_key).
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
    from imagerepo.domain.search import query_terms

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
