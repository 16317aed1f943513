"""Login CSRF: a cross-site page must not be able to sign a visitor into the attacker's account.

A cross-site ``<form>`` (or a no-cors ``fetch``) can only send text/plain, form-urlencoded or
multipart bodies, without a preflight; the JSON API refuses them all (415). The sign-in, which sets
the session cookie, also refuses a cross-site ``Origin`` (403).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from imagerepo.adapters.memory import ManualClock
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.http.auth import SESSION_COOKIE
from imagerepo.entrypoints.settings import Settings
from tests.hardening.support import PASSWORD, error_code, signup
from tests.wiring import memory_container

# What the attacker's page can make a browser send: the body is JSON, the type is not.
# (text/plain is the classic trick: <input name='{"username":"mallory","password":"…","x":"' value='"}'>.)
CREDENTIALS = json.dumps({"username": "mallory", "password": PASSWORD, "x": "="}).encode()
CROSS_SITE_TYPES = {
    "text/plain": "text/plain",
    "form-urlencoded": "application/x-www-form-urlencoded",
    "multipart": "multipart/form-data; boundary=csrf-boundary",
    "none": None,  # fetch(url, {mode: "no-cors", body: new Blob([...])}) sends no type at all
}


def cross_site_post(client: TestClient[Any], path: str, kind: str, body: bytes = CREDENTIALS,
                    headers: dict[str, str] | None = None) -> Any:
    ctype = CROSS_SITE_TYPES[kind]
    all_headers = {**(headers or {}), **({"content-type": ctype} if ctype else {})}
    return client.post(path, content=body, headers=all_headers)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient[Any]]:
    container = memory_container(Settings(data_dir=tmp_path, workers=0), clock=ManualClock())
    with TestClient(create_app(container)) as c:
        c.post("/api/v1/accounts", json={"username": "mallory", "password": PASSWORD})
        yield c


@pytest.mark.parametrize("kind", CROSS_SITE_TYPES)
def test_sign_in_refuses_a_body_that_is_not_json_and_sets_no_cookie(client: TestClient[Any], kind: str) -> None:
    r = cross_site_post(client, "/api/v1/sessions", kind)
    assert r.status_code == 415, r.text
    assert error_code(r) == "unsupported_media_type"
    assert r.json()["error"]["details"] == {"accepted": ["application/json"]}
    assert "set-cookie" not in r.headers
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/api/v1/me").status_code == 401  # the victim is not signed in as mallory


def json_body_routes(client: TestClient[Any]) -> list[tuple[str, str]]:
    """Every (method, path) whose OpenAPI request body is JSON: new routes are covered by themselves."""
    doc = client.get("/schema/openapi.json").json()
    return [(method.upper(), path) for path, ops in doc["paths"].items() for method, op in ops.items()
            if "application/json" in op.get("requestBody", {}).get("content", {})]


@pytest.mark.parametrize("kind", CROSS_SITE_TYPES)
def test_every_json_endpoint_refuses_other_bodies_and_changes_nothing(client: TestClient[Any], kind: str) -> None:
    auth = signup(client, "alice")
    routes = json_body_routes(client)
    assert {("POST", "/api/v1/accounts"), ("POST", "/api/v1/sessions"), ("POST", "/api/v1/tokens")} <= set(routes)
    bodies = {
        "/api/v1/accounts": json.dumps({"username": "victim2", "password": PASSWORD}).encode(),
        "/api/v1/tokens": json.dumps({"name": "planted"}).encode(),
    }
    # The session cookie a browser would attach, and the bearer header a script would: both refused.
    client.cookies.set(SESSION_COOKIE, auth["Authorization"].split()[1])
    for method, path in routes:
        r = client.request(method, path, content=bodies.get(path, CREDENTIALS),
                           headers={"content-type": CROSS_SITE_TYPES[kind]} if CROSS_SITE_TYPES[kind] else {})
        assert r.status_code == 415, (method, path, r.status_code, r.text[:200])
        assert error_code(r) == "unsupported_media_type"
    client.cookies.clear()
    assert client.post("/api/v1/sessions", json={"username": "victim2", "password": PASSWORD}).status_code == 401
    assert client.get("/api/v1/tokens", headers=auth).json()["items"] == []


def test_json_with_a_charset_is_still_json(client: TestClient[Any]) -> None:
    r = client.post("/api/v1/sessions", content=CREDENTIALS,
                    headers={"content-type": "application/json; charset=utf-8"})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("origin", [
    "https://evil.example",
    "http://testserver.local.evil.example",  # a prefix of our host is not our host
    "https://testserver.local",  # another scheme is another origin
    "http://testserver.local:8443",  # and so is another port
    "null",  # sandboxed iframes and some redirects
])
def test_sign_in_from_another_origin_is_refused(client: TestClient[Any], origin: str) -> None:
    r = client.post("/api/v1/sessions", json={"username": "mallory", "password": PASSWORD},
                    headers={"origin": origin})
    assert r.status_code == 403, r.text
    assert error_code(r) == "cross_origin_request"
    assert "set-cookie" not in r.headers
    assert client.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("origin", [None, "http://testserver.local"])
def test_sign_in_from_this_site_or_a_script_works(client: TestClient[Any], origin: str | None) -> None:
    r = client.post("/api/v1/sessions", json={"username": "mallory", "password": PASSWORD},
                    headers={"origin": origin} if origin else {})
    assert r.status_code == 201, r.text
    assert SESSION_COOKIE in r.cookies


def test_sign_in_behind_a_proxy_accepts_the_public_origin(tmp_path: Path) -> None:
    """The request reaches us as http://internal.local:8000, the browser saw https://photos.example."""
    settings = Settings(data_dir=tmp_path, workers=0, public_url="https://photos.example")
    with TestClient(create_app(memory_container(settings)), base_url="http://internal.local:8000") as c:
        c.post("/api/v1/accounts", json={"username": "mallory", "password": PASSWORD})
        ok = c.post("/api/v1/sessions", json={"username": "mallory", "password": PASSWORD},
                    headers={"origin": "https://photos.example"})
        assert ok.status_code == 201, ok.text
        refused = c.post("/api/v1/sessions", json={"username": "mallory", "password": PASSWORD},
                         headers={"origin": "https://evil.example"})
        assert refused.status_code == 403


def test_the_web_sign_in_form_still_works(client: TestClient[Any]) -> None:
    """The UI's own forms post form-urlencoded bodies to page routes, not to the JSON API."""
    page = client.get("/signin")
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert page.status_code == 200
    assert match
    csrf = match.group(1)
    r = client.post("/signin", data={"username": "mallory", "password": PASSWORD, "_csrf_token": csrf},
                    headers={"origin": "http://testserver.local"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert client.get("/api/v1/me").status_code == 200
