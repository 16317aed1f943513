"""Uploads without JavaScript: the gallery's form, its files one by one, each with its own outcome."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

import anyio
from litestar import Request, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.response import Template

from imagerepo.domain import errors as E
from imagerepo.domain.images_service import ImageService
from imagerepo.entrypoints.http.auth import Auth, signed_in
from imagerepo.entrypoints.http.deps import AppSettings
from imagerepo.entrypoints.http.errors import plain_message
from imagerepo.entrypoints.http.pages.common import page
from imagerepo.entrypoints.http.pages.gallery import listing
from imagerepo.entrypoints.http.security import FROM_OWN_PAGES, SHARE_PATH


# The gallery's form, and the Web Share Target of the installed app (pages/pwa.py): one handler,
# one upload path and quota. /share has no CSRF token; FROM_OWN_PAGES and the session cookie guard it.
@post(["/upload", SHARE_PATH], opt={FROM_OWN_PAGES: True})
async def upload(request: Request[Any, Any, Any], viewer: NamedDependency[Auth | None],
                 images: NamedDependency[ImageService], settings: AppSettings) -> Template:
    account = signed_in(viewer)
    form = await request.form()
    files = [f for f in form.getall("file", []) if isinstance(f, UploadFile)]
    tmp_dir = settings.data_dir / "tmp"
    results: list[dict[str, Any]] = []

    def store(f: UploadFile) -> dict[str, Any]:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with tempfile.NamedTemporaryFile(dir=tmp_dir, prefix="form-", delete=False) as out:
            f.file.seek(0)
            while chunk := f.file.read(1 << 20):
                digest.update(chunk)  # hashed as written: the decode need not hash the file again
                out.write(chunk)
            path = Path(out.name)
        try:
            if path.stat().st_size > settings.max_upload_bytes:
                raise E.TooLarge(settings.max_upload_bytes)
            image = images.upload(account, f.filename, path, digest.hexdigest(), hashed_on_write=True)
        except E.DomainError as e:
            return {"filename": f.filename or "file", "ok": False, "message": plain_message(e)}
        finally:
            path.unlink(missing_ok=True)
        return {"filename": image.filename, "ok": True, "message": "Uploaded.", "id": image.id}

    for f in files:
        results.append(await anyio.to_thread.run_sync(store, f))
    if not files:
        results.append({"filename": "", "ok": False, "message": "Choose at least one image to upload."})
    status = 201 if all(r["ok"] for r in results) else 200
    return await anyio.to_thread.run_sync(lambda: page(
        images, "gallery.html", status, account=account, notice="", upload_results=results,
        max_upload_bytes=settings.max_upload_bytes, **listing(request, images, account, search=False)))


ROUTES = [upload]
