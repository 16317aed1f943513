"""BlobStore port: encrypted-at-rest object storage with temporary URLs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO, Protocol, runtime_checkable


@runtime_checkable
class BlobStore(Protocol):
    def put(self, key: str, data: BinaryIO, content_type: str) -> None:
        """Store the stream under ``key`` (encrypted at rest). Raises ServiceUnavailable on
        failure, leaving nothing readable under the key."""
        ...

    def get(self, key: str) -> bytes:
        """The plaintext bytes. Raises BlobMissing when absent or tampered with."""
        ...

    def delete(self, key: str) -> None:
        """Remove; absent keys are not an error. Raises ServiceUnavailable on failure."""
        ...

    def exists(self, key: str) -> bool: ...

    def url(self, key: str, expires_at: datetime, *, filename: str, content_type: str) -> str:
        """A URL that serves the object until ``expires_at`` and then never again; it names no
        reusable credential and cannot be changed to reach another key."""
        ...

    def keys(self) -> Iterator[str]:
        """Every stored key (for the orphan sweeper)."""
        ...

    def check(self) -> None:
        """Raise ServiceUnavailable when the store cannot be reached."""
        ...
