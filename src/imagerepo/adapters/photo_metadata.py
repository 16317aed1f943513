"""Capture time, camera, exposure and GPS position read from an image's EXIF, XMP or PNG text.

``parse`` is pure (tag mappings in, PhotoInfo out); ``read`` gathers the mappings from an open
Pillow image. Files carry any value in any tag: every value is checked, a bad one is dropped and
never fails the upload.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from fractions import Fraction
from typing import Any

from PIL import Image

from imagerepo.domain.photos import Camera, Exposure, Location, PhotoInfo

# IFD0
MAKE, MODEL = 0x010F, 0x0110
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
# Exif IFD
DATETIME_ORIGINAL, DATETIME_DIGITIZED = 0x9003, 0x9004
OFFSET_TIME, OFFSET_ORIGINAL, OFFSET_DIGITIZED = 0x9010, 0x9011, 0x9012
EXPOSURE_TIME, F_NUMBER, ISO, FOCAL_LENGTH = 0x829A, 0x829D, 0x8827, 0x920A
LENS_MAKE, LENS_MODEL = 0xA433, 0xA434
# GPS IFD
LAT_REF, LAT, LON_REF, LON = 1, 2, 3, 4

MIN_YEAR, MAX_YEAR = 1826, 2200  # the first photograph; and far enough ahead
_MAX_TEXT = 100
_EXIF_DATE = re.compile(
    r"(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:[.,]\d+)?\s*(Z|[+\-]\d{2}:?\d{2})?$"
)
_ISO_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?\s*(Z|[+\-]\d{2}:?\d{2})?$"
)
_OFFSET = re.compile(r"(Z)|([+\-])(\d{2}):?(\d{2})$")
_XMP_DATES = ("exif:DateTimeOriginal", "xmp:CreateDate", "photoshop:DateCreated", "exif:DateTimeDigitized")
_XMP_COORD = re.compile(r"(\d{1,3}),(\d{1,2}(?:\.\d+)?)(?:,(\d{1,2}(?:\.\d+)?))?([NSEW])$")


def number(value: Any) -> float | None:
    """A finite number from an int, float, rational, (numerator, denominator) pair or one-item
    tuple; None for anything else (zero denominators, NaN, text...)."""
    if isinstance(value, tuple | list):
        if len(value) == 1:
            return number(value[0])
        if len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return value[0] / value[1] if value[1] else None
        return None
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def text(value: Any) -> str | None:
    """Printable text of at most 100 characters; None when empty or not text."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    cleaned = "".join(ch for ch in value.replace("\x00", " ") if ch.isprintable()).strip()
    return cleaned[:_MAX_TEXT] or None


def parse_offset(value: Any) -> timedelta | None:
    s = text(value)
    m = _OFFSET.fullmatch(s) if s else None
    if m is None:
        return None
    if m.group(1):
        return timedelta(0)
    hours, minutes = int(m.group(3)), int(m.group(4))
    if hours > 14 or minutes > 59:
        return None
    sign = -1 if m.group(2) == "-" else 1
    return sign * timedelta(hours=hours, minutes=minutes)


def _datetime(parts: tuple[str | None, ...], offset: timedelta | None) -> datetime | None:
    y, mo, d, h, mi, s = (int(p) if p else 0 for p in parts)
    if not MIN_YEAR <= y <= MAX_YEAR:
        return None
    try:
        at = datetime(y, mo, d, h, mi, s)
    except ValueError:
        return None
    return at.replace(tzinfo=timezone(offset)) if offset is not None else at


def parse_exif_date(value: Any, offset: Any = None) -> datetime | None:
    """EXIF's "YYYY:MM:DD HH:MM:SS" (with an offset tag or an inline offset); None when blank or bad."""
    s = text(value)
    m = _EXIF_DATE.fullmatch(s) if s else None
    if m is None:
        return None
    inline = parse_offset(m.group(7)) if m.group(7) else None
    return _datetime(m.groups()[:6], inline if inline is not None else parse_offset(offset))


def parse_iso_date(value: Any) -> datetime | None:
    """XMP's ISO 8601 date, date-time or date-time with offset."""
    s = text(value)
    m = _ISO_DATE.fullmatch(s) if s else None
    if m is None:
        return None
    offset = parse_offset(m.group(7)) if m.group(7) else None
    return _datetime(m.groups()[:6], offset)


def coordinate(value: Any, ref: Any, limit: float) -> float | None:
    """Degrees from EXIF's (degrees, minutes[, seconds]) rationals (or plain degrees) and N/S/E/W."""
    parts = list(value) if isinstance(value, tuple | list) else [value]
    nums = [number(p) for p in parts]
    if not 1 <= len(nums) <= 3 or any(n is None or n < 0 for n in nums):
        return None
    deg = float(sum(n / 60**i for i, n in enumerate(nums) if n is not None))
    if any((n or 0) >= 60 for n in nums[1:]):
        return None
    r = text(ref)
    sign = -1 if r and r[:1].upper() in ("S", "W") else 1
    if r and r[:1].upper() not in ("N", "S", "E", "W"):
        return None
    if deg > limit:
        return None
    return round(sign * deg, 7)


