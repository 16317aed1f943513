"""The Litestar application factory: the routes of API.md and the pages, wired to a container."""

from __future__ import annotations

import logging
import threading
from typing import Any

from litestar import Litestar, Router
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Tag

from imagerepo.entrypoints.client_address import proxy_headers
from imagerepo.entrypoints.container import Container
from imagerepo.entrypoints.http import deps, errors, security
from imagerepo.entrypoints.http.api import accounts, blobs, health, images, oidc, people, similar, tokens
from imagerepo.entrypoints.http.pages import site
from imagerepo.entrypoints.logs import app_logging, set_levels
from imagerepo.entrypoints.settings import Settings

log = logging.getLogger("imagerepo.http")

API_ROUTES: list[Any] = [
    *health.ROUTES, *accounts.ROUTES, *images.ROUTES, *similar.ROUTES, *people.ROUTES, *blobs.ROUTES,
    *tokens.ROUTES, *oidc.ROUTES,
]


# One tag per resource: client generators make one module of each.
API_TAGS = [
    Tag(name="accounts", description="Sign up, who am I, the credential rules"),
    Tag(name="sessions", description="Sign in and out (bearer token and session cookie)"),
    Tag(name="images", description="Upload, list and search, fetch, delete, re-analyse my images"),
    Tag(name="people", description="The people recognized in my images (face recognition, off by default)"),
    Tag(name="tokens", description="Personal access tokens for scripts"),
    Tag(name="oidc", description="Sign in with an OpenID Connect provider (browser redirects)"),
    Tag(name="health", description="Liveness and readiness probes"),
]


def api_router() -> Router:
    """The API as one Router. Registered one by one on the app, a sync handler that shares its path
    with a later one is registered twice and its OpenAPI operationId becomes "...Asynccallable"."""
    return Router(path="/", route_handlers=API_ROUTES)


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


def create_app(container: Container | None = None) -> Litestar:
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

    pages = site.route_handlers(
        csrf_secret=lambda: security.csrf_secret(container.keys().url_key),
        csp=lambda: security.content_security_policy(container.settings()),
    )
    app = Litestar(
        route_handlers=[api_router(), *pages],
        dependencies=deps.dependencies(container),
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        exception_handlers=errors.exception_handlers(settings),
        # Every JSON route, present and future, refuses other bodies; sign-in refuses other sites.
        guards=[security.json_bodies_only, security.same_origin_guard(settings.public_url)],
        middleware=[proxy_headers(settings.trusted_proxies), security.security_headers_middleware],
        logging_config=app_logging(settings.log_level),
        before_send=[security.add_security_headers],
        template_config=site.template_config(),
        request_max_body_size=settings.max_upload_bytes + 64 * 1024,
        openapi_config=OpenAPIConfig(
            title="imagerepo",
            version="1",
            description="A private image repository: encrypted storage, analysis, search. See API.md.",
            path="/schema",
            tags=API_TAGS,
        ),
        signature_namespace=deps.SIGNATURE_NAMESPACE,
        debug=False,
    )
    set_levels(settings.log_level)  # after Litestar(...) has applied its logging config
    app.state.container = container  # for tests and tools; routes take their dependencies instead
    return app
