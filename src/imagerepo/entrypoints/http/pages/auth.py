"""The pages that sign in, sign up and sign out."""

from __future__ import annotations

from typing import Any

import anyio
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from imagerepo.domain import errors as E
from imagerepo.domain.accounts import PASSWORD_RULES, USERNAME_RULES
from imagerepo.domain.accounts_service import AccountService
from imagerepo.domain.images_service import ImageService
from imagerepo.entrypoints.client_address import client_address
from imagerepo.entrypoints.demo import DEMO_PASSWORD, DEMO_USERNAME
from imagerepo.entrypoints.http.auth import Auth, is_https, session_cookie, signed_in
from imagerepo.entrypoints.http.deps import AppSettings
from imagerepo.entrypoints.http.oidc_flow import login_url
from imagerepo.entrypoints.http.pages.common import field, page
from imagerepo.entrypoints.http.security import safe_path
from imagerepo.entrypoints.settings import Settings

AFTER_SIGN_IN = "/gallery"


@get("/", sync_to_thread=False)
def home(viewer: NamedDependency[Auth | None]) -> Redirect:
    return Redirect(AFTER_SIGN_IN if viewer else "/signin", status_code=303)


def _demo_exists(accounts: AccountService) -> bool:
    try:
        accounts.get_by_username(DEMO_USERNAME)
    except E.NotFound:
        return False
    return True


def _signin_page(accounts: AccountService, settings: Settings, status: int = 200, *, username: str, target: str,
                 message: str = "", notice: str = "") -> Template:
    """The sign-in form; the seed's published demo password shows only when the operator turned the demo on."""
    providers = [{"label": p.label, "url": login_url(p.name, target)} for p in settings.oidc_providers]
    return page(None, "signin.html", status, account=None, username=username, next=target,
                demo=_demo_exists(accounts), demo_password=DEMO_PASSWORD if settings.demo else "",
                providers=providers, message=message, notice=notice)


@get("/signin", sync_to_thread=True)
def signin_page(request: Request[Any, Any, Any], viewer: NamedDependency[Auth | None],
                accounts: NamedDependency[AccountService], settings: AppSettings) -> Template | Redirect:
    if viewer:
        return Redirect(AFTER_SIGN_IN, status_code=303)
    closed = request.query_params.get("closed") == "1"
    return _signin_page(accounts, settings, username=request.query_params.get("username", ""),
                        target=safe_path(request.query_params.get("next"), AFTER_SIGN_IN),
                        notice="Your account and everything it held were deleted." if closed else "")


@post("/signin")
async def signin(request: Request[Any, Any, Any], accounts: NamedDependency[AccountService],
                 settings: AppSettings) -> Template | Redirect:
    form = await request.form()
    username, password = field(form, "username"), field(form, "password")
    target = safe_path(field(form, "next"), AFTER_SIGN_IN)
    try:
        issued = await anyio.to_thread.run_sync(
            lambda: accounts.sign_in(username, password, client_address(request)))
    except (E.InvalidLogin, E.TooManyAttempts) as e:
        status, message = (429 if isinstance(e, E.TooManyAttempts) else 401), e.message
        return await anyio.to_thread.run_sync(lambda: _signin_page(
            accounts, settings, status, username=username, target=target, message=message))
    cookie = session_cookie(issued.token, max_age=settings.session_ttl_seconds, secure=is_https(request))
    return Redirect(target, status_code=303, cookies=[cookie])


@get("/signup", sync_to_thread=False)
def signup_page(viewer: NamedDependency[Auth | None]) -> Template | Redirect:
    if viewer:
        return Redirect(AFTER_SIGN_IN, status_code=303)
    return page(None, "signup.html", account=None, username="", errors={},
                username_rules=USERNAME_RULES, password_rules=PASSWORD_RULES)


@post("/signup")
async def signup(request: Request[Any, Any, Any], accounts: NamedDependency[AccountService],
                 settings: AppSettings) -> Template | Redirect:
    form = await request.form()
    username, password = field(form, "username"), field(form, "password")

    def create() -> Any:
        accounts.sign_up(username, password)
        return accounts.sign_in(username, password, client_address(request))

    try:
        issued = await anyio.to_thread.run_sync(create)
    except (E.InvalidCredentialsFormat, E.UsernameTaken) as e:
        errors = dict(e.details) if isinstance(e, E.InvalidCredentialsFormat) else {
            "username": ["is already taken; choose another"]}
        status = 409 if isinstance(e, E.UsernameTaken) else 422
        return page(None, "signup.html", status, account=None, username=username, errors=errors,
                    username_rules=USERNAME_RULES, password_rules=PASSWORD_RULES)
    cookie = session_cookie(issued.token, max_age=settings.session_ttl_seconds, secure=is_https(request))
    return Redirect(AFTER_SIGN_IN, status_code=303, cookies=[cookie])


@get("/signout/everywhere", sync_to_thread=True)
def confirm_end_sessions(viewer: NamedDependency[Auth | None], images: NamedDependency[ImageService]) -> Template:
    """Ending every session also revokes the API tokens scripts use: asked first, like a deletion."""
    return page(images, "end_sessions.html", account=signed_in(viewer))


@post("/signout")
async def signout(request: Request[Any, Any, Any], viewer: NamedDependency[Auth | None],
                  accounts: NamedDependency[AccountService]) -> Redirect:
    """Ends this session, or with ``everywhere`` every session and API token of the account."""
    everywhere = field(await request.form(), "everywhere") == "1"

    def end() -> None:
        if viewer is None:
            return
        if everywhere:
            accounts.sign_out_everywhere(viewer.account)
        else:
            accounts.sign_out(viewer.token)

    await anyio.to_thread.run_sync(end)
    return Redirect("/signin", status_code=303, cookies=[session_cookie(secure=is_https(request))])


ROUTES = [home, signin_page, signin, signup_page, signup, confirm_end_sessions, signout]
