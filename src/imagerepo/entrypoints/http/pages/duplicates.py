"""The Duplicates page: each group side by side; keep one, delete the rest in one step."""

from __future__ import annotations

from typing import Any

import anyio
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from imagerepo.domain import errors as E
from imagerepo.domain.images_service import ImageService
from imagerepo.domain.similarity_service import SimilarityService
from imagerepo.entrypoints.http.auth import Auth, signed_in
from imagerepo.entrypoints.http.pages.common import card, field, page

KIND_LABELS = {"exact": "Same picture", "near": "Same scene"}


@get("/duplicates", sync_to_thread=True)
def duplicates_page(request: Request[Any, Any, Any], viewer: NamedDependency[Auth | None],
                    images: NamedDependency[ImageService],
                    similarity: NamedDependency[SimilarityService]) -> Template:
    account = signed_in(viewer)
    groups = [{"kind": g.kind.value, "label": KIND_LABELS[g.kind.value], "images": [card(i) for i in g.images]}
              for g in similarity.duplicates(account)]
    deleted = request.query_params.get("deleted", "")
    notice = f"Deleted {deleted} image{'s' if deleted != '1' else ''}." if deleted.isdigit() else ""
    return page(images, "duplicates.html", account=account, groups=groups, notice=notice, active="duplicates")


@post("/duplicates/keep")
async def keep_one(request: Request[Any, Any, Any], viewer: NamedDependency[Auth | None],
                   images: NamedDependency[ImageService]) -> Redirect:
    """Keep the chosen image of a group and delete the group's others (only the account's own)."""
    account = signed_in(viewer)
    form = await request.form()
    keep = field(form, "keep")
    group = [v for v in form.getall("group") if isinstance(v, str)] if hasattr(form, "getall") else []

    def delete_rest() -> int:
        done = 0
        for image_id in dict.fromkeys(group):
            if image_id == keep or not keep:
                continue
            try:
                images.delete(account, image_id)
                done += 1
            except E.NotFound:
                pass  # already gone, or not this account's: nothing to do
        return done

    deleted = await anyio.to_thread.run_sync(delete_rest)
    return Redirect(f"/duplicates?deleted={deleted}", status_code=303)


ROUTES = [duplicates_page, keep_one]
