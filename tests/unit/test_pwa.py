"""The installable app: manifest, icons, service worker, the Web Share Target and its CSRF rules."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from PIL import Image

from imagerepo.adapters.memory import ManualClock
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests import images as img
from tests.unit.test_web import csrf, sign_up, text_of
from tests.wiring import memory_container

# What the OS share sheet's POST looks like in Chromium: a navigation of the installed app.
FROM_THE_OS = {"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Origin": "null"}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[TestClient[Any], Any]]:
    settings = Settings(data_dir=tmp_path, workers=0, max_upload_bytes=300_000, upload_quota=2)
    container = memory_container(settings, clock=ManualClock())
    with TestClient(create_app(container)) as client:
        yield client, container


@pytest.fixture
def client(env: tuple[TestClient[Any], Any]) -> TestClient[Any]:
    return env[0]


def share(client: TestClient[Any], *files: tuple[str, bytes, str], headers: dict[str, str] | None = None) -> Any:
    return client.post("/share", files=[("file", f) for f in files], headers=headers or FROM_THE_OS,
                       follow_redirects=False)


def image_count(client: TestClient[Any]) -> int:
    return int(client.get("/api/v1/me").json()["quota"]["used"])


def test_the_manifest_makes_an_installable_app_with_a_share_target(client: TestClient[Any]) -> None:
    page = client.get("/signin").text
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    r = client.get("/manifest.webmanifest")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/manifest+json")
    m = json.loads(r.content)
    assert m["display"] == "standalone"
    assert m["start_url"].startswith("/")
    assert m["scope"] == "/"
    sizes = set()
    for icon in m["icons"]:
        got = client.get(icon["src"])
        assert got.status_code == 200
        assert got.headers["content-type"] == icon["type"] == "image/png"
        w, h = Image.open(io.BytesIO(got.content)).size
        assert f"{w}x{h}" == icon["sizes"]
        sizes.add(w)
    assert {192, 512} <= sizes  # what Chromium asks of an installable app
    target = m["share_target"]
    assert target["action"] == "/share"
    assert target["method"] == "POST"
    assert target["enctype"] == "multipart/form-data"
    assert [f["name"] for f in target["params"]["files"]] == ["file"]
    assert client.get("/icons/icon-7.png").status_code == 404


def test_the_service_worker_caches_the_app_shell_only(client: TestClient[Any]) -> None:
    r = client.get("/sw.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"] == "no-cache"
    match = re.search(r"var SHELL = (\[.*?\]);", r.text)
    assert match
    shell = json.loads(match.group(1))
    assert shell
    for path in shell:
        assert not path.startswith(("/api/", "/blobs/", "/images/", "/gallery", "/search")), path
        assert client.get(path).status_code == 200, path
    # Anything else (pages, API answers, image URLs) is not stored: only shell paths are put in the cache.
    assert r.text.count("cache.put(") == 1
    assert "SHELL.indexOf(url.pathname) !== -1" in r.text


def test_the_csp_allows_the_manifest_and_worker_from_this_site_only(client: TestClient[Any]) -> None:
    csp = client.get("/signin").headers["content-security-policy"]
    assert "manifest-src 'self'" in csp
    assert "worker-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "script-src 'self';" in csp


def test_the_upload_form_offers_the_phone_camera(client: TestClient[Any]) -> None:
    sign_up(client)
    page = client.get("/gallery").text
    assert re.search(r'<input id="camera" name="file" type="file" accept="image/\*" capture="environment">', page)


def test_a_shared_photo_is_uploaded_through_the_normal_path_and_quota(client: TestClient[Any]) -> None:
    sign_up(client)
    r = share(client, ("shared.jpg", img.jpeg(), "image/jpeg"))
    assert r.status_code == 201
    assert "Uploaded." in text_of(r.text)
    assert "shared.jpg" in text_of(client.get("/gallery").text)
    assert share(client, ("again.jpg", img.jpeg(), "image/jpeg")).status_code == 200  # duplicate, named
    share(client, ("two.png", img.png(), "image/png"))
    page = text_of(share(client, ("three.gif", img.gif(), "image/gif")).text)
    assert "You have reached your limit of 2 images" in page
    assert image_count(client) == 2


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Origin": "null"},  # a sandboxed frame
    {"Sec-Fetch-Site": "same-site", "Origin": "http://other.testserver.local"},
    {"Origin": "https://evil.example"},  # a browser without Sec-Fetch headers
], ids=["cross-site", "cross-site-opaque", "same-site", "foreign-origin"])
def test_a_cross_site_post_to_the_share_target_uploads_nothing(client: TestClient[Any],
                                                                headers: dict[str, str]) -> None:
    """The TestClient sends the session cookie whatever its SameSite; a browser would not even do that."""
    sign_up(client)
    r = share(client, ("evil.jpg", img.jpeg(), "image/jpeg"), headers=headers)
    assert r.status_code == 403
    assert image_count(client) == 0


def test_the_share_target_without_a_session_uploads_nothing(client: TestClient[Any]) -> None:
    sign_up(client)
    session = client.cookies["imagerepo_session"]
    client.cookies.delete("imagerepo_session")
    r = share(client, ("shared.jpg", img.jpeg(), "image/jpeg"))
    assert r.status_code == 303
    assert r.headers["location"].startswith("/signin")
    client.cookies.set("imagerepo_session", session)
    assert image_count(client) == 0


def test_only_the_share_target_is_spared_the_csrf_token(client: TestClient[Any]) -> None:
    sign_up(client)
    # Multipart without the token (no file part: Litestar's CSRF check leaves a parsed file unclosed).
    r = client.post("/upload", files=[("note", (None, "hello"))], headers={"Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 403
    assert "did not come from this site" in text_of(r.text)
    token = csrf(client, "/gallery")
    r = client.post("/upload", data={"_csrf_token": token}, files=[("file", ("a.jpg", img.jpeg(), "image/jpeg"))],
                    headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    assert image_count(client) == 0
