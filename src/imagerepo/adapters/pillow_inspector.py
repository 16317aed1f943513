"""PillowImageInspector: decides what an upload is from its bytes, and makes thumbnails."""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from imagerepo.domain.errors import InvalidImage, UnsupportedMediaType
from imagerepo.domain.images import InspectedImage
from imagerepo.ports.image_inspector import Thumbnail

_CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "HEIF": "image/heic",
    "AVIF": "image/avif",
}


def _optional_formats() -> list[str]:
    """HEIC/AVIF when pillow-heif is installed (and Pillow's own AVIF plugin when built with it)."""
    extra = []
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        extra.append("HEIF")
    except ImportError:
        pass
    from PIL import features

    if features.check("avif"):
        extra.append("AVIF")
    return extra


class PillowImageInspector:
    def __init__(self, max_pixels: int = 100_000_000, thumbnail_size: int = 480) -> None:
        self.max_pixels = max_pixels
        self.thumbnail_size = thumbnail_size
        self.formats = ["JPEG", "PNG", "GIF", "WEBP", *_optional_formats()]

    def accepted_content_types(self) -> list[str]:
        return [_CONTENT_TYPES[f] for f in self.formats]

    def _open(self, path: Path) -> Image.Image:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                im = Image.open(path, formats=self.formats)
        except UnidentifiedImageError as e:
            raise UnsupportedMediaType(
                "This file is not an image in an accepted format (JPEG, PNG, GIF, WebP)."
            ) from e
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise InvalidImage(f"The image has too many pixels (limit {self.max_pixels}).") from e
        except (OSError, SyntaxError, ValueError) as e:
            raise InvalidImage("The image is corrupt and cannot be read.") from e
        w, h = im.size
        if w < 1 or h < 1 or w * h > self.max_pixels:
            im.close()
            raise InvalidImage(
                f"The image is {w}×{h} pixels; the limit is {self.max_pixels} pixels.",
                {"width": w, "height": h, "max_pixels": self.max_pixels},
            )
        return im

    def inspect(self, path: Path) -> InspectedImage:
        if path.stat().st_size == 0:
            raise UnsupportedMediaType("The file is empty.")
        im = self._open(path)
        try:
            fmt = im.format or ""
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    im.load()  # decodes the first frame fully: truncation and corruption show here
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
                raise InvalidImage(f"The image has too many pixels (limit {self.max_pixels}).") from e
            except (OSError, SyntaxError, ValueError, EOFError) as e:
                raise InvalidImage("The image is truncated or corrupt.") from e
            w, h = im.size
            orientation = im.getexif().get(0x0112, 1) if fmt in ("JPEG", "WEBP", "PNG") else 1
            if orientation in (5, 6, 7, 8):
                w, h = h, w  # report the size as the image is shown
        finally:
            im.close()
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        return InspectedImage(
            content_type=_CONTENT_TYPES[fmt], format=fmt, width=w, height=h, size_bytes=size,
            sha256=digest.hexdigest(),
        )

    def thumbnail(self, path: Path) -> Thumbnail:
        im = self._open(path)
        try:
            box = (self.thumbnail_size, self.thumbnail_size)
            if im.format == "JPEG":
                im.draft("RGB", (box[0] * 2, box[1] * 2))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    shown = ImageOps.exif_transpose(im)
            except (OSError, SyntaxError, ValueError, EOFError) as e:
                raise InvalidImage("The image is truncated or corrupt.") from e
            if shown.mode in ("RGBA", "LA", "PA") or (shown.mode == "P" and "transparency" in shown.info):
                rgba = shown.convert("RGBA")
                flat = Image.new("RGB", rgba.size, (255, 255, 255))
                flat.paste(rgba, mask=rgba.getchannel("A"))
                shown = flat
            else:
                shown = shown.convert("RGB")
            shown.thumbnail(box, Image.Resampling.LANCZOS)
            out = io.BytesIO()
            # A fresh RGB image carries no EXIF, ICC or comments: metadata is stripped.
            shown.save(out, "JPEG", quality=82, optimize=True, progressive=True)
            return Thumbnail(out.getvalue(), "image/jpeg")
        finally:
            im.close()
