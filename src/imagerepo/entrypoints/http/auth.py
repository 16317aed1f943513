"""Who is asking: the token of a request (bearer header or session cookie), the session cookie
itself, and the ``auth`` (API) and ``viewer`` (pages) dependencies built on them."""

from __future__ import annotations

from typing import Any

import attrs
from litestar import Request
from litestar.datastructures import Cookie
from litestar.di import NamedDependency

from imagerepo.domain.accounts import Account, Session
from imagerepo.domain.accounts_service import AccountService
from imagerepo.domain.errors import Unauthenticated

# One cookie for the API and the pages: one sign-in serves pages and XHR alike.
SESSION_COOKIE = "imagerepo_session"


@attrs.frozen
class Auth:
    account: Account
    session: Session
    token: str


def is_https(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https"


def session_cookie(token: str = "", *, max_age: int = 0, secure: bool = False) -> Cookie:
    """The session cookie carrying ``token``; with no token, the cookie that clears it."""
    return Cookie(key=SESSION_COOKIE, value=token, path="/", httponly=True, samesite="lax", secure=secure,
                  max_age=max_age if token else 0)


# What sign-out answers (declared on the route, so it is also in the OpenAPI document).
SIGNED_OUT = session_cookie()


def token_from(request: Request[Any, Any, Any]) -> str | None:
    """The bearer token of the Authorization header, else the session cookie."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None
    return request.cookies.get(SESSION_COOKIE)


def _authenticate(accounts: AccountService, token: str | None) -> Auth:
    account, session = accounts.authenticate(token)
    assert token is not None
    return Auth(account=account, session=session, token=token)


def provide_auth(request: Request[Any, Any, Any], accounts: NamedDependency[AccountService]) -> Auth:
    """The ``auth`` dependency of the API: Unauthenticated (401) without a live token."""
    return _authenticate(accounts, token_from(request))


def provide_viewer(request: Request[Any, Any, Any], accounts: NamedDependency[AccountService]) -> Auth | None:
    """The ``viewer`` dependency of the pages: who is signed in by the session cookie, if anyone.
    Pages never read the Authorization header: a browser does not send one."""
    try:
        return _authenticate(accounts, request.cookies.get(SESSION_COOKIE))
    except Unauthenticated:
        return None


def signed_in(viewer: Auth | None) -> Account:
    """The account of a page that needs one; Unauthenticated sends the browser to sign in."""
    if viewer is None:
        raise Unauthenticated()
    return viewer.account
