"""The gallery (my images, newest first) and the search page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from imagerepo.domain import errors as E
from imagerepo.domain.accounts import Account
from imagerepo.domain.images_service import ImageService
from imagerepo.domain.people_service import PeopleService
from imagerepo.domain.queries import SortOrder, build_query
from imagerepo.domain.similarity_service import SimilarityService
from imagerepo.entrypoints.http.auth import Auth, signed_in
from imagerepo.entrypoints.http.deps import AppSettings
from imagerepo.entrypoints.http.pages.common import card, page

PAGE_SIZE = 24
HIDE_COPIES_REFILLS = 10  # pages read at most to fill one page when copies are hidden
TOP_TAGS = 24  # "your tags" on the search page: the most used ones

SORT_LABELS = {
    SortOrder.NEWEST.value: "Newest first",
    SortOrder.OLDEST.value: "Oldest first",
    SortOrder.FILENAME.value: "File name",
    SortOrder.LARGEST.value: "Largest first",
    SortOrder.SMALLEST.value: "Smallest first",
    SortOrder.TAKEN_NEWEST.value: "Taken, newest first",
    SortOrder.TAKEN_OLDEST.value: "Taken, oldest first",
}
# The gallery's two views: by upload time, or the timeline by capture time grouped by month.
VIEWS = {"uploaded": "Uploaded", "taken": "Taken"}


def _multi(params: Any) -> list[tuple[str, str]]:
    return [(k, v) for k, v in params.multi_items()]


_OUT_OF_DATE = "This link to a further page is out of date (or was changed): start again from the first page."


def listing(request: Request[Any, Any, Any], images: ImageService, account: Account, *, search: bool,
            people: PeopleService | None = None, cursor: str | None = None) -> dict[str, Any]:
    """Runs the list/search query of the page's parameters; bad parameters become a message.
    With ``people``, a named person's name in q finds that person's photos."""
    params = request.query_params
    q = params.get("q", "") if search else ""
    tags = [t for t in params.getall("tag", []) if t.strip()]
    color = params.get("color", "") if search and params.get("use_color") else ""
    view = "taken" if not search and params.get("view") == "taken" else "uploaded"
    sort = params.get("sort", "") if search else ("-taken_at" if view == "taken" else "")
    place = params.get("place", "") if search else ""
    taken_after = params.get("taken_after", "") if search else ""
    taken_before = params.get("taken_before", "") if search else ""
    cursor = params.get("cursor", "") if cursor is None else cursor
    problems: list[str] = []
    items: list[dict[str, Any]] = []
    next_url = next_cursor = ""
    words, named = people.split_query(account, q) if people is not None else (q, [])
    try:
        query = build_query(account.id, q=words, tags=tags, color=color or None, sort=sort or None,
                            limit=PAGE_SIZE, cursor=cursor or None, place=place or None,
                            taken_after=taken_after or None, taken_before=taken_before or None, people=named)
        found = images.search(query)
    except E.InvalidQuery as e:
        problems = [_OUT_OF_DATE if field == "cursor" else f"{field}: {'; '.join(msgs)}"
                    for field, msgs in e.details.items()] or [e.message]
    else:
        items = [card(i) for i in found.items]
        if found.next_cursor is not None:
            keep: list[tuple[str, str]] = [
                (k, v) for k in ("q", "use_color", "color", "sort", "place", "taken_after", "taken_before")
                if (v := params.get(k, "")) and search
            ]
            if view == "taken":
                keep.append(("view", "taken"))
            keep += [("tag", t) for t in tags]
            next_cursor = found.next_cursor.encode(query)
            keep.append(("cursor", next_cursor))
            next_url = f"{request.url.path}?{urlencode(keep)}"
    base = "/search" if search else "/gallery"
    chips = [{"name": t, "remove_url": base + ("?" + urlencode(
        [(k, v) for k, v in _multi(params) if not (k == "tag" and v == t) and k != "cursor"])
        if len(_multi(params)) > 1 else "")} for t in tags]
    return {"items": items, "next_url": next_url, "next_cursor": next_cursor, "problems": problems,
            "q": q, "tags": tags, "chips": chips,
            "color": color or params.get("color", "#1f6fb2") or "#1f6fb2", "use_color": bool(color),
            "sort": sort, "sorts": SORT_LABELS, "view": view, "views": VIEWS, "months": months(items),
            "place": place, "taken_after": taken_after, "taken_before": taken_before,
            "filtered": bool(q or tags or color or cursor or place or taken_after or taken_before)}


def months(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The timeline: runs of cards taken in the same month, in page order, each under its month."""
    out: list[dict[str, Any]] = []
    for item in items:
        if not out or out[-1]["label"] != item["month"]:
            out.append({"label": item["month"], "items": []})
        out[-1]["items"].append(item)
    return out


@get("/gallery", sync_to_thread=True)
def gallery(request: Request[Any, Any, Any], viewer: NamedDependency[Auth | None],
            images: NamedDependency[ImageService], settings: AppSettings,
            similarity: NamedDependency[SimilarityService]) -> Template:
    account = signed_in(viewer)
    notice = "The image was deleted." if request.query_params.get("deleted") else ""
    found = listing(request, images, account, search=False)
    hide = request.query_params.get("hide_copies") == "1"
    if hide:  # exact copies of an earlier image stay out of sight (the Duplicates page lists them)
        copies = similarity.copies(account)
        found["items"] = [i for i in found["items"] if i["id"] not in copies]
        # A page of copies alone would look empty: fill it from the next pages (a bounded number).
        for _ in range(HIDE_COPIES_REFILLS):
            if len(found["items"]) >= PAGE_SIZE or not found["next_cursor"]:
                break
            more = listing(request, images, account, search=False, cursor=found["next_cursor"])
            found["items"] += [i for i in more["items"] if i["id"] not in copies]
            found["next_url"], found["next_cursor"] = more["next_url"], more["next_cursor"]
        found["months"] = months(found["items"])
        if found["next_url"]:
            found["next_url"] += "&hide_copies=1"
    return page(images, "gallery.html", account=account, notice=notice, upload_results=[],
                max_upload_bytes=settings.max_upload_bytes, hide_copies=hide, **found)


def your_tags(request: Request[Any, Any, Any], images: ImageService, account: Account,
              selected: list[str]) -> list[dict[str, Any]]:
    """The account's most used tags as chips: one click adds the tag to the search, or takes it off again."""
    counts = images.tag_counts(account)[:TOP_TAGS]
    chosen = {t.casefold() for t in selected}
    kept = [(k, v) for k, v in _multi(request.query_params) if k != "cursor"]
    chips = []
    for name, n in counts:
        on = name in chosen
        params = ([(k, v) for k, v in kept if not (k == "tag" and v.casefold() == name)] if on
                  else [*kept, ("tag", name)])
        chips.append({"name": name, "count": n, "selected": on,
                      "url": "/search" + (f"?{urlencode(params)}" if params else "")})
    return chips


@get("/search", sync_to_thread=True)
def search(request: Request[Any, Any, Any], viewer: NamedDependency[Auth | None],
           images: NamedDependency[ImageService], people: NamedDependency[PeopleService]) -> Template:
    account = signed_in(viewer)
    found = listing(request, images, account, search=True, people=people)
    return page(images, "search.html", account=account,
                your_tags=your_tags(request, images, account, found["tags"]), **found)


ROUTES = [gallery, search]
