"""The web UI as one Router: every page, their CSRF and CSP, the templates and the static files."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader
from litestar import Router
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from imagerepo.adapters.codecs import accepted_content_types
from imagerepo.domain.images import format_names
from imagerepo.entrypoints.http.errors import PAGE
from imagerepo.entrypoints.http.pages import account, auth, duplicates, gallery, image, people, pwa, upload
from imagerepo.entrypoints.http.security import page_security
from imagerepo.entrypoints.presenters import filesize

HERE = Path(__file__).parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja with autoescape on for every template: user text (filenames, OCR, descriptions) is data."""
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True)
    env.filters["filesize"] = filesize
    env.filters["when"] = _when
    accepted = accepted_content_types()  # the upload form offers what this installation reads
    env.globals["accepted_types"] = ",".join(accepted)
    env.globals["accepted_names"] = format_names(accepted)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))


def route_handlers(csrf_secret: Callable[[], str], csp: Callable[[], str]) -> list[Any]:
    """The pages (marked as pages for the error mapper) and /static."""
    pages = Router(
        path="/",
        route_handlers=[*auth.ROUTES, *gallery.ROUTES, *upload.ROUTES, *image.ROUTES, *duplicates.ROUTES,
                        *people.ROUTES, *account.ROUTES, *pwa.ROUTES],
        middleware=[page_security(csrf_secret, csp)],
        opt={PAGE: True},
        include_in_schema=False,
    )
    static = create_static_files_router(path="/static", directories=[STATIC_DIR], name="static",
                                        include_in_schema=False)
    return [pages, static]
