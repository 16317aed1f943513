"""More like this, and the duplicate groups."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from imagerepo.domain.images_service import ImageService
from imagerepo.domain.similarity_service import SimilarityService
from imagerepo.entrypoints.http.auth import Auth
from imagerepo.entrypoints.http.schemas import error_responses
from imagerepo.entrypoints.presenters import ImageOut


class SimilarImageOut(ImageOut, kw_only=True):
    similarity: float


class SimilarPageOut(msgspec.Struct):
    items: list[SimilarImageOut]


class DuplicateGroupOut(msgspec.Struct):
    kind: str
    images: list[ImageOut]


class DuplicatesOut(msgspec.Struct):
    groups: list[DuplicateGroupOut]


def _limit(value: str | None) -> int:
    try:
        return max(1, min(100, int(value))) if value else 20
    except ValueError:
        return 20


@get("/api/v1/images/{image_id:str}/similar", operation_id="listSimilarImages", tags=["images"],
     sync_to_thread=True, summary="More like this",
     description="My images that look most like this one by content (the analysis's embedding), most similar "
                 "first, each with `similarity` in 0..1; never the image itself. Empty until its analysis is done.",
     responses=error_responses(401, 404, 503))
def similar_images(
    image_id: FromPath[str], auth: NamedDependency[Auth], images: NamedDependency[ImageService],
    similarity: NamedDependency[SimilarityService],
    limit: Annotated[str | None, QueryParameter(description="1-100, default 20")] = None,
) -> SimilarPageOut:
    found = similarity.similar(auth.account, image_id, _limit(limit))
    items = []
    for s in found:
        out = ImageOut.of(s.image, images.urls(s.image))
        items.append(SimilarImageOut(**msgspec.structs.asdict(out), similarity=round(s.similarity, 4)))
    return SimilarPageOut(items=items)


@get("/api/v1/duplicates", operation_id="listDuplicates", tags=["images"], sync_to_thread=True,
     summary="Duplicate groups",
     description="`exact`: the same picture re-encoded, resized or re-saved (every copy, oldest first); `near`: "
                 "the same scene shot again (a burst, a small shift), one image per picture.",
     responses=error_responses(401, 503))
def duplicates(auth: NamedDependency[Auth], images: NamedDependency[ImageService],
               similarity: NamedDependency[SimilarityService]) -> DuplicatesOut:
    return DuplicatesOut(groups=[
        DuplicateGroupOut(kind=g.kind.value, images=[ImageOut.of(i, images.urls(i)) for i in g.images])
        for g in similarity.duplicates(auth.account)
    ])


ROUTES = [similar_images, duplicates]
