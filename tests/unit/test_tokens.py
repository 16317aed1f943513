"""Personal access tokens through the HTTP API: create, use, list, revoke, expire."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar.testing import TestClient

from imagerepo.adapters.memory import ManualClock
from imagerepo.domain.tokens_service import token_id
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests.wiring import memory_container


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def env(tmp_path: Path, clock: ManualClock) -> Iterator[tuple[TestClient[Any], Any]]:
    container = memory_container(Settings(data_dir=tmp_path, workers=0), clock=clock)
    with TestClient(create_app(container)) as client:
        yield client, container


@pytest.fixture
def client(env: tuple[TestClient[Any], Any]) -> TestClient[Any]:
    return env[0]


def session(client: TestClient[Any], username: str = "alice") -> dict[str, str]:
    client.post("/api/v1/accounts", json={"username": username, "password": "correct horse"})
    r = client.post("/api/v1/sessions", json={"username": username, "password": "correct horse"})
    assert r.status_code == 201
    client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_token(client: TestClient[Any], auth: dict[str, str], **body: Any) -> dict[str, Any]:
    r = client.post("/api/v1/tokens", json={"name": "backup script", **body}, headers=auth)
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    return dict(r.json())


def test_a_token_is_shown_once_and_works_as_a_bearer_token(client: TestClient[Any]) -> None:
    auth = session(client)
    created = make_token(client, auth)
    assert set(created) == {"id", "name", "created_at", "expires_at", "token"}
    assert created["name"] == "backup script"
    assert created["expires_at"] > created["created_at"]  # every token expires (90 days by default)
    me = client.get("/api/v1/me", headers=bearer(created["token"]))
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    listed = client.get("/api/v1/tokens", headers=auth).json()["items"]
    assert [t["id"] for t in listed] == [created["id"]]
    assert "token" not in listed[0]
    assert created["token"] not in client.get("/api/v1/tokens", headers=auth).text


def test_the_public_id_is_not_the_stored_hash(env: tuple[TestClient[Any], Any]) -> None:
    client, container = env
    auth = session(client)
    created = make_token(client, auth)
    stored = [s for s in container.session_repository()._sessions.values() if s.kind == "api_token"]
    assert len(stored) == 1
    assert created["id"] != stored[0].token_hash
    assert created["id"] not in stored[0].token_hash
    assert created["token"] != stored[0].token_hash  # only the hash is kept
    # Neither the id nor the hash is usable as a credential.
    for guess in (created["id"], stored[0].token_hash):
        assert client.get("/api/v1/me", headers=bearer(guess)).status_code == 401


def test_revoking_a_token_stops_it_at_once(client: TestClient[Any]) -> None:
    auth = session(client)
    keep, drop = make_token(client, auth, name="keep"), make_token(client, auth, name="drop")
    assert client.delete(f"/api/v1/tokens/{drop['id']}", headers=auth).status_code == 204
    r = client.get("/api/v1/me", headers=bearer(drop["token"]))
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthenticated"
    assert client.get("/api/v1/me", headers=bearer(keep["token"])).status_code == 200
    assert [t["name"] for t in client.get("/api/v1/tokens", headers=auth).json()["items"]] == ["keep"]
    r = client.delete(f"/api/v1/tokens/{drop['id']}", headers=auth)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_a_token_can_revoke_itself_but_cannot_mint_more(client: TestClient[Any]) -> None:
    auth = session(client)
    t = make_token(client, auth)
    r = client.post("/api/v1/tokens", json={"name": "child"}, headers=bearer(t["token"]))
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthenticated"
    assert len(client.get("/api/v1/tokens", headers=auth).json()["items"]) == 1
    assert client.delete(f"/api/v1/tokens/{t['id']}", headers=bearer(t["token"])).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(t["token"])).status_code == 401


def test_signing_out_keeps_tokens_working(client: TestClient[Any]) -> None:
    auth = session(client)
    t = make_token(client, auth)
    assert client.delete("/api/v1/sessions/current", headers=auth).status_code == 204
    assert client.get("/api/v1/me", headers=auth).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(t["token"])).status_code == 200


def test_signing_out_with_an_api_token_revokes_that_token_only(client: TestClient[Any]) -> None:
    auth = session(client)
    first, second = make_token(client, auth), make_token(client, auth, name="second")
    assert client.delete("/api/v1/sessions/current", headers=bearer(first["token"])).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(first["token"])).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(second["token"])).status_code == 200
    assert client.get("/api/v1/me", headers=auth).status_code == 200


def test_another_users_token_is_not_found_and_keeps_working(client: TestClient[Any]) -> None:
    alice, bob = session(client, "alice"), session(client, "bob")
    t = make_token(client, alice)
    assert client.delete(f"/api/v1/tokens/{t['id']}", headers=bob).status_code == 404
    assert client.get("/api/v1/tokens", headers=bob).json()["items"] == []
    assert client.get("/api/v1/me", headers=bearer(t["token"])).json()["username"] == "alice"


def test_an_expiring_token_stops_working_after_its_expiry(
    client: TestClient[Any], clock: ManualClock
) -> None:
    auth = session(client)
    t = make_token(client, auth, expires_in_days=2)
    assert t["expires_at"] is not None
    assert client.get("/api/v1/me", headers=bearer(t["token"])).status_code == 200
    clock.advance(timedelta(days=2, seconds=1))
    assert client.get("/api/v1/me", headers=bearer(t["token"])).status_code == 401
    # The session itself (7 days) still works and no longer lists the dead token.
    assert client.get("/api/v1/tokens", headers=auth).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "n", "expires_at": "2000-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "n", "expires_in_days": 0}, "expires_in_days"),
        ({"name": "n", "expires_in_days": 3, "expires_at": "2099-01-01T00:00:00Z"}, "expires_in_days"),
    ],
)
def test_bad_token_requests_are_refused_and_create_nothing(
    client: TestClient[Any], body: dict[str, Any], field: str
) -> None:
    auth = session(client)
    r = client.post("/api/v1/tokens", json=body, headers=auth)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "validation_error"
    assert field in err["details"]
    assert client.get("/api/v1/tokens", headers=auth).json()["items"] == []


def test_tokens_need_a_credential(client: TestClient[Any]) -> None:
    assert client.get("/api/v1/tokens").status_code == 401
    assert client.post("/api/v1/tokens", json={"name": "x"}).status_code == 401
    assert client.delete("/api/v1/tokens/abc").status_code == 401


def test_token_routes_are_in_the_openapi_document(client: TestClient[Any]) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/tokens"])
    assert "delete" in paths["/api/v1/tokens/{token_id}"]


@given(st.text(min_size=1, max_size=80))
def test_token_ids_are_never_the_hash_and_do_not_collide_trivially(h: str) -> None:
    assert token_id(h) != h
    assert len(token_id(h)) == 24
    assert token_id(h) != token_id(h + "x")
