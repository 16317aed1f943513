"""Browser fixtures: the real app under uvicorn on a free loopback port, and Debian's Chromium via Playwright.

Never `playwright install`: it downloads browsers, which this project's machines cannot do.
Screenshots of a failing test land in test-artifacts/; IMAGEREPO_SCREENSHOTS=1 keeps every step's too.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from dependency_injector import providers

from tests.fixtures_services import unavailable

CHROMIUM = os.environ.get("IMAGEREPO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
QUOTA = 5


class TaggingAnalyzer:
    """The real local analyzer (colors, description) plus tags looked up by the photo's sha256.

    The local models are optional and slow to load; the journey needs known tags to search by.
    ``hold()`` keeps every analysis waiting until ``release()``, so the test sees "Analyzing…"
    for as long as it needs, on any machine, and then sees it turn into the result.
    """

    name = "local"

    def __init__(self, inner: Any, tags: dict[str, tuple[str, ...]]) -> None:
        self.inner = inner
        self.tags = tags
        self._open = threading.Event()
        self._open.set()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def analyze(self, data: bytes, content_type: str, preview: bytes | None = None) -> Any:
        from imagerepo.domain.images import Tag

        if not self._open.wait(120):
            raise TimeoutError("the test never released the held analysis")
        result = self.inner.analyze(data, content_type, preview)
        names = self.tags.get(hashlib.sha256(data).hexdigest(), ())
        return attrs.evolve(result, tags=tuple(Tag(n, 0.9 - i * 0.1) for i, n in enumerate(names)))


@attrs.define
class Server:
    url: str
    container: Any
    tags: dict[str, tuple[str, ...]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    import uvicorn

    from imagerepo.adapters.local import LocalImageAnalyzer
    from imagerepo.entrypoints.container import Container
    from imagerepo.entrypoints.http.app import create_app
    from imagerepo.entrypoints.settings import Settings

    data_dir = tmp_path_factory.mktemp("browser-data")
    settings = Settings.from_env({
        "IMAGEREPO_DATA_DIR": str(data_dir), "IMAGEREPO_LOCAL_MODELS": "false", "IMAGEREPO_WORKERS": "2",
        "IMAGEREPO_UPLOAD_QUOTA": str(QUOTA), "IMAGEREPO_LOG_LEVEL": "WARNING",
        # A provider only to show its button: the journey never follows it (no provider runs here).
        "IMAGEREPO_OIDC_CORP_ISSUER": "https://sso.example.com", "IMAGEREPO_OIDC_CORP_CLIENT_ID": "imagerepo",
        "IMAGEREPO_OIDC_CORP_DISPLAY_NAME": "Corp SSO",
    })
    container = Container()
    container.settings.override(providers.Object(settings))
    tags: dict[str, tuple[str, ...]] = {}
    container.analyzer.override(providers.Object(TaggingAnalyzer(LocalImageAnalyzer(models=False), tags)))
    port = _free_port()
    config = uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on", ws="none", access_log=False)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # a condition wait; the bound only stops a dead start
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the app did not start under uvicorn")
        time.sleep(0.02)
    yield Server(url=f"http://127.0.0.1:{port}", container=container, tags=tags)
    container.analyzer().release()  # a failed test may have left an analysis held
    uv.should_exit = True
    thread.join(10)


# Package scope: Playwright's sync API keeps an event loop running in the main thread while it is
# open, so it must end with the browser tests, before other tests call asyncio/anyio.run.
@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        unavailable(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


class Shots:
    """Saves screenshots under test-artifacts/: on failure always, at each step when asked to."""

    def __init__(self, page: Any, name: str) -> None:
        self.page = page
        self.name = name
        self.every_step = os.environ.get("IMAGEREPO_SCREENSHOTS") == "1"
        self.n = 0

    def __call__(self, step: str) -> None:
        if self.every_step:
            self.save(step)

    def save(self, step: str) -> Path:
        self.n += 1
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{self.n:02d}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def page_and_shots(request: pytest.FixtureRequest, browser: Any) -> Iterator[tuple[Any, Shots]]:
    viewport = getattr(request, "param", {"width": 1280, "height": 800})
    context = browser.new_context(viewport=viewport, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(8000)
    name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in request.node.name)
    shots = Shots(page, name)
    yield page, shots
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        shots.save("failure")
    context.close()
