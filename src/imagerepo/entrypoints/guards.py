"""Request guards against cross-site requests: JSON bodies only, and same-origin sign-in."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection
from litestar.enums import RequestEncodingType
from litestar.handlers import BaseRouteHandler

from imagerepo.domain.errors import CrossOriginRequest, UnsupportedMediaType

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _takes_json(handler: BaseRouteHandler) -> bool:
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return False
    media_type = getattr(data.kwarg_definition, "media_type", RequestEncodingType.JSON)
    return bool(media_type == RequestEncodingType.JSON)


def _has_body(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    length = connection.headers.get("content-length")
    return (length is not None and length.strip() != "0") or "transfer-encoding" in connection.headers


def json_bodies_only(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """A route that reads a JSON body refuses any other body with 415.

    A cross-site form or a no-cors fetch can send text/plain, form-urlencoded, multipart or
    untyped bodies without a CORS preflight; application/json needs one, which this API never
    grants. So refusing the rest closes cross-site requests to every JSON endpoint.
    """
    if not _takes_json(handler) or not _has_body(connection):
        return
    media_type = connection.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType("This endpoint takes a JSON body: send Content-Type: application/json.",
                                   accepted=["application/json"])


def _origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not scheme or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS.get(scheme)


def same_origin_only(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Refuse (403) a request whose Origin header names another site.

    No Origin is a script or an old browser, not a cross-site page (browsers send Origin on
    every cross-site POST). Ours is the request's own scheme and host, and IMAGEREPO_PUBLIC_URL.
    """
    origin = connection.headers.get("origin")
    if origin is None:
        return
    url = connection.url
    ours = {_origin(f"{url.scheme}://{url.netloc}")}
    public_url = connection.app.state.container.settings().public_url
    if public_url:
        ours.add(_origin(public_url))
    theirs = _origin(origin.strip())
    if theirs is None or theirs not in ours:
        raise CrossOriginRequest()
