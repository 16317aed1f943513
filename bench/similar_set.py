"""A labeled duplicate set made from the allowed development photos (never the evaluation ones).

Each source photo gives its original plus *exact* copies (re-encoded at JPEG qualities down to 60,
resized down to 25%, cropped by a few percent, brightened, desaturated, converted to PNG) and *near*
shots (the frame shifted by a tenth, zoomed in, turned a little: what a burst or a second shot of
the same scene looks like). Different source photos are negatives, including pairs that share a
subject (two cats, two mountain views, two dogs).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import numpy as np
from PIL import Image, ImageEnhance

DARKNET = Path("/usr/share/darknet/data")
LOMIRI = Path("/usr/share/backgrounds")


@attrs.frozen
class Item:
    name: str
    source: str
    kind: str  # "original", "exact" or "near"
    data: bytes


def sources() -> Iterator[tuple[str, Image.Image]]:
    """The source photos: scikit-image's bundled photos and those of darknet and lomiri-wallpapers."""
    from skimage import data as sk  # (its "cat" is chelsea again: left out)

    for name in ("astronaut", "chelsea", "coffee", "rocket", "camera", "eagle"):  # photos, not textures
        try:
            arr = getattr(sk, name)()
        except Exception:  # an image that scikit-image would have to download is skipped
            continue
        yield f"skimage-{name}", Image.fromarray(arr).convert("RGB")
    for folder in (DARKNET, LOMIRI):
        for path in sorted(folder.glob("*.jpg")):
            with Image.open(path) as im:
                im.draft("RGB", (1024, 1024))
                yield f"{folder.name}-{path.stem}", im.convert("RGB")


def jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def resized(im: Image.Image, scale: float) -> Image.Image:
    return im.resize((max(8, round(im.width * scale)), max(8, round(im.height * scale))), Image.Resampling.LANCZOS)


def cropped(im: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = im.size
    return im.crop((round(w * left), round(h * top), round(w * (1 - right)), round(h * (1 - bottom))))


def shifted(im: Image.Image, dx: float, dy: float, keep: float = 0.85) -> Image.Image:
    """A window of ``keep`` of the frame, moved by (dx, dy) of the frame from the centre."""
    w, h = im.size
    cw, ch = w * keep, h * keep
    x0 = (w - cw) / 2 + dx * w
    y0 = (h - ch) / 2 + dy * h
    return im.crop((round(x0), round(y0), round(x0 + cw), round(y0 + ch)))


EXACT: dict[str, Callable[[Image.Image], bytes]] = {
    "q95": lambda im: jpeg(im, 95),
    "q75": lambda im: jpeg(im, 75),
    "q60": lambda im: jpeg(im, 60),
    "half": lambda im: jpeg(resized(im, 0.5), 85),
    "quarter": lambda im: jpeg(resized(im, 0.25), 85),
    "crop3": lambda im: jpeg(cropped(im, 0.02, 0.03, 0.01, 0.02), 90),
    "brighter": lambda im: jpeg(ImageEnhance.Brightness(im).enhance(1.12), 90),
    "muted": lambda im: jpeg(ImageEnhance.Color(im).enhance(0.75), 90),
    "png": png,
}

NEAR: dict[str, Callable[[Image.Image], bytes]] = {
    "shift-right": lambda im: jpeg(shifted(im, 0.07, 0.0), 90),
    "shift-down": lambda im: jpeg(shifted(im, -0.03, 0.07), 90),
    "zoom": lambda im: jpeg(shifted(im, 0.02, 0.02, keep=0.7), 90),
    "turned": lambda im: jpeg(im.rotate(4, resample=Image.Resampling.BICUBIC, expand=False).crop(
        (im.width // 12, im.height // 12, im.width - im.width // 12, im.height - im.height // 12)), 90),
}


def labeled_set() -> list[Item]:
    items: list[Item] = []
    for source, im in sources():
        items.append(Item(f"{source}/original", source, "original", jpeg(im, 92)))
        items += [Item(f"{source}/{k}", source, "exact", make(im)) for k, make in EXACT.items()]
        items += [Item(f"{source}/{k}", source, "near", make(im)) for k, make in NEAR.items()]
    return items


def label(a: Item, b: Item) -> str | None:
    """What the pair is: "exact" (the same picture), "near" (the same scene) or None."""
    if a.source != b.source:
        return None
    if "near" in (a.kind, b.kind):
        return "near"
    return "exact"


def noise(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)
