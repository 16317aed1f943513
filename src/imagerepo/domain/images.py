"""Images and their analysis: the entities, blob keys and display names."""

from __future__ import annotations

import base64
import enum
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from imagerepo.domain.colors import Lab, parse_hex, rgb_to_lab
from imagerepo.domain.photos import Camera, Exposure, Location, PhotoInfo
from imagerepo.domain.similarity import Embedding, Fingerprint

# Formats accepted for upload; HEIC/AVIF join when their codecs are installed.
ACCEPTED_CONTENT_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
_FORMAT_NAMES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WebP",
                 "image/heic": "HEIC", "image/avif": "AVIF"}


def format_names(content_types: Sequence[str]) -> str:
    """The formats as a person reads them: "JPEG, PNG, GIF, WebP or HEIC"."""
    names = [_FORMAT_NAMES.get(t, t.partition("/")[2].upper()) for t in content_types]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


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
    # Perceptual hash and content embedding (domain.similarity), kept beside the image, not in it.
    fingerprint: Fingerprint | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain data, e.g. to cross from an analysis process without unpickling its output."""
        out: dict[str, Any] = {
            "analyzer": self.analyzer,
            "description": self.description,
            "tags": [[t.name, t.confidence] for t in self.tags],
            "colors": [[c.hex, c.fraction, c.name] for c in self.colors],
            "text": self.text,
            "extra": dict(self.extra),
        }
        if self.fingerprint is not None:
            fp, emb = self.fingerprint, self.fingerprint.embedding
            out["fingerprint"] = {
                "phash": fp.phash, "embedding": base64.b64encode(emb.codes).decode() if emb else None,
                "detail": fp.detail,
            }
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AnalysisResult:
        return cls(
            analyzer=data.get("analyzer", ""),
            description=data.get("description", ""),
            tags=tuple(Tag(n, float(c)) for n, c in data.get("tags", ())),
            colors=tuple(Color(h, float(f), n) for h, f, n in data.get("colors", ())),
            text=data.get("text", ""),
            extra=dict(data.get("extra") or {}),
            fingerprint=_fingerprint_from_json(data.get("fingerprint")),
        )


def _fingerprint_from_json(data: Mapping[str, Any] | None) -> Fingerprint | None:
    if not data:
        return None
    emb = data.get("embedding")
    phash, detail = data.get("phash"), data.get("detail")
    return Fingerprint(
        phash=int(phash) if phash is not None else None,
        embedding=Embedding(base64.b64decode(emb)) if emb else None,
        detail=int(detail) if detail is not None else None,
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
    photo: PhotoInfo = attrs.field(factory=PhotoInfo)
    phash: int | None = None  # perceptual hash of the decoded image (domain.similarity)


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
    # None: the file was not read for it yet (uploaded before this was kept; see backfill).
    photo: PhotoInfo | None = None

    @property
    def taken_at(self) -> datetime | None:
        return self.photo.taken_at if self.photo else None

    @property
    def camera(self) -> Camera | None:
        return self.photo.camera if self.photo else None

    @property
    def exposure(self) -> Exposure | None:
        return self.photo.exposure if self.photo else None

    @property
    def location(self) -> Location | None:
        return self.photo.location if self.photo else None

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
_MAX_EXTENSION = 10
# Right-to-left overrides and isolates let "gpj.exe" display as "exe.jpg".
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_filename(name: str | None) -> str:
    """A display name: no directories, no control characters, at most 255 characters."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in _BIDI_CONTROLS)
    name = name.strip().strip(".") or "image"
    if len(name) <= MAX_FILENAME_LENGTH:
        return name
    stem, dot, ext = name.rpartition(".")
    if dot and stem and 0 < len(ext) <= _MAX_EXTENSION:  # shorten the name, keep what type it says
        return stem[: MAX_FILENAME_LENGTH - len(ext) - 1].rstrip() + "." + ext
    return name[:MAX_FILENAME_LENGTH]
