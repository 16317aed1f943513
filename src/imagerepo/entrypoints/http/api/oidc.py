"""Sign-in with OpenID Connect providers: GET /api/v1/oidc/providers, /{name}/login, /{name}/callback.

The login step keeps its state in a signed cookie (oidc_flow.py); the callback clears it: each
login cookie is good for one callback.
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from imagerepo.adapters.oidc import SignInFailed
from imagerepo.domain.identity_service import ExternalSignInService
from imagerepo.entrypoints.http.auth import is_https, session_cookie
from imagerepo.entrypoints.http.deps import AppSettings
from imagerepo.entrypoints.http.errors import domain_error_response
from imagerepo.entrypoints.http.oidc_flow import (
    LOGIN_COOKIE,
    LOGIN_PATH,
    LOGIN_TTL_SECONDS,
    OidcFlow,
    login_cookie,
    login_url,
)
from imagerepo.entrypoints.http.schemas import error_responses
from imagerepo.entrypoints.http.security import safe_path


class ProviderOut(msgspec.Struct):
    name: str
    display_name: str
    login_url: str


class ProvidersOut(msgspec.Struct):
    items: list[ProviderOut]


@get(f"{LOGIN_PATH}/providers", operation_id="listOidcProviders", tags=["oidc"],
     summary="Identity providers one may sign in with",
     description="The OpenID Connect providers configured on this server, each with the URL that starts its sign-in.")
async def providers(flow: NamedDependency[OidcFlow]) -> ProvidersOut:
    return ProvidersOut(items=[ProviderOut(name=c.name, display_name=c.label, login_url=login_url(c.name))
                               for c in flow.configs.values()])


@get(f"{LOGIN_PATH}/{{name:str}}/login", operation_id="startOidcSignIn", tags=["oidc"], sync_to_thread=True,
     status_code=302,
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
                        "r": safe_path(return_to, "/")})
    return Redirect(url, status_code=302, cookies=[login_cookie(request, sealed, LOGIN_TTL_SECONDS)],
                    headers={"Cache-Control": "no-store"})


@get(f"{LOGIN_PATH}/{{name:str}}/callback", operation_id="finishOidcSignIn", tags=["oidc"], sync_to_thread=True,
     status_code=303,
     summary="Where the provider sends the browser back; sets the session cookie",
     description="Errors (forged state, wrong nonce, expired or reused code, bad signature) are 400 in the "
                 "API.md error format and sign nobody in.",
     responses=error_responses(400, 404, 503))
def callback(request: Request[Any, Any, Any], name: FromPath[str], flow: NamedDependency[OidcFlow],
             external_sign_in: NamedDependency[ExternalSignInService],
             settings: AppSettings,
             code: Annotated[str | None, QueryParameter(description="the authorization code")] = None,
             error: Annotated[str | None, QueryParameter(description="set when the provider refused")] = None,
             oauth_state: Annotated[str | None, QueryParameter(name="state")] = None) -> Response[Any]:
    clear = login_cookie(request, "", 0)
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
        issued = external_sign_in.sign_in(identity.issuer, identity.subject, identity.claims).issued
    except SignInFailed as e:
        response = domain_error_response(e)
        response.cookies.append(clear)
        return response
    session = session_cookie(issued.token, max_age=settings.session_ttl_seconds, secure=is_https(request))
    return Redirect(login_state.get("r", "/"), status_code=303, cookies=[session, clear],
                    headers={"Cache-Control": "no-store"})


ROUTES = [providers, login, callback]
