"""Translation between domain objects and database rows, the same for every SQL dialect."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import attrs

from imagerepo.domain.accounts import Account, AccountSettings, Session
from imagerepo.domain.colors import COLOR_MIN_FRACTION
from imagerepo.domain.identity import IdentityLink
from imagerepo.domain.images import Analysis, Image
from imagerepo.domain.photos import PhotoInfo, local_key, taken_keys
from imagerepo.domain.ranking import (
    color_cell,
    filename_key,
    place_terms,
    tag_names,
    timestamp_key,
    weighted_terms,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)

# Columns every image SELECT returns, in this order.
IMAGE_COLUMNS = (
    "id",
    "owner_id",
    "filename",
    "content_type",
    "width",
    "height",
    "size_bytes",
    "sha256",
    "uploaded_at",
    "analysis",
    "photo",
)


class Row(Protocol):
    def __getitem__(self, key: str, /) -> Any: ...


def to_micros(at: datetime) -> int:
    """Exact microseconds since the epoch (integer arithmetic, unlike a float timestamp)."""
    return (at - EPOCH) // _MICRO


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def when(value: int | datetime) -> datetime:
    """A stored time (SQLite: microseconds; PostgreSQL: timestamptz) as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return from_micros(value)


def json_text(value: Any) -> str:
    """JSON as stored in a text column: compact, and no NaN (which is not JSON)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


@attrs.frozen
class SearchIndex:
    """What search reads, derived from an image whenever it or its analysis is stored."""

    terms: tuple[str, ...]
    tags: tuple[str, ...]
    # (L, a, b, fraction) per palette color.
    palette: tuple[tuple[float, float, float, float], ...]
    filename_key: str
    uploaded_key: int
    # ranking.weighted_terms as (term, weight) pairs, then ranking.place_terms with weight 0.
    weighted: tuple[tuple[str, int], ...] = ()
    # domain.photos.taken_keys
    taken_desc_key: int = 0
    taken_asc_key: int = 0
    # Each palette color's name (search matches it by name too, colors.same_name_colors).
    color_names: tuple[str, ...] = ()
    # domain.photos.local_key of taken_at; None when undated
    taken_local_key: int | None = None

    @classmethod
    def of(cls, image: Image) -> SearchIndex:
        weighted = weighted_terms(image)
        desc, asc = taken_keys(image.taken_at, image.uploaded_at)
        return cls(
            terms=(*weighted, *place_terms(image)),
            weighted=(*weighted.items(), *((t, 0) for t in place_terms(image))),
            taken_desc_key=desc,
            taken_asc_key=asc,
            taken_local_key=local_key(image.taken_at) if image.taken_at is not None else None,
            tags=tuple(tag_names(image)),
            palette=tuple((*c.lab, c.fraction) for c in image.analysis.colors),
            color_names=tuple(c.name for c in image.analysis.colors),
            filename_key=filename_key(image.filename),
            uploaded_key=timestamp_key(image.uploaded_at),
        )

    def term_rows(self, owner_id: str, image_id: str) -> list[tuple[str, str, str, int, int]]:
        """(owner_id, term, image_id, weight, uploaded_key) rows of the search_terms table."""
        return [(owner_id, t, image_id, w, self.uploaded_key) for t, w in self.weighted]

    def tag_rows(self, owner_id: str, image_id: str) -> list[tuple[str, str, str]]:
        return [(owner_id, t, image_id) for t in self.tags]

    def color_rows(self, owner_id: str, image_id: str) -> list[tuple[Any, ...]]:
        """(owner_id, cell, image_id, position, L, a, b, fraction, name) of colors big enough to match."""
        return [
            (owner_id, color_cell((p[0], p[1], p[2])), image_id, n, *p, self.color_names[n])
            for n, p in enumerate(self.palette)
            if p[3] >= COLOR_MIN_FRACTION
        ]

    @property
    def terms_text(self) -> str:
        return " ".join(self.terms)

    @property
    def palette_json(self) -> str:
        return json.dumps([list(p) for p in self.palette])


def image_from_row(row: Row) -> Image:
    """Named constructor for an Image from a row holding IMAGE_COLUMNS."""
    raw = row["analysis"]
    data = json.loads(raw) if isinstance(raw, str | bytes) else raw
    return Image(
        id=row["id"],
        owner_id=row["owner_id"],
        filename=row["filename"],
        content_type=row["content_type"],
        width=int(row["width"]),
        height=int(row["height"]),
        size_bytes=int(row["size_bytes"]),
        sha256=row["sha256"],
        uploaded_at=when(row["uploaded_at"]),
        analysis=Analysis.from_json(data),
        photo=PhotoInfo.from_json(json.loads(row["photo"])) if row["photo"] else None,
    )


def account_from_row(row: Row) -> Account:
    return Account(
        id=row["id"],
        username=row["username"],
        password_hash=row["password_hash"],
        created_at=when(row["created_at"]),
        quota_limit=row["quota_limit"],
        settings=AccountSettings(bool(row["keep_location"]), bool(row["face_recognition"])),
    )


def session_from_row(row: Row) -> Session:
    return Session(
        token_hash=row["token_hash"],
        account_id=row["account_id"],
        created_at=when(row["created_at"]),
        expires_at=when(row["expires_at"]),
        kind=row["kind"],
        name=row["name"],
    )


def identity_link_from_row(row: Row) -> IdentityLink:
    return IdentityLink(
        issuer=row["issuer"],
        subject=row["subject"],
        account_id=row["account_id"],
        created_at=when(row["created_at"]),
        email=row["email"],
    )
