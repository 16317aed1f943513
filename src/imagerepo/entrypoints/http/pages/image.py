"""One image: its detail page, the fragments scripts refresh in place, re-analysis and deletion."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from imagerepo.domain.images_service import ImageService
from imagerepo.domain.people_service import PeopleService
from imagerepo.domain.similarity_service import SimilarityService
from imagerepo.entrypoints.http.auth import Auth, signed_in
from imagerepo.entrypoints.http.pages.common import card, fragment, own_card, page

MORE_LIKE_THIS = 8


def _image_page(template: str, image_id: str, viewer: Auth | None, images: ImageService, **context: Any) -> Template:
    account = signed_in(viewer)
    return page(images, template, account=account, image=own_card(images, account, image_id), **context)


@get("/images/{image_id:str}", sync_to_thread=True)
def detail(image_id: FromPath[str], viewer: NamedDependency[Auth | None],
           images: NamedDependency[ImageService], similarity: NamedDependency[SimilarityService],
           people: NamedDependency[PeopleService]) -> Template:
    account = signed_in(viewer)
    image = own_card(images, account, image_id)
    similar = [dict(card(s.image), similarity=s.similarity)
               for s in similarity.similar(account, image_id, MORE_LIKE_THIS)]
    faces = [{"id": f.id, "x": f.box.x * image["width"], "y": f.box.y * image["height"],
              "w": f.box.w * image["width"], "h": f.box.h * image["height"], "person": p}
             for f, p in people.faces_of(account, [image_id])[image_id]]
    everyone = [{"id": s.person.id, "name": s.person.name or "Unnamed person"}
                for s in people.people(account)] if faces else []
    return page(images, "detail.html", account=account, image=image, faces=faces, people=everyone,
                similar=similar)


# What browsers display inline; other accepted formats (HEIC) are shown by their JPEG thumbnail.
BROWSER_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif"})


def _fresh(url: str) -> Redirect:
    return Redirect(url, status_code=307, headers={"Cache-Control": "no-store"})


@get("/images/{image_id:str}/thumbnail", sync_to_thread=True)
def thumbnail(image_id: FromPath[str], viewer: NamedDependency[Auth | None],
              images: NamedDependency[ImageService]) -> Redirect:
    """The thumbnail through a fresh temporary URL: a page left open past the URLs' lifetime still
    loads the thumbnails its visitor scrolls to."""
    image = images.get(signed_in(viewer), image_id)
    return _fresh(images.urls(image).thumbnail_url)


@get("/images/{image_id:str}/original", sync_to_thread=True)
def original(image_id: FromPath[str], viewer: NamedDependency[Auth | None],
             images: NamedDependency[ImageService]) -> Redirect:
    image = images.get(signed_in(viewer), image_id)
    return _fresh(images.urls(image).url)


@get("/images/{image_id:str}/view", sync_to_thread=True)
def view(image_id: FromPath[str], viewer: NamedDependency[Auth | None],
         images: NamedDependency[ImageService]) -> Redirect:
    """What the detail page shows: the original, or its thumbnail when browsers cannot show the format."""
    image = images.get(signed_in(viewer), image_id)
    urls = images.urls(image)
    return _fresh(urls.url if image.content_type in BROWSER_IMAGE_TYPES else urls.thumbnail_url)


@get("/images/{image_id:str}/card", sync_to_thread=True)
def card_fragment(image_id: FromPath[str], viewer: NamedDependency[Auth | None],
                  images: NamedDependency[ImageService]) -> Template:
    """One gallery card, for the script that shows new uploads and finished analyses in place."""
    return fragment("_card_fragment.html", image=own_card(images, signed_in(viewer), image_id))


@get("/images/{image_id:str}/panel", sync_to_thread=True)
def analysis_panel(image_id: FromPath[str], viewer: NamedDependency[Auth | None],
                   images: NamedDependency[ImageService]) -> Template:
    """The analysis part of the detail page, for the script that updates it in place once analysis ends."""
    return fragment("_analysis_fragment.html", image=own_card(images, signed_in(viewer), image_id))


@get("/images/{image_id:str}/delete", sync_to_thread=True)
def confirm_delete(image_id: FromPath[str], viewer: NamedDependency[Auth | None],
                   images: NamedDependency[ImageService]) -> Template:
    return _image_page("delete.html", image_id, viewer, images)


@post("/images/{image_id:str}/delete", sync_to_thread=True)
def delete(image_id: FromPath[str], viewer: NamedDependency[Auth | None],
           images: NamedDependency[ImageService]) -> Redirect:
    images.delete(signed_in(viewer), image_id)
    return Redirect("/gallery?deleted=1", status_code=303)


@post("/images/{image_id:str}/analysis", sync_to_thread=True)
def reanalyze(image_id: FromPath[str], viewer: NamedDependency[Auth | None],
              images: NamedDependency[ImageService]) -> Redirect:
    images.reanalyze(signed_in(viewer), image_id)
    return Redirect(f"/images/{image_id}", status_code=303)


ROUTES = [detail, thumbnail, original, view, card_fragment, analysis_panel, confirm_delete, delete, reanalyze]
