"""LoginThrottle port: slows password guessing without locking anyone out for good."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class LoginThrottle(Protocol):
    def retry_after(self, keys: Sequence[str]) -> int:
        """Seconds until any of ``keys`` (account, client address) may try again; 0 if now."""
        ...

    def failed(self, keys: Sequence[str]) -> None: ...

    def succeeded(self, keys: Sequence[str]) -> None: ...
