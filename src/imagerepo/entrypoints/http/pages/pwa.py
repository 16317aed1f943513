"""The installable app: the web app manifest (with its Web Share Target), the service worker and
the icons. The share target's POST goes to /share: the upload form's handler (pages/upload.py)."""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Any

from litestar import Response, get
from litestar.params import FromPath
from PIL import Image, ImageDraw

from imagerepo.domain.errors import NotFound
from imagerepo.entrypoints.http.security import SHARE_PATH

HERE = Path(__file__).parent
ICON_SIZES = (192, 512)
THEME = "#1f4e79"
# What the service worker keeps: the app shell only, never a page, an image or an API answer.
SHELL = ["/static/app.css", "/static/app.js", "/static/offline.html", "/manifest.webmanifest",
         *[f"/icons/icon-{s}.png" for s in ICON_SIZES]]


def manifest() -> dict[str, Any]:
    return {
        "name": "imagerepo",
        "short_name": "imagerepo",
        "description": "Your private image repository",
        "id": "/",
        "start_url": "/gallery",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": THEME,
        "icons": [{"src": f"/icons/icon-{s}.png", "sizes": f"{s}x{s}", "type": "image/png", "purpose": "any"}
                  for s in ICON_SIZES] + [{"src": "/icons/icon-512.png", "sizes": "512x512", "type": "image/png",
                                           "purpose": "maskable"}],
        # "Share → imagerepo": the OS posts the photos as multipart, field "file", like the upload form.
        "share_target": {
            "action": SHARE_PATH,
            "method": "POST",
            "enctype": "multipart/form-data",
            "params": {"files": [{"name": "file", "accept": ["image/jpeg", "image/png", "image/gif",
                                                             "image/webp", "image/*"]}]},
        },
    }


@get("/manifest.webmanifest", sync_to_thread=False)
def web_manifest() -> Response[dict[str, Any]]:
    return Response(manifest(), media_type="application/manifest+json", headers={"Cache-Control": "no-cache"})


@functools.cache
def service_worker_source() -> bytes:
    source = (HERE / "sw.js").read_text()
    return source.replace("/*SHELL*/[]", repr(SHELL).replace("'", '"')).encode()


@get("/sw.js", sync_to_thread=False)
def service_worker() -> Response[bytes]:
    """At the root, so its scope is the whole site; never cached by HTTP, so updates take effect."""
    return Response(service_worker_source(), media_type="text/javascript",
                    headers={"Cache-Control": "no-cache"})


@functools.cache
def icon_png(size: int) -> bytes:
    """A drawn icon (a photo frame with a mountain and a sun), made once with Pillow: no binary in the repo.
    The motif stays inside the central 80 % so the maskable crop keeps it."""
    img = Image.new("RGB", (size, size), THEME)
    d = ImageDraw.Draw(img)
    u = size / 10
    d.rounded_rectangle((2 * u, 2.5 * u, 8 * u, 7.5 * u), radius=u / 2, fill="#ffffff")
    d.polygon([(2.6 * u, 7 * u), (4.6 * u, 4.2 * u), (6 * u, 6 * u), (6.6 * u, 5.2 * u), (7.4 * u, 7 * u)],
              fill="#2e7d32")
    d.ellipse((5.9 * u, 3.1 * u, 6.9 * u, 4.1 * u), fill="#f9a825")
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return out.getvalue()


@get("/icons/{name:str}", sync_to_thread=True)
def icon(name: FromPath[str]) -> Response[bytes]:
    size = next((s for s in ICON_SIZES if name == f"icon-{s}.png"), None)
    if size is None:
        raise NotFound("icon")
    return Response(icon_png(size), media_type="image/png", headers={"Cache-Control": "public, max-age=86400"})


ROUTES = [web_manifest, service_worker, icon]
