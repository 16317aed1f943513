"""OpenID Connect relying party: discovery, authorization URL with PKCE, code exchange, ID token checks.

authlib builds the authorization request and validates ID token claims (iss, aud, exp, iat,
nonce, azp, at_hash); joserfc (authlib's own JOSE backend) verifies the signature against the
provider's JWKS. HTTP goes through an httpx.Client handed in by the composition root.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import attrs
import httpx
from authlib.oauth2.client import OAuth2Client  # type: ignore[import-untyped]
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from imagerepo.domain.errors import DomainError, ServiceUnavailable
from imagerepo.domain.identity import OidcProviderConfig

DISCOVERY_TTL_SECONDS = 3600
ALLOWED_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY_SECONDS = 60


class SignInFailed(DomainError):
    """The identity provider's answer could not be trusted or used; nothing was signed in."""

    code = "sign_in_failed"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@attrs.frozen
class VerifiedIdentity:
    issuer: str
    subject: str
    claims: dict[str, Any]


def _jwt_header(token: str) -> dict[str, Any]:
    try:
        head = token.split(".", 1)[0]
        value = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, UnicodeError):
        raise SignInFailed("invalid_id_token", "The provider's ID token is malformed.") from None
    if not isinstance(value, dict):
        raise SignInFailed("invalid_id_token", "The provider's ID token is malformed.")
    return value


class AuthlibOidcClient:
    """One provider. Discovery and JWKS are fetched on first use and cached; the JWKS is fetched
    again once when a token names a key it lacks (the provider rotated its keys)."""

    def __init__(self, config: OidcProviderConfig, http: httpx.Client) -> None:
        self.config = config
        self.http = http
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._keys: KeySet | None = None

    # ---- discovery

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            r = self.http.get(url, headers={"Accept": "application/json"})
            r.raise_for_status()
            value = r.json()
        except (httpx.HTTPError, ValueError) as e:
            raise ServiceUnavailable(f"identity provider {self.config.name} unreachable: {type(e).__name__}") from e
        if not isinstance(value, dict):
            raise ServiceUnavailable(f"identity provider {self.config.name} sent an unexpected document")
        return value

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None or time.monotonic() - self._fetched_at > DISCOVERY_TTL_SECONDS:
                meta = self._get_json(self.config.issuer + "/.well-known/openid-configuration")
                # OpenID Connect Discovery 4.3: the document must name the issuer we asked.
                if str(meta.get("issuer", "")).rstrip("/") != self.config.issuer:
                    raise ServiceUnavailable(f"identity provider {self.config.name}: discovery names another issuer")
                for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(meta.get(field), str):
                        raise ServiceUnavailable(f"identity provider {self.config.name}: discovery lacks {field}")
                self._metadata, self._fetched_at, self._keys = meta, time.monotonic(), None
            return self._metadata

    def _key_set(self, kid: str | None) -> KeySet:
        meta = self.metadata()
        with self._lock:
            keys = self._keys
        if keys is not None and (kid is None or any(k.kid == kid for k in keys.keys)):
            return keys
        try:
            keys = KeySet.import_key_set(self._get_json(meta["jwks_uri"]))  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as e:
            raise ServiceUnavailable(f"identity provider {self.config.name}: unusable JWKS") from e
        with self._lock:
            self._keys = keys
        return keys

    # ---- the flow

    def authorization_url(self, redirect_uri: str, state: str, nonce: str, code_verifier: str) -> str:
        client = OAuth2Client(None, client_id=self.config.client_id, scope=self.config.scopes,
                              redirect_uri=redirect_uri, code_challenge_method="S256")
        url, _ = client.create_authorization_url(
            self.metadata()["authorization_endpoint"], state=state, code_verifier=code_verifier, nonce=nonce
        )
        return str(url)

    def exchange(self, code: str, redirect_uri: str, code_verifier: str) -> dict[str, Any]:
        """Redeem the code at the token endpoint (client_secret_basic, or a public client)."""
        body = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": code_verifier}
        if not self.config.client_secret:
            body["client_id"] = self.config.client_id  # a public client: PKCE is its proof
        try:
            r = self.http.post(
                self.metadata()["token_endpoint"], data=body, headers={"Accept": "application/json"},
                auth=httpx.BasicAuth(self.config.client_id, self.config.client_secret)
                if self.config.client_secret else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as e:
            raise ServiceUnavailable(f"identity provider {self.config.name} unreachable: {type(e).__name__}") from e
        try:
            value = r.json()
        except ValueError:
            value = {}
        if r.status_code >= 500:
            raise ServiceUnavailable(f"identity provider {self.config.name} failed ({r.status_code})")
        if r.status_code != 200 or not isinstance(value, dict) or "error" in value:
            error = value.get("error") if isinstance(value, dict) else None
            if error == "invalid_grant":
                raise SignInFailed("invalid_grant", "The sign-in code is expired or was already used; sign in again.")
            raise SignInFailed("token_request_failed",
                               f"The identity provider refused the sign-in ({error or r.status_code}).")
        if not isinstance(value.get("id_token"), str):
            raise SignInFailed("invalid_id_token", "The identity provider returned no ID token.")
        return value

    def verify_id_token(self, id_token: str, nonce: str, access_token: str | None = None) -> VerifiedIdentity:
        header = _jwt_header(id_token)
        supported = self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
        algs = [a for a in supported if a in ALLOWED_ALGS]  # never "none", never HMAC with a public key
        kid = header.get("kid") if isinstance(header.get("kid"), str) else None
        try:
            token = jwt.decode(id_token, self._key_set(kid), algorithms=algs)
        except (JoseError, ValueError) as e:
            raise SignInFailed("invalid_id_token", "The ID token's signature does not verify.") from e
        claims = CodeIDToken(
            token.claims, token.header,
            options={"iss": {"essential": True, "values": [self.config.issuer, self.config.issuer + "/"]},
                     "aud": {"essential": True, "value": self.config.client_id}},
            params={"nonce": nonce, "client_id": self.config.client_id, "access_token": access_token},
        )
        try:
            claims.validate(now=int(time.time()), leeway=LEEWAY_SECONDS)
        except (JoseError, ValueError) as e:
            which = getattr(e, "claim", "") or str(e)
            code = "invalid_nonce" if "nonce" in str(which) else "invalid_id_token"
            raise SignInFailed(code, f"The ID token was not issued for this sign-in ({which}).") from e
        sub = token.claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise SignInFailed("invalid_id_token", "The ID token names no subject.")
        return VerifiedIdentity(self.config.issuer, sub, dict(token.claims))
