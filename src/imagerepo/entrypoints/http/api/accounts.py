"""Accounts and sessions: the credential rules, sign-up, sign-in, sign-out, who am I."""

from __future__ import annotations

from typing import Any

import anyio
from litestar import Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from imagerepo.domain.accounts import PASSWORD_RULES, USERNAME_RULES
from imagerepo.domain.accounts_service import AccountService
from imagerepo.domain.closing_service import AccountClosingService
from imagerepo.domain.images_service import ImageService
from imagerepo.domain.people_service import PeopleService
from imagerepo.entrypoints.client_address import client_address
from imagerepo.entrypoints.http.auth import SIGNED_OUT, Auth, is_https, session_cookie
from imagerepo.entrypoints.http.deps import AppSettings
from imagerepo.entrypoints.http.errors import CREDENTIALS_BODY
from imagerepo.entrypoints.http.schemas import (
    JSON_BODY_LIMIT,
    AccountOut,
    CloseAccountIn,
    CredentialsIn,
    MeOut,
    RulesOut,
    SettingsIn,
    TokenOut,
    error_responses,
)
from imagerepo.entrypoints.http.security import SAME_ORIGIN
from imagerepo.entrypoints.presenters import rfc3339


@get("/api/v1/rules", operation_id="getRules", tags=["accounts"], summary="The credential rules, for sign-up hints",
     description="The username and password rules in words, as sign-up checks them.")
async def rules() -> RulesOut:
    return RulesOut(username=list(USERNAME_RULES), password=list(PASSWORD_RULES))


@post("/api/v1/accounts", operation_id="signUp", tags=["accounts"], status_code=201, sync_to_thread=True,
      request_max_body_size=JSON_BODY_LIMIT, summary="Sign up", opt={CREDENTIALS_BODY: True},
      description="Creates an account; it does not sign in. `409 username_taken` if the name is in use.",
      responses=error_responses(400, 409, 413, 415, 422, 503))
def sign_up(data: JSONBody[CredentialsIn], accounts: NamedDependency[AccountService]) -> AccountOut:
    return AccountOut.of(accounts.sign_up(data.username, data.password))


# Async on purpose: Litestar 2.25 answers a sync handler that returns a Response with a 500
# ("'coroutine' object has no attribute 'to_asgi_response'") when a later handler shares its path,
# as DELETE /api/v1/sessions does.
@post("/api/v1/sessions", operation_id="signIn", tags=["sessions"], status_code=201,
      request_max_body_size=JSON_BODY_LIMIT, summary="Sign in: a bearer token and a session cookie",
      description="Use `token` as `Authorization: Bearer <token>`; browsers get the same session as a cookie.",
      opt={SAME_ORIGIN: True}, responses=error_responses(400, 401, 403, 413, 415, 429, 503))
async def sign_in(request: Request[Any, Any, Any], data: JSONBody[CredentialsIn],
                  accounts: NamedDependency[AccountService], settings: AppSettings) -> Response[TokenOut]:
    issued = await anyio.to_thread.run_sync(
        lambda: accounts.sign_in(data.username, data.password, client_address(request)))
    cookie = session_cookie(issued.token, max_age=settings.session_ttl_seconds, secure=is_https(request))
    return Response(TokenOut(token=issued.token, expires_at=rfc3339(issued.expires_at)), status_code=201,
                    cookies=[cookie], headers={"Cache-Control": "no-store"})


@delete("/api/v1/sessions/current", operation_id="signOut", tags=["sessions"], status_code=204, sync_to_thread=True,
        summary="Sign out", description="Ends the session or API token this request was made with.",
        response_cookies=[SIGNED_OUT], responses=error_responses(401, 503))
def sign_out(auth: NamedDependency[Auth], accounts: NamedDependency[AccountService]) -> None:
    accounts.sign_out(auth.token)


@delete("/api/v1/sessions", operation_id="signOutEverywhere", tags=["sessions"], status_code=204,
        sync_to_thread=True,
        summary="Sign out everywhere: end every session and API token of the account",
        description="For a lost device: every session cookie and bearer token of the account stops working.",
        response_cookies=[SIGNED_OUT], responses=error_responses(401, 503))
def sign_out_everywhere(auth: NamedDependency[Auth], accounts: NamedDependency[AccountService]) -> None:
    accounts.sign_out_everywhere(auth.account)


@get("/api/v1/me", operation_id="getMe", tags=["accounts"], sync_to_thread=True, summary="Who am I, and my quota",
     description="The signed-in account and how much of its upload quota is used.",
     responses=error_responses(401, 503))
def me(auth: NamedDependency[Auth], images: NamedDependency[ImageService]) -> MeOut:
    return MeOut.of(auth.account, images.quota(auth.account))


@patch("/api/v1/me", tags=["accounts"], sync_to_thread=True, operation_id="updateMe",
       request_max_body_size=JSON_BODY_LIMIT,
       summary="Change my settings",
       description="Either setting may be given; an omitted one is unchanged. `keep_location: false` stops "
                   "storing positions and erases every stored position and place name of the account. "
                   "`face_recognition` (off by default) lets the analysis find and group faces; `false` deletes every "
                   "face, person and face crop of the account.",
       responses=error_responses(400, 401, 413, 415, 422, 503))
def update_me(data: JSONBody[SettingsIn], auth: NamedDependency[Auth], accounts: NamedDependency[AccountService],
              images: NamedDependency[ImageService], people: NamedDependency[PeopleService]) -> MeOut:
    account = accounts.update_settings(
        auth.account, keep_location=data.keep_location, face_recognition=data.face_recognition
    )
    if not account.settings.keep_location:
        images.erase_locations(account)  # again on every such request: a retry finishes an interrupted erase
    if data.face_recognition is False:
        people.forget(account.id)  # biometric data: none is kept once the owner says no
    return MeOut.of(account, images.quota(account))


@delete("/api/v1/me", tags=["accounts"], status_code=204, sync_to_thread=True, operation_id="deleteMe",
        request_max_body_size=JSON_BODY_LIMIT,
        summary="Delete my account and everything it holds",
        description="Confirm with the account's own username (`{\"username\": \"alice\"}`). "
                    "Deletes every image (originals, thumbnails, analyses, fingerprints), every face, person and "
                    "face crop, the identity-provider links, every session and API token, then the account; the "
                    "username becomes free. A wrong confirmation is 400 `validation_error` and changes nothing. "
                    "Repeating a close that failed half way finishes it.",
        response_cookies=[SIGNED_OUT], responses=error_responses(400, 401, 413, 415, 503))
def delete_me(data: JSONBody[CloseAccountIn], auth: NamedDependency[Auth],
              closing: NamedDependency[AccountClosingService]) -> None:
    closing.close(auth.account, data.username)


ROUTES = [rules, sign_up, sign_in, sign_out, sign_out_everywhere, me, update_me, delete_me]
