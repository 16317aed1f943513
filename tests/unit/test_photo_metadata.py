"""Capture time, camera, exposure and position read from real files, and never a failed upload
for a tag that lies."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from imagerepo.adapters import photo_metadata as pm
from imagerepo.adapters.pillow_inspector import PillowImageInspector
from imagerepo.domain.photos import Location, PhotoInfo
from tests import images

pillow_heif = pytest.importorskip("pillow_heif")


def inspect(data: bytes, tmp_path: Path) -> Any:
    path = tmp_path / "upload"
    path.write_bytes(data)
    return PillowImageInspector().inspect(path).photo


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_camera_file_gives_its_time_with_offset_camera_exposure_and_position(fmt: str, tmp_path: Path) -> None:
    photo = inspect(images.photo(fmt), tmp_path)
    assert photo.taken_at == datetime(2023, 6, 14, 18, 22, 5, tzinfo=timezone(timedelta(hours=2)))
    assert (photo.camera.make, photo.camera.model, photo.camera.lens) == (
        "Canon",
        "Canon EOS 5D Mark IV",
        "EF24-70mm f/2.8L II USM",
    )
    assert (photo.exposure.iso, photo.exposure.f_number, photo.exposure.exposure_time, photo.exposure.focal_length) == (
        400,
        2.8,
        0.004,
        50.0,
    )
    assert photo.location.latitude == pytest.approx(48.8584, abs=1e-5)
    assert photo.location.longitude == pytest.approx(2.2945, abs=1e-5)


def test_a_heic_photo_gives_its_metadata(tmp_path: Path) -> None:
    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (20, 160, 60)).save(
        out, "HEIF", exif=images.photo_exif(gps=(-33.8568, 151.2153)).tobytes()
    )
    photo = inspect(out.getvalue(), tmp_path)
    assert photo.taken_at is not None
    assert photo.taken_at.utcoffset() == timedelta(hours=2)
    assert photo.location.latitude == pytest.approx(-33.8568, abs=1e-5)
    assert photo.location.longitude == pytest.approx(151.2153, abs=1e-5)


def test_without_an_offset_the_time_is_naive(tmp_path: Path) -> None:
    photo = inspect(images.photo(offset=None), tmp_path)
    assert photo.taken_at == datetime(2023, 6, 14, 18, 22, 5)
    assert photo.taken_at.tzinfo is None


@pytest.mark.parametrize("gps", [(-22.9519, -43.2105), (40.6892, -74.0445), (-16.5, 179.9999), (64.5, -179.9999)])
def test_positions_in_every_hemisphere_and_by_the_antimeridian(gps: tuple[float, float], tmp_path: Path) -> None:
    photo = inspect(images.photo(gps=gps), tmp_path)
    assert (photo.location.latitude, photo.location.longitude) == pytest.approx(gps, abs=1e-5)


def test_create_date_is_used_when_the_original_time_is_missing() -> None:
    info = pm.parse({}, {pm.DATETIME_DIGITIZED: "2020:01:02 03:04:05", pm.OFFSET_DIGITIZED: "-05:00"}, {})
    assert info.taken_at == datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))


def test_a_png_with_xmp_gives_time_and_position(tmp_path: Path) -> None:
    xmp = images.xmp_packet(**{
        "exif:DateTimeOriginal": "2021-12-25T09:30:00-05:00",
        "exif:GPSLatitude": "40,42.77N",
        "exif:GPSLongitude": "74,0.36W",
        "tiff:Make": "Apple",
    })  # fmt: skip
    photo = inspect(images.png_with_xmp(xmp), tmp_path)
    assert photo.taken_at == datetime(2021, 12, 25, 14, 30, tzinfo=UTC)
    assert (photo.location.latitude, photo.location.longitude) == pytest.approx((40.71283, -74.006), abs=1e-4)
    assert photo.camera.make == "Apple"


@pytest.mark.parametrize(
    ("sub", "gps"),
    [
        ({pm.DATETIME_ORIGINAL: "0000:00:00 00:00:00"}, {}),
        ({pm.DATETIME_ORIGINAL: "    :  :     :  :  "}, {}),
        ({pm.DATETIME_ORIGINAL: "2023:13:45 25:61:61", pm.OFFSET_ORIGINAL: "+99:00"}, {}),
        ({pm.DATETIME_ORIGINAL: b"\xff\xfe"}, {pm.LAT: (IFDRational(1, 0), IFDRational(0), IFDRational(0))}),
        ({}, {pm.LAT_REF: "N", pm.LAT: (IFDRational(0),) * 3, pm.LON_REF: "E", pm.LON: (IFDRational(0),) * 3}),
        ({}, {pm.LAT_REF: "N", pm.LAT: (IFDRational(91), IFDRational(0), IFDRational(0)), pm.LON: 2.0}),
        ({}, {pm.LAT_REF: "Q", pm.LAT: 45.0, pm.LON_REF: "E", pm.LON: 2.0}),
        ({pm.F_NUMBER: IFDRational(1, 0), pm.ISO: -5, pm.EXPOSURE_TIME: "fast"}, {pm.LAT: "north"}),
    ],
)
def test_broken_tags_are_dropped(sub: dict[int, Any], gps: dict[int, Any], tmp_path: Path) -> None:
    info = pm.parse({}, sub, gps)
    assert (info.taken_at, info.exposure, info.location) == (None, None, None)


def test_a_file_with_broken_tags_still_uploads_with_what_is_good(tmp_path: Path) -> None:
    exif = images.photo_exif(taken="2023:02:30 10:00:00")
    exif.get_ifd(0x8825)[2] = (IFDRational(1, 0), IFDRational(0), IFDRational(0))
    photo = inspect(images.encode("JPEG", exif=exif.tobytes()), tmp_path)
    assert photo.taken_at is None
    assert photo.location is None
    assert photo.camera.make == "Canon"


def test_missing_seconds_are_read_as_degrees_and_minutes() -> None:
    info = pm.parse({}, {}, {pm.LAT_REF: "S", pm.LAT: (IFDRational(33), IFDRational(513, 10)), pm.LON_REF: "E",
                             pm.LON: (IFDRational(151), IFDRational(129, 10))})  # fmt: skip
    assert (info.location.latitude, info.location.longitude) == pytest.approx((-33.855, 151.215))


tag_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.binary(max_size=30),
    st.builds(IFDRational, st.integers(-(2**31), 2**31), st.integers(-(2**31), 2**31)),
    st.lists(st.integers() | st.floats() | st.builds(IFDRational, st.integers(), st.integers()), max_size=4).map(tuple),
)  # fmt: skip
tags = st.dictionaries(st.sampled_from([0, 1, 2, 3, 4, 0x010F, 0x0110, *range(0x9003, 0x9013), 0x829A, 0x829D,
                                        0x8827, 0x920A, 0xA434]), tag_values)  # fmt: skip


@given(tags, tags, tags, st.none() | st.text(max_size=200), st.dictionaries(st.text(max_size=20), st.text()))
def test_no_tag_value_makes_the_parser_raise(ifd0: Any, sub: Any, gps: Any, xmp: Any, text: Any) -> None:
    info = pm.parse(ifd0, sub, gps, xmp, text)
    if info.location is not None:
        assert -90 <= info.location.latitude <= 90
        assert -180 <= info.location.longitude <= 180
    if info.taken_at is not None:
        assert pm.MIN_YEAR <= info.taken_at.year <= pm.MAX_YEAR


def _dms(v: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    micro = round(abs(v) * 3600 * 10**6)  # millionths of an arc second, split exactly
    d, rest = divmod(micro, 3600 * 10**6)
    m, s = divmod(rest, 60 * 10**6)
    return IFDRational(d), IFDRational(m), IFDRational(s, 10**6)


@given(st.floats(-90, 90), st.floats(-180, 180))
def test_valid_coordinates_round_trip(lat: float, lon: float) -> None:
    gps = {
        pm.LAT_REF: "S" if lat < 0 else "N",
        pm.LAT: _dms(lat),
        pm.LON_REF: "W" if lon < 0 else "E",
        pm.LON: _dms(lon),
    }
    loc = pm.parse({}, {}, gps).location
    if abs(lat) < 1e-6 and abs(lon) < 1e-6:
        return  # the zero island: dropped on purpose
    assert loc is not None
    assert loc.latitude == pytest.approx(lat, abs=1e-6)
    assert abs(loc.longitude - lon) < 1e-6 or abs(abs(loc.longitude) - 180) < 1e-6


@given(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
    st.integers(min_value=-12 * 60, max_value=14 * 60),
    st.booleans(),
)
def test_forgetting_the_position_forgets_only_the_offset_it_gave(wall: datetime, minutes: int, derived: bool) -> None:
    """An offset the position's zone gave goes with the position; one the camera wrote stays.
    The stored JSON keeps which one it is."""
    taken = wall.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    photo = PhotoInfo(taken_at=taken, location=Location(1.0, 2.0), zone_from_position=derived)
    assert PhotoInfo.from_json(photo.to_json()) == photo
    kept = photo.without_location()
    assert kept.location is None
    assert kept.taken_at == (wall if derived else taken)
    assert not kept.zone_from_position
