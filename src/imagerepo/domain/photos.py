"""When and where a photo was taken, and with what: read from the file, named offline."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs

MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip


@attrs.frozen
class Camera:
    make: str | None = None
    model: str | None = None
    lens: str | None = None


@attrs.frozen
class Exposure:
    iso: int | None = None
    f_number: float | None = None
    exposure_time: float | None = None  # seconds
    focal_length: float | None = None  # millimetres


@attrs.frozen
class Location:
    latitude: float
    longitude: float
    city: str | None = None
    region: str | None = None
    country: str | None = None
    country_code: str | None = None

    @property
    def names(self) -> str:
        """The place names, as text a word query looks at."""
        return " ".join(n for n in (self.city, self.region, self.country) if n)


@attrs.frozen
class Place:
    """What a gazetteer says about a position."""

    city: str | None = None
    region: str | None = None
    country: str | None = None
    country_code: str | None = None


@attrs.frozen
class PhotoInfo:
    """What the file says. ``taken_at`` is aware when the file (or its position) gives an offset,
    naive (local wall-clock time) otherwise."""

    taken_at: datetime | None = None
    camera: Camera | None = None
    exposure: Exposure | None = None
    location: Location | None = None
    # taken_at's offset is the zone of ``location``, not the file's: it goes with the position.
    zone_from_position: bool = False

    def without_location(self) -> PhotoInfo:
        """No position, and no offset that was only the position's zone (it names the region)."""
        if self.zone_from_position and self.taken_at is not None:
            wall = self.taken_at.replace(tzinfo=None)
            return attrs.evolve(self, location=None, taken_at=wall, zone_from_position=False)
        return attrs.evolve(self, location=None)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "taken_at": self.taken_at.isoformat() if self.taken_at else None,
            "camera": attrs.asdict(self.camera) if self.camera else None,
            "exposure": attrs.asdict(self.exposure) if self.exposure else None,
            "location": attrs.asdict(self.location) if self.location else None,
        }
        if self.zone_from_position:
            out["zone_from_position"] = True
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PhotoInfo:
        taken = data.get("taken_at")
        cam, exp, loc = data.get("camera"), data.get("exposure"), data.get("location")
        return cls(
            taken_at=datetime.fromisoformat(taken) if taken else None,
            camera=Camera(**cam) if cam else None,
            exposure=Exposure(**exp) if exp else None,
            location=Location(**loc) if loc else None,
            zone_from_position=bool(data.get("zone_from_position", False)),
        )


# Sort keys of the taken_at orders: dated images by their instant (a naive time read as UTC),
# undated ones after all of them in either direction, by upload time. Instants of years 1..9999
# lie within ±2**58 microseconds of the epoch, so the offset keeps the two groups apart.
UNDATED_OFFSET = 2**61
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def instant_key(at: datetime) -> int:
    """Microseconds since the epoch; a naive time counts as UTC."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return (aware - _EPOCH) // timedelta(microseconds=1)


# A local key and the instant key of one time differ by its UTC offset, which is under a day.
LOCAL_REACH = 24 * 3600 * 1_000_000


def local_key(at: datetime) -> int:
    """Microseconds since the epoch of the wall-clock time read as UTC, whatever the offset: the
    photo's own date and time as its page shows them, which plain-date ranges compare with."""
    return instant_key(at.replace(tzinfo=None))


def taken_keys(taken_at: datetime | None, uploaded_at: datetime) -> tuple[int, int]:
    """(descending key, ascending key) of an image in the -taken_at and taken_at orders."""
    if taken_at is not None:
        k = instant_key(taken_at)
        return k, k
    up = instant_key(uploaded_at)
    return up - UNDATED_OFFSET, up + UNDATED_OFFSET


def taken_words(taken_at: datetime | None) -> str:
    """Words a query can find a photo by its date with: the month's name and the year."""
    if taken_at is None:
        return ""
    return f"{MONTHS[taken_at.month - 1]} {taken_at.year}"


def with_zone_offset(taken_at: datetime | None, offset: timedelta | None) -> datetime | None:
    """A naive capture time given the UTC offset of where it was taken (aware times are kept)."""
    if taken_at is None or taken_at.tzinfo is not None or offset is None:
        return taken_at
    return taken_at.replace(tzinfo=timezone(offset))
