"""External sign-in service: a verified (issuer, subject) from an identity provider becomes a session."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from typing import Any

import attrs

from imagerepo.domain.accounts import Account, IssuedToken
from imagerepo.domain.accounts_service import AccountService
from imagerepo.domain.errors import UsernameTaken
from imagerepo.domain.identity import IdentityLink, username_base, username_candidates
from imagerepo.ports.account_repository import AccountRepository
from imagerepo.ports.clock import Clock
from imagerepo.ports.identity_link_repository import IdentityLinkRepository
from imagerepo.ports.password_hasher import PasswordHasher


@attrs.frozen
class ExternalSignInResult:
    issued: IssuedToken
    created: bool


class ExternalSignInService:
    """Signs in the account linked to a provider's identity, creating it on first sign-in."""

    def __init__(self, accounts: AccountRepository, links: IdentityLinkRepository, hasher: PasswordHasher,
                 clock: Clock, sessions: AccountService) -> None:
        self._accounts = accounts
        self._links = links
        self._hasher = hasher
        self._clock = clock
        self._sessions = sessions

    def sign_in(self, issuer: str, subject: str, claims: Mapping[str, Any]) -> ExternalSignInResult:
        """A new session for the identity's account (made now if this is its first sign-in).
        The caller has verified the ID token: ``issuer`` and ``subject`` are the provider's word."""
        account, created = self.account_for(issuer, subject, claims)
        return ExternalSignInResult(self._sessions.issue(account, kind="session"), created)

    def account_for(self, issuer: str, subject: str, claims: Mapping[str, Any]) -> tuple[Account, bool]:
        """(account, created). Accounts are linked by issuer and subject only, never by email:
        an email claim can be re-used or unverified at a provider, a subject cannot."""
        link = self._links.get(issuer, subject)
        if link is not None:
            account = self._accounts.get(link.account_id)
            if account is not None:
                return account, False
        # A random password nobody knows: this account signs in through its provider only.
        password_hash = self._hasher.hash(secrets.token_urlsafe(32))
        for name in username_candidates(username_base(claims)):
            account = Account(id=str(uuid.uuid4()), username=name, password_hash=password_hash,
                              created_at=self._clock.now())
            try:
                self._accounts.add(account)
            except UsernameTaken:
                continue
            email = claims.get("email")
            winner = self._links.add(IdentityLink(issuer, subject, account.id, account.created_at,
                                                  email if isinstance(email, str) else ""))
            if winner.account_id != account.id:
                # A concurrent first sign-in of the same person won the race: use its account.
                existing = self._accounts.get(winner.account_id)
                if existing is not None:
                    return existing, False
            return account, True
        raise UsernameTaken(username_base(claims))
