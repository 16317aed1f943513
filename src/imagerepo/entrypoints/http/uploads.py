"""Streams a multipart upload to a temporary file, enforcing the size limit while reading."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import multipart

from imagerepo.domain.errors import TooLarge, ValidationFailed

FIELD = "file"
# One part header line (Content-Disposition with the filename) may be this long: room for a
# 10,000-character non-Latin filename percent- or UTF-8-encoded; clean_filename then shortens it.
MAX_HEADER_BYTES = 64 * 1024
MAX_HEADER_COUNT = 16
# Room for multipart boundaries and part headers on top of the file itself.
ENVELOPE_BYTES = 4 * MAX_HEADER_BYTES


@attrs.define
class ReceivedFile:
    path: Path
    filename: str
    declared_type: str
    size: int
    sha256: str = ""  # of the bytes written, computed while they were read


    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _bad(message: str) -> ValidationFailed:
    return ValidationFailed(message, {"file": [message]})


async def receive_file(
    content_type: str, content_length: str | None, chunks: AsyncIterator[bytes], *, max_bytes: int, tmp_dir: Path | None
) -> ReceivedFile:
    """Read the ``file`` field of a multipart/form-data body into a temporary file.

    Refuses with TooLarge as soon as the declared length or the bytes read pass the limit, so an
    oversize body is never read whole. The file's SHA-256 is computed on the way, so the
    duplicate check needs no second pass over the file.
    """
    ctype, options = multipart.parse_options_header(content_type or "")
    if ctype != "multipart/form-data" or not options.get("boundary"):
        raise _bad("Send the image as multipart/form-data with a field named 'file'.")
    if content_length:
        try:
            declared = int(content_length)
        except ValueError:
            raise _bad("The Content-Length header is not a number.") from None
        if declared > max_bytes + ENVELOPE_BYTES:
            raise TooLarge(max_bytes)
    parser = multipart.PushMultipartParser(
        options["boundary"], max_header_size=MAX_HEADER_BYTES, max_header_count=MAX_HEADER_COUNT
    )
    fd, name = tempfile.mkstemp(prefix="upload-", dir=tmp_dir)
    out = os.fdopen(fd, "wb")
    received: ReceivedFile | None = None
    digest = hashlib.sha256()
    in_file = False
    finished = False
    total = 0
    try:
        async for chunk in chunks:
            total += len(chunk)
            if total > max_bytes + ENVELOPE_BYTES:
                raise TooLarge(max_bytes)
            for event in parser.parse(chunk):
                if isinstance(event, multipart.MultipartSegment):
                    if event.name == FIELD and received is not None:  # never store one and drop the rest
                        raise _bad("Send one image per request: the form has more than one field named 'file'.")
                    in_file = event.name == FIELD and received is None
                    if in_file:
                        received = ReceivedFile(Path(name), event.filename or "", event.content_type or "", 0)
                elif event is None:
                    if in_file:
                        finished = True
                    in_file = False
                elif in_file and received is not None:
                    received.size += len(event)
                    if received.size > max_bytes:
                        raise TooLarge(max_bytes)
                    out.write(event)
                    digest.update(event)
        parser.close()
    except multipart.MultipartError as e:
        out.close()
        os.unlink(name)
        raise _bad(f"The multipart body is malformed: {e}") from e
    except BaseException:
        out.close()
        os.unlink(name)
        raise
    out.close()
    if received is None or not finished:
        os.unlink(name)
        raise _bad("The form has no field named 'file'.")
    received.sha256 = digest.hexdigest()
    return received
