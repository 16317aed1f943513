"""IdentityLinkRepository port: which account an identity-provider subject signs in to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from imagerepo.domain.identity import IdentityLink


@runtime_checkable
class IdentityLinkRepository(Protocol):
    def add(self, link: IdentityLink) -> IdentityLink:
        """Store the link unless (issuer, subject) is linked already; returns the stored link,
        which is the earlier one when two first sign-ins race. Raises ServiceUnavailable."""
        ...

    def get(self, issuer: str, subject: str) -> IdentityLink | None: ...

    def list_for(self, account_id: str) -> Sequence[IdentityLink]:
        """The account's links, oldest first."""
        ...

    def delete_for(self, account_id: str) -> int:
        """Remove every link of the account; returns how many went."""
        ...
