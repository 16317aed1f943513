"""People pages: everyone recognized (round faces, counts, rename in place), one person's photos
(merge, hide), and the face recognition switch. Every change goes through PeopleService."""

from __future__ import annotations

import re
from typing import Any

import anyio
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from imagerepo.domain.accounts_service import AccountService
from imagerepo.domain.errors import InvalidPersonName
from imagerepo.domain.images_service import ImageService
from imagerepo.domain.people_service import PeopleService
from imagerepo.domain.queries import MAX_LIMIT, build_query
from imagerepo.entrypoints.http.auth import Auth, signed_in
from imagerepo.entrypoints.http.pages.common import card, field, page

_IMAGE_ID = re.compile(r"[0-9A-Za-z-]{1,64}")


def _person(people: PeopleService, s: Any) -> dict[str, Any]:
    return {"id": s.person.id, "name": s.person.name, "count": s.face_count, "cover": people.cover_url(s),
            "hidden": s.person.hidden}


@get("/people", sync_to_thread=True)
def people_page(request: Request[Any, Any, Any], viewer: NamedDependency[Auth | None],
                images: NamedDependency[ImageService], people: NamedDependency[PeopleService]) -> Template:
    account = signed_in(viewer)
    everyone = [_person(people, s) for s in people.people(account)]
    notice = {"off": "Face recognition is off. Every face and person was deleted.",
              "on": "Face recognition is on. Faces are found as your photos are analyzed."}.get(
        request.query_params.get("done", ""), "")
    return page(images, "people.html", account=account, active="people", people=everyone, notice=notice,
                enabled=account.settings.face_recognition, error=request.query_params.get("error", ""))


@post("/people/settings")
async def switch(request: Request[Any, Any, Any], viewer: NamedDependency[Auth | None],
                 accounts: NamedDependency[AccountService], people: NamedDependency[PeopleService]) -> Redirect:
    form = await request.form()
    viewer_account = signed_in(viewer)  # anonymous callers go to sign-in first, whatever the form says
    on = field(form, "face_recognition") == "on"
    if not on and field(form, "confirm") != "yes":  # deleting every face is asked, never one click
        return Redirect("/people?error=confirm", status_code=303)

    def apply() -> None:
        account = accounts.update_settings(viewer_account, face_recognition=on)
        if not account.settings.face_recognition:
            people.forget(account.id)  # biometric data: none is kept once the owner says no

    await anyio.to_thread.run_sync(apply)
    return Redirect(f"/people?done={'on' if on else 'off'}", status_code=303)


@post("/people/{person_id:str}/name")
async def rename(person_id: FromPath[str], request: Request[Any, Any, Any], viewer: NamedDependency[Auth | None],
                 people: NamedDependency[PeopleService]) -> Redirect:
    form = await request.form()
    back = "/people" if field(form, "back") != "person" else f"/people/{person_id}"
    name = field(form, "name")
    try:
        await anyio.to_thread.run_sync(lambda: people.rename(signed_in(viewer), person_id, name))
    except InvalidPersonName:
        return Redirect(f"{back}?error=name", status_code=303)
    return Redirect(back, status_code=303)


@get("/people/{person_id:str}", sync_to_thread=True)
def person_page(person_id: FromPath[str], request: Request[Any, Any, Any], viewer: NamedDependency[Auth | None],
                images: NamedDependency[ImageService], people: NamedDependency[PeopleService]) -> Template:
    account = signed_in(viewer)
    summary = people.person(account, person_id)
    found = images.search(build_query(account.id, people=[person_id], limit=MAX_LIMIT))
    others = [_person(people, s) for s in people.people(account, include_hidden=True) if s.person.id != person_id]
    return page(images, "person.html", account=account, active="people", person=_person(people, summary),
                items=[card(i) for i in found.items], others=others,
                more=found.next_cursor is not None, error=request.query_params.get("error", ""))


@post("/people/{person_id:str}/merge")
async def merge(person_id: FromPath[str], request: Request[Any, Any, Any], viewer: NamedDependency[Auth | None],
                people: NamedDependency[PeopleService]) -> Redirect:
    into = field(await request.form(), "into")
    merged = await anyio.to_thread.run_sync(lambda: people.merge(signed_in(viewer), person_id, into))
    return Redirect(f"/people/{merged.person.id}", status_code=303)


@post("/people/{person_id:str}/hide")
async def hide(person_id: FromPath[str], request: Request[Any, Any, Any], viewer: NamedDependency[Auth | None],
               people: NamedDependency[PeopleService]) -> Redirect:
    hidden = field(await request.form(), "hidden") != "0"
    await anyio.to_thread.run_sync(lambda: people.hide(signed_in(viewer), person_id, hidden))
    return Redirect("/people" if hidden else f"/people/{person_id}", status_code=303)


@post("/faces/{face_id:str}/person")
async def move_face(face_id: FromPath[str], request: Request[Any, Any, Any], viewer: NamedDependency[Auth | None],
                    people: NamedDependency[PeopleService]) -> Redirect:
    """From the detail page: "this is …" (a person's id) or "not this person" (an empty value)."""
    form = await request.form()
    to, image_id = field(form, "person_id") or None, field(form, "image_id")
    await anyio.to_thread.run_sync(lambda: people.move_face(signed_in(viewer), face_id, to))
    back = f"/images/{image_id}" if _IMAGE_ID.fullmatch(image_id) else "/people"  # never elsewhere
    return Redirect(back, status_code=303)


ROUTES = [people_page, switch, rename, person_page, merge, hide, move_face]
