"""The Litestar application factory: routes of API.md, the error table, auth, lifespan."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

import anyio
import attrs
from litestar import Litestar, MediaType, Request, Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Redirect

from imagerepo.domain import errors as E
from imagerepo.domain.accounts import PASSWORD_RULES, USERNAME_RULES, Account, Session
from imagerepo.domain.accounts_service import AccountService
from imagerepo.domain.images import build_query
from imagerepo.domain.images_service import ImageService
from imagerepo.entrypoints.client_address import client_address, proxy_headers
from imagerepo.entrypoints.container import Container
from imagerepo.entrypoints.guards import json_bodies_only, same_origin_only
from imagerepo.entrypoints.logs import app_logging, set_levels
from imagerepo.entrypoints.schemas import (
    AccountOut,
    CredentialsIn,
    ErrorBody,
    ErrorOut,
    ImageOut,
    ImagePageOut,
    MeOut,
    RulesOut,
    StatusOut,
    TokenOut,
    UploadOperation,
    error_responses,
    rfc3339,
)
from imagerepo.entrypoints.settings import Settings
from imagerepo.entrypoints.uploads import receive_file

log = logging.getLogger("imagerepo.http")

SESSION_COOKIE = "imagerepo_session"
JSON_BODY_LIMIT = 64 * 1024

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


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> Response[ErrorOut]:
    return Response(
        ErrorOut(ErrorBody(code=code, message=message, details=details or {})),
        status_code=status,
        headers=headers or {},
        media_type=MediaType.JSON,
    )


def handle_domain_error(request: Request[Any, Any, Any], exc: E.DomainError) -> Response[ErrorOut]:
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


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    from imagerepo.entrypoints import web

    if web.wants_page(request):  # a browser on an unknown page gets the UI's page, the API keeps JSON
        return web.http_error_page(request, exc)
    status = exc.status_code
    if status == 413:
        settings: Settings = request.app.state.container.settings()
        return handle_domain_error(request, E.TooLarge(settings.max_upload_bytes))
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


def handle_too_deep(request: Request[Any, Any, Any], exc: RecursionError) -> Response[ErrorOut]:
    """The JSON decoder gives up on bodies nested thousands deep: the client's fault, not ours."""
    if request.method in ("POST", "PUT", "PATCH"):
        return error_response(400, "bad_request", "The request body is nested too deeply to read.")
    return handle_unexpected(request, exc)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorOut]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "Something went wrong on our side; nothing was changed.")


@attrs.frozen
class Auth:
    account: Account
    session: Session
    token: str


