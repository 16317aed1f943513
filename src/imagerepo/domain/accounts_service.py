"""Account service: sign up, sign in, sign out, who am I."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta

import attrs

from imagerepo.domain.accounts import (
    Account,
    IssuedToken,
    Session,
    validate_credentials,
)
from imagerepo.domain.errors import InvalidLogin, NotFound, TooManyAttempts, Unauthenticated, ValidationFailed
from imagerepo.ports.account_repository import AccountRepository
from imagerepo.ports.clock import Clock
from imagerepo.ports.login_throttle import LoginThrottle
from imagerepo.ports.password_hasher import PasswordHasher
from imagerepo.ports.session_repository import SessionRepository


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class AccountService:
    def __init__(
        self,
        accounts: AccountRepository,
        sessions: SessionRepository,
        hasher: PasswordHasher,
        clock: Clock,
        throttle: LoginThrottle,
        session_ttl: timedelta = timedelta(days=7),
    ) -> None:
        self._accounts = accounts
        self._sessions = sessions
        self._hasher = hasher
        self._clock = clock
        self._throttle = throttle
        self._session_ttl = session_ttl

    def sign_up(self, username: object, password: object) -> Account:
        name, pw = validate_credentials(username, password)
        account = Account(
            id=str(uuid.uuid4()),
            username=name,
            password_hash=self._hasher.hash(pw),
            created_at=self._clock.now(),
        )
        self._accounts.add(account)  # raises UsernameTaken, atomically
        return account

    def sign_in(self, username: object, password: object, client: str = "") -> IssuedToken:
        if not isinstance(username, str) or not isinstance(password, str) or len(password) > 1024:
            raise InvalidLogin()
        keys = [f"user:{username.casefold()}"] + ([f"addr:{client}"] if client else [])
        # Reserved before the slow check, so guesses sent at once cannot all be tried.
        wait = self._throttle.reserve(keys)
        if wait > 0:
            raise TooManyAttempts(wait)
        ok = False
        try:
            account = self._accounts.get_by_username(username)
            if account is None:
                self._hasher.dummy_verify(password)
            else:
                ok = self._hasher.verify(account.password_hash, password)
        finally:  # an attempt that broke down counts as a failure
            (self._throttle.succeeded if ok else self._throttle.failed)(keys)
        if not ok or account is None:
            raise InvalidLogin()
        if self._hasher.needs_rehash(account.password_hash):
            self._accounts.set_password_hash(account.id, self._hasher.hash(password))
        return self.issue(account, kind="session")

    def issue(self, account: Account, *, kind: str, name: str = "", ttl: timedelta | None = None) -> IssuedToken:
        token = secrets.token_urlsafe(32)  # 256 bits
        now = self._clock.now()
        session = Session(
            token_hash=hash_token(token),
            account_id=account.id,
            created_at=now,
            expires_at=now + (ttl or self._session_ttl),
            kind=kind,
            name=name,
        )
        self._sessions.add(session)
        return IssuedToken(token=token, expires_at=session.expires_at, account=account)

    def authenticate(self, token: str | None) -> tuple[Account, Session]:
        if not token or len(token) > 512:
            raise Unauthenticated()
        session = self._sessions.get(hash_token(token))
        if session is None or not session.is_valid(self._clock.now()):
            raise Unauthenticated()
        account = self._accounts.get(session.account_id)
        if account is None:
            raise Unauthenticated()
        return account, session

    def sign_out(self, token: str) -> None:
        self._sessions.delete(hash_token(token))

    def sign_out_everywhere(self, account: Account) -> int:
        """End every session and API token of the account (a lost laptop, a leaked token)."""
        return self._sessions.delete_for_account(account.id)

    def get(self, account_id: str) -> Account:
        """The stored account (its quota may have changed since a caller fetched it); NotFound."""
        account = self._accounts.get(account_id)
        if account is None:
            raise NotFound("account")
        return account

    def set_quota(self, account: Account, limit: int | None) -> Account:
        """Let the account hold ``limit`` images; None returns it to the deployment's default.
        A negative limit is ValidationFailed and changes nothing. Images already stored stay."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValidationFailed("The quota must be a whole number of images, 0 or more.",
                                   {"quota": ["must be a whole number, 0 or more"]})
        self._accounts.set_quota_limit(account.id, limit)
        return self.get(account.id)

    def update_settings(
        self, account: Account, *, keep_location: bool | None = None, face_recognition: bool | None = None
    ) -> Account:
        """Store the given settings (None keeps one as it is); returns the account as stored.
        Turning keep_location off is the caller's cue to erase the positions already kept."""
        if keep_location is None and face_recognition is None:
            raise ValidationFailed("Give keep_location, face_recognition or both.",
                                   {"settings": ["give keep_location, face_recognition or both"]})
        current = self.get(account.id).settings
        changed = attrs.evolve(
            current,
            keep_location=current.keep_location if keep_location is None else keep_location,
            face_recognition=current.face_recognition if face_recognition is None else face_recognition,
        )
        if changed != current:
            self._accounts.set_settings(account.id, changed)
        return self.get(account.id)

    def get_by_username(self, username: str) -> Account:
        account = self._accounts.get_by_username(username)
        if account is None:
            raise NotFound("account")
        return account

    def list_accounts(self) -> Sequence[Account]:
        return self._accounts.list()

    def purge_expired_sessions(self) -> int:
        return self._sessions.delete_expired(self._clock.now())
