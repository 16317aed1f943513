"""The demo account of the seed (``user`` / ``userPass``), filled with a few real sample photos."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from PIL import Image as PILImage
from PIL import ImageDraw

from imagerepo.domain.accounts import Account
from imagerepo.domain.accounts_service import AccountService
from imagerepo.domain.errors import DuplicateImage, QuotaExceeded, UsernameTaken
from imagerepo.domain.images_service import ImageService

DEMO_USERNAME, DEMO_PASSWORD = "user", "userPass"

# scikit-image's bundled photos that are public domain or CC0 (see skimage.data's docstrings):
# NASA's astronaut and rocket, Rachel Michetti's coffee (CC0), Stefan van der Walt's cat Chelsea (CC0).
SKIMAGE_PHOTOS = ("coffee", "chelsea", "astronaut", "rocket")


@attrs.frozen
class DemoReport:
    account: Account
    created: bool
    source: str
    added: tuple[str, ...]
    already_there: tuple[str, ...]


def sample_photos() -> tuple[str, list[tuple[str, bytes]]]:
    """(source description, [(filename, JPEG bytes)]): scikit-image's photos when it is installed,
    else a few pictures drawn with Pillow (the output says which)."""
    try:
        import skimage.data as data
    except ImportError:
        return "Pillow-drawn sample pictures (install scikit-image for real photos)", _drawn()
    photos = []
    for name in SKIMAGE_PHOTOS:
        out = io.BytesIO()
        PILImage.fromarray(getattr(data, name)()).convert("RGB").save(out, "JPEG", quality=90)
        photos.append((f"{name}.jpg", out.getvalue()))
    return "scikit-image sample photos (public domain / CC0)", photos


def _drawn() -> list[tuple[str, bytes]]:
    scenes: list[tuple[str, Callable[[ImageDraw.ImageDraw], None], tuple[int, int, int]]] = [
        ("sunset.png", lambda d: d.ellipse((220, 160, 420, 360), fill=(255, 170, 40)), (240, 110, 70)),
        ("sea.png", lambda d: d.rectangle((0, 200, 640, 400), fill=(20, 90, 170)), (150, 200, 240)),
        ("forest.png", lambda d: d.polygon([(320, 40), (160, 360), (480, 360)], fill=(20, 110, 40)), (220, 235, 210)),
    ]
    out = []
    for name, draw, bg in scenes:
        im = PILImage.new("RGB", (640, 400), bg)
        draw(ImageDraw.Draw(im))
        buf = io.BytesIO()
        im.save(buf, "PNG")
        out.append((name, buf.getvalue()))
    return out


def seed_demo(accounts: AccountService, images: ImageService, tmp_dir: Path) -> DemoReport:
    """Create ``user``/``userPass`` if missing and add the sample photos it lacks (idempotent).

    An existing ``user`` keeps its password: re-running never resets anyone's credentials.
    """
    created = True
    try:
        account = accounts.sign_up(DEMO_USERNAME, DEMO_PASSWORD)
    except UsernameTaken:
        account, created = accounts.get_by_username(DEMO_USERNAME), False
    source, photos = sample_photos()
    added, there = [], []
    tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_dir) as tmp:
        for name, data in photos:
            path = Path(tmp) / name
            path.write_bytes(data)
            try:
                images.upload(account, name, path)
            except DuplicateImage:
                there.append(name)
            except QuotaExceeded:
                break
            else:
                added.append(name)
    return DemoReport(account, created, source, tuple(added), tuple(there))


def seed_from_container(container: Any) -> DemoReport:
    settings = container.settings()
    return seed_demo(container.account_service(), container.image_service(), settings.data_dir / "tmp")