def token_from(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None
    return request.cookies.get(SESSION_COOKIE)


# ------------------------------------------------------------------------------------- routes


@get("/health/live", tags=["health"], summary="The process is up")
async def live() -> StatusOut:
    return StatusOut(status="ok")


@get("/health/ready", tags=["health"], summary="Database and blob store reachable", sync_to_thread=True,
     responses={503: ResponseSpec(data_container=StatusOut, generate_examples=False,
                                  description="A dependency is down: `failing` names it (details: the log).")})
def ready(request: Request[Any, Any, Any]) -> Response[StatusOut]:
    container: Container = request.app.state.container
    failing: list[str] = []
    details: dict[str, str] = {}
    checks: list[tuple[str, Callable[[], None]]] = [
        ("database", lambda: container.image_service().check_database()),
        ("blob_store", lambda: container.image_service().check_blob_store()),
    ]
    for name, check in checks:
        try:
            check()
        except Exception as e:
            # The probe is public: adapter messages name hosts, paths and buckets, so they go
            # to the log and the caller learns only which dependency is down.
            failing.append(name)
            details[name] = "unavailable"
            log.warning("readiness: %s unavailable: %s", name,
                        e.message if isinstance(e, E.DomainError) else f"{type(e).__name__}: {e}")
    if failing:
        return Response(StatusOut(status="unavailable", failing=failing, details=details), status_code=503)
    return Response(StatusOut(status="ok"))


@get("/api/v1/rules", tags=["accounts"], summary="The credential rules, for sign-up hints")
async def rules() -> RulesOut:
    return RulesOut(username=list(USERNAME_RULES), password=list(PASSWORD_RULES))


@post("/api/v1/accounts", tags=["accounts"], status_code=201, sync_to_thread=True,
      request_max_body_size=JSON_BODY_LIMIT, summary="Sign up",
      responses=error_responses(400, 409, 413, 415, 422, 503))
def sign_up(data: JSONBody[CredentialsIn], accounts: NamedDependency[AccountService]) -> AccountOut:
    return AccountOut.of(accounts.sign_up(data.username, data.password))


# Async on purpose: Litestar 2.25 answers a sync handler that returns a Response with a 500
# ("'coroutine' object has no attribute 'to_asgi_response'") when a later handler shares its path,
# as DELETE /api/v1/sessions does.
@post("/api/v1/sessions", tags=["accounts"], status_code=201,
      request_max_body_size=JSON_BODY_LIMIT, summary="Sign in: a bearer token and a session cookie",
      guards=[same_origin_only], responses=error_responses(400, 401, 403, 413, 415, 429, 503))
async def sign_in(request: Request[Any, Any, Any], data: JSONBody[CredentialsIn],
                  accounts: NamedDependency[AccountService]) -> Response[TokenOut]:
    issued = await anyio.to_thread.run_sync(
        lambda: accounts.sign_in(data.username, data.password, client_address(request)))
    settings: Settings = request.app.state.container.settings()
    cookie = Cookie(
        key=SESSION_COOKIE, value=issued.token, path="/", httponly=True, samesite="lax",
        secure=request.url.scheme == "https", max_age=settings.session_ttl_seconds,
    )
    return Response(TokenOut(token=issued.token, expires_at=rfc3339(issued.expires_at)), status_code=201,
                    cookies=[cookie], headers={"Cache-Control": "no-store"})


EXPIRED_SESSION_COOKIE = Cookie(key=SESSION_COOKIE, value="", path="/", max_age=0, httponly=True, samesite="lax")


@delete("/api/v1/sessions/current", tags=["accounts"], status_code=204, sync_to_thread=True, summary="Sign out",
        responses=error_responses(401, 503))
def sign_out(auth: NamedDependency[Auth], accounts: NamedDependency[AccountService]) -> Response[None]:
    accounts.sign_out(auth.token)
    return Response(None, status_code=204, cookies=[EXPIRED_SESSION_COOKIE])


@delete("/api/v1/sessions", tags=["accounts"], status_code=204, sync_to_thread=True,
        summary="Sign out everywhere: end every session and API token of the account",
        response_cookies=[EXPIRED_SESSION_COOKIE], responses=error_responses(401, 503))
def sign_out_everywhere(auth: NamedDependency[Auth], accounts: NamedDependency[AccountService]) -> None:
    accounts.sign_out_everywhere(auth.account)


@get("/api/v1/me", tags=["accounts"], sync_to_thread=True, summary="Who am I, and my quota",
     responses=error_responses(401, 503))
def me(auth: NamedDependency[Auth], images: NamedDependency[ImageService]) -> MeOut:
    return MeOut.of(auth.account, images.quota(auth.account))


def image_out(images: ImageService, image: Any) -> ImageOut:
    return ImageOut.of(image, images.urls(image))


@post("/api/v1/images", tags=["images"], status_code=201, summary="Upload an image (multipart field 'file')",
      operation_class=UploadOperation, request_max_body_size=None,  # receive_file enforces the limit itself
      responses=error_responses(400, 401, 409, 413, 415, 422, 503))
async def upload(request: Request[Any, Any, Any], auth: NamedDependency[Auth],
                 images: NamedDependency[ImageService]) -> Response[ImageOut]:
    settings: Settings = request.app.state.container.settings()
    tmp_dir = settings.data_dir / "tmp"
    await anyio.to_thread.run_sync(lambda: tmp_dir.mkdir(parents=True, exist_ok=True))
    received = await receive_file(
        request.headers.get("content-type", ""), request.headers.get("content-length"), request.stream(),
        max_bytes=settings.max_upload_bytes, tmp_dir=tmp_dir,
    )
    try:
        image = await anyio.to_thread.run_sync(lambda: images.upload(auth.account, received.filename, received.path))
        out = await anyio.to_thread.run_sync(lambda: image_out(images, image))
    finally:
        await anyio.to_thread.run_sync(received.remove)
    return Response(out, status_code=201, headers={"Location": f"/api/v1/images/{image.id}"})


@get("/api/v1/images", tags=["images"], sync_to_thread=True, summary="List and search my images",
     responses=error_responses(400, 401, 422, 503))
def list_images(
    auth: NamedDependency[Auth],
    images: NamedDependency[ImageService],
    q: Annotated[
        str | None, QueryParameter(description="words matched against description, tags, text, filename")
    ] = None,
    tag: Annotated[list[str] | None, QueryParameter(description="repeatable; every tag must be present")] = None,
    color: Annotated[str | None, QueryParameter(description="#rrggbb; closest first")] = None,
    sort: Annotated[
        str | None,
        QueryParameter(description="-uploaded_at (default), uploaded_at, filename, -size_bytes, size_bytes"),
    ] = None,
    limit: Annotated[str | None, QueryParameter(description="1-100, default 20")] = None,
    cursor: Annotated[str | None, QueryParameter(description="next_cursor of the previous page")] = None,
) -> ImagePageOut:
    query = build_query(auth.account.id, q=q, tags=tag or [], color=color, sort=sort, limit=limit, cursor=cursor)
    page = images.search(query)
    return ImagePageOut(
        items=[image_out(images, i) for i in page.items],
        next_cursor=page.next_cursor.encode(query) if page.next_cursor else None,
    )


@get("/api/v1/images/{image_id:str}", tags=["images"], sync_to_thread=True, summary="One image",
     responses=error_responses(401, 404, 503))
def get_image(image_id: FromPath[str], auth: NamedDependency[Auth], images: NamedDependency[ImageService]) -> ImageOut:
    return image_out(images, images.get(auth.account, image_id))


@get("/api/v1/images/{image_id:str}/content", tags=["images"], sync_to_thread=True, status_code=307,
     summary="Redirect to the temporary URL of the original", responses=error_responses(401, 404, 503))
def image_content(image_id: FromPath[str], auth: NamedDependency[Auth],
                  images: NamedDependency[ImageService]) -> Redirect:
    image = images.get(auth.account, image_id)
    return Redirect(images.urls(image).url, status_code=307, headers={"Cache-Control": "no-store"})


@delete("/api/v1/images/{image_id:str}", tags=["images"], status_code=204, sync_to_thread=True,
        summary="Delete an image, its blobs and its quota slot", responses=error_responses(401, 404, 503))
def delete_image(image_id: FromPath[str], auth: NamedDependency[Auth], images: NamedDependency[ImageService]) -> None:
    images.delete(auth.account, image_id)


@post("/api/v1/images/{image_id:str}/analysis", tags=["images"], status_code=202, sync_to_thread=True,
      summary="Re-run the analysis", responses=error_responses(401, 404, 503))
def reanalyze(image_id: FromPath[str], auth: NamedDependency[Auth], images: NamedDependency[ImageService]) -> ImageOut:
    return image_out(images, images.reanalyze(auth.account, image_id))


@get("/blobs/{key:path}", tags=["blobs"], sync_to_thread=True, include_in_schema=False)
def serve_blob(request: Request[Any, Any, Any], key: FromPath[str],
               images: NamedDependency[ImageService]) -> Response[bytes]:
    """Serves the embedded file store's signed, expiring URLs (S3 URLs go straight to S3), only
    while their image is live: a blob whose delete failed waits for the sweeper, unreachable."""
    exp = request.query_params.get("exp", "")
    sig = request.query_params.get("sig", "")
    data, content_type = images.serve_signed_blob(key.lstrip("/"), exp, sig)
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


# ------------------------------------------------------------------------------------- factory


SECURITY_HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"x-frame-options": b"DENY",
    b"cross-origin-opener-policy": b"same-origin",
    b"permissions-policy": b"camera=(), microphone=(), geolocation=()",
}


