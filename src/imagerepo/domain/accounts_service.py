"""Account service: sign up, sign in, sign out, who am I."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta

from imagerepo.domain.accounts import (
    Account,
    IssuedToken,
    Session,
    validate_credentials,
)
from imagerepo.domain.errors import InvalidLogin, NotFound, TooManyAttempts, Unauthenticated
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
        self.accounts = accounts
        self.sessions = sessions
        self.hasher = hasher
        self.clock = clock
        self.throttle = throttle
        self.session_ttl = session_ttl

    def sign_up(self, username: object, password: object) -> Account:
        name, pw = validate_credentials(username, password)
        account = Account(
            id=str(uuid.uuid4()),
            username=name,
            password_hash=self.hasher.hash(pw),
            created_at=self.clock.now(),
        )
        self.accounts.add(account)  # raises UsernameTaken, atomically
        return account

    def sign_in(self, username: object, password: object, client: str = "") -> IssuedToken:
        if not isinstance(username, str) or not isinstance(password, str) or len(password) > 1024:
            raise InvalidLogin()
        keys = [f"user:{username.casefold()}"] + ([f"addr:{client}"] if client else [])
        # Reserved before the slow check, so guesses sent at once cannot all be tried.
        wait = self.throttle.reserve(keys)
        if wait > 0:
            raise TooManyAttempts(wait)
        ok = False
        try:
            account = self.accounts.get_by_username(username)
            if account is None:
                self.hasher.dummy_verify(password)
            else:
                ok = self.hasher.verify(account.password_hash, password)
        finally:  # an attempt that broke down counts as a failure
            (self.throttle.succeeded if ok else self.throttle.failed)(keys)
        if not ok or account is None:
            raise InvalidLogin()
        if self.hasher.needs_rehash(account.password_hash):
            self.accounts.set_password_hash(account.id, self.hasher.hash(password))
        return self.issue(account, kind="session")

    def issue(self, account: Account, *, kind: str, name: str = "", ttl: timedelta | None = None) -> IssuedToken:
        token = secrets.token_urlsafe(32)  # 256 bits
        now = self.clock.now()
        session = Session(
            token_hash=hash_token(token),
            account_id=account.id,
            created_at=now,
            expires_at=now + (ttl or self.session_ttl),
            kind=kind,
            name=name,
        )
        self.sessions.add(session)
        return IssuedToken(token=token, expires_at=session.expires_at, account=account)

    def authenticate(self, token: str | None) -> tuple[Account, Session]:
        if not token or len(token) > 512:
            raise Unauthenticated()
        session = self.sessions.get(hash_token(token))
        if session is None or not session.is_valid(self.clock.now()):
            raise Unauthenticated()
        account = self.accounts.get(session.account_id)
        if account is None:
            raise Unauthenticated()
        return account, session

    def sign_out(self, token: str) -> None:
        self.sessions.delete(hash_token(token))

    def sign_out_everywhere(self, account: Account) -> int:
        """End every session and API token of the account (a lost laptop, a leaked token)."""
        return self.sessions.delete_for_account(account.id)

    def get_by_username(self, username: str) -> Account:
        account = self.accounts.get_by_username(username)
        if account is None:
            raise NotFound("account")
        return account

    def list_accounts(self) -> Sequence[Account]:
        return self.accounts.list()

    def purge_expired_sessions(self) -> int:
        return self.sessions.delete_expired(self.clock.now())
