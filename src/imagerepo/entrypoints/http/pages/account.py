"""The Account page: who I am, my quota, where my photos' places are kept, and closing the account."""

from __future__ import annotations

from typing import Any

import anyio
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from imagerepo.domain.accounts_service import AccountService
from imagerepo.domain.closing_service import AccountClosingService
from imagerepo.domain.errors import ValidationFailed
from imagerepo.domain.images_service import ImageService
from imagerepo.entrypoints.http.auth import Auth, is_https, session_cookie, signed_in
from imagerepo.entrypoints.http.pages.common import field, page

_NOTICES = {"location-off": "Places are no longer kept, and every stored position was erased.",
            "location-on": "Places are kept for photos uploaded from now on.",
            "location-unconfirmed": "Nothing was erased: tick the box to confirm first."}


def _account_page(images: ImageService, account: Any, status: int = 200, *, notice: str = "",
                  error: str = "") -> Template:
    return page(images, "account.html", status, account=account, active="account", notice=notice, error=error)


@get("/account", sync_to_thread=True)
def account_page(request: Request[Any, Any, Any], viewer: NamedDependency[Auth | None],
                 images: NamedDependency[ImageService]) -> Template:
    return _account_page(images, signed_in(viewer), notice=_NOTICES.get(request.query_params.get("done", ""), ""))


@post("/account/settings")
async def location_switch(request: Request[Any, Any, Any], viewer: NamedDependency[Auth | None],
                          accounts: NamedDependency[AccountService],
                          images: NamedDependency[ImageService]) -> Redirect:
    form = await request.form()
    viewer_account = signed_in(viewer)  # anonymous callers go to sign-in first, whatever the form says
    keep = field(form, "keep_location") == "on"
    if not keep and field(form, "confirm") != "yes":  # the erase cannot be undone: asked, never one click
        return Redirect("/account?done=location-unconfirmed", status_code=303)

    def apply() -> None:
        account = accounts.update_settings(viewer_account, keep_location=keep)
        if not account.settings.keep_location:
            images.erase_locations(account)

    await anyio.to_thread.run_sync(apply)
    return Redirect(f"/account?done=location-{'on' if keep else 'off'}", status_code=303)


@post("/account/delete")
async def close(request: Request[Any, Any, Any], viewer: NamedDependency[Auth | None],
                closing: NamedDependency[AccountClosingService],
                images: NamedDependency[ImageService]) -> Template | Redirect:
    typed = field(await request.form(), "username")
    account = signed_in(viewer)
    try:
        await anyio.to_thread.run_sync(lambda: closing.close(account, typed))
    except ValidationFailed:
        return await anyio.to_thread.run_sync(lambda: _account_page(
            images, account, 422, error="The username must be your own username, to confirm."))
    return Redirect("/signin?closed=1", status_code=303, cookies=[session_cookie(secure=is_https(request))])


ROUTES = [account_page, location_switch, close]
