"""The one error mapper: the domain-error table of API.md, and one handler that answers the API in
JSON and a browser's page with an HTML page, for every kind of failure."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect, Template
from litestar.types import ExceptionHandlersMap

from imagerepo.domain import errors as E
from imagerepo.domain.images import format_names
from imagerepo.entrypoints.http.schemas import ErrorBody, ErrorOut
from imagerepo.entrypoints.http.security import content_security_policy
from imagerepo.entrypoints.presenters import filesize
from imagerepo.entrypoints.settings import Settings

log = logging.getLogger("imagerepo.http")

# One table maps each domain error to the status of API.md.
STATUS: dict[type[E.DomainError], int] = {
    E.InvalidCredentialsFormat: 422,
    E.UsernameTaken: 409,
    E.InvalidLogin: 401,
    E.TooManyAttempts: 429,
    E.Unauthenticated: 401,
    E.NotFound: 404,
    E.BlobMissing: 404,
    E.TooLarge: 413,
    E.UnsupportedMediaType: 415,
    E.CrossOriginRequest: 403,
    E.InvalidImage: 422,
    E.QuotaExceeded: 409,
    E.DuplicateImage: 409,
    E.InvalidQuery: 422,
    E.TokenLifetimeTooLong: 422,
    E.InvalidPersonName: 422,
    E.ValidationFailed: 400,
    E.ServiceUnavailable: 503,
}

HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}

# Route option marking the web UI's routes: their errors are pages, whatever the client accepts.
PAGE = "page"
# Paths that are the API's (or files), never pages: their errors stay JSON whatever the client accepts.
NOT_PAGES = ("/api/", "/health/", "/schema", "/blobs/", "/static/")


def wants_page(request: Request[Any, Any, Any]) -> bool:
    """Whether this request's errors are shown as an HTML page: on the web UI's routes, and for a
    browser asking for a page at a path that is no route. Never on the API or for files."""
    if request.url.path.startswith(NOT_PAGES):
        return False
    handler = request.scope.get("route_handler")
    if handler is not None and handler.opt.get(PAGE):
        return True
    return "text/html" in request.headers.get("accept", "")


def plain_message(exc: E.DomainError) -> str:
    """What an upload error means to a person; the JavaScript in pages/static/app.js says the same."""
    if isinstance(exc, E.UnsupportedMediaType):
        return f"This file is not an image. Choose a {format_names(exc.details.get('accepted') or [])} photo."
    if isinstance(exc, E.QuotaExceeded):
        return f"You have reached your limit of {exc.limit} images — delete one to upload more."
    if isinstance(exc, E.DuplicateImage):
        return "You have already uploaded this exact image."
    if isinstance(exc, E.TooLarge):
        limit = int(exc.details.get("limit_bytes", 0))
        return f"This file is too large: the limit is {filesize(limit)}."
    if isinstance(exc, E.InvalidImage):
        return f"This image cannot be opened: {exc.message}"
    if isinstance(exc, E.ServiceUnavailable):
        return "Storage is unavailable right now; nothing was saved. Try again shortly."
    return exc.message


# ------------------------------------------------------------------------ the API: JSON


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> Response[ErrorOut]:
    return Response(
        ErrorOut(ErrorBody(code=code, message=message, details=details or {})),
        status_code=status,
        headers=headers or {},
        media_type=MediaType.JSON,
    )


def domain_error_response(exc: E.DomainError) -> Response[ErrorOut]:
    """The API.md answer to a domain error: its status from the table, its code and details."""
    status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
    headers: dict[str, str] = {}
    if isinstance(exc, E.TooManyAttempts):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, E.Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="imagerepo"'
    if isinstance(exc, E.Busy):
        headers["Retry-After"] = str(exc.retry_after)
        return error_response(503, "busy", exc.message, exc.details, headers)
    if isinstance(exc, E.ServiceUnavailable):
        # Adapter messages may name internals; the client gets a fixed sentence.
        log.warning("dependency unavailable: %s", exc.message)
        return error_response(
            503, "service_unavailable", "A storage service is unavailable; nothing was changed. Try again shortly."
        )
    return error_response(status, exc.code, exc.message, exc.details, headers)


def _http_error_response(exc: HTTPException, settings: Settings) -> Response[ErrorOut]:
    status = exc.status_code
    if status == 413:
        return domain_error_response(E.TooLarge(settings.max_upload_bytes))
    details: dict[str, Any] = {}
    message = exc.detail if isinstance(exc.detail, str) else "The request was not valid."
    if isinstance(exc, ValidationException):
        status = 400
        if isinstance(exc.extra, list):
            for item in exc.extra:
                if isinstance(item, dict):
                    details.setdefault(str(item.get("key") or "body"), []).append(str(item.get("message", "")))
        message = "The request is malformed: " + message if not message.startswith("The request") else message
    headers = dict(exc.headers or {})
    return error_response(status, HTTP_CODES.get(status, "error"), message, details, headers)


# Routes whose body is credentials: a field of the wrong type breaks the same rule as a missing one.
CREDENTIALS_BODY = "credentials_body"
_CREDENTIAL_FIELDS = {"username", "password"}


def _wrong_typed_credentials(request: Request[Any, Any, Any], exc: Exception) -> E.InvalidCredentialsFormat | None:
    if not (isinstance(exc, ValidationException) and isinstance(exc.extra, list) and exc.extra):
        return None
    handler = request.scope.get("route_handler")
    if handler is None or not handler.opt.get(CREDENTIALS_BODY):
        return None
    fields = {str(i.get("key")) for i in exc.extra if isinstance(i, dict)}
    if not fields or not fields <= _CREDENTIAL_FIELDS:
        return None  # not an object at all: a malformed body (400)
    return E.InvalidCredentialsFormat({f: ["is required and must be a string"] for f in sorted(fields)})


def _api_response(request: Request[Any, Any, Any], exc: Exception, settings: Settings) -> Response[Any]:
    if isinstance(exc, E.DomainError):
        return domain_error_response(exc)
    if (credentials := _wrong_typed_credentials(request, exc)) is not None:
        return domain_error_response(credentials)
    if isinstance(exc, HTTPException):
        return _http_error_response(exc, settings)
    if isinstance(exc, RecursionError) and request.method in ("POST", "PUT", "PATCH"):
        # The JSON decoder gives up on bodies nested thousands deep: the client's fault, not ours.
        return error_response(400, "bad_request", "The request body is nested too deeply to read.")
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "Something went wrong on our side; nothing was changed.")


# ------------------------------------------------------------------------ pages: HTML


def _error_page(status: int, title: str, message: str, settings: Settings) -> Response[Any]:
    """The friendly page; it carries the CSP itself, since errors outside any route miss the pages' middleware."""
    return Template(template_name="error.html", status_code=status,
                    headers={"Cache-Control": "no-store", "Content-Security-Policy": content_security_policy(settings)},
                    context={"account": None, "quota": None, "title": title, "message": message})


