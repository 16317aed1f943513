"""PillowImageInspector: decides what an upload is from its bytes, and makes thumbnails."""

from __future__ import annotations

import hashlib
import io
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError

from imagerepo.adapters import photo_metadata
from imagerepo.adapters.codecs import optional_formats
from imagerepo.adapters.imaging import allow_pixels
from imagerepo.adapters.perceptual_hash import phash_of_bytes
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


class _KeptThumbnails:
    """Thumbnails made by inspect(), until thumbnail() takes them: a few, keyed by file identity.

    The key includes inode, size and modification time, so a file changed or replaced after
    inspection never gets another file's thumbnail; it is made afresh instead.
    """

    LIMIT = 16

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple[str, int, int, int], Thumbnail] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(path: Path) -> tuple[str, int, int, int] | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return str(path), st.st_ino, st.st_size, st.st_mtime_ns

    def put(self, path: Path, thumb: Thumbnail) -> None:
        key = self._key(path)
        if key is None:
            return
        with self._lock:
            self._kept[key] = thumb
            while len(self._kept) > self.LIMIT:
                self._kept.popitem(last=False)

    def take(self, path: Path) -> Thumbnail | None:
        key = self._key(path)
        with self._lock:
            return self._kept.pop(key, None) if key is not None else None


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
        self._thumbnails = _KeptThumbnails()

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
        """Decode the file once: that decode validates it and makes its thumbnail.

        A JPEG is decoded at the thumbnail's scale (libjpeg's scaled decoding still reads and
        entropy-decodes every byte, so truncation and corrupt data fail here as in a full
        decode, at a fraction of the cost); other formats are decoded fully. The thumbnail is
        kept for the :meth:`thumbnail` call that follows on the same file.
        """
        if path.stat().st_size == 0:
            raise UnsupportedMediaType("The file is empty.")
        im, fp = self._open(path)
        try:
            fmt = im.format or ""
            w, h = im.size
            try:
                with self._decoding(im, fp), warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    self._draft(im)
                    im.load()  # decodes the first frame: truncation and corruption show here
                    thumb = self._thumbnail(im)
            except DecodeTimeout:
                raise
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
                raise InvalidImage(f"The image has too many pixels (limit {self.max_pixels}).") from e
            except (OSError, SyntaxError, ValueError, EOFError) as e:
                raise InvalidImage("The image is truncated or corrupt.") from e
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
        self._thumbnails.put(path, thumb)
        return InspectedImage(
            content_type=_CONTENT_TYPES[fmt], format=fmt, width=w, height=h, size_bytes=size,
            sha256=digest.hexdigest(), photo=photo,
            phash=phash_of_bytes(thumb.data),  # from the small decode: a re-saved copy is told at upload
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
        kept = self._thumbnails.take(path)
        if kept is not None:
            return kept
        im, fp = self._open(path)
        try:
            with self._decoding(im, fp):
                self._draft(im)
                return self._thumbnail(im)
        finally:
            im.close()
            fp.close()

    def _draft(self, im: Image.Image) -> None:
        """Let libjpeg decode a JPEG at 1/2, 1/4 or 1/8 scale, never below twice the thumbnail's
        size: the Lanczos reduction that follows still has two source pixels per pixel."""
        w, h = im.size
        need = 2 * self.thumbnail_size
        if im.format == "JPEG" and max(w, h) > need:
            im.draft("RGB", (max(1, w * need // max(w, h)), max(1, h * need // max(w, h))))

    def _thumbnail(self, im: Image.Image) -> Thumbnail:
        box = (self.thumbnail_size, self.thumbnail_size)
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