def position(lat: float | None, lon: float | None) -> Location | None:
    """A position, or None when a part is missing or it is the 0°, 0° that broken devices write."""
    if lat is None or lon is None or (lat == 0 and lon == 0):
        return None
    return Location(latitude=lat, longitude=lon if lon != -180 else 180.0)


def _xmp_value(xmp: str, name: str) -> str | None:
    m = re.search(re.escape(name) + r'="([^"]*)"', xmp) or re.search(
        "<" + re.escape(name) + r">([^<]*)</" + re.escape(name) + ">", xmp
    )
    return m.group(1) if m else None


def _xmp_coordinate(value: str | None, limit: float) -> float | None:
    m = _XMP_COORD.fullmatch(value.strip()) if value else None
    if m is None:
        return None
    deg, minutes, seconds = int(m.group(1)), float(m.group(2)), float(m.group(3) or 0)
    if minutes >= 60 or seconds >= 60:
        return None
    v = deg + minutes / 60 + seconds / 3600
    if v > limit:
        return None
    return round(-v if m.group(4) in "SW" else v, 7)


def _in_range(value: float | None, low: float, high: float) -> float | None:
    return value if value is not None and low <= value <= high else None


def parse(
    ifd0: Mapping[int, Any],
    exif: Mapping[int, Any],
    gps: Mapping[int, Any],
    xmp: str | None = None,
    png_text: Mapping[str, Any] | None = None,
) -> PhotoInfo:
    """What the tags say; every tag that is missing or broken is left out."""
    taken = parse_exif_date(exif.get(DATETIME_ORIGINAL), exif.get(OFFSET_ORIGINAL) or exif.get(OFFSET_TIME))
    if taken is None:
        taken = parse_exif_date(exif.get(DATETIME_DIGITIZED), exif.get(OFFSET_DIGITIZED) or exif.get(OFFSET_TIME))
    if taken is None and xmp:
        for name in _XMP_DATES:
            if (taken := parse_iso_date(_xmp_value(xmp, name))) is not None:
                break
    if taken is None and png_text:
        raw = text(png_text.get("Creation Time"))
        taken = parse_iso_date(raw) or parse_exif_date(raw)
        if taken is None and raw:
            try:
                taken = parsedate_to_datetime(raw)
            except (TypeError, ValueError, IndexError):
                taken = None
            if taken is not None and not MIN_YEAR <= taken.year <= MAX_YEAR:
                taken = None

    make, model = text(ifd0.get(MAKE)), text(ifd0.get(MODEL))
    lens = text(exif.get(LENS_MODEL))
    if xmp:
        make = make or text(_xmp_value(xmp, "tiff:Make"))
        model = model or text(_xmp_value(xmp, "tiff:Model"))
        lens = lens or text(_xmp_value(xmp, "exifEX:LensModel") or _xmp_value(xmp, "aux:Lens"))
    camera = Camera(make, model, lens) if make or model or lens else None

    iso_raw = exif.get(ISO)
    iso_num = number(iso_raw[0] if isinstance(iso_raw, tuple | list) and iso_raw else iso_raw)
    iso = int(iso_num) if iso_num is not None and 1 <= iso_num <= 10_000_000 else None
    f_number = _in_range(number(exif.get(F_NUMBER)), 0.5, 256)
    exposure_time = _in_range(number(exif.get(EXPOSURE_TIME)), 1e-6, 86_400)
    focal = _in_range(number(exif.get(FOCAL_LENGTH)), 0.1, 10_000)
    exposure = None
    if iso or f_number or exposure_time or focal:
        exposure = Exposure(
            iso=iso,
            f_number=round(f_number, 2) if f_number else None,
            exposure_time=_round_time(exposure_time),
            focal_length=round(focal, 1) if focal else None,
        )

    location = position(
        coordinate(gps.get(LAT), gps.get(LAT_REF), 90.0), coordinate(gps.get(LON), gps.get(LON_REF), 180.0)
    )
    if location is None and xmp:
        location = position(
            _xmp_coordinate(_xmp_value(xmp, "exif:GPSLatitude"), 90.0),
            _xmp_coordinate(_xmp_value(xmp, "exif:GPSLongitude"), 180.0),
        )
    return PhotoInfo(taken_at=taken, camera=camera, exposure=exposure, location=location)


def _round_time(seconds: float | None) -> float | None:
    """Exposure time to what a camera means (1/250 stays 0.004, not 0.0040000001)."""
    if seconds is None:
        return None
    return float(Fraction(seconds).limit_denominator(100_000))


def read(im: Image.Image) -> PhotoInfo:
    """What an opened image's metadata says; never raises (a file that lies gets PhotoInfo())."""
    try:
        exif = im.getexif()
        ifd0 = dict(exif)
        sub = dict(exif.get_ifd(EXIF_IFD))
        gps = dict(exif.get_ifd(GPS_IFD))
    except Exception:  # any exception: the tags come from the user's file
        ifd0, sub, gps = {}, {}, {}
    xmp_raw = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    xmp = xmp_raw.decode("utf-8", "replace") if isinstance(xmp_raw, bytes) else xmp_raw
    png_text = {k: v for k, v in im.info.items() if isinstance(k, str) and isinstance(v, str)}
    try:
        return parse(ifd0, sub, gps, xmp if isinstance(xmp, str) else None, png_text)
    except Exception:  # a value no check foresaw: the upload goes on without metadata
        return PhotoInfo()
