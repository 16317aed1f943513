"""Sign-in with an external identity provider: provider settings, linked identities, usernames."""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from imagerepo.domain.accounts import USERNAME_MAX, USERNAME_MIN, Account, IssuedToken, username_problems
from imagerepo.domain.errors import UsernameTaken
from imagerepo.ports.account_repository import AccountRepository
from imagerepo.ports.clock import Clock
from imagerepo.ports.identity_link_repository import IdentityLinkRepository
from imagerepo.ports.password_hasher import PasswordHasher

_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_.\-]+")


@attrs.frozen
class OidcProviderConfig:
    """One OpenID Connect provider, from IMAGEREPO_OIDC_<NAME>_* variables."""

    name: str  # lower case; appears in URLs
    issuer: str
    client_id: str
    client_secret: str = attrs.field(default="", repr=False)
    scopes: str = "openid profile email"
    display_name: str = ""

    @property
    def label(self) -> str:
        return self.display_name or self.name.replace("_", " ").title()


@attrs.frozen
class IdentityLink:
    """An account's identity at a provider: (issuer, subject) is unique and never reassigned."""

    issuer: str
    subject: str
    account_id: str
    created_at: datetime
    email: str = ""


def username_base(claims: Mapping[str, Any]) -> str:
    """A readable username from ID token claims, following the credential rules (not unique yet)."""
    for key in ("preferred_username", "nickname", "email", "name", "given_name"):
        raw = claims.get(key)
        if not isinstance(raw, str) or not raw.strip():
            continue
        if key == "email":
            raw = raw.split("@", 1)[0]
        ascii_ = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
        clean = _NOT_ALLOWED.sub("-", ascii_.strip()).strip("-.")[: USERNAME_MAX - 4]
        if len(clean) >= USERNAME_MIN:
            return clean
    return "user"


def username_candidates(base: str, attempts: int = 20) -> list[str]:
    """``base``, then base-2 … base-9, then random suffixes; each valid by the rules."""
    base = base[: USERNAME_MAX - 7]
    names = [base] + [f"{base}-{i}" for i in range(2, 10)]
    names += [f"{base}-{secrets.token_hex(3)}" for _ in range(attempts - len(names))]
    return [n for n in names if not username_problems(n)]


class ExternalSignIn:
    """Turns a verified (issuer, subject) into an account: the linked one, or a new one."""

    def __init__(self, accounts: AccountRepository, links: IdentityLinkRepository, hasher: PasswordHasher,
                 clock: Clock) -> None:
        self.accounts = accounts
        self.links = links
        self.hasher = hasher
        self.clock = clock

    def account_for(self, issuer: str, subject: str, claims: Mapping[str, Any]) -> tuple[Account, bool]:
        """(account, created). Accounts are linked by issuer and subject only, never by email:
        an email claim can be re-used or unverified at a provider, a subject cannot."""
        link = self.links.get(issuer, subject)
        if link is not None:
            account = self.accounts.get(link.account_id)
            if account is not None:
                return account, False
        # A random password nobody knows: this account signs in through its provider only.
        password_hash = self.hasher.hash(secrets.token_urlsafe(32))
        for name in username_candidates(username_base(claims)):
            account = Account(id=str(uuid.uuid4()), username=name, password_hash=password_hash,
                              created_at=self.clock.now())
            try:
                self.accounts.add(account)
            except UsernameTaken:
                continue
            email = claims.get("email")
            winner = self.links.add(IdentityLink(issuer, subject, account.id, account.created_at,
                                                 email if isinstance(email, str) else ""))
            if winner.account_id != account.id:
                # A concurrent first sign-in of the same person won the race: use its account.
                existing = self.accounts.get(winner.account_id)
                if existing is not None:
                    return existing, False
            return account, True
        raise UsernameTaken(username_base(claims))


@attrs.frozen
class ExternalSignInResult:
    issued: IssuedToken
    created: bool
