"""Labeled duplicate sets made from the allowed development photos (never the evaluation ones).

Each source photo gives its original plus *exact* copies (re-encoded at JPEG qualities down to 60,
resized down to 25%, cropped by a few percent, brightened, desaturated, converted to PNG) and *near*
shots (the frame shifted by a tenth, zoomed in, turned a little: what a burst or a second shot of
the same scene looks like). Different source photos are negatives, including pairs that share a
subject (two cats, two mountain views, two dogs).

Two sets that share no source photo: ``labeled_set()`` (the first: scikit-image's usual photos,
darknet's, lomiri's; fixed transforms; the rules were tuned on it) and ``second_set(seed)`` (other
photos: scikit-image's others, the face photos of scripts/ensure-face-photos.sh, Tux Paint's photo
stamps on white; each transform's parameters drawn per photo from ``seed``, in ranges unlike the
first set's). No threshold was chosen looking at the second set.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import numpy as np
from PIL import Image, ImageEnhance

DARKNET = Path("/usr/share/darknet/data")
LOMIRI = Path("/usr/share/backgrounds")
TUXPAINT = Path("/usr/share/tuxpaint/stamps")
FACE_PHOTOS = Path(os.environ.get("FACE_PHOTOS_DIR", Path(__file__).resolve().parent.parent / "var" / "face-photos"))


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


def second_sources() -> Iterator[tuple[str, Image.Image]]:
    """Photos the first set does not use: scikit-image's other photos (a motorcycle, a galaxy field,
    a retina, a tissue stain, coins, the moon, a clock, cells, three textures), the face photos
    (three of one man: pairs sharing a subject; Tom Hanks' 112-pixel crop is too small) and Tux
    Paint's photo stamps over 150 kB (fruit, trees, vehicles, animals), flattened on white."""
    from skimage import data as sk

    for name in ("stereo_motorcycle", "hubble_deep_field", "retina", "immunohistochemistry", "coins", "moon",
                 "clock", "cell", "brick", "grass", "gravel"):
        try:
            arr = getattr(sk, name)()
        except Exception:  # one scikit-image would have to download is skipped
            continue
        if isinstance(arr, tuple):  # stereo_motorcycle: (left, right, disparity)
            arr = arr[0]
        yield f"skimage-{name}", _bounded(Image.fromarray(arr).convert("RGB"))
    for name in ("biden.jpg", "obama.jpg", "obama2.jpg", "obama3.jpg", "t1.jpg"):
        if (FACE_PHOTOS / name).is_file():
            with Image.open(FACE_PHOTOS / name) as im:
                yield f"faces-{Path(name).stem}", _bounded(im.convert("RGB"))
    for path in sorted(TUXPAINT.glob("**/*.png")):
        if path.stat().st_size > 150_000:
            with Image.open(path) as im:
                stamp = im.convert("RGBA")
            flat = Image.new("RGBA", stamp.size, (255, 255, 255, 255))
            flat.alpha_composite(stamp)
            yield f"tuxpaint-{path.stem}", _bounded(flat.convert("RGB"))


def _bounded(im: Image.Image, side: int = 1024) -> Image.Image:
    if max(im.size) > side:
        im = resized(im, side / max(im.size))
    return im


def second_transforms(rng: np.random.Generator) -> tuple[dict[str, Callable[[Image.Image], bytes]],
                                                         dict[str, Callable[[Image.Image], bytes]]]:
    """The second set's exact and near transforms for one photo, parameters drawn from ``rng``:
    qualities 80-94 and 60-69, scales 0.55-0.7 and 0.25-0.35, crops of 0.5-2.5% a side, contrast,
    darkening, saturation, PNG at 80%; shots moved 5.5-7.5% in any direction, zoomed to 68-78%,
    turned 3-5 degrees either way, and a burst frame (moved 5% the other way, exposure changed a little)."""
    u = rng.uniform
    q_hi, q_lo = int(rng.integers(80, 95)), int(rng.integers(60, 70))
    s_hi, s_lo = u(0.55, 0.7), u(0.25, 0.35)
    crop = [u(0.005, 0.025) for _ in range(4)]
    contrast, darker, saturated = u(0.88, 1.12), u(0.86, 0.95), u(1.1, 1.3)
    angle = u(0.06, 0.075), u(0, 2 * np.pi)
    keep, off = u(0.68, 0.78), (u(-0.03, 0.03), u(-0.03, 0.03))
    turn = u(3, 5) * (1 if rng.integers(0, 2) else -1)
    # The burst frame moves away from the moved shot's side (120-240 degrees from it): two shots
    # whose frames lie a percent or two apart would be the same picture, not two shots.
    burst = angle[1] + u(2 * np.pi / 3, 4 * np.pi / 3), u(0.95, 1.05)
    exact: dict[str, Callable[[Image.Image], bytes]] = {
        "q-high": lambda im: jpeg(im, q_hi),
        "q-low": lambda im: jpeg(im, q_lo),
        "scaled": lambda im: jpeg(resized(im, s_hi), 88),
        "small": lambda im: jpeg(resized(im, s_lo), 88),
        "cropped": lambda im: jpeg(cropped(im, *crop), 90),
        "contrast": lambda im: jpeg(ImageEnhance.Contrast(im).enhance(contrast), 90),
        "darker": lambda im: jpeg(ImageEnhance.Brightness(im).enhance(darker), 90),
        "saturated": lambda im: jpeg(ImageEnhance.Color(im).enhance(saturated), 90),
        "png80": lambda im: png(resized(im, 0.8)),
    }
    near: dict[str, Callable[[Image.Image], bytes]] = {
        "moved": lambda im: jpeg(shifted(im, angle[0] * np.cos(angle[1]), angle[0] * np.sin(angle[1])), 90),
        "zoomed": lambda im: jpeg(shifted(im, off[0], off[1], keep=keep), 90),
        "turned": lambda im: jpeg(im.rotate(turn, resample=Image.Resampling.BICUBIC).crop(
            (im.width // 12, im.height // 12, im.width - im.width // 12, im.height - im.height // 12)), 90),
        "burst": lambda im: jpeg(ImageEnhance.Brightness(
            shifted(im, 0.05 * np.cos(burst[0]), 0.05 * np.sin(burst[0]))).enhance(burst[1]), 90),
    }
    return exact, near


def second_set(seed: int = 2) -> list[Item]:
    """The independent set: other photos, other transform parameters (drawn from ``seed``)."""
    rng = noise(seed)
    items: list[Item] = []
    for source, im in second_sources():
        exact, near = second_transforms(rng)
        items.append(Item(f"{source}/original", source, "original", jpeg(im, 92)))
        items += [Item(f"{source}/{k}", source, "exact", make(im)) for k, make in exact.items()]
        items += [Item(f"{source}/{k}", source, "near", make(im)) for k, make in near.items()]
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
