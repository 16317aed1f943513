"""One image, presented: the API's ImageOut and a page's card, from the same fields (the CLI and
export can take them from here too)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from imagerepo.domain.images import Analysis, Image
from imagerepo.domain.images_service import ImageUrls
from imagerepo.domain.people import Face, Person, PersonSummary
from imagerepo.domain.people_service import PeopleService

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


class PersonRefOut(msgspec.Struct):
    id: str
    name: str | None


class PersonOut(msgspec.Struct):
    id: str
    name: str | None
    face_count: int
    cover_url: str | None
    hidden: bool = False


def person_out(people: PeopleService, s: PersonSummary) -> PersonOut:
    return PersonOut(id=s.person.id, name=s.person.name, face_count=s.face_count, cover_url=people.cover_url(s),
                     hidden=s.person.hidden)


class BoxOut(msgspec.Struct):
    x: float
    y: float
    w: float
    h: float


class FaceOut(msgspec.Struct):
    """A face on an image: its box as fractions of the image, and who it is (null: no one yet)."""

    id: str
    box: BoxOut
    person: PersonRefOut | None

    @classmethod
    def of(cls, face: Face, person: Person | None) -> FaceOut:
        b = face.box
        return cls(id=face.id, box=BoxOut(round(b.x, 4), round(b.y, 4), round(b.w, 4), round(b.h, 4)),
                   person=PersonRefOut(person.id, person.name) if person else None)


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


class CameraOut(msgspec.Struct, omit_defaults=True):
    make: str | None
    model: str | None
    lens: str | None = None  # absent when unknown


class ExposureOut(msgspec.Struct):
    iso: int | None
    f_number: float | None
    exposure_time: float | None
    focal_length: float | None


class LocationOut(msgspec.Struct):
    latitude: float
    longitude: float
    city: str | None
    region: str | None
    country: str | None
    country_code: str | None


def taken_at_text(at: datetime | None) -> str | None:
    """RFC 3339 with the photo's own offset; without one, the wall-clock time alone."""
    if at is None:
        return None
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


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
    taken_at: str | None = None
    camera: CameraOut | None = None
    exposure: ExposureOut | None = None
    location: LocationOut | None = None
    people: list[PersonRefOut] = msgspec.field(default_factory=list)

    @classmethod
    def of(cls, image: Image, urls: ImageUrls, people: Sequence[Person] = ()) -> ImageOut:
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
            taken_at=taken_at_text(image.taken_at),
            camera=CameraOut(c.make, c.model, c.lens) if (c := image.camera) else None,
            exposure=ExposureOut(e.iso, e.f_number, e.exposure_time, e.focal_length) if (e := image.exposure) else None,
            location=LocationOut(p.latitude, p.longitude, p.city, p.region, p.country, p.country_code)
            if (p := image.location) else None,
            people=[PersonRefOut(id=x.id, name=x.name) for x in people],
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


def image_card(image: Image) -> dict[str, Any]:
    """What a page shows of one image; hex colors are checked so they can go into SVG attributes."""
    a = image.analysis
    return {
        "id": image.id,
        "filename": image.filename,
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
        **photo_card(image),
    }


def photo_card(image: Image) -> dict[str, Any]:
    """When, where and with what, as a page shows them ("" when unknown)."""
    taken, cam, exp, loc = image.taken_at, image.camera, image.exposure, image.location
    exposure = []
    if exp is not None:
        if exp.exposure_time:
            t = exp.exposure_time
            exposure.append(f"1/{round(1 / t)} s" if t < 1 else f"{t:g} s")
        if exp.f_number:
            exposure.append(f"f/{exp.f_number:g}")
        if exp.focal_length:
            exposure.append(f"{exp.focal_length:g} mm")
        if exp.iso:
            exposure.append(f"ISO {exp.iso}")
    return {
        "taken_at": taken,
        "taken_iso": taken_at_text(taken) or "",
        "taken_label": taken.strftime("%-d %b %Y, %H:%M") + (taken.strftime(" %z") if taken.tzinfo else "")
        if taken else "",
        "month": taken.strftime("%B %Y") if taken else "No date",
        "camera_text": " · ".join(p for p in (cam.make, cam.model, cam.lens) if p) if cam else "",
        "exposure_text": " · ".join(exposure),
        "place_text": ", ".join(p for p in (loc.city, loc.region, loc.country) if p) if loc else "",
    }
