"""LoginThrottle port: slows password guessing without locking anyone out for good."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable


@runtime_checkable
class LoginThrottle(Protocol):
    """Counts sign-in attempts named by ``keys`` (account, client address) by domain.throttle's rules.

    An attempt is reserved before its password is checked and ended by ``failed`` or
    ``succeeded``; reserving is atomic, so of many simultaneous attempts no more go ahead than
    the free allowance leaves room for.
    """

    def reserve(self, keys: Sequence[str]) -> int:
        """0: the attempt may go ahead, and counts as a failure until it ends. Otherwise the
        seconds until it may be tried again, and nothing is counted."""
        ...

    def retry_after(self, keys: Sequence[str]) -> int:
        """Seconds until an attempt named by ``keys`` may go ahead; 0 if now. Changes nothing."""
        ...

    def failed(self, keys: Sequence[str]) -> None:
        """The attempt failed: a failure on each of its counters (ending its reservation, if any)."""
        ...

    def succeeded(self, keys: Sequence[str]) -> None:
        """The attempt succeeded: its reservation ends and the account-and-address counter is cleared."""
        ...
