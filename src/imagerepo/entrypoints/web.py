"""Server-rendered pages: the web UI, on the same domain services as the API."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import anyio
from jinja2 import Environment, FileSystemLoader
from litestar import Request, Response, Router, get, post
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import Cookie, UploadFile
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.middleware.csrf import CSRFMiddleware
from litestar.params import FromPath
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Receive, Scope, Send

from imagerepo.domain import errors as E
from imagerepo.domain.accounts import PASSWORD_RULES, USERNAME_RULES, Account
from imagerepo.domain.images import Image
from imagerepo.domain.images_service import ImageService
from imagerepo.domain.queries import SortOrder, build_query
from imagerepo.entrypoints.client_address import client_address

log = logging.getLogger("imagerepo.web")

HERE = Path(__file__).parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
SESSION_COOKIE = "imagerepo_session"  # the API's cookie: one sign-in serves pages and XHR alike
CSRF_COOKIE = "imagerepo_csrf"
DEMO_USERNAME = "user"
PAGE_SIZE = 24
TOP_TAGS = 24  # "your tags" on the search page: the most used ones
# Paths that are the API's (or files), never pages: their errors stay JSON whatever the client accepts.
NOT_PAGES = ("/api/", "/health/", "/schema", "/blobs/", "/static/")
_HEX = re.compile(r"#[0-9a-fA-F]{6}")

SORT_LABELS = {
    SortOrder.NEWEST.value: "Newest first",
    SortOrder.OLDEST.value: "Oldest first",
    SortOrder.FILENAME.value: "File name",
    SortOrder.LARGEST.value: "Largest first",
    SortOrder.SMALLEST.value: "Smallest first",
}


# ------------------------------------------------------------------------ templates


def _filesize(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"  # pragma: no cover


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja with autoescape on for every template: user text (filenames, OCR, descriptions) is data."""
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True)
    env.filters["filesize"] = _filesize
    env.filters["when"] = _when
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))


# ------------------------------------------------------------------------ messages in plain words


def plain_message(exc: E.DomainError) -> str:
    """What an upload error means to a person; the JavaScript in static/app.js says the same."""
    if isinstance(exc, E.UnsupportedMediaType):
        return "This file is not an image. Choose a JPEG, PNG, GIF or WebP photo."
    if isinstance(exc, E.QuotaExceeded):
        return f"You have reached your limit of {exc.limit} images — delete one to upload more."
    if isinstance(exc, E.DuplicateImage):
        return "You have already uploaded this exact image."
    if isinstance(exc, E.TooLarge):
        limit = int(exc.details.get("limit_bytes", 0))
        return f"This file is too large: the limit is {_filesize(limit)}."
    if isinstance(exc, E.InvalidImage):
        return f"This image cannot be opened: {exc.message}"
    if isinstance(exc, E.ServiceUnavailable):
        return "Storage is unavailable right now; nothing was saved. Try again shortly."
    return exc.message


# ------------------------------------------------------------------------ view models


def card(image: Image, images: ImageService) -> dict[str, Any]:
    """What a page shows of one image; hex colors are checked so they can go into SVG attributes."""
    urls = images.urls(image)
    a = image.analysis
    return {
        "id": image.id,
        "filename": image.filename,
        "url": urls.url,
        "thumbnail_url": urls.thumbnail_url,
        "uploaded_at": image.uploaded_at,
        "uploaded_iso": image.uploaded_at.astimezone(UTC).isoformat(timespec="seconds"),
        "content_type": image.content_type,
        "width": image.width,
        "height": image.height,
        "size_bytes": image.size_bytes,
        "status": a.status.value,
        "analyzer": a.analyzer,
        "description": a.description,
        "alt": a.description or f"Image {image.filename}",
        "tags": [{"name": t.name, "confidence": t.confidence} for t in a.tags],
        "colors": [
            {"hex": c.hex.lower(), "fraction": c.fraction, "name": c.name}
            for c in a.colors
            if _HEX.fullmatch(c.hex)
        ],
        "text": a.text,
        "error": a.error,
    }


