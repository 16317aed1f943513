"""Wire shapes of API.md, as msgspec structs (they also give the OpenAPI document its schemas)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from imagerepo.domain.accounts import Account, QuotaUse
from imagerepo.domain.images import Image
from imagerepo.domain.images_service import ImageUrls


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class ErrorBody(msgspec.Struct):
    code: str
    message: str
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class ErrorOut(msgspec.Struct):
    error: ErrorBody


class CredentialsIn(msgspec.Struct, forbid_unknown_fields=False):
    username: str | None = None
    password: str | None = None


class AccountOut(msgspec.Struct):
    id: str
    username: str
    created_at: str

    @classmethod
    def of(cls, a: Account) -> AccountOut:
        return cls(id=a.id, username=a.username, created_at=rfc3339(a.created_at))


class TokenOut(msgspec.Struct):
    token: str
    expires_at: str


class QuotaOut(msgspec.Struct):
    used: int
    limit: int


class MeOut(msgspec.Struct):
    id: str
    username: str
    quota: QuotaOut

    @classmethod
    def of(cls, a: Account, q: QuotaUse) -> MeOut:
        return cls(id=a.id, username=a.username, quota=QuotaOut(used=q.used, limit=q.limit))


class TagOut(msgspec.Struct):
    name: str
    confidence: float


class ColorOut(msgspec.Struct):
    hex: str
    fraction: float
    name: str


class AnalysisOut(msgspec.Struct):
    status: str
    analyzer: str
    description: str
    tags: list[TagOut]
    colors: list[ColorOut]
    text: str
    error: str | None = None
    analyzed_at: str | None = None


class ImageOut(msgspec.Struct):
    id: str
    filename: str
    content_type: str
    width: int
    height: int
    size_bytes: int
    sha256: str
    uploaded_at: str
    url: str
    thumbnail_url: str
    url_expires_at: str
    analysis: AnalysisOut

    @classmethod
    def of(cls, image: Image, urls: ImageUrls) -> ImageOut:
        a = image.analysis
        return cls(
            id=image.id,
            filename=image.filename,
            content_type=image.content_type,
            width=image.width,
            height=image.height,
            size_bytes=image.size_bytes,
            sha256=image.sha256,
            uploaded_at=rfc3339(image.uploaded_at),
            url=urls.url,
            thumbnail_url=urls.thumbnail_url,
            url_expires_at=rfc3339(urls.expires_at),
            analysis=AnalysisOut(
                status=a.status.value,
                analyzer=a.analyzer,
                description=a.description,
                tags=[TagOut(t.name, round(t.confidence, 4)) for t in a.tags],
                colors=[ColorOut(c.hex, round(c.fraction, 4), c.name) for c in a.colors],
                text=a.text,
                error=a.error or None,
                analyzed_at=rfc3339(a.updated_at) if a.updated_at else None,
            ),
        )


class ImagePageOut(msgspec.Struct):
    items: list[ImageOut]
    next_cursor: str | None


class StatusOut(msgspec.Struct, omit_defaults=True):
    status: str
    failing: list[str] = msgspec.field(default_factory=list)
    details: dict[str, str] = msgspec.field(default_factory=dict)


class RulesOut(msgspec.Struct):
    username: list[str]
    password: list[str]
