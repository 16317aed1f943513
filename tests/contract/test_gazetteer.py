"""Gazetteer contract: the fake and the offline gazetteer over packaged data name places and
zones the same way; the real one reads nothing until its first lookup and never the network."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta
from typing import Any

import pytest

from imagerepo.adapters.gazetteer import OfflineGazetteer
from imagerepo.adapters.memory import FakeGazetteer
from imagerepo.ports.gazetteer import Gazetteer

_real = OfflineGazetteer()  # loaded once for the module: the data take about a second to read


@pytest.fixture(params=["fake", "offline"])
def gazetteer(request: pytest.FixtureRequest) -> Any:
    return FakeGazetteer() if request.param == "fake" else _real


def test_fits_the_port(gazetteer: Any) -> None:
    assert isinstance(gazetteer, Gazetteer)


@pytest.mark.parametrize(
    ("position", "city", "country", "code"),
    [
        ((48.8584, 2.2945), "Paris", "France", "FR"),  # the Eiffel Tower, nearer a suburb's centre than Paris's
        ((-33.8568, 151.2153), "Sydney", "Australia", "AU"),
        ((40.6892, -74.0445), "New York City", "United States", "US"),
    ],
)
def test_names_the_city_region_and_country(gazetteer: Any, position: tuple[float, float], city: str, country: str,
                                           code: str) -> None:  # fmt: skip
    place = gazetteer.place(*position)
    assert (place.city, place.country, place.country_code) == (city, country, code)
    assert place.region


def test_both_sides_of_the_antimeridian_are_the_same_country(gazetteer: Any) -> None:
    east, west = gazetteer.place(-18.0, 179.9), gazetteer.place(-18.0, -179.9)
    assert east.country_code == west.country_code == "FJ"


@pytest.mark.parametrize(
    ("position", "offset"),
    [((48.8584, 2.2945), 2), ((-33.8568, 151.2153), 10), ((40.6892, -74.0445), -4)],
)
def test_the_zone_gives_the_offset_in_force(gazetteer: Any, position: tuple[float, float], offset: int) -> None:
    assert gazetteer.utc_offset(*position, datetime(2023, 6, 14, 12, 0)) == timedelta(hours=offset)


def test_the_offline_gazetteer_follows_summer_time() -> None:
    assert _real.utc_offset(48.8584, 2.2945, datetime(2023, 1, 14, 12, 0)) == timedelta(hours=1)


def test_the_offline_gazetteer_reads_nothing_before_its_first_lookup_and_never_the_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the gazetteer tried the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    fresh = OfflineGazetteer()
    assert not fresh.loaded
    assert fresh.place(51.5007, -0.1246).country_code == "GB"
    assert fresh.loaded