access_log = logging.getLogger("imagerepo.access")


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
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend((k, v) for k, v in SECURITY_HEADERS.items() if k not in present)
                message = {**message, "headers": headers}
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
        headers = list(message.get("headers", []))
        present = {bytes(k).lower() for k, _ in headers}
        headers.extend((k, v) for k, v in SECURITY_HEADERS.items() if k not in present)
        message["headers"] = headers


def _start_sweeper(container: Container, stop: threading.Event, interval: float = 600.0) -> threading.Thread:
    def loop() -> None:
        while not stop.wait(interval):
            try:
                container.image_service().sweep()
                container.account_service().purge_expired_sessions()
            except Exception:
                log.warning("sweeper run failed; will retry", exc_info=True)

    t = threading.Thread(target=loop, name="sweeper", daemon=True)
    t.start()
    return t


def create_app(container: Container | None = None, *, extra_route_handlers: list[Any] | None = None) -> Litestar:
    container = container or Container()
    settings: Settings = container.settings()
    stop_sweeper = threading.Event()

    def on_startup(app: Litestar) -> None:
        container.init_resources()
        container.image_repository()  # opens and migrates the database now, not on first request
        container.blob_store()  # checks the bucket now: a missing one stops the start
        # Deletions an outage left pending: on S3 their objects are still readable by any URL
        # handed out before, so they go now, not at the first sweep.
        try:
            container.image_service().finish_deletions()
        except Exception:
            log.warning("pending deletions not finished at start-up; the sweeper will retry", exc_info=True)
        if settings.workers > 0:
            container.worker().start()
        _start_sweeper(container, stop_sweeper)

    def on_shutdown(app: Litestar) -> None:
        stop_sweeper.set()
        if settings.workers > 0:
            container.worker().stop()
        container.shutdown_resources()

    def provide_auth(request: Request[Any, Any, Any]) -> Auth:
        token = token_from(request)
        account, session = container.account_service().authenticate(token)
        assert token is not None
        return Auth(account=account, session=session, token=token)

    deps: dict[str, Provide] = {
        "accounts": Provide(lambda: container.account_service(), sync_to_thread=False),
        "images": Provide(lambda: container.image_service(), sync_to_thread=False),
        "auth": Provide(provide_auth, sync_to_thread=True),
    }
    handlers: list[Any] = [
        live, ready, rules, sign_up, sign_in, sign_out, sign_out_everywhere, me, upload, list_images, get_image,
        image_content, delete_image, reanalyze, serve_blob,
    ]
    from imagerepo.entrypoints import web

    handlers.extend(web.route_handlers())
    from imagerepo.entrypoints import oidc, tokens

    handlers.extend([tokens.router(container), oidc.router(container)])
    handlers.extend(extra_route_handlers or [])
    app = Litestar(
        route_handlers=handlers,
        dependencies=deps,
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        exception_handlers={
            E.DomainError: handle_domain_error,
            HTTPException: handle_http_exception,
            RecursionError: handle_too_deep,
            Exception: handle_unexpected,
        },
        guards=[json_bodies_only],  # every JSON route, present and future: see guards.py
        middleware=[proxy_headers(settings.trusted_proxies), security_headers_middleware],
        logging_config=app_logging(settings.log_level),
        before_send=[add_security_headers],
        template_config=web.template_config(),
        request_max_body_size=settings.max_upload_bytes + 64 * 1024,
        openapi_config=OpenAPIConfig(
            title="imagerepo",
            version="1",
            description="A private image repository: encrypted storage, analysis, search. See API.md.",
            path="/schema",
        ),
        signature_namespace={"Auth": Auth, "AccountService": AccountService, "ImageService": ImageService},
        debug=False,
    )
    set_levels(settings.log_level)  # after Litestar(...) has applied its logging config
    app.state.container = container
    return app
