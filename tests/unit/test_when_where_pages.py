"""When and where on the pages: the gallery's "Taken" timeline by month, the detail page's facts,
and the search page's place field and date range."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from imagerepo.adapters.memory import ManualClock
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests import images as img
from tests.unit.test_web import sign_up, text_of, upload
from tests.wiring import memory_container


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient[Any]]:
    clock = ManualClock()
    container = memory_container(Settings(data_dir=tmp_path, workers=0, upload_quota=20), clock=clock)
    with TestClient(create_app(container)) as c:
        sign_up(c)
        for name, data in [
            ("paris.jpg", img.photo(taken="2023:06:14 18:22:05", color=(1, 0, 0))),
            ("sydney.jpg", img.photo(taken="2023:06:02 09:00:00", gps=(-33.8568, 151.2153), color=(0, 1, 0))),
            ("winter.jpg", img.photo(taken="2022:01:05 12:00:00", gps=None, color=(0, 0, 1))),
            ("scan.png", img.png()),
        ]:
            assert upload(c, (name, data, "image/jpeg")).status_code == 201
            clock.advance(60)
        yield c


def test_the_taken_timeline_groups_by_month_newest_first(client: TestClient[Any]) -> None:
    page = client.get("/gallery?view=taken").text
    timeline = page[page.index('id="timeline"'):]
    months = re.findall(r'<h2 id="month-\d+">([^<]+)</h2>', timeline)
    assert months == ["June 2023", "January 2022", "No date"]
    order = re.findall(r'(paris|sydney|winter|scan)\.(?:jpg|png)', timeline)
    assert list(dict.fromkeys(order)) == ["paris", "sydney", "winter", "scan"]
    assert 'aria-current="page">Taken' in page


def test_the_uploaded_view_stays_newest_upload_first(client: TestClient[Any]) -> None:
    page = client.get("/gallery").text
    assert 'id="timeline"' not in page
    order = re.findall(r'(paris|sydney|winter|scan)\.(?:jpg|png)', page)
    assert list(dict.fromkeys(order)) == ["scan", "winter", "sydney", "paris"]


def test_the_detail_page_shows_date_camera_exposure_and_place(client: TestClient[Any]) -> None:
    gallery = client.get("/gallery").text
    ids = re.findall(r'href="/images/([0-9a-f-]{36})"', gallery)
    pages = {i: text_of(client.get(f"/images/{i}").text) for i in dict.fromkeys(ids)}
    paris = next(t for t in pages.values() if "paris.jpg" in t)
    assert "Taken 14 Jun 2023, 18:22 +0200" in paris
    assert "Place Paris, Île-de-France, France" in paris
    assert "Camera Canon · Canon EOS 5D Mark IV · EF24-70mm f/2.8L II USM" in paris
    assert "Exposure 1/250 s · f/2.8 · 50 mm · ISO 400" in paris
    scan = next(t for t in pages.values() if "scan.png" in t)
    assert "Taken — Place — Camera — Exposure —" in scan


def test_search_by_place_and_date_range(client: TestClient[Any]) -> None:
    def found(**params: str) -> list[str]:
        page = client.get("/search", params=params).text
        return sorted(set(re.findall(r'(paris|sydney|winter|scan)\.(?:jpg|png)', page)))

    assert found(place="sydney") == ["sydney"]
    assert found(taken_after="2023-06-01", taken_before="2023-06-10") == ["sydney"]
    assert found(taken_after="2023-01-01") == ["paris", "sydney"]
    page = client.get("/search", params={"taken_after": "June"}).text
    assert "taken_after: must be an RFC 3339 date" in text_of(page)


def test_the_date_range_finds_a_photo_by_the_day_its_page_shows(client: TestClient[Any]) -> None:
    """The search page's date pickers send plain dates: "from 1 Jan 2023" finds a photo whose page
    says 1 Jan 2023, though in UTC it was taken on 31 December."""
    tokyo = img.photo(taken="2023:01:01 05:00:00", offset="+09:00", gps=None, color=(1, 1, 0))
    assert upload(client, ("tokyo.jpg", tokyo, "image/jpeg")).status_code == 201
    form = client.get("/search").text
    assert re.search(r'name="taken_after" type="date"', form)
    assert re.search(r'name="taken_before" type="date"', form)

    def found(**params: str) -> list[str]:
        page = client.get("/search", params=params).text
        return sorted(set(re.findall(r"(paris|sydney|winter|tokyo)\.jpg", page)))

    detail = re.findall(r'href="/images/([0-9a-f-]{36})"', client.get("/search", params={"q": "tokyo"}).text)
    assert "Taken 1 Jan 2023, 05:00 +0900" in text_of(client.get(f"/images/{detail[0]}").text)
    assert found(taken_after="2023-01-01", taken_before="2023-01-02") == ["tokyo"]
    assert found(taken_before="2023-01-01") == ["winter"]
