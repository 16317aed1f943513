"""A small OpenID Connect provider for tests, speaking the real protocol over loopback HTTP.

Discovery, an authorize endpoint that signs in ``next_user`` at once, a token endpoint that
checks client authentication, redirect URI, PKCE (S256) and single use and expiry of codes, and
a JWKS with an RSA key made here. Knobs let tests make it misbehave (wrong nonce, foreign key).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import attrs
from joserfc import jwt
from joserfc.jwk import RSAKey


@attrs.define
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str
    user: dict[str, Any]
    issued_at: float
    used: bool = False


class OidcTestProvider:
    def __init__(self, client_id: str = "imagerepo", client_secret: str = "s3cret") -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig", "alg": "RS256"})
        self.foreign_key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1"})
        self.next_user: dict[str, Any] = {"sub": "248289761001", "preferred_username": "jane",
                                          "email": "jane@example.org"}
        self.code_ttl = 60.0
        self.nonce_override: str | None = None
        self.sign_with_foreign_key = False
        self.grants: dict[str, Grant] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> OidcTestProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # ---- protocol

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    def authorize(self, q: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        self.authorize_requests.append(q)
        if q.get("client_id") != self.client_id or q.get("response_type") != "code":
            return 400, {}, {"error": "invalid_request"}
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return 400, {}, {"error": "invalid_request", "error_description": "PKCE S256 required"}
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(self.client_id, q["redirect_uri"], q.get("nonce", ""), q["code_challenge"],
                                  dict(self.next_user), time.time())
        sep = "&" if "?" in q["redirect_uri"] else "?"
        return 302, {"Location": q["redirect_uri"] + sep + urlencode({"code": code, "state": q.get("state", "")})}, None

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, str], Any]:
        self.token_requests.append(form)
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if authorization != expected:
            return 401, {}, {"error": "invalid_client"}
        grant = self.grants.get(form.get("code", ""))
        if grant is None or grant.used or time.time() - grant.issued_at > self.code_ttl:
            if grant is not None:
                grant.used = True
            return 400, {}, {"error": "invalid_grant"}
        grant.used = True  # single use, even when the rest of the request fails
        if form.get("redirect_uri") != grant.redirect_uri or form.get("grant_type") != "authorization_code":
            return 400, {}, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if challenge != grant.challenge:
            return 400, {}, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 300,
                  "nonce": self.nonce_override if self.nonce_override is not None else grant.nonce, **grant.user}
        key = self.foreign_key if self.sign_with_foreign_key else self.key
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key-1"}, claims, key)
        return 200, {"Cache-Control": "no-store"}, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                                                   "expires_in": 300, "id_token": id_token}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _send(self, status: int, headers: dict[str, str], body: Any) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self._send(200, {}, provider.discovery())
                elif url.path == "/jwks":
                    self._send(200, {}, {"keys": [provider.key.as_dict(private=False)]})
                elif url.path == "/authorize":
                    self._send(*provider.authorize(q))
                else:
                    self._send(404, {}, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if urlsplit(self.path).path == "/token":
                    self._send(*provider.token(form, self.headers.get("Authorization", "")))
                else:
                    self._send(404, {}, {"error": "not_found"})

        return Handler
