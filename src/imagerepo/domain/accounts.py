"""Accounts, sessions and the credential rules of API.md."""

from __future__ import annotations

import re
from datetime import datetime

import attrs

from imagerepo.domain.errors import InvalidCredentialsFormat

USERNAME_MIN, USERNAME_MAX = 3, 32
PASSWORD_MIN, PASSWORD_MAX = 8, 128
_USERNAME_CHARS = re.compile(r"[A-Za-z0-9_.\-]+")

# Shown as hints on the sign-up page and returned by GET /api/v1/rules.
USERNAME_RULES = (
    f"{USERNAME_MIN}–{USERNAME_MAX} characters",
    "only letters, digits, '_', '-' and '.'",
    "unique without regard to case",
)
PASSWORD_RULES = (
    f"{PASSWORD_MIN}–{PASSWORD_MAX} characters",
    "not the same as the username",
    "not only digits",
)


def username_problems(username: str) -> list[str]:
    """Each rule the username breaks, as a sentence; empty when it is valid."""
    problems = []
    if not USERNAME_MIN <= len(username) <= USERNAME_MAX:
        problems.append(f"must be {USERNAME_MIN} to {USERNAME_MAX} characters long")
    # fullmatch on ASCII class: letters outside ASCII are refused on purpose (look-alikes).
    if username and not _USERNAME_CHARS.fullmatch(username):
        problems.append("may contain only letters (a–z, A–Z), digits, '_', '-' and '.'")
    if not username:
        problems.append("is required")
    return problems


def password_problems(password: str, username: str) -> list[str]:
    """Each rule the password breaks, as a sentence; empty when it is valid."""
    problems = []
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        problems.append(f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long")
    if password and password.casefold() == username.casefold():
        problems.append("must not be the same as the username")
    if password and password.isdigit():
        problems.append("must not be only digits")
    if "\x00" in password:
        problems.append("must not contain NUL characters")
    return problems


def validate_credentials(username: object, password: object) -> tuple[str, str]:
    """Return (username, password) or raise InvalidCredentialsFormat listing every broken rule."""
    problems: dict[str, list[str]] = {}
    if not isinstance(username, str):
        problems["username"] = ["is required and must be a string"]
        username = ""
    if not isinstance(password, str):
        problems["password"] = ["is required and must be a string"]
        password = ""
    if "username" not in problems and (p := username_problems(username)):
        problems["username"] = p
    if "password" not in problems and (p := password_problems(password, username)):
        problems["password"] = p
    if problems:
        raise InvalidCredentialsFormat(problems)
    return username, password


def normalize_username(username: str) -> str:
    """Uniqueness key: usernames are unique without regard to case."""
    return username.casefold()


@attrs.frozen
class AccountSettings:
    """What the owner chose. ``keep_location`` off: positions are neither stored nor shown."""

    keep_location: bool = True
    face_recognition: bool = False


@attrs.frozen
class Account:
    id: str
    username: str
    password_hash: str
    created_at: datetime
    # None means "the deployment's default quota".
    quota_limit: int | None = None
    settings: AccountSettings = attrs.field(factory=AccountSettings)


@attrs.frozen
class Session:
    """A sign-in. Only the SHA-256 of the token is kept, so a stolen database cannot sign in."""

    token_hash: str
    account_id: str
    created_at: datetime
    expires_at: datetime
    kind: str = "session"
    name: str = ""

    def is_valid(self, now: datetime) -> bool:
        return now < self.expires_at


@attrs.frozen
class IssuedToken:
    """What sign-in returns: the token in clear, shown once."""

    token: str
    expires_at: datetime
    account: Account


@attrs.frozen
class QuotaUse:
    used: int
    limit: int
