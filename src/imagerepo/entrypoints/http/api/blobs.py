"""The embedded file store's signed, expiring URLs (S3 URLs go straight to S3)."""

from __future__ import annotations

import time
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from imagerepo.entrypoints.http.deps import SignedBlobReader


@get("/blobs/{key:path}", tags=["blobs"], sync_to_thread=True, include_in_schema=False)
def serve_blob(request: Request[Any, Any, Any], key: FromPath[str],
               signed_blobs: NamedDependency[SignedBlobReader]) -> Response[bytes]:
    """Serves a blob only while its image is live: a blob whose delete failed waits for the sweeper, unreachable."""
    exp = request.query_params.get("exp", "")
    sig = request.query_params.get("sig", "")
    data, content_type = signed_blobs(key.lstrip("/"), exp, sig)
    try:
        remaining = max(0, int(exp) - int(time.time()))
    except ValueError:
        remaining = 0
    return Response(
        data,
        media_type=content_type or "application/octet-stream",
        headers={
            "Cache-Control": f"private, max-age={remaining}",
            "Content-Disposition": "inline",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
        },
    )


ROUTES = [serve_blob]
