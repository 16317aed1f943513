"""What every response and request goes through: security headers, the access log, the pages' CSRF
and CSP, the guards against cross-site requests, and the one check of where a redirect may go."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.enums import RequestEncodingType
from litestar.exceptions import PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.middleware.csrf import CSRFMiddleware
from litestar.types import ASGIApp, Guard, Receive, Scope, Send

from imagerepo.domain.errors import CrossOriginRequest, UnsupportedMediaType
from imagerepo.entrypoints.settings import Settings

access_log = logging.getLogger("imagerepo.access")

SECURITY_HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"x-frame-options": b"DENY",
    b"cross-origin-opener-policy": b"same-origin",
    b"permissions-policy": b"camera=(), microphone=(), geolocation=()",
}
CSRF_COOKIE = "imagerepo_csrf"
# Route option: the handler refuses requests whose Origin names another site (see same_origin_guard).
SAME_ORIGIN = "same_origin"
# Route option for the upload form and the share target: as SAME_ORIGIN, but an opaque Origin
# ("null", as an OS share sheet may send) is let through; page_security has refused other sites already.
FROM_OWN_PAGES = "from_own_pages"
_OTHER_SITES = (b"cross-site", b"same-site")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# The Web Share Target's action: a POST the OS builds, so it carries no CSRF token (SECURITY.md).
SHARE_PATH = "/share"
_DEFAULT_PORTS = {"http": 80, "https": 443}


# ------------------------------------------------------------------------ every response


def _with_security_headers(headers: list[Any]) -> list[Any]:
    present = {bytes(k).lower() for k, _ in headers}
    return headers + [(k, v) for k, v in SECURITY_HEADERS.items() if k not in present]


def security_headers_middleware(app: Any) -> Any:
    """Adds the security headers to every response (errors included, unless a handler set its own)
    and logs one line per request. The query string is never logged: it carries URL signatures."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": _with_security_headers(list(message.get("headers", [])))}
            await send(message)

        try:
            await app(scope, receive, send_with_headers)
        finally:
            access_log.info(
                "%s %s %s %.1fms", scope["method"], scope["path"], status, (time.perf_counter() - started) * 1000,
                extra={"method": scope["method"], "path": scope["path"], "status": status},
            )

    return middleware


async def add_security_headers(message: Any, scope: Any) -> None:
    """before_send hook: responses Litestar makes outside any route (unknown path, wrong method)
    bypass the middleware, so the headers are added here too."""
    if message["type"] == "http.response.start":
        message["headers"] = _with_security_headers(list(message.get("headers", [])))


# ------------------------------------------------------------------------ pages: CSP and CSRF


def content_security_policy(settings: Settings) -> str:
    """No inline script or style; images from this site, plus the S3 endpoint when URLs point there
    (its bucket subdomains too, when the addressing style is not path)."""
    img = ["'self'"]
    if settings.uses_s3:
        endpoint = urlsplit(settings.s3_endpoint_url or "")
        if not endpoint.netloc:
            img.append("https://*.amazonaws.com")
        else:
            img.append(f"{endpoint.scheme}://{endpoint.netloc}")
            if settings.s3_addressing_style in ("virtual", "auto"):
                img.append(f"{endpoint.scheme}://*.{endpoint.netloc}")
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src " + " ".join(img) + "; "
        "connect-src 'self'; worker-src 'self'; manifest-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


def csrf_secret(url_key: bytes) -> str:
    return hmac.new(url_key, b"imagerepo csrf v1", hashlib.sha256).hexdigest()


FORBIDDEN_PAGE = (
    b'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
    b'content="width=device-width, initial-scale=1"><title>Please try again \xc2\xb7 imagerepo</title>'
    b'<link rel="stylesheet" href="/static/app.css"></head><body><main id="main"><section class="narrow">'
    b"<h1>Please try again</h1><p>This form has expired or did not come from this site. Go back, reload the "
    b'page and send it again.</p><p><a href="/">Back to imagerepo</a></p></section></main></body></html>'
)


def _sent_by_another_site(scope: Scope) -> bool:
    """The browser's own word (Sec-Fetch-Site) that another site's page sent this request."""
    return any(k == b"sec-fetch-site" and v.strip().lower() in _OTHER_SITES for k, v in scope["headers"])


def page_security(secret: Callable[[], str], csp: Callable[[], str]) -> Callable[[ASGIApp], ASGIApp]:
    """Middleware for the pages only: CSRF (Litestar's double-submit token, a Secure cookie over
    https; none on the share target, see SECURITY.md), a refusal of any form another site sends,
    and the CSP. ``secret`` and ``csp`` are read on first use: the keys load with the app."""

    def factory(app: ASGIApp) -> ASGIApp:
        inner: dict[bool, CSRFMiddleware] = {}
        policy: list[bytes] = []

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            https = scope.get("scheme") == "https"
            if https not in inner:
                inner[https] = CSRFMiddleware(app, CSRFConfig(
                    secret=secret(), cookie_name=CSRF_COOKIE, cookie_httponly=True,
                    cookie_secure=https, cookie_samesite="lax", exclude=[f"^{SHARE_PATH}$"]))
            if not policy:
                policy.append(csp().encode())

            async def send_with_csp(message: Any) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers", []))
                    if (any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
                            and not any(k.lower() == b"content-security-policy" for k, _ in headers)):
                        headers.append((b"content-security-policy", policy[0]))
                    message = {**message, "headers": headers}
                await send(message)

            try:
                if scope.get("method", "GET") not in _SAFE_METHODS and _sent_by_another_site(scope):
                    raise PermissionDeniedException()  # before the body is read: nothing is parsed or kept
                await inner[https](scope, receive, send_with_csp)
            except PermissionDeniedException:
                # Answered here, not by exception handlers: the app's middleware would log a 500.
                await send_with_csp({"type": "http.response.start", "status": 403, "headers": [
                    (b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"no-store")]})
                await send_with_csp({"type": "http.response.body", "body": FORBIDDEN_PAGE})

        return middleware

    return factory


# ------------------------------------------------------------------------ guards of the API


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


def same_origin_guard(public_url: str) -> Guard:
    """A guard for the routes marked ``opt={SAME_ORIGIN: True}``: refuse (403) a request whose
    Origin header names another site.

    No Origin is a script or an old browser, not a cross-site page (browsers send Origin on
    every cross-site POST). Ours is the request's own scheme and host, and IMAGEREPO_PUBLIC_URL.
    """
    public = _origin(public_url) if public_url else None

    def same_origin_only(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        origin = connection.headers.get("origin")
        own_pages = bool(handler.opt.get(FROM_OWN_PAGES))
        if not (handler.opt.get(SAME_ORIGIN) or own_pages) or origin is None:
            return
        if own_pages and origin.strip() == "null":
            return  # an OS share sheet's POST may carry no origin; the SameSite=Lax cookie still must come
        url = connection.url
        ours = {_origin(f"{url.scheme}://{url.netloc}"), public} - {None}
        theirs = _origin(origin.strip())
        if theirs is None or theirs not in ours:
            raise CrossOriginRequest()

    return same_origin_only


# ------------------------------------------------------------------------ redirects


def safe_path(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site, else ``default``: an open redirect would make the
    sign-in pages a phishing tool."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default
