"""Sign out everywhere (DELETE /api/v1/sessions) and the default lifetime of API tokens: what
README's "tokens expire and are revoked on sign-out" promises."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from imagerepo.adapters.memory import ManualClock
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.http.auth import SESSION_COOKIE
from imagerepo.entrypoints.settings import Settings
from tests.wiring import memory_container

PASSWORD = "correct horse"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def client(tmp_path: Path, clock: ManualClock) -> Iterator[TestClient[Any]]:
    container = memory_container(Settings(data_dir=tmp_path, workers=0), clock=clock)
    with TestClient(create_app(container)) as c:
        for name in ("alice", "bob"):
            assert c.post("/api/v1/accounts", json={"username": name, "password": PASSWORD}).status_code == 201
        yield c


def sign_in(client: TestClient[Any], username: str = "alice") -> str:
    r = client.post("/api/v1/sessions", json={"username": username, "password": PASSWORD})
    assert r.status_code == 201, r.text
    client.cookies.clear()
    return str(r.json()["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_token(client: TestClient[Any], session: str, **body: Any) -> Any:
    return client.post("/api/v1/tokens", json={"name": "script", **body}, headers=bearer(session))


def works(client: TestClient[Any], token: str) -> bool:
    return client.get("/api/v1/me", headers=bearer(token)).status_code == 200


def test_sign_out_everywhere_ends_every_session_and_token_of_the_account(client: TestClient[Any]) -> None:
    laptop, phone, bobs = sign_in(client), sign_in(client), sign_in(client, "bob")
    tokens = [make_token(client, laptop, name=f"t{i}").json()["token"] for i in range(2)]
    bobs_token = make_token(client, bobs).json()["token"]
    r = client.delete("/api/v1/sessions", headers=bearer(phone))
    assert r.status_code == 204
    assert "max-age=0" in r.headers["set-cookie"].lower()
    for dead in (laptop, phone, *tokens):
        r = client.get("/api/v1/me", headers=bearer(dead))
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthenticated"
    assert works(client, bobs)
    assert works(client, bobs_token)
    assert works(client, sign_in(client))  # and alice may sign in again


def test_sign_out_everywhere_with_the_cookie_and_with_an_api_token(client: TestClient[Any]) -> None:
    other = sign_in(client)
    client.post("/api/v1/sessions", json={"username": "alice", "password": PASSWORD})
    cookie = client.cookies.get(SESSION_COOKIE)
    assert cookie
    assert client.delete("/api/v1/sessions").status_code == 204
    client.cookies.set(SESSION_COOKIE, cookie)  # a copy of the cookie is dead too
    assert client.get("/api/v1/me").status_code == 401
    client.cookies.clear()
    assert not works(client, other)
    # A leaked API token can be used to end everything, itself included.
    token = make_token(client, sign_in(client)).json()["token"]
    assert client.delete("/api/v1/sessions", headers=bearer(token)).status_code == 204
    assert not works(client, token)


def test_sign_out_everywhere_needs_a_credential(client: TestClient[Any]) -> None:
    kept = sign_in(client)
    for headers in ({}, bearer("not-a-token")):
        r = client.delete("/api/v1/sessions", headers=headers)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthenticated"
    assert works(client, kept)


def test_sign_out_everywhere_is_in_the_openapi_document(client: TestClient[Any]) -> None:
    assert "delete" in client.get("/schema/openapi.json").json()["paths"]["/api/v1/sessions"]


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_api_tokens_expire_after_90_days_by_default(client: TestClient[Any], clock: ManualClock) -> None:
    session = sign_in(client)
    created = make_token(client, session).json()
    assert at(created["expires_at"]) - at(created["created_at"]) == timedelta(days=90)
    listed = client.get("/api/v1/tokens", headers=bearer(session)).json()["items"]
    assert listed[0]["expires_at"] == created["expires_at"]
    clock.advance(timedelta(days=89, hours=23))
    assert works(client, created["token"])
    clock.advance(timedelta(hours=1, seconds=1))
    assert not works(client, created["token"])


@pytest.mark.parametrize("body", [{"expires_in_days": 365}, {"expires_in_days": 1}, {"expires_at": "+365d"}])
def test_a_token_may_live_up_to_365_days(client: TestClient[Any], clock: ManualClock, body: dict[str, Any]) -> None:
    body = dict(body)
    if body.get("expires_at") == "+365d":
        body["expires_at"] = (clock.now() + timedelta(days=365)).isoformat()
    created = make_token(client, sign_in(client), **body)
    assert created.status_code == 201, created.text
    assert at(created.json()["expires_at"]) <= at(created.json()["created_at"]) + timedelta(days=365)


@pytest.mark.parametrize(("body", "field"), [
    ({"expires_in_days": 366}, "expires_in_days"),
    ({"expires_in_days": 3650}, "expires_in_days"),
    ({"expires_at": "+366d"}, "expires_at"),
])
def test_a_longer_lifetime_is_a_clear_422_and_creates_nothing(
    client: TestClient[Any], clock: ManualClock, body: dict[str, Any], field: str
) -> None:
    body = dict(body)
    if body.get("expires_at") == "+366d":
        body["expires_at"] = (clock.now() + timedelta(days=366)).isoformat()
    session = sign_in(client)
    r = make_token(client, session, **body)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "token_lifetime_too_long"
    assert "365" in err["message"]
    assert field in err["details"]
    assert client.get("/api/v1/tokens", headers=bearer(session)).json()["items"] == []


def csrf(client: TestClient[Any], page: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', client.get(page).text)
    assert match, page
    return match.group(1)


def test_the_web_ui_signs_out_everywhere(client: TestClient[Any]) -> None:
    elsewhere = sign_in(client)
    client.post("/signin", data={"_csrf_token": csrf(client, "/signin"), "username": "alice", "password": PASSWORD})
    gallery = client.get("/gallery")
    assert 'href="/signout/everywhere"' in gallery.text  # a link to a question, not the action itself
    confirm = client.get("/signout/everywhere").text
    assert "every API token of yours stops" in " ".join(confirm.split())
    assert works(client, elsewhere)  # asking changed nothing
    r = client.post("/signout", data={"_csrf_token": csrf(client, "/signout/everywhere"), "everywhere": "1"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert not works(client, elsewhere)
    assert client.get("/api/v1/me").status_code == 401
