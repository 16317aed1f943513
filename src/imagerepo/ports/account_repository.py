"""AccountRepository port."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from imagerepo.domain.accounts import Account, AccountSettings


@runtime_checkable
class AccountRepository(Protocol):
    def add(self, account: Account) -> None:
        """Store a new account. Raises UsernameTaken when the name exists in any letter case."""
        ...

    def get(self, account_id: str) -> Account | None: ...

    def get_by_username(self, username: str) -> Account | None:
        """Look up by name without regard to case."""
        ...

    def set_password_hash(self, account_id: str, password_hash: str) -> None: ...

    def set_quota_limit(self, account_id: str, limit: int | None) -> None:
        """None returns the account to the deployment's default quota."""
        ...

    def set_settings(self, account_id: str, settings: AccountSettings) -> None:
        """Store the account's settings."""
        ...

    def list(self) -> Sequence[Account]:
        """Every account, oldest first."""
        ...

    def delete(self, account_id: str) -> bool:
        """Remove the account row (its username becomes free); False when there was none."""
        ...