# ------------------------------------------------------------------------ request helpers


def _container(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.container


def _signed_in(request: Request[Any, Any, Any]) -> tuple[Account, str] | None:
    token = request.cookies.get(SESSION_COOKIE)
    try:
        account, _ = _container(request).account_service().authenticate(token)
    except E.Unauthenticated:
        return None
    assert token is not None
    return account, token


def _require(request: Request[Any, Any, Any]) -> Account:
    who = _signed_in(request)
    if who is None:
        raise E.Unauthenticated()
    return who[0]


def _own_card(request: Request[Any, Any, Any], image_id: str) -> tuple[Account, dict[str, Any]]:
    """The signed-in account and its image as a card (another user's image is NotFound)."""
    account = _require(request)
    images: ImageService = _container(request).image_service()
    return account, card(images.get(account, image_id), images)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect would make the sign-in page a phishing tool."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/gallery"


def _page(request: Request[Any, Any, Any], name: str, status: int = 200, *, account: Account | None,
          **context: Any) -> Template:
    """A full page: the header shows who is signed in and their quota."""
    quota = _container(request).image_service().quota(account) if account is not None else None
    context.setdefault("message", "")
    return Template(template_name=name, status_code=status, headers={"Cache-Control": "no-store"},
                    context={"account": account, "quota": quota, **context})


def _session_cookie(request: Request[Any, Any, Any], token: str, max_age: int) -> Cookie:
    return Cookie(key=SESSION_COOKIE, value=token, path="/", httponly=True, samesite="lax",
                  secure=request.url.scheme == "https", max_age=max_age)


async def _form(request: Request[Any, Any, Any]) -> Mapping[str, Any]:
    return await request.form()


def _field(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


# ------------------------------------------------------------------------ accounts


@get("/", include_in_schema=False, sync_to_thread=True)
def home(request: Request[Any, Any, Any]) -> Redirect:
    return Redirect("/gallery" if _signed_in(request) else "/signin", status_code=303)


def _demo_password(request: Request[Any, Any, Any]) -> str:
    """The seed's published demo password, shown only when the operator turned the demo on."""
    from imagerepo.entrypoints.demo import DEMO_PASSWORD

    return DEMO_PASSWORD if _container(request).settings().demo else ""


def _demo_exists(request: Request[Any, Any, Any]) -> bool:
    try:
        _container(request).account_service().get_by_username(DEMO_USERNAME)
    except E.NotFound:
        return False
    return True


def identity_providers(request: Request[Any, Any, Any], next_path: str) -> list[dict[str, str]]:
    """One sign-in button per configured OpenID Connect provider, landing back on ``next_path``."""
    from imagerepo.entrypoints.oidc import LOGIN_PATH

    return [{"label": p.label,
             "url": f"{LOGIN_PATH}/{quote(p.name, safe='')}/login?{urlencode({'return_to': next_path})}"}
            for p in _container(request).settings().oidc_providers]


@get("/signin", include_in_schema=False, sync_to_thread=True)
def signin_page(request: Request[Any, Any, Any]) -> Template | Redirect:
    if _signed_in(request):
        return Redirect("/gallery", status_code=303)
    target = _safe_next(request.query_params.get("next"))
    return _page(request, "signin.html", account=None, username=request.query_params.get("username", ""),
                 next=target, demo=_demo_exists(request), demo_password=_demo_password(request),
                 providers=identity_providers(request, target))


@post("/signin", include_in_schema=False)
async def signin(request: Request[Any, Any, Any]) -> Template | Redirect:
    form = await _form(request)
    username, password = _field(form, "username"), _field(form, "password")
    target = _safe_next(_field(form, "next"))
    container = _container(request)
    try:
        issued = await anyio.to_thread.run_sync(
            lambda: container.account_service().sign_in(username, password, client_address(request))
        )
    except (E.InvalidLogin, E.TooManyAttempts) as e:
        demo = await anyio.to_thread.run_sync(lambda: _demo_exists(request))
        status = 429 if isinstance(e, E.TooManyAttempts) else 401
        return _page(request, "signin.html", status, account=None, username=username, next=target,
                     demo=demo, demo_password=_demo_password(request), message=e.message,
                     providers=identity_providers(request, target))
    ttl = container.settings().session_ttl_seconds
    return Redirect(target, status_code=303, cookies=[_session_cookie(request, issued.token, ttl)])


@get("/signup", include_in_schema=False, sync_to_thread=True)
def signup_page(request: Request[Any, Any, Any]) -> Template | Redirect:
    if _signed_in(request):
        return Redirect("/gallery", status_code=303)
    return _page(request, "signup.html", account=None, username="", errors={},
                 username_rules=USERNAME_RULES, password_rules=PASSWORD_RULES)


@post("/signup", include_in_schema=False)
async def signup(request: Request[Any, Any, Any]) -> Template | Redirect:
    form = await _form(request)
    username, password = _field(form, "username"), _field(form, "password")
    container = _container(request)
    accounts = container.account_service()

    def create() -> Any:
        accounts.sign_up(username, password)
        return accounts.sign_in(username, password, client_address(request))

    try:
        issued = await anyio.to_thread.run_sync(create)
    except (E.InvalidCredentialsFormat, E.UsernameTaken) as e:
        errors = dict(e.details) if isinstance(e, E.InvalidCredentialsFormat) else {
            "username": ["is already taken; choose another"]}
        status = 409 if isinstance(e, E.UsernameTaken) else 422
        return _page(request, "signup.html", status, account=None, username=username, errors=errors,
                     username_rules=USERNAME_RULES, password_rules=PASSWORD_RULES)
    ttl = container.settings().session_ttl_seconds
    return Redirect("/gallery", status_code=303, cookies=[_session_cookie(request, issued.token, ttl)])


@post("/signout", include_in_schema=False)
async def signout(request: Request[Any, Any, Any]) -> Redirect:
    """Ends this session, or with ``everywhere`` every session and API token of the account."""
    everywhere = _field(await _form(request), "everywhere") == "1"

    def end() -> None:
        who = _signed_in(request)
        if who is None:
            return
        accounts = _container(request).account_service()
        if everywhere:
            accounts.sign_out_everywhere(who[0])
        else:
            accounts.sign_out(who[1])

    await anyio.to_thread.run_sync(end)
    expired = Cookie(key=SESSION_COOKIE, value="", path="/", max_age=0, httponly=True, samesite="lax",
                     secure=request.url.scheme == "https")
    return Redirect("/signin", status_code=303, cookies=[expired])


# ------------------------------------------------------------------------ gallery and search


def _listing(request: Request[Any, Any, Any], account: Account, *, search: bool) -> dict[str, Any]:
    """Runs the list/search query of the page's parameters; bad parameters become a message."""
    params = request.query_params
    images: ImageService = _container(request).image_service()
    q = params.get("q", "") if search else ""
    tags = [t for t in params.getall("tag", []) if t.strip()]
    color = params.get("color", "") if search and params.get("use_color") else ""
    sort = params.get("sort", "") if search else ""
    cursor = params.get("cursor", "")
    problems: list[str] = []
    items: list[dict[str, Any]] = []
    next_url = ""
    try:
        query = build_query(account.id, q=q, tags=tags, color=color or None, sort=sort or None,
                            limit=PAGE_SIZE, cursor=cursor or None)
        page = images.search(query)
    except E.InvalidQuery as e:
        problems = [f"{field}: {'; '.join(msgs)}" for field, msgs in e.details.items()] or [e.message]
    else:
        items = [card(i, images) for i in page.items]
        if page.next_cursor is not None:
            keep: list[tuple[str, str]] = [(k, v) for k in ("q", "use_color", "color", "sort")
                                           if (v := params.get(k, "")) and search]
            keep += [("tag", t) for t in tags]
            keep.append(("cursor", page.next_cursor.encode(query)))
            next_url = f"{request.url.path}?{urlencode(keep)}"
    base = "/search" if search else "/gallery"
    chips = [{"name": t, "remove_url": base + ("?" + urlencode(
        [(k, v) for k, v in _multi(params) if not (k == "tag" and v == t) and k != "cursor"])
        if len(_multi(params)) > 1 else "")} for t in tags]
    return {"items": items, "next_url": next_url, "problems": problems, "q": q, "tags": tags, "chips": chips,
            "color": color or params.get("color", "#1f6fb2") or "#1f6fb2", "use_color": bool(color),
            "sort": sort, "sorts": SORT_LABELS, "filtered": bool(q or tags or color or cursor)}


def _multi(params: Any) -> list[tuple[str, str]]:
    return [(k, v) for k, v in params.multi_items()]


@get("/gallery", include_in_schema=False, sync_to_thread=True)
def gallery(request: Request[Any, Any, Any]) -> Template:
    account = _require(request)
    notice = "The image was deleted." if request.query_params.get("deleted") else ""
    return _page(request, "gallery.html", account=account, notice=notice, upload_results=[],
                 max_upload_bytes=_container(request).settings().max_upload_bytes,
                 **_listing(request, account, search=False))


def your_tags(request: Request[Any, Any, Any], account: Account, selected: list[str]) -> list[dict[str, Any]]:
    """The account's most used tags as chips: one click adds the tag to the search, or takes it off again."""
    counts = _container(request).image_service().tag_counts(account)[:TOP_TAGS]
    chosen = {t.casefold() for t in selected}
    kept = [(k, v) for k, v in _multi(request.query_params) if k != "cursor"]
    chips = []
    for name, n in counts:
        on = name in chosen
        params = ([(k, v) for k, v in kept if not (k == "tag" and v.casefold() == name)] if on
                  else [*kept, ("tag", name)])
        chips.append({"name": name, "count": n, "selected": on,
                      "url": "/search" + (f"?{urlencode(params)}" if params else "")})
    return chips


@get("/search", include_in_schema=False, sync_to_thread=True)
def search(request: Request[Any, Any, Any]) -> Template:
    account = _require(request)
    listing = _listing(request, account, search=True)
    return _page(request, "search.html", account=account, your_tags=your_tags(request, account, listing["tags"]),
                 **listing)


@post("/upload", include_in_schema=False)
async def upload(request: Request[Any, Any, Any]) -> Template:
    """Uploads without JavaScript: the form's files, one by one, each with its own outcome."""
    account = await anyio.to_thread.run_sync(lambda: _require(request))
    container = _container(request)
    settings = container.settings()
    images: ImageService = container.image_service()
    form = await request.form()
    files = [f for f in form.getall("file", []) if isinstance(f, UploadFile)]
    tmp_dir = settings.data_dir / "tmp"
    results: list[dict[str, Any]] = []

    def store(f: UploadFile) -> dict[str, Any]:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=tmp_dir, prefix="form-", delete=False) as out:
            f.file.seek(0)
            shutil.copyfileobj(f.file, out)
            path = Path(out.name)
        try:
            if path.stat().st_size > settings.max_upload_bytes:
                raise E.TooLarge(settings.max_upload_bytes)
            image = images.upload(account, f.filename, path)
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
    listing = await anyio.to_thread.run_sync(lambda: _listing(request, account, search=False))
    return await anyio.to_thread.run_sync(lambda: _page(
        request, "gallery.html", status, account=account, notice="", upload_results=results,
        max_upload_bytes=settings.max_upload_bytes, **listing))


# ------------------------------------------------------------------------ one image


@get("/images/{image_id:str}", include_in_schema=False, sync_to_thread=True)
def detail(request: Request[Any, Any, Any], image_id: FromPath[str]) -> Template:
    account, image = _own_card(request, image_id)
    return _page(request, "detail.html", account=account, image=image)


@get("/images/{image_id:str}/card", include_in_schema=False, sync_to_thread=True)
def card_fragment(request: Request[Any, Any, Any], image_id: FromPath[str]) -> Template:
    """One gallery card, for the script that shows new uploads and finished analyses in place."""
    _, image = _own_card(request, image_id)
    return Template(template_name="_card_fragment.html", context={"image": image},
                    headers={"Cache-Control": "no-store"})


@get("/images/{image_id:str}/panel", include_in_schema=False, sync_to_thread=True)
def analysis_panel(request: Request[Any, Any, Any], image_id: FromPath[str]) -> Template:
    """The analysis part of the detail page, for the script that updates it in place once analysis ends."""
    _, image = _own_card(request, image_id)
    return Template(template_name="_analysis_fragment.html", context={"image": image},
                    headers={"Cache-Control": "no-store"})


@get("/images/{image_id:str}/delete", include_in_schema=False, sync_to_thread=True)
def confirm_delete(request: Request[Any, Any, Any], image_id: FromPath[str]) -> Template:
    account, image = _own_card(request, image_id)
    return _page(request, "delete.html", account=account, image=image)


@post("/images/{image_id:str}/delete", include_in_schema=False, sync_to_thread=True)
def delete(request: Request[Any, Any, Any], image_id: FromPath[str]) -> Redirect:
    account = _require(request)
    _container(request).image_service().delete(account, image_id)
    return Redirect("/gallery?deleted=1", status_code=303)


@post("/images/{image_id:str}/analysis", include_in_schema=False, sync_to_thread=True)
def reanalyze(request: Request[Any, Any, Any], image_id: FromPath[str]) -> Redirect:
    account = _require(request)
    _container(request).image_service().reanalyze(account, image_id)
    return Redirect(f"/images/{image_id}", status_code=303)


# ------------------------------------------------------------------------ errors on pages


def _on_unauthenticated(request: Request[Any, Any, Any], exc: E.Unauthenticated) -> Response[Any]:
    if request.method == "GET":
        return Redirect(f"/signin?{urlencode({'next': request.url.path})}", status_code=303)
    return Redirect("/signin", status_code=303)


def _error_page(request: Request[Any, Any, Any], status: int, title: str, message: str) -> Response[Any]:
    """The friendly page; it carries the CSP itself, since errors outside any route miss page_security."""
    csp = content_security_policy(_container(request).settings())
    return Template(template_name="error.html", status_code=status,
                    headers={"Cache-Control": "no-store", "Content-Security-Policy": csp},
                    context={"account": None, "quota": None, "title": title, "message": message})


def wants_page(request: Request[Any, Any, Any]) -> bool:
    """A browser asking for a page (not the API, not a file): its errors are shown as HTML."""
    return not request.url.path.startswith(NOT_PAGES) and "text/html" in request.headers.get("accept", "")


def http_error_page(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """HTTP-level errors (unknown page, wrong method, body too large) in plain words."""
    status = exc.status_code
    if status == 404:
        return _error_page(request, 404, "Page not found",
                           "There is no page at this address. It may have moved, or the link has a typo.")
    if status == 405:
        return _error_page(request, 405, "That did not work", "This page cannot be used that way.")
    if status == 413:
        limit = _container(request).settings().max_upload_bytes
        return _error_page(request, 413, "File too large",
                           f"This upload is too large: the limit is {_filesize(limit)} per file.")
    if status >= 500:
        return _on_unexpected(request, exc)
    return _error_page(request, status, "That did not work", "The request could not be handled. Go back and try again.")


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on page %s %s", request.method, request.url.path)
    return _error_page(request, 500, "Something went wrong",
                       "Something went wrong on our side; nothing was changed. Try again in a moment.")


def _on_domain_error(request: Request[Any, Any, Any], exc: E.DomainError) -> Response[Any]:
    if isinstance(exc, E.NotFound | E.BlobMissing):
        return _error_page(request, 404, "Not found", "There is no such image. It may have been deleted.")
    if isinstance(exc, E.ServiceUnavailable):
        return _error_page(request, 503, "Try again shortly", plain_message(exc))
    return _error_page(request, 400, "That did not work", exc.message)


FORBIDDEN_PAGE = (
    b'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
    b'content="width=device-width, initial-scale=1"><title>Please try again \xc2\xb7 imagerepo</title>'
    b'<link rel="stylesheet" href="/static/app.css"></head><body><main id="main"><section class="narrow">'
    b"<h1>Please try again</h1><p>This form has expired or did not come from this site. Go back, reload the "
    b'page and send it again.</p><p><a href="/">Back to imagerepo</a></p></section></main></body></html>'
)


# ------------------------------------------------------------------------ security of pages


def csrf_secret(container: Any) -> str:
    return hmac.new(container.keys().url_key, b"imagerepo csrf v1", hashlib.sha256).hexdigest()


def content_security_policy(settings: Any) -> str:
    """No inline script or style; images from this site, plus the S3 endpoint when URLs point there
    (its bucket subdomains too, when the addressing style is not path)."""
    img = ["'self'"]
    if getattr(settings, "uses_s3", False):
        endpoint = urlsplit(settings.s3_endpoint_url or "")
        if not endpoint.netloc:
            img.append("https://*.amazonaws.com")
        else:
            img.append(f"{endpoint.scheme}://{endpoint.netloc}")
            if settings.s3_addressing_style in ("virtual", "auto"):
                img.append(f"{endpoint.scheme}://*.{endpoint.netloc}")
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src " + " ".join(img) + "; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def page_security(app: ASGIApp) -> ASGIApp:
    """CSRF (Litestar's double-submit token, a Secure cookie over https) and the CSP, for the pages only.

    Built on first use because the secret comes from the app's container.
    """
    inner: dict[bool, CSRFMiddleware] = {}
    csp: list[bytes] = []

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        container = scope["litestar_app"].state.container
        https = scope.get("scheme") == "https"
        if https not in inner:
            inner[https] = CSRFMiddleware(app, CSRFConfig(
                secret=csrf_secret(container), cookie_name=CSRF_COOKIE, cookie_httponly=True,
                cookie_secure=https, cookie_samesite="lax"))
        if not csp:
            csp.append(content_security_policy(container.settings()).encode())

        async def send_with_csp(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if (any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
                        and not any(k.lower() == b"content-security-policy" for k, _ in headers)):
                    headers.append((b"content-security-policy", csp[0]))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await inner[https](scope, receive, send_with_csp)
        except PermissionDeniedException:
            # Answered here, not by exception handlers: the app's middleware would log a 500.
            await send_with_csp({"type": "http.response.start", "status": 403, "headers": [
                (b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"no-store")]})
            await send_with_csp({"type": "http.response.body", "body": FORBIDDEN_PAGE})

    return middleware


PAGES: list[Callable[..., Any]] = [
    home, signin_page, signin, signup_page, signup, signout, gallery, search, upload, detail, card_fragment,
    analysis_panel, confirm_delete, delete, reanalyze,
]


def route_handlers() -> list[Any]:
    pages = Router(
        path="/",
        route_handlers=PAGES,
        middleware=[page_security],
        exception_handlers={
            E.Unauthenticated: _on_unauthenticated,
            E.DomainError: _on_domain_error,
            HTTPException: http_error_page,
            Exception: _on_unexpected,
        },
        include_in_schema=False,
    )
    static = create_static_files_router(path="/static", directories=[STATIC_DIR], name="static",
                                        include_in_schema=False)
    return [pages, static]


