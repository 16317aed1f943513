"""What every page shares: the page frame with the header's account and quota, form fields, one image's card."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar.response import Template

from imagerepo.domain.accounts import Account
from imagerepo.domain.images_service import ImageService
from imagerepo.entrypoints.presenters import image_card


def page(images: ImageService | None, name: str, status: int = 200, *, account: Account | None,
         **context: Any) -> Template:
    """A full page: the header shows who is signed in and their quota (``images`` gives it)."""
    quota = images.quota(account) if account is not None and images is not None else None
    context.setdefault("message", "")
    return Template(template_name=name, status_code=status, headers={"Cache-Control": "no-store"},
                    context={"account": account, "quota": quota, **context})


def fragment(name: str, **context: Any) -> Template:
    """A part of a page, for the script that updates it in place."""
    return Template(template_name=name, context=context, headers={"Cache-Control": "no-store"})


def card(image: Any) -> dict[str, Any]:
    """What a page shows of one image; its pictures load through /images/{id}/thumbnail and /view,
    which sign a URL when the browser asks, so none is signed here."""
    return image_card(image)


def own_card(images: ImageService, account: Account, image_id: str) -> dict[str, Any]:
    """The account's image as a card (another user's image is NotFound)."""
    return card(images.get(account, image_id))


def field(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""
