"""Server-rendered pages. A minimal landing page for now; the full UI builds on the same services."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Response, get

LANDING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>imagerepo</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}
label{display:block;margin:.5rem 0}input{width:100%;padding:.5rem;font:inherit}
button{padding:.5rem 1rem;font:inherit}</style></head>
<body><h1>imagerepo</h1><p>Your private image repository.</p>
<form id="signin"><label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button>Sign in</button></form><p id="msg" role="status"></p>
<p>API documentation: <a href="/schema/openapi.json">OpenAPI</a>.</p>
</body></html>"""


@get("/", include_in_schema=False)
async def landing() -> Response[str]:
    return Response(LANDING, media_type=MediaType.HTML)


def route_handlers() -> list[Any]:
    return [landing]
