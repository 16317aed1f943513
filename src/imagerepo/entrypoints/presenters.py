"""One image, presented: the API's ImageOut and a page's card, from the same fields (the CLI and
export can take them from here too)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import msgspec

from imagerepo.domain.images import Analysis, Image
from imagerepo.domain.images_service import ImageUrls

_HEX = re.compile(r"#[0-9a-fA-F]{6}")


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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

    @classmethod
    def of(cls, a: Analysis) -> AnalysisOut:
        return cls(
            status=a.status.value,
            analyzer=a.analyzer,
            description=a.description,
            tags=[TagOut(t.name, round(t.confidence, 4)) for t in a.tags],
            colors=[ColorOut(c.hex, round(c.fraction, 4), c.name) for c in a.colors],
            text=a.text,
            error=a.error or None,
            analyzed_at=rfc3339(a.updated_at) if a.updated_at else None,
        )


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
            analysis=AnalysisOut.of(image.analysis),
        )


def export_record(image: Image, file: str) -> dict[str, Any]:
    """An image as the CLI's export writes it: the API's fields, the exported file instead of URLs."""
    return {
        "id": image.id, "file": file, "filename": image.filename, "content_type": image.content_type,
        "width": image.width, "height": image.height, "size_bytes": image.size_bytes, "sha256": image.sha256,
        "uploaded_at": rfc3339(image.uploaded_at),
        "analysis": msgspec.to_builtins(AnalysisOut.of(image.analysis)),
    }


def filesize(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"  # pragma: no cover


def image_card(image: Image, urls: ImageUrls) -> dict[str, Any]:
    """What a page shows of one image; hex colors are checked so they can go into SVG attributes."""
    a = image.analysis
    return {
        "id": image.id,
        "filename": image.filename,
        "url": urls.url,
        "thumbnail_url": urls.thumbnail_url,
        "uploaded_at": image.uploaded_at,
        "uploaded_iso": image.uploaded_at.astimezone(UTC).isoformat(timespec="seconds"),
        "content_type": image.content_type,
        "width": image.width,
        "height": image.height,
        "size_bytes": image.size_bytes,
        "status": a.status.value,
        "analyzer": a.analyzer,
        "description": a.description,
        "alt": a.description or f"Image {image.filename}",
        "tags": [{"name": t.name, "confidence": t.confidence} for t in a.tags],
        "colors": [
            {"hex": c.hex.lower(), "fraction": c.fraction, "name": c.name}
            for c in a.colors
            if _HEX.fullmatch(c.hex)
        ],
        "text": a.text,
        "error": a.error,
    }
