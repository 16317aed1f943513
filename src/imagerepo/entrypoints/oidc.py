"""Sign-in with OpenID Connect providers: GET /api/v1/oidc/providers, /{name}/login, /{name}/callback.

The login step keeps state, nonce and PKCE verifier in a short-lived, HMAC-signed, HttpOnly
cookie scoped to /api/v1/oidc, so any API process can finish a sign-in another one started.
The callback clears it: each login cookie is good for one callback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, get
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from imagerepo.adapters.oidc import AuthlibOidcClient, SignInFailed
from imagerepo.domain.errors import NotFound
from imagerepo.entrypoints.app import SESSION_COOKIE
from imagerepo.entrypoints.container import Container
from imagerepo.entrypoints.schemas import error_responses

LOGIN_COOKIE = "imagerepo_oidc"
LOGIN_PATH = "/api/v1/oidc"
LOGIN_TTL_SECONDS = 600


class ProviderOut(msgspec.Struct):
    name: str
    display_name: str
    login_url: str


class ProvidersOut(msgspec.Struct):
    items: list[ProviderOut]


class OidcFlow:
    """The providers of this deployment and the signed login-state cookie."""

    def __init__(self, container: Container) -> None:
        self.container = container
        settings = container.settings()
        self.configs = {p.name: p for p in settings.oidc_providers}
        self.public_url = settings.public_url
        self._clients: dict[str, AuthlibOidcClient] = {}

    @property
    def _key(self) -> bytes:
        return hmac.new(self.container.keys().url_key, b"imagerepo oidc login v1", hashlib.sha256).digest()

    def client(self, name: str) -> AuthlibOidcClient:
        if name not in self.configs:
            raise NotFound("identity provider")
        if name not in self._clients:
            self._clients[name] = AuthlibOidcClient(self.configs[name], self.container.http_client())
        return self._clients[name]

    def redirect_uri(self, request: Request[Any, Any, Any], name: str) -> str:
        base = self.public_url or str(request.base_url).rstrip("/")
        return f"{base}{LOGIN_PATH}/{name}/callback"

    def seal(self, state: dict[str, Any]) -> str:
        body = base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")
        return f"{body}.{self._sign(body)}"

    def _sign(self, body: str) -> str:
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def unseal(self, value: str | None, name: str, returned_state: str | None) -> dict[str, Any]:
        mismatch = SignInFailed("state_mismatch", "This sign-in was not started from this browser, or it took "
                                "too long. Start again.")
        if not value or not returned_state or "." not in value:
            raise mismatch
        body, sig = value.rsplit(".", 1)
        if not hmac.compare_digest(sig.encode(), self._sign(body).encode()):
            raise mismatch
        state = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if (state.get("p") != name or state.get("e", 0) < time.time()
                or not hmac.compare_digest(str(state.get("s", "")).encode(),
                                           returned_state.encode("utf-8", "replace"))):
            raise mismatch
        return dict(state)


def _safe_return_to(value: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


def _cookie(request: Request[Any, Any, Any], value: str, max_age: int) -> Cookie:
    return Cookie(key=LOGIN_COOKIE, value=value, path=LOGIN_PATH, httponly=True, samesite="lax",
                  secure=request.url.scheme == "https", max_age=max_age)


@get(f"{LOGIN_PATH}/providers", tags=["accounts"], summary="Identity providers one may sign in with")
async def providers(flow: NamedDependency[OidcFlow]) -> ProvidersOut:
    return ProvidersOut(items=[ProviderOut(name=c.name, display_name=c.label, login_url=f"{LOGIN_PATH}/{c.name}/login")
                               for c in flow.configs.values()])


@get(f"{LOGIN_PATH}/{{name:str}}/login", tags=["accounts"], sync_to_thread=True, status_code=302,
     summary="Start signing in with a provider (redirects to it)",
     description="Authorization-code flow with PKCE (S256), state and nonce. `return_to` is a path on this site.",
     responses=error_responses(400, 404))
def login(request: Request[Any, Any, Any], name: FromPath[str], flow: NamedDependency[OidcFlow],
          return_to: Annotated[str | None, QueryParameter(description="path to land on after sign-in")] = None,
          ) -> Redirect:
    client = flow.client(name)
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    url = client.authorization_url(flow.redirect_uri(request, name), state, nonce, verifier)
    sealed = flow.seal({"p": name, "s": state, "n": nonce, "v": verifier, "e": int(time.time()) + LOGIN_TTL_SECONDS,
                        "r": _safe_return_to(return_to)})
    return Redirect(url, status_code=302, cookies=[_cookie(request, sealed, LOGIN_TTL_SECONDS)],
                    headers={"Cache-Control": "no-store"})


@get(f"{LOGIN_PATH}/{{name:str}}/callback", tags=["accounts"], sync_to_thread=True, status_code=303,
     summary="Where the provider sends the browser back; sets the session cookie",
     description="Errors (forged state, wrong nonce, expired or reused code, bad signature) are 400 in the "
                 "API.md error format and sign nobody in.",
     responses=error_responses(400, 404, 503))
def callback(request: Request[Any, Any, Any], name: FromPath[str], flow: NamedDependency[OidcFlow],
             code: Annotated[str | None, QueryParameter(description="the authorization code")] = None,
             error: Annotated[str | None, QueryParameter(description="set when the provider refused")] = None,
             oauth_state: Annotated[str | None, QueryParameter(name="state")] = None) -> Response[Any]:
    clear = _cookie(request, "", 0)
    try:
        client = flow.client(name)
        login_state = flow.unseal(request.cookies.get(LOGIN_COOKIE), name, oauth_state)
        if error:
            raise SignInFailed("provider_refused", f"The identity provider did not sign you in ({error[:100]}).")
        if not code:
            raise SignInFailed("invalid_request", "The identity provider sent no code.")
        redirect_uri = flow.redirect_uri(request, name)
        tokens = client.exchange(code, redirect_uri, login_state["v"])
        identity = client.verify_id_token(tokens["id_token"], login_state["n"], tokens.get("access_token"))
        issued = flow.container.external_sign_in().sign_in(identity.issuer, identity.subject, identity.claims).issued
    except SignInFailed as e:
        from imagerepo.entrypoints.app import handle_domain_error

        response = handle_domain_error(request, e)
        response.cookies.append(clear)
        return response
    session_cookie = Cookie(key=SESSION_COOKIE, value=issued.token, path="/", httponly=True, samesite="lax",
                            secure=request.url.scheme == "https",
                            max_age=flow.container.settings().session_ttl_seconds)
    return Redirect(login_state.get("r", "/"), status_code=303, cookies=[session_cookie, clear],
                    headers={"Cache-Control": "no-store"})


def router(container: Container) -> Router:
    flow = OidcFlow(container)
    return Router(
        path="/",
        route_handlers=[providers, login, callback],
        dependencies={"flow": Provide(lambda: flow, sync_to_thread=False)},
        signature_namespace={"OidcFlow": OidcFlow, "Annotated": Annotated},
    )
