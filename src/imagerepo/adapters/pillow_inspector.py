"""PillowImageInspector: decides what an upload is from its bytes, and makes thumbnails."""

from __future__ import annotations

import hashlib
import io
import math
import os
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, BinaryIO, Generic, TypeVar

import attrs
from PIL import Image, UnidentifiedImageError

from imagerepo.adapters import photo_metadata
from imagerepo.adapters.codecs import CONTENT_TYPES, accepted_formats
from imagerepo.adapters.imaging import allow_pixels
from imagerepo.adapters.perceptual_hash import phash_of_image
from imagerepo.domain.errors import Busy, InvalidImage, UnsupportedMediaType
from imagerepo.domain.images import InspectedImage, format_names
from imagerepo.domain.photos import PhotoInfo
from imagerepo.ports.image_inspector import Thumbnail

T = TypeVar("T")


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
    """A file whose reads fail once the decode's time budget is spent, and that hashes what it reads.

    Pillow's decoders pull compressed data in blocks through read(), so a decode that runs
    too long is abandoned at its next block: it stops using CPU instead of running on.
    The bytes read in order are hashed on the way, so the file's SHA-256 needs no second pass:
    :meth:`sha256` hashes only what the decoder skipped or left unread (usually nothing).
    """

    deadline = float("inf")

    def __init__(self, path: Path, mode: str = "rb", *, hashing: bool = True) -> None:
        """``hashing=False``: the file's hash is known already; reads are not hashed."""
        super().__init__(path, mode)
        self._digest = hashlib.sha256()
        self._hashed = 0 if hashing else -1  # bytes [0, _hashed) of the file went into _digest, in order

    def read(self, size: int | None = -1, /) -> bytes:
        if time.monotonic() > self.deadline:
            raise DecodeTimeout("The image takes too long to decode.")
        if self._hashed < 0:
            return super().read(size)
        at = self.tell()
        data = super().read(size)
        if data and at <= self._hashed < at + len(data):
            self._digest.update(memoryview(data)[self._hashed - at :])
            self._hashed = at + len(data)
        return data

    def size(self) -> int:
        return os.fstat(self.fileno()).st_size

    def sha256(self) -> tuple[str, int]:
        """The whole file's SHA-256 and size, reading only the bytes not hashed yet."""
        if self._hashed < 0:
            raise ValueError("this file is not being hashed")
        self.seek(self._hashed)
        while chunk := super().read(1 << 20):
            self._digest.update(chunk)
            self._hashed += len(chunk)
        return self._digest.hexdigest(), self._hashed


