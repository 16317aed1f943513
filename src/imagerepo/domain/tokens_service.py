"""Personal access tokens: long-lived bearer tokens for scripts, kept as sessions of kind api_token."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import attrs

from imagerepo.domain.accounts import Account, Session
from imagerepo.domain.accounts_service import hash_token
from imagerepo.domain.errors import NotFound, TokenLifetimeTooLong, Unauthenticated, ValidationFailed
from imagerepo.ports.clock import Clock
from imagerepo.ports.session_repository import SessionRepository

API_TOKEN_KIND = "api_token"  # noqa: S105 - a session kind, not a secret
# A recognisable prefix lets secret scanners and people tell an imagerepo token at a glance.
TOKEN_PREFIX = "irp_"  # noqa: S105 - a public marker, not a secret
NAME_MAX = 100
# Every token expires: a forgotten one stops working on its own. Migration 0060 gave the tokens of
# older versions (which could live for ever) the default lifetime from the upgrade on.
DEFAULT_LIFETIME_DAYS = 90
MAX_LIFETIME_DAYS = 365


def token_id(token_hash: str) -> str:
    """The public id of a token, derived from (not equal to) its stored hash.

    The stored hash is what the database is keyed on; the id shown in lists and URLs is a
    second hash of it, so neither a list response nor a log line hands out the lookup key.
    """
    return hashlib.sha256(b"imagerepo token id\x00" + token_hash.encode()).hexdigest()[:24]


@attrs.frozen
class ApiToken:
    id: str
    name: str
    created_at: datetime
    expires_at: datetime

    @classmethod
    def from_session(cls, session: Session) -> ApiToken:
        return cls(
            id=token_id(session.token_hash),
            name=session.name,
            created_at=session.created_at,
            expires_at=session.expires_at,
        )


@attrs.frozen
class CreatedToken:
    """The token in clear is only ever here, once."""

    token: str
    info: ApiToken


def validate_token_request(
    name: object, expires_at: datetime | None, expires_in_days: int | None, now: datetime
) -> tuple[str, datetime]:
    """The clean name and the expiry: ``expires_at``, or ``expires_in_days`` from now, or the
    default lifetime. A malformed request is ValidationFailed; a lifetime over the maximum is
    TokenLifetimeTooLong."""
    problems: dict[str, list[str]] = {}
    if not isinstance(name, str) or not name.strip():
        problems["name"] = ["is required: a label such as 'backup script'"]
    elif len(name.strip()) > NAME_MAX or any(ord(c) < 32 for c in name):
        problems["name"] = [f"must be at most {NAME_MAX} printable characters"]
    field, until = "expires_at", expires_at
    if expires_in_days is not None:
        field = "expires_in_days"
        if expires_at is not None:
            problems[field] = ["cannot be combined with expires_at"]
        elif expires_in_days < 1:
            problems[field] = ["must be a whole number of days, at least 1"]
        else:
            until = now + timedelta(days=min(expires_in_days, MAX_LIFETIME_DAYS + 1))
    elif expires_at is not None:
        if expires_at.tzinfo is None:
            problems[field] = ["must include a timezone, e.g. 2027-01-01T00:00:00Z"]
        elif expires_at <= now:
            problems[field] = ["must be in the future"]
    if problems:
        raise ValidationFailed("The token request is not valid.", problems)
    if until is None:
        until = now + timedelta(days=DEFAULT_LIFETIME_DAYS)
    if until > now + timedelta(days=MAX_LIFETIME_DAYS):
        raise TokenLifetimeTooLong(field, MAX_LIFETIME_DAYS)
    assert isinstance(name, str)
    return name.strip(), until.astimezone(UTC)


class TokenService:
    def __init__(self, sessions: SessionRepository, clock: Clock, max_tokens: int = 100) -> None:
        self._sessions = sessions
        self._clock = clock
        self._max_tokens = max_tokens

    def create(
        self,
        account: Account,
        via: Session,
        name: object,
        expires_at: datetime | None = None,
        expires_in_days: int | None = None,
    ) -> CreatedToken:
        """Issue a token that expires (see :func:`validate_token_request`). Only a signed-in
        session may do so: a leaked token must not mint successors that outlive its revocation."""
        if via.kind != "session":
            raise Unauthenticated("API tokens are created from a signed-in session, not with another token.")
        now = self._clock.now()
        clean, until = validate_token_request(name, expires_at, expires_in_days, now)
        if len(self._sessions.list_for(account.id, API_TOKEN_KIND)) >= self._max_tokens:
            raise ValidationFailed(
                f"You already have {self._max_tokens} API tokens; revoke one first.", {"name": ["too many tokens"]}
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        session = Session(
            token_hash=hash_token(token),
            account_id=account.id,
            created_at=now,
            expires_at=until,
            kind=API_TOKEN_KIND,
            name=clean,
        )
        self._sessions.add(session)
        return CreatedToken(token=token, info=ApiToken.from_session(session))

    def list(self, account: Account) -> Sequence[ApiToken]:
        """The account's tokens that still work, oldest first."""
        now = self._clock.now()
        return [
            ApiToken.from_session(s)
            for s in self._sessions.list_for(account.id, API_TOKEN_KIND)
            if s.is_valid(now)
        ]

    def revoke(self, account: Account, id_: str) -> None:
        """Revoke one of the account's tokens; another account's token id is NotFound."""
        for s in self._sessions.list_for(account.id, API_TOKEN_KIND):
            if secrets.compare_digest(token_id(s.token_hash).encode(), id_.encode("utf-8", "replace")):
                self._sessions.delete(s.token_hash)
                return
        raise NotFound("API token")