def _page_response(request: Request[Any, Any, Any], exc: Exception, settings: Settings) -> Response[Any]:
    if isinstance(exc, E.Unauthenticated):
        if request.method == "GET":
            return Redirect(f"/signin?{urlencode({'next': request.url.path})}", status_code=303)
        return Redirect("/signin", status_code=303)
    if isinstance(exc, E.NotFound | E.BlobMissing):
        return _error_page(404, "Not found", "There is no such image. It may have been deleted.", settings)
    if isinstance(exc, E.ServiceUnavailable):
        return _error_page(503, "Try again shortly", plain_message(exc), settings)
    if isinstance(exc, E.CrossOriginRequest):
        return _error_page(403, "Please try again",
                           "This form did not come from this site: nothing was uploaded. Upload from imagerepo "
                           "itself, or share to the installed app.", settings)
    if isinstance(exc, E.DomainError):
        return _error_page(400, "That did not work", exc.message, settings)
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return _error_page(404, "Page not found",
                           "There is no page at this address. It may have moved, or the link has a typo.", settings)
    if status == 405:
        return _error_page(405, "That did not work", "This page cannot be used that way.", settings)
    if status == 413:
        return _error_page(413, "File too large",
                           f"This upload is too large: the limit is {filesize(settings.max_upload_bytes)} per file.",
                           settings)
    if status < 500:
        return _error_page(status, "That did not work",
                           "The request could not be handled. Go back and try again.", settings)
    log.exception("unhandled error on page %s %s", request.method, request.url.path)
    return _error_page(500, "Something went wrong",
                       "Something went wrong on our side; nothing was changed. Try again in a moment.", settings)


def exception_handlers(settings: Settings) -> ExceptionHandlersMap:
    """The app's only exception handler, for every exception: pages get pages, the API gets JSON."""

    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        if wants_page(request):
            return _page_response(request, exc, settings)
        return _api_response(request, exc, settings)

    return {Exception: handle}
