"""PillowImageInspector: decides what an upload is from its bytes, and makes thumbnails."""

from __future__ import annotations

import hashlib
import io
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError

from imagerepo.adapters import photo_metadata
from imagerepo.adapters.codecs import optional_formats
from imagerepo.adapters.imaging import allow_pixels
from imagerepo.domain.errors import Busy, InvalidImage, UnsupportedMediaType
from imagerepo.domain.images import InspectedImage
from imagerepo.domain.photos import PhotoInfo
from imagerepo.ports.image_inspector import Thumbnail

_CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "HEIF": "image/heic",
    "AVIF": "image/avif",
}


class DecodeTimeout(InvalidImage):
    """The decode ran past its wall-clock budget and was abandoned."""


class DecodeGate:
    """Bounds how many big images this process decodes at once.

    A few megabytes of upload can ask for a hundred megapixels and seconds of CPU; without a
    bound, a handful of such uploads would hold every request thread. Big decodes queue here
    (for at most ``wait_seconds``, then the upload is refused as busy); small ones never wait.
    """

    def __init__(self, max_concurrent: int = 2, wait_seconds: float = 10.0) -> None:
        self.max_concurrent = max_concurrent
        self.wait_seconds = wait_seconds
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._lock = threading.Lock()
        self.active = 0
        self.peak = 0  # most big decodes seen at once: what the bound promises to keep low

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self.wait_seconds):
            raise Busy("Too many large images are being processed; nothing was changed. Try again shortly.")
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            yield
        finally:
            with self._lock:
                self.active -= 1
            self._slots.release()


_shared_gates: dict[tuple[int, float], DecodeGate] = {}
_shared_lock = threading.Lock()


def shared_gate(max_concurrent: int = 2, wait_seconds: float = 10.0) -> DecodeGate:
    """The process-wide gate for these limits (made on first use, not at import)."""
    with _shared_lock:
        return _shared_gates.setdefault((max_concurrent, wait_seconds), DecodeGate(max_concurrent, wait_seconds))


class _DeadlineFile(io.FileIO):
    """A file whose reads fail once the decode's time budget is spent.

    Pillow's decoders pull compressed data in blocks through read(), so a decode that runs
    too long is abandoned at its next block: it stops using CPU instead of running on.
    """

    deadline = float("inf")

    def read(self, size: int | None = -1, /) -> bytes:
        if time.monotonic() > self.deadline:
            raise DecodeTimeout("The image takes too long to decode.")
        return super().read(size)


class PillowImageInspector:
    def __init__(
        self,
        max_pixels: int = 100_000_000,
        thumbnail_size: int = 480,
        *,
        big_pixels: int = 24_000_000,
        max_big_decodes: int = 2,
        decode_seconds: float = 15.0,
        gate: DecodeGate | None = None,
    ) -> None:
        """``big_pixels``: images over this many pixels take a slot of the process-wide gate
        (``max_big_decodes`` at once); ``decode_seconds``: wall-clock budget of one decode."""
        self.max_pixels = max_pixels
        allow_pixels(max_pixels)
        self.thumbnail_size = thumbnail_size
        self.big_pixels = big_pixels
        self.decode_seconds = decode_seconds
        self.gate = gate or shared_gate(max_big_decodes)
        self.formats = ["JPEG", "PNG", "GIF", "WEBP", *optional_formats()]

    @contextmanager
    def _decoding(self, im: Image.Image, fp: _DeadlineFile) -> Iterator[None]:
        """Holds a gate slot for a big image, and starts the time budget once decoding may begin."""
        w, h = im.size
        if w * h > self.big_pixels:
            with self.gate.slot():
                fp.deadline = time.monotonic() + self.decode_seconds
                yield
        else:
            fp.deadline = time.monotonic() + self.decode_seconds
            yield

    def accepted_content_types(self) -> list[str]:
        return [_CONTENT_TYPES[f] for f in self.formats]

    def _open(self, path: Path) -> tuple[Image.Image, _DeadlineFile]:
        fp = _DeadlineFile(path, "rb")
        try:
            im = self._open_fp(fp)
        except BaseException:
            fp.close()
            raise
        return im, fp

    def _open_fp(self, fp: IO[bytes]) -> Image.Image:
        try:
            with warnings.catch_warnings():
                # Pillow's warning comes at its own limit; the size check below is ours and says more.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im = Image.open(fp, formats=self.formats)
        except UnidentifiedImageError as e:
            raise UnsupportedMediaType(
                "This file is not an image in an accepted format (JPEG, PNG, GIF, WebP)."
            ) from e
        except Image.DecompressionBombError as e:
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
        im, fp = self._open(path)
        try:
            fmt = im.format or ""
            try:
                with self._decoding(im, fp), warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    im.load()  # decodes the first frame fully: truncation and corruption show here
            except DecodeTimeout:
                raise
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
                raise InvalidImage(f"The image has too many pixels (limit {self.max_pixels}).") from e
            except (OSError, SyntaxError, ValueError, EOFError) as e:
                raise InvalidImage("The image is truncated or corrupt.") from e
            w, h = im.size
            orientation = im.getexif().get(0x0112, 1) if fmt in ("JPEG", "WEBP", "PNG") else 1
            if orientation in (5, 6, 7, 8):
                w, h = h, w  # report the size as the image is shown
            photo = photo_metadata.read(im)
        finally:
            im.close()
            fp.close()
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        return InspectedImage(
            content_type=_CONTENT_TYPES[fmt], format=fmt, width=w, height=h, size_bytes=size,
            sha256=digest.hexdigest(), photo=photo,
        )

    def open(self, path: Path) -> BinaryIO:
        return path.open("rb")

    def photo_info(self, data: bytes) -> PhotoInfo:
        try:
            im = self._open_fp(io.BytesIO(data))
        except (InvalidImage, UnsupportedMediaType):  # the file says nothing we can read
            return PhotoInfo()
        with im:
            return photo_metadata.read(im)

    def thumbnail(self, path: Path) -> Thumbnail:
        im, fp = self._open(path)
        try:
            with self._decoding(im, fp):
                return self._thumbnail(im)
        finally:
            im.close()
            fp.close()

    def _thumbnail(self, im: Image.Image) -> Thumbnail:
        box = (self.thumbnail_size, self.thumbnail_size)
        if im.format == "JPEG":
            im.draft("RGB", (box[0] * 2, box[1] * 2))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                shown = ImageOps.exif_transpose(im)
        except DecodeTimeout:
            raise
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
