"""My images: upload, list and search, one image, its original, deletion, re-analysis."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Annotated, Any

import anyio
import msgspec
from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect

from imagerepo.domain.images import Image
from imagerepo.domain.images_service import ImageService
from imagerepo.domain.people import Person
from imagerepo.domain.people_service import PeopleService
from imagerepo.domain.queries import build_query
from imagerepo.domain.similarity_service import SimilarityService
from imagerepo.entrypoints.http.auth import Auth
from imagerepo.entrypoints.http.deps import AppSettings
from imagerepo.entrypoints.http.schemas import ImagePageOut, UploadOperation, error_responses
from imagerepo.entrypoints.http.uploads import receive_file
from imagerepo.entrypoints.presenters import FaceOut, ImageOut

log = logging.getLogger(__name__)


class UploadedImageOut(ImageOut, kw_only=True):
    duplicate_of: str | None = None  # the id of an image of mine that is the same picture (re-saved, resized)


class FacesOut(msgspec.Struct):
    items: list[FaceOut]


def image_out(images: ImageService, image: Image, people: Sequence[Person] = ()) -> ImageOut:
    return ImageOut.of(image, images.urls(image), people)


@post("/api/v1/images", operation_id="uploadImage", tags=["images"], status_code=201,
      summary="Upload an image (multipart field 'file')",
      description="Stored encrypted; analysis runs in the background (`analysis.status`). The same bytes twice are "
                  "`409 duplicate_image` with the existing id; a full quota is `409 quota_exceeded`. A copy of a "
                  "picture I hold (re-saved, resized, re-compressed) is stored, with `duplicate_of` its id.",
      operation_class=UploadOperation, request_max_body_size=None,  # receive_file enforces the limit itself
      responses=error_responses(400, 401, 409, 413, 415, 422, 503))
async def upload(request: Request[Any, Any, Any], auth: NamedDependency[Auth], images: NamedDependency[ImageService],
                 settings: AppSettings, similarity: NamedDependency[SimilarityService]) -> Response[UploadedImageOut]:
    tmp_dir = settings.data_dir / "tmp"
    # One mkdir call (the directory is there after the first upload): no thread hop for it, as
    # receive_file's own mkstemp and writes run here too.
    tmp_dir.mkdir(parents=True, exist_ok=True)
    received = await receive_file(
        request.headers.get("content-type", ""), request.headers.get("content-length"), request.stream(),
        max_bytes=settings.max_upload_bytes, tmp_dir=tmp_dir,
    )

    def store() -> tuple[Image, UploadedImageOut]:
        try:
            # The receiver hashed the bytes as it wrote them to its own temporary file: not hashed again.
            stored = images.store_upload(
                auth.account, received.filename, received.path, received.sha256, hashed_on_write=True
            )
        finally:
            received.remove()
        image = stored.image
        try:
            copy_of = similarity.exact_copy_of(auth.account, image.id, stored.phash)
        except Exception:  # the image is stored: a note that cannot be made must not report a failure
            log.warning("duplicate check of %s failed", image.id, exc_info=True)
            copy_of = None
        return image, UploadedImageOut(**msgspec.structs.asdict(image_out(images, image)), duplicate_of=copy_of)

    try:
        image, out = await anyio.to_thread.run_sync(store)  # one thread hop: each costs under load
    finally:
        received.remove()  # already gone when store() ran: one unlink that finds nothing
    return Response(out, status_code=201, headers={"Location": f"/api/v1/images/{image.id}"})


@get("/api/v1/images", operation_id="listImages", tags=["images"], sync_to_thread=True,
     summary="List and search my images",
     description="Newest first unless `sort` says otherwise; follow `next_cursor` for the next page.",
     responses=error_responses(400, 401, 422, 503))
def list_images(
    auth: NamedDependency[Auth],
    images: NamedDependency[ImageService],
    people: NamedDependency[PeopleService],
    q: Annotated[
        str | None, QueryParameter(description="words matched against description, tags, text, filename; "
                                             "a named person's name finds the photos of that person")
    ] = None,
    tag: Annotated[list[str] | None, QueryParameter(description="repeatable; every tag must be present")] = None,
    color: Annotated[str | None, QueryParameter(
        description="#rrggbb; near palette colors, or ones of the same basic color name; closest first"
    )] = None,
    sort: Annotated[
        str | None,
        QueryParameter(
            description="-uploaded_at (default), uploaded_at, filename, -size_bytes, size_bytes, -taken_at, taken_at"
            " (images without taken_at after the others, by upload time)"
        ),
    ] = None,
    limit: Annotated[str | None, QueryParameter(description="1-100, default 20")] = None,
    cursor: Annotated[str | None, QueryParameter(description="next_cursor of the previous page")] = None,
    place: Annotated[str | None, QueryParameter(description="words matched against city, region and country")] = None,
    taken_after: Annotated[
        str | None, QueryParameter(description="RFC 3339 date or date-time; taken at or after it")
    ] = None,
    taken_before: Annotated[
        str | None, QueryParameter(description="RFC 3339 date or date-time; taken before it")
    ] = None,
    person: Annotated[
        list[str] | None, QueryParameter(description="person id (GET /api/v1/people); repeatable, all must be in it")
    ] = None,
) -> ImagePageOut:
    q, named = people.split_query(auth.account, q)  # "grace beach": Grace's photos at the beach
    query = build_query(
        auth.account.id, q=q, tags=tag or [], color=color, sort=sort, limit=limit, cursor=cursor, place=place,
        taken_after=taken_after, taken_before=taken_before, people=[*(person or []), *named],
    )
    page = images.search(query)
    who = people.people_of(auth.account, [i.id for i in page.items])
    return ImagePageOut(
        items=[image_out(images, i, who.get(i.id, ())) for i in page.items],
        next_cursor=page.next_cursor.encode(query) if page.next_cursor else None,
    )


@get("/api/v1/images/{image_id:str}", operation_id="getImage", tags=["images"], sync_to_thread=True,
     summary="One image", description="Its metadata, analysis and temporary URLs of the original and thumbnail.",
     responses=error_responses(401, 404, 503))
def get_image(image_id: FromPath[str], auth: NamedDependency[Auth], images: NamedDependency[ImageService],
              people: NamedDependency[PeopleService]) -> ImageOut:
    image = images.get(auth.account, image_id)
    return image_out(images, image, people.people_of(auth.account, [image.id]).get(image.id, ()))


@get("/api/v1/images/{image_id:str}/faces", operation_id="listImageFaces", tags=["people"], sync_to_thread=True,
     summary="The faces in an image (extension)",
     description="Each face's box (fractions of the image's width and height) and person; empty unless face "
                 "recognition is on.", responses=error_responses(401, 404, 503))
def image_faces(image_id: FromPath[str], auth: NamedDependency[Auth], images: NamedDependency[ImageService],
                people: NamedDependency[PeopleService]) -> FacesOut:
    image = images.get(auth.account, image_id)
    return FacesOut(items=[FaceOut.of(f, p) for f, p in people.faces_of(auth.account, [image.id])[image.id]])


@get("/api/v1/images/{image_id:str}/content", operation_id="getImageContent", tags=["images"],
     sync_to_thread=True, status_code=307, summary="Redirect to the temporary URL of the original",
     description="A 307 to a signed URL that expires; fetch it without the bearer token.",
     responses=error_responses(401, 404, 503))
def image_content(image_id: FromPath[str], auth: NamedDependency[Auth],
                  images: NamedDependency[ImageService]) -> Redirect:
    image = images.get(auth.account, image_id)
    return Redirect(images.urls(image).url, status_code=307, headers={"Cache-Control": "no-store"})


@delete("/api/v1/images/{image_id:str}", operation_id="deleteImage", tags=["images"], status_code=204,
        sync_to_thread=True, summary="Delete an image, its blobs and its quota slot",
        description="Its URLs stop working at once.", responses=error_responses(401, 404, 503))
def delete_image(image_id: FromPath[str], auth: NamedDependency[Auth], images: NamedDependency[ImageService]) -> None:
    images.delete(auth.account, image_id)


@post("/api/v1/images/{image_id:str}/analysis", operation_id="reanalyzeImage", tags=["images"], status_code=202,
      sync_to_thread=True, summary="Re-run the analysis",
      description="Queues the image for analysis again; the answer shows it pending.",
      responses=error_responses(401, 404, 503))
def reanalyze(image_id: FromPath[str], auth: NamedDependency[Auth], images: NamedDependency[ImageService]) -> ImageOut:
    return image_out(images, images.reanalyze(auth.account, image_id))


ROUTES = [upload, list_images, get_image, image_faces, image_content, delete_image, reanalyze]
