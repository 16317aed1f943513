"""SessionRepository port: sign-ins and API tokens, stored by the hash of their token."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from imagerepo.domain.accounts import Session


@runtime_checkable
class SessionRepository(Protocol):
    def add(self, session: Session) -> None: ...

    def get(self, token_hash: str) -> Session | None:
        """The session with this token hash, expired or not (the caller checks expiry)."""
        ...

    def delete(self, token_hash: str) -> None:
        """Revoke; deleting an unknown hash is not an error."""
        ...

    def list_for(self, account_id: str, kind: str) -> Sequence[Session]: ...

    def delete_expired(self, now: datetime) -> int:
        """Remove sessions that expired before ``now``; returns how many."""
        ...

    def delete_for_account(self, account_id: str) -> int:
        """Revoke every session and API token of the account, in one step; returns how many."""
        ...