class _KeptByFile(Generic[T]):
    """What one call made for a file, until the next call on the same file takes it: a few,
    keyed by file identity (the thumbnail inspect() made, for thumbnail(); the photo metadata
    probe() read, for inspect()).

    The key includes inode, size and modification time, so a file changed or replaced in
    between never gets another file's thumbnail or metadata; they are made afresh instead.
    """

    LIMIT = 16

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple[str, int, int, int], T] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(path: Path) -> tuple[str, int, int, int] | None:
        try:
            st = path.stat()
        except OSError:
            return None
        return str(path), st.st_ino, st.st_size, st.st_mtime_ns

    def put(self, path: Path, value: T) -> None:
        key = self._key(path)
        if key is None:
            return
        with self._lock:
            self._kept[key] = value
            while len(self._kept) > self.LIMIT:
                self._kept.popitem(last=False)

    def take(self, path: Path) -> T | None:
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
        self.formats = list(accepted_formats())
        self._thumbnails = _KeptByFile[Thumbnail]()
        self._photos = _KeptByFile[PhotoInfo]()  # read by probe(), for inspect()

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
        return [CONTENT_TYPES[f] for f in self.formats]

    def _open(self, path: Path, *, hashing: bool = True) -> tuple[Image.Image, _DeadlineFile]:
        fp = _DeadlineFile(path, "rb", hashing=hashing)
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
            accepted = self.accepted_content_types()
            raise UnsupportedMediaType(
                f"This file is not an image in an accepted format ({format_names(accepted)}).", accepted
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

    def probe(self, path: Path) -> InspectedImage | None:
        """A JPEG's description from its header alone (its EXIF comes before the pixels), with
        ``sha256`` empty; None for other formats, whose metadata may follow the pixel data."""
        if path.stat().st_size == 0:
            raise UnsupportedMediaType("The file is empty.", self.accepted_content_types())
        im, fp = self._open(path)
        try:
            if im.format != "JPEG":
                return None
            described = self._described(im, im.size, size=os.fstat(fp.fileno()).st_size, sha256="")
        finally:
            im.close()
            fp.close()
        self._photos.put(path, described.photo)  # the decode that follows need not read it again
        return described

    def inspect(self, path: Path, *, sha256: str | None = None) -> InspectedImage:
        """Decode the file once: that decode validates it and makes its thumbnail.

        A JPEG is decoded at the thumbnail's scale (libjpeg's scaled decoding still reads and
        entropy-decodes every byte, so truncation and corrupt data fail here as in a full
        decode, at a fraction of the cost); other formats are decoded fully. The thumbnail is
        kept for the :meth:`thumbnail` call that follows on the same file.
        """
        if path.stat().st_size == 0:
            raise UnsupportedMediaType("The file is empty.", self.accepted_content_types())
        photo = self._photos.take(path)  # what probe() read from this very file, if it did
        im, fp = self._open(path, hashing=sha256 is None)
        try:
            pixels = im.size
            try:
                with self._decoding(im, fp), warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    self._draft(im)
                    im.load()  # decodes the first frame: truncation and corruption show here
                    small = self._small(im)
                    thumb = self._encode(small)
            except DecodeTimeout:
                raise
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
                raise InvalidImage(f"The image has too many pixels (limit {self.max_pixels}).") from e
            except (OSError, SyntaxError, ValueError, EOFError) as e:
                raise InvalidImage("The image is truncated or corrupt.") from e
            sha256, size = fp.sha256() if sha256 is None else (sha256, fp.size())
            described = self._described(im, pixels, size=size, sha256=sha256, photo=photo)
            # From the small decode: a re-saved copy is told at upload.
            described = attrs.evolve(described, phash=phash_of_image(small))
        finally:
            im.close()
            fp.close()
        self._thumbnails.put(path, thumb)
        return described

    @staticmethod
    def _described(
        im: Image.Image, pixels: tuple[int, int], *, size: int, sha256: str, photo: PhotoInfo | None = None
    ) -> InspectedImage:
        """``pixels``: the file's width and height, as read before any draft-scaled decode;
        ``photo``: the file's photo metadata when already read (else read here)."""
        fmt = im.format or ""
        w, h = pixels
        orientation = im.getexif().get(0x0112, 1) if fmt in ("JPEG", "WEBP", "PNG") else 1
        if orientation in (5, 6, 7, 8):
            w, h = h, w  # report the size as the image is shown
        return InspectedImage(
            content_type=CONTENT_TYPES[fmt], format=fmt, width=w, height=h, size_bytes=size, sha256=sha256,
            photo=photo if photo is not None else photo_metadata.read(im),
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
        """Let libjpeg decode a JPEG at 1/2, 1/4 or 1/8 scale, the smallest that is still at least
        the thumbnail's size (a 4000×3000 photo: 1/8, 500×375 for a 480×360 thumbnail). At 1/8
        each 8×8 block is its average, a box filter that the Lanczos to the thumbnail's size then
        smooths: once encoded within 0.1 dB PSNR of the 1/4-scale path, its pHash within 2 bits."""
        size = _fit(im.size, (self.thumbnail_size, self.thumbnail_size))
        if im.format == "JPEG" and size is not None:
            im.draft("RGB", size)  # Pillow picks the largest reduction that keeps at least ``size``

    def _thumbnail(self, im: Image.Image) -> Thumbnail:
        return self._encode(self._small(im))

    def _small(self, im: Image.Image) -> Image.Image:
        """Reduced first, turned upright after (on the small image), never copied at full size."""
        box = (self.thumbnail_size, self.thumbnail_size)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                turn = _TURNS.get(im.getexif().get(0x0112, 1))
                if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                    rgba = im.convert("RGBA")
                    source = Image.new("RGB", rgba.size, (255, 255, 255))
                    source.paste(rgba, mask=rgba.getchannel("A"))
                else:
                    source = im if im.mode == "RGB" else im.convert("RGB")
                size = _fit(source.size, box)
                # reducing_gap=1.0: a 2×2 box reduction, then Lanczos: half the time of Lanczos
                # alone, and once encoded within 0.3 dB PSNR of it (the same perceptual hash).
                small = source.resize(size, Image.Resampling.LANCZOS, reducing_gap=1.0) if size else source.copy()
        except DecodeTimeout:
            raise
        except (OSError, SyntaxError, ValueError, EOFError) as e:
            raise InvalidImage("The image is truncated or corrupt.") from e
        small.info = {}  # no EXIF, ICC, XMP or comment of the upload goes into the thumbnail
        if turn is not None:
            small = small.transpose(turn)
        return small

    @staticmethod
    def _encode(small: Image.Image) -> Thumbnail:
        out = io.BytesIO()
        # Huffman tables optimized, baseline (not progressive): as small within 2%, and a third of the time.
        small.save(out, "JPEG", quality=82, optimize=True)
        return Thumbnail(out.getvalue(), "image/jpeg")


# EXIF orientation -> the transpose that shows the image upright (as ImageOps.exif_transpose).
_TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _fit(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int] | None:
    """The size Image.thumbnail gives ``size`` within ``box`` (aspect kept); None when it fits already."""
    width, height = size
    x, y = box
    if x >= width and y >= height:
        return None
    aspect = width / height

    def round_aspect(number: float, key: Callable[[int], float]) -> int:
        return max(min(math.floor(number), math.ceil(number), key=key), 1)

    if x / y >= aspect:
        x = round_aspect(y * aspect, key=lambda n: abs(aspect - n / y))
    else:
        y = round_aspect(x / aspect, key=lambda n: 0 if n == 0 else abs(aspect - x / n))
    return x, y
