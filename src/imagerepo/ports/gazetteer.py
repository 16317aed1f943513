"""Gazetteer port: the name of the place at a position, and its time zone, found offline."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from imagerepo.domain.photos import Place


@runtime_checkable
class Gazetteer(Protocol):
    def place(self, latitude: float, longitude: float) -> Place | None:
        """The nearest known place (city, region, country, ISO country code); None when none is known."""
        ...

    def utc_offset(self, latitude: float, longitude: float, local: datetime) -> timedelta | None:
        """The UTC offset in force at the position at that local (naive) wall-clock time; None
        when the position's zone is unknown."""
        ...
