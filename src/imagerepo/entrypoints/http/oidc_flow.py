"""The OpenID Connect login flow's state: the providers, their clients, and the signed login cookie.

The login step keeps state, nonce and PKCE verifier in a short-lived, HttpOnly cookie scoped to
/api/v1/oidc, so any API process can finish a sign-in another one started. The cookie is a Fernet
token (cryptography's authenticated encryption with a timestamp): nobody can read or change it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from cryptography.fernet import Fernet, InvalidToken
from litestar import Request
from litestar.datastructures import Cookie

from imagerepo.adapters.oidc import SignInFailed, VerifiedIdentity
from imagerepo.domain.errors import NotFound
from imagerepo.domain.identity import OidcProviderConfig
from imagerepo.entrypoints.http.auth import is_https
from imagerepo.entrypoints.settings import Settings

LOGIN_COOKIE = "imagerepo_oidc"
LOGIN_PATH = "/api/v1/oidc"
LOGIN_TTL_SECONDS = 600


class OidcClient(Protocol):
    """What the routes need of a provider's client (adapters/oidc.py's AuthlibOidcClient)."""

    def authorization_url(self, redirect_uri: str, state: str, nonce: str, code_verifier: str) -> str: ...

    def exchange(self, code: str, redirect_uri: str, code_verifier: str) -> dict[str, Any]: ...

    def verify_id_token(self, id_token: str, nonce: str, access_token: str | None = None) -> VerifiedIdentity: ...


def login_url(name: str, return_to: str | None = None) -> str:
    """Where a browser starts signing in with provider ``name``, landing on ``return_to`` afterwards."""
    url = f"{LOGIN_PATH}/{quote(name, safe='')}/login"
    return f"{url}?{urlencode({'return_to': return_to})}" if return_to is not None else url


class OidcFlow:
    """The providers of this deployment and the signed login-state cookie."""

    def __init__(self, settings: Settings, url_key: Callable[[], bytes],
                 client_for: Callable[[OidcProviderConfig], OidcClient]) -> None:
        self.configs = {p.name: p for p in settings.oidc_providers}
        self.public_url = settings.public_url
        self._url_key = url_key
        self._client_for = client_for
        self._clients: dict[str, OidcClient] = {}

    @property
    def _fernet(self) -> Fernet:
        key = hmac.new(self._url_key(), b"imagerepo oidc login v2", hashlib.sha256).digest()
        return Fernet(base64.urlsafe_b64encode(key))

    def client(self, name: str) -> OidcClient:
        if name not in self.configs:
            raise NotFound("identity provider")
        if name not in self._clients:
            self._clients[name] = self._client_for(self.configs[name])
        return self._clients[name]

    def redirect_uri(self, request: Request[Any, Any, Any], name: str) -> str:
        base = self.public_url or str(request.base_url).rstrip("/")
        return f"{base}{LOGIN_PATH}/{name}/callback"

    def seal(self, state: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(state, separators=(",", ":")).encode()).decode()

    def unseal(self, value: str | None, name: str, returned_state: str | None) -> dict[str, Any]:
        mismatch = SignInFailed("state_mismatch", "This sign-in was not started from this browser, or it took "
                                "too long. Start again.")
        if not value or not returned_state:
            raise mismatch
        try:
            state = json.loads(self._fernet.decrypt(value.encode(), ttl=LOGIN_TTL_SECONDS))
        except (InvalidToken, ValueError):
            raise mismatch from None
        if (state.get("p") != name or state.get("e", 0) < time.time()
                or not hmac.compare_digest(str(state.get("s", "")).encode(),
                                           returned_state.encode("utf-8", "replace"))):
            raise mismatch
        return dict(state)


def login_cookie(request: Request[Any, Any, Any], value: str, max_age: int) -> Cookie:
    return Cookie(key=LOGIN_COOKIE, value=value, path=LOGIN_PATH, httponly=True, samesite="lax",
                  secure=is_https(request), max_age=max_age)


