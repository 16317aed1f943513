"""Sign-in with an external identity provider: provider settings, linked identities, usernames
(the use case itself: identity_service.py)."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from imagerepo.domain.accounts import USERNAME_MAX, USERNAME_MIN, username_problems

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
