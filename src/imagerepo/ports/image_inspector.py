"""ImageInspector port: what the bytes are, judged by content only."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

import attrs

from imagerepo.domain.images import InspectedImage
from imagerepo.domain.photos import PhotoInfo


@attrs.frozen
class Thumbnail:
    data: bytes
    content_type: str


@runtime_checkable
class ImageInspector(Protocol):
    def inspect(self, path: Path, *, sha256: str | None = None) -> InspectedImage:
        """Decode and validate the file. Raises UnsupportedMediaType (not a raster image of an
        accepted format) or InvalidImage (truncated, corrupt, too many pixels). ``sha256``: the
        file's hash as its writer computed it from the very bytes it wrote, given back as the
        description's instead of hashing the file again; None: the file is hashed."""
        ...

    def probe(self, path: Path) -> InspectedImage | None:
        """What the file's header alone tells, when its format puts everything there (no pixels
        decoded; ``sha256`` is left empty): the same description :meth:`inspect` will give if the
        file decodes. None when only a decode can tell. Raises like :meth:`inspect` for a file
        that is not an accepted image or has too many pixels; truncation and corruption are for
        :meth:`inspect` to find."""
        ...

    def open(self, path: Path) -> BinaryIO:
        """The file's bytes as inspected, for storing (the caller closes the stream)."""
        ...

    def thumbnail(self, path: Path) -> Thumbnail:
        """A small image with EXIF orientation applied and metadata stripped."""
        ...

    def photo_info(self, data: bytes) -> PhotoInfo:
        """What a stored file says about the photo (capture time, camera, position), read without
        decoding its pixels; PhotoInfo() when it says nothing or is not an image."""
        ...
