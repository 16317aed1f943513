"""When and where through the API (issue 14): the image fields, /me settings, keep_location,
sorting by capture time, the capture range, place and q search, with real EXIF built by Pillow; on
the in-memory adapters with the fake gazetteer, and on SQLite and PostgreSQL with the offline one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import attrs
import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from imagerepo.adapters.gazetteer import OfflineGazetteer
from imagerepo.adapters.memory import ManualClock
from imagerepo.entrypoints.container import Container
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests import images as img
from tests.integration.stack import fresh_database
from tests.wiring import memory_container, real_container

_GAZETTEER = OfflineGazetteer()  # one load for the module's SQLite and PostgreSQL apps


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient[Any], Any]]:
    """The app on the fakes (with the fake gazetteer), or the real container on SQLite or
    PostgreSQL with the offline gazetteer."""
    clock = ManualClock()
    settings = Settings(data_dir=tmp_path, workers=0, upload_quota=50, local_models=False)
    with ExitStack() as stack:
        if request.param == "memory":
            container = memory_container(settings, clock=clock)
        else:
            if request.param == "postgres":
                url = stack.enter_context(fresh_database(request.getfixturevalue("postgres_dsn")))
                settings = attrs.evolve(settings, database_url=url)
            container = real_container(settings, clock=clock, gazetteer=_GAZETTEER)
        client = stack.enter_context(TestClient(create_app(container)))
        yield client, clock


DEFAULTS = {"face_recognition": False, "keep_location": True}


def signup(client: TestClient[Any], username: str = "alice") -> dict[str, str]:
    assert client.post("/api/v1/accounts", json={"username": username, "password": "correct horse"}).status_code == 201
    r = client.post("/api/v1/sessions", json={"username": username, "password": "correct horse"})
    client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def upload(client: TestClient[Any], auth: dict[str, str], data: bytes, name: str = "photo.jpg") -> Any:
    r = client.post("/api/v1/images", files={"file": (name, data, "application/octet-stream")}, headers=auth)
    assert r.status_code == 201, r.text
    return r.json()


def listed(client: TestClient[Any], auth: dict[str, str], **params: str) -> list[str]:
    r = client.get("/api/v1/images", params=params, headers=auth)
    assert r.status_code == 200, r.text
    return [i["filename"] for i in r.json()["items"]]


def test_a_camera_photo_shows_when_where_and_with_what(env: Any) -> None:
    client, _ = env
    auth = signup(client)
    body = upload(client, auth, img.photo())
    assert body["taken_at"] == "2023-06-14T18:22:05+02:00"
    assert body["camera"] == {"make": "Canon", "model": "Canon EOS 5D Mark IV", "lens": "EF24-70mm f/2.8L II USM"}
    assert body["exposure"] == {"iso": 400, "f_number": 2.8, "exposure_time": 0.004, "focal_length": 50.0}
    loc = body["location"]
    assert (loc["city"], loc["region"], loc["country"]) == ("Paris", "Île-de-France", "France")
    assert loc["country_code"] == "FR"
    assert loc["latitude"] == pytest.approx(48.8584, abs=1e-5)
    assert loc["longitude"] == pytest.approx(2.2945, abs=1e-5)
    assert client.get(f"/api/v1/images/{body['id']}", headers=auth).json()["location"] == loc


def test_a_file_that_says_nothing_has_null_fields(env: Any) -> None:
    client, _ = env
    body = upload(client, signup(client), img.png())
    assert (body["taken_at"], body["camera"], body["exposure"], body["location"]) == (None, None, None, None)


def test_without_an_offset_the_zone_of_the_position_gives_one(env: Any) -> None:
    client, _ = env
    auth = signup(client)
    sydney = upload(client, auth, img.photo(offset=None, gps=(-33.8568, 151.2153)))
    assert sydney["taken_at"] == "2023-06-14T18:22:05+10:00"
    no_place = upload(client, auth, img.photo(offset=None, gps=None, color=(1, 2, 3)))
    assert no_place["taken_at"] == "2023-06-14T18:22:05"


def test_keep_location_off_also_forgets_the_offset_the_position_gave(env: Any) -> None:
    """An offset that came from the position's zone names the region: it goes with the position.
    One the camera wrote stays (it is the file's, like the camera model)."""
    client, _ = env
    auth = signup(client)
    sydney = upload(client, auth, img.photo(offset=None, gps=(-33.8568, 151.2153)))
    assert sydney["taken_at"] == "2023-06-14T18:22:05+10:00"
    paris = upload(client, auth, img.photo(color=(7, 7, 7)))  # the camera wrote +02:00
    assert client.patch("/api/v1/me", json={"keep_location": False}, headers=auth).status_code == 200
    assert client.get(f"/api/v1/images/{sydney['id']}", headers=auth).json()["taken_at"] == "2023-06-14T18:22:05"
    assert client.get(f"/api/v1/images/{paris['id']}", headers=auth).json()["taken_at"] == paris["taken_at"]
    assert listed(client, auth, taken_after="2023-06-14", taken_before="2023-06-15") != []


def test_a_png_with_xmp_is_dated_and_placed(env: Any) -> None:
    client, _ = env
    xmp = img.xmp_packet(**{"exif:DateTimeOriginal": "2021-12-25T09:30:00-05:00",
                            "exif:GPSLatitude": "40,42.77N", "exif:GPSLongitude": "74,0.36W"})  # fmt: skip
    body = upload(client, signup(client), img.png_with_xmp(xmp), "xmp.png")
    assert body["taken_at"] == "2021-12-25T09:30:00-05:00"
    assert body["location"]["city"] == "New York City"


def test_me_has_settings_and_patch_changes_them(env: Any) -> None:
    client, _ = env
    auth = signup(client)
    assert client.get("/api/v1/me", headers=auth).json()["settings"] == DEFAULTS
    r = client.patch("/api/v1/me", json={"face_recognition": True}, headers=auth)
    assert r.status_code == 200
    assert r.json()["settings"] == {"face_recognition": True, "keep_location": True}
    assert client.get("/api/v1/me", headers=auth).json()["settings"]["face_recognition"] is True


@pytest.mark.parametrize(("value", "meant"), [("true", True), ("True", True), ("1", True), (1, True),
                                              ("false", False), ("0", False), (0, False)])
def test_a_setting_may_be_given_as_a_boolean_word_or_digit(env: Any, value: Any, meant: bool) -> None:
    """What docs/api-extensions.md lists: JSON booleans, 0/1, and the strings true/false/0/1."""
    client, _ = env
    auth = signup(client)
    r = client.patch("/api/v1/me", json={"keep_location": value}, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["keep_location"] is meant


@pytest.mark.parametrize("body", [{"keep_location": "no"}, {"keep_location": 2}, {"keep_location": "yes"}, {},
                                  {"nickname": "x"}, [True]])
def test_a_bad_patch_is_refused_and_changes_nothing(env: Any, body: Any) -> None:
    client, _ = env
    auth = signup(client)
    r = client.patch("/api/v1/me", json=body, headers=auth)
    assert r.status_code in (400, 422)
    assert client.get("/api/v1/me", headers=auth).json()["settings"] == DEFAULTS


def test_patch_me_needs_a_sign_in(env: Any) -> None:
    client, _ = env
    assert client.patch("/api/v1/me", json={"keep_location": False}).status_code == 401


def test_keep_location_off_erases_positions_and_stores_no_new_one(env: Any) -> None:
    client, _ = env
    auth, bob = signup(client), signup(client, "bobby")
    kept = upload(client, auth, img.photo())
    bobs = upload(client, bob, img.photo())
    r = client.patch("/api/v1/me", json={"keep_location": False}, headers=auth)
    assert r.json()["settings"]["keep_location"] is False
    again = client.get(f"/api/v1/images/{kept['id']}", headers=auth).json()
    assert again["location"] is None
    assert again["taken_at"] == kept["taken_at"]
    assert listed(client, auth, q="paris") == []
    assert listed(client, auth, place="paris") == []
    assert upload(client, auth, img.photo(color=(9, 9, 9)))["location"] is None
    assert client.get(f"/api/v1/images/{bobs['id']}", headers=bob).json()["location"]["city"] == "Paris"


def _album(client: TestClient[Any], auth: dict[str, str], clock: ManualClock) -> None:
    shots = [
        ("paris.jpg", img.photo(taken="2023:06:14 18:22:05", offset="+02:00", gps=(48.8584, 2.2945), color=(1, 0, 0))),
        ("sydney.jpg", img.photo(taken="2022:01:02 10:00:00", offset="+11:00", gps=(-33.8568, 151.2153),
                                 color=(0, 1, 0))),
        ("fiji.jpg", img.photo(taken="2023:06:01 00:30:00", offset="+12:00", gps=(-18.0, -179.9), color=(0, 0, 1))),
        ("old-scan.png", img.png(color=(5, 5, 5))),
        ("new-scan.png", img.png(color=(6, 6, 6))),
    ]
    for name, data in shots:
        upload(client, auth, data, name)
        clock.advance(60)


def test_sorting_by_capture_time_puts_undated_images_last(env: Any) -> None:
    client, clock = env
    auth = signup(client)
    _album(client, auth, clock)
    assert listed(client, auth, sort="-taken_at") == ["paris.jpg", "fiji.jpg", "sydney.jpg", "new-scan.png",
                                                      "old-scan.png"]  # fmt: skip
    assert listed(client, auth, sort="taken_at") == ["sydney.jpg", "fiji.jpg", "paris.jpg", "old-scan.png",
                                                     "new-scan.png"]  # fmt: skip


def test_capture_range_after_inclusive_before_exclusive(env: Any) -> None:
    client, clock = env
    auth = signup(client)
    _album(client, auth, clock)
    # fiji.jpg was taken on 2023-06-01 at 00:30 +12:00, which is 2023-05-31T12:30Z.
    assert listed(client, auth, sort="taken_at", taken_after="2023-05-31T12:30:00Z") == ["fiji.jpg", "paris.jpg"]
    assert listed(client, auth, sort="taken_at", taken_before="2023-05-31T12:30:00Z") == ["sydney.jpg"]
    # A plain date is the photo's own calendar day, as its page shows it: fiji.jpg's is 1 June.
    assert listed(client, auth, sort="taken_at", taken_after="2023-06-01", taken_before="2024-01-01") == [
        "fiji.jpg", "paris.jpg"]
    assert listed(client, auth, sort="taken_at", taken_before="2023-06-01") == ["sydney.jpg"]


@pytest.mark.parametrize(
    "bad", ["yesterday", "2023-13-01", "2023-06-14T18:22:05", "2023-06-14T18:22+02:00", "0000-01-01"]
)
def test_an_invalid_capture_bound_is_invalid_query(env: Any, bad: str) -> None:
    client, _ = env
    auth = signup(client)
    r = client.get("/api/v1/images", params={"taken_after": bad}, headers=auth)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_query"
    assert "taken_after" in r.json()["error"]["details"]


def test_place_and_q_find_place_names_and_months(env: Any) -> None:
    client, clock = env
    auth = signup(client)
    _album(client, auth, clock)
    assert listed(client, auth, place="paris") == ["paris.jpg"]
    assert listed(client, auth, place="south wales") == ["sydney.jpg"]
    assert listed(client, auth, place="fiji") == ["fiji.jpg"]
    assert listed(client, auth, q="paris") == ["paris.jpg"]
    assert listed(client, auth, q="june 2023", sort="taken_at") == ["fiji.jpg", "paris.jpg"]
    assert listed(client, auth, q="australia january") == ["sydney.jpg"]


def test_thumbnails_carry_no_metadata_and_the_original_is_served_unchanged(env: Any) -> None:
    import io

    from PIL import Image

    client, _ = env
    auth = signup(client)
    data = img.photo()
    body = upload(client, auth, data)
    thumb = client.get(body["thumbnail_url"])
    assert thumb.status_code == 200
    shown = Image.open(io.BytesIO(thumb.content))
    assert dict(shown.getexif()) == {}
    assert b"Exif" not in thumb.content
    assert "xmp" not in shown.info
    assert "icc_profile" not in shown.info
    assert client.get(body["url"]).content == data


def test_the_embedded_app_starts_without_reading_the_gazetteer(tmp_path: Path) -> None:
    container = Container()
    container.settings.override(providers.Object(Settings(data_dir=tmp_path, workers=0, local_models=False)))
    with TestClient(create_app(container)) as client:
        auth = signup(client)
        upload(client, auth, img.png())  # no position: nothing to look up
        gazetteer = container.gazetteer()
        assert isinstance(gazetteer, OfflineGazetteer)
        assert not gazetteer.loaded
        upload(client, auth, img.photo())
        assert gazetteer.loaded
