"""Every row of API.md through Litestar's TestClient, on the in-memory adapters."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from imagerepo.adapters.memory import InMemoryBlobStore, InMemoryImageRepository, ManualClock
from imagerepo.domain.accounts import PASSWORD_RULES
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests import images as img
from tests.wiring import memory_container


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def env(tmp_path: Path, clock: ManualClock) -> Iterator[tuple[TestClient[Any], Any]]:
    settings = Settings(data_dir=tmp_path, workers=0, max_upload_bytes=300_000, upload_quota=3)
    container = memory_container(settings, clock=clock)
    with TestClient(create_app(container)) as client:
        yield client, container


@pytest.fixture
def client(env: tuple[TestClient[Any], Any]) -> TestClient[Any]:
    return env[0]


def signup(client: TestClient[Any], username: str = "alice", password: str = "correct horse") -> dict[str, str]:
    assert client.post("/api/v1/accounts", json={"username": username, "password": password}).status_code == 201
    r = client.post("/api/v1/sessions", json={"username": username, "password": password})
    assert r.status_code == 201
    client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def upload(client: TestClient[Any], auth: dict[str, str], data: bytes, name: str = "photo.jpg",
           ctype: str = "image/jpeg") -> Any:
    return client.post("/api/v1/images", files={"file": (name, data, ctype)}, headers=auth)


def error_code(r: Any) -> str:
    body = r.json()
    assert set(body) == {"error"}
    assert body["error"]["message"]
    return str(body["error"]["code"])


# ---------------------------------------------------------------- health


def test_health(env: tuple[TestClient[Any], Any]) -> None:
    client, container = env
    assert client.get("/health/live").json() == {"status": "ok"}
    assert client.get("/health/ready").status_code == 200
    container.blob_store().available = False
    r = client.get("/health/ready")
    assert r.status_code == 503
    assert r.json()["failing"] == ["blob_store"]
    container.blob_store().available = True
    assert client.get("/health/ready").status_code == 200


# ---------------------------------------------------------------- accounts


def test_sign_up_returns_the_account(client: TestClient[Any]) -> None:
    r = client.post("/api/v1/accounts", json={"username": "Alice_1", "password": "correct horse"})
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"id", "username", "created_at"}
    assert body["username"] == "Alice_1"
    assert body["created_at"].endswith("Z")


@pytest.mark.parametrize(
    ("username", "password", "fields"),
    [
        ("al", "correct horse", {"username"}),
        ("a" * 33, "correct horse", {"username"}),
        ("al ice", "correct horse", {"username"}),
        ("alice", "short", {"password"}),
        ("alice", "12345678901", {"password"}),
        ("alice123", "ALICE123", {"password"}),
        ("x", "1", {"username", "password"}),
        (None, None, {"username", "password"}),
    ],
)
def test_sign_up_rules(client: TestClient[Any], username: Any, password: Any, fields: set[str]) -> None:
    r = client.post("/api/v1/accounts", json={"username": username, "password": password})
    assert r.status_code == 422
    assert error_code(r) == "invalid_credentials_format"
    details = r.json()["error"]["details"]
    assert set(details) == fields
    assert all(isinstance(m, str) and m for msgs in details.values() for m in msgs)


def test_username_taken_without_regard_to_case(client: TestClient[Any]) -> None:
    signup(client, "alice")
    r = client.post("/api/v1/accounts", json={"username": "ALICE", "password": "another pass"})
    assert r.status_code == 409
    assert error_code(r) == "username_taken"


def test_bad_json_is_a_clear_400(client: TestClient[Any]) -> None:
    r = client.post("/api/v1/accounts", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert error_code(r) == "bad_request"
    r = client.post("/api/v1/accounts", json={"username": ["a"], "password": 5})
    assert r.status_code == 422  # API.md's error for credentials that break the rules
    assert error_code(r) == "invalid_credentials_format"
    assert "username" in r.json()["error"]["details"]  # the decoder stops at the first wrong field


def test_sign_in_sets_a_safe_cookie_and_the_cookie_works(client: TestClient[Any]) -> None:
    client.post("/api/v1/accounts", json={"username": "alice", "password": "correct horse"})
    r = client.post("/api/v1/sessions", json={"username": "alice", "password": "correct horse"})
    assert r.status_code == 201
    assert set(r.json()) == {"token", "expires_at"}
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # served over http here
    assert client.get("/api/v1/me").status_code == 200  # the cookie jar carries it


def test_invalid_login_is_the_same_whether_or_not_the_user_exists(client: TestClient[Any]) -> None:
    signup(client, "alice")
    a = client.post("/api/v1/sessions", json={"username": "alice", "password": "wrong password"})
    b = client.post("/api/v1/sessions", json={"username": "nobody", "password": "wrong password"})
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()
    assert error_code(a) == "invalid_login"


def test_too_many_attempts_with_retry_after(client: TestClient[Any], clock: ManualClock) -> None:
    signup(client, "alice")
    for _ in range(5):
        client.post("/api/v1/sessions", json={"username": "alice", "password": "wrong password"})
    r = client.post("/api/v1/sessions", json={"username": "alice", "password": "correct horse"})
    assert r.status_code == 429
    assert error_code(r) == "too_many_attempts"
    assert int(r.headers["retry-after"]) > 0
    clock.advance(int(r.headers["retry-after"]))
    assert client.post("/api/v1/sessions", json={"username": "alice", "password": "correct horse"}).status_code == 201


def test_sign_out_revokes_the_token(client: TestClient[Any]) -> None:
    auth = signup(client)
    assert client.delete("/api/v1/sessions/current", headers=auth).status_code == 204
    r = client.get("/api/v1/me", headers=auth)
    assert r.status_code == 401
    assert error_code(r) == "unauthenticated"
    assert client.delete("/api/v1/sessions/current", headers=auth).status_code == 401


def test_expired_token_is_401(client: TestClient[Any], clock: ManualClock) -> None:
    auth = signup(client)
    clock.advance(timedelta(days=8))
    assert client.get("/api/v1/me", headers=auth).status_code == 401


def test_me_reports_quota(client: TestClient[Any]) -> None:
    auth = signup(client)
    upload(client, auth, img.jpeg())
    body = client.get("/api/v1/me", headers=auth).json()
    assert body["username"] == "alice"
    assert body["quota"] == {"used": 1, "limit": 3}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/me"),
        ("DELETE", "/api/v1/sessions/current"),
        ("GET", "/api/v1/images"),
        ("POST", "/api/v1/images"),
        ("GET", "/api/v1/images/x"),
        ("GET", "/api/v1/images/x/content"),
        ("DELETE", "/api/v1/images/x"),
        ("POST", "/api/v1/images/x/analysis"),
    ],
)
@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Basic YTpi"])
def test_every_private_route_needs_a_credential(
    client: TestClient[Any], method: str, path: str, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    r = client.request(method, path, headers=headers)
    assert r.status_code == 401
    assert error_code(r) == "unauthenticated"


# ---------------------------------------------------------------- images


@pytest.mark.parametrize(
    ("data", "ctype"),
    [(img.jpeg(), "image/jpeg"), (img.png(), "image/png"), (img.gif(), "image/gif"), (img.webp(), "image/webp")],
)
def test_upload_accepted_formats(client: TestClient[Any], data: bytes, ctype: str) -> None:
    auth = signup(client)
    r = upload(client, auth, data, name="x.bin", ctype="application/octet-stream")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["content_type"] == ctype  # judged by content, not name or declared type
    assert (body["width"], body["height"]) == (64, 48)
    assert body["size_bytes"] == len(data)
    assert body["analysis"]["status"] == "pending"
    assert body["analysis"]["analyzer"] == "local"  # the configured analyzer, before it ran
    assert body["url"]
    assert body["thumbnail_url"]
    assert body["url_expires_at"].endswith("Z")
    assert r.headers["location"] == f"/api/v1/images/{body['id']}"


@pytest.mark.parametrize(
    ("data", "name", "status", "code"),
    [
        (img.TEXT, "notes.jpg", 415, "unsupported_media_type"),
        (img.SVG, "vector.svg", 415, "unsupported_media_type"),
        (img.PDF, "doc.png", 415, "unsupported_media_type"),
        (b"", "empty.jpg", 415, "unsupported_media_type"),
        (img.truncated_jpeg(), "cut.jpg", 422, "invalid_image"),
        (img.decompression_bomb_png(), "bomb.png", 422, "invalid_image"),
    ],
)
def test_bad_uploads_are_refused_and_change_nothing(
    env: tuple[TestClient[Any], Any], data: bytes, name: str, status: int, code: str
) -> None:
    client, container = env
    auth = signup(client)
    r = upload(client, auth, data, name=name, ctype="image/jpeg")
    assert r.status_code == status, r.text
    assert error_code(r) == code
    assert client.get("/api/v1/me", headers=auth).json()["quota"]["used"] == 0
    assert list(container.blob_store().keys()) == []
    assert client.get("/api/v1/images", headers=auth).json()["items"] == []


def test_oversize_body_is_413_and_not_stored(env: tuple[TestClient[Any], Any]) -> None:
    client, container = env
    auth = signup(client)
    big = img.encode("PNG", (600, 600)) + b"\0" * 400_000
    r = upload(client, auth, big, name="big.png")
    assert r.status_code == 413
    assert error_code(r) == "too_large"
    assert list(container.blob_store().keys()) == []
    tmp = container.settings().data_dir / "tmp"
    assert not tmp.exists() or list(tmp.iterdir()) == []


def test_missing_file_field_is_400(client: TestClient[Any]) -> None:
    auth = signup(client)
    r = client.post("/api/v1/images", files={"photo": ("a.jpg", img.jpeg(), "image/jpeg")}, headers=auth)
    assert r.status_code == 400
    r = client.post("/api/v1/images", json={"file": "x"}, headers=auth)
    assert r.status_code == 400


def test_quota_exceeded_and_freed_by_delete(client: TestClient[Any]) -> None:
    auth = signup(client)
    ids = [upload(client, auth, img.jpeg(color=(i * 40, 20, 20))).json()["id"] for i in range(3)]
    r = upload(client, auth, img.jpeg(color=(200, 200, 20)))
    assert r.status_code == 409
    assert error_code(r) == "quota_exceeded"
    assert r.json()["error"]["details"] == {"used": 3, "limit": 3}
    assert client.delete(f"/api/v1/images/{ids[0]}", headers=auth).status_code == 204
    assert upload(client, auth, img.jpeg(color=(200, 200, 20))).status_code == 201


def test_duplicate_image(client: TestClient[Any]) -> None:
    auth = signup(client)
    first = upload(client, auth, img.png()).json()
    r = upload(client, auth, img.png(), name="copy.png")
    assert r.status_code == 409
    assert error_code(r) == "duplicate_image"
    assert r.json()["error"]["details"] == {"existing_id": first["id"]}
    # Another user may store the same bytes.
    other = signup(client, "bob")
    assert upload(client, other, img.png()).status_code == 201


def test_concurrent_uploads_never_pass_the_quota(env: tuple[TestClient[Any], Any]) -> None:
    client, _ = env
    auth = signup(client)
    statuses: list[int] = []
    lock = threading.Lock()

    def go(i: int) -> None:
        r = upload(client, auth, img.jpeg(color=(i * 20 % 256, 100, 7)))
        with lock:
            statuses.append(r.status_code)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses.count(201) == 3
    assert statuses.count(409) == 7
    assert client.get("/api/v1/me", headers=auth).json()["quota"]["used"] == 3


def test_list_newest_first_with_cursor_pages(client: TestClient[Any]) -> None:
    auth = signup(client)
    ids = [upload(client, auth, img.jpeg(color=(i * 60, 10, 10)), name=f"{i}.jpg").json()["id"] for i in range(3)]
    r = client.get("/api/v1/images", params={"limit": 2}, headers=auth)
    assert r.status_code == 200
    page = r.json()
    assert [i["id"] for i in page["items"]] == ids[::-1][:2]
    r2 = client.get("/api/v1/images", params={"limit": 2, "cursor": page["next_cursor"]}, headers=auth).json()
    assert [i["id"] for i in r2["items"]] == [ids[0]]
    assert r2["next_cursor"] is None


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"sort": "size"}, {"color": "blue"}, {"cursor": "!!!"},
     {"cursor": "eyJrIjoxfQ"}],
)
def test_invalid_query(client: TestClient[Any], params: dict[str, str]) -> None:
    auth = signup(client)
    r = client.get("/api/v1/images", params=params, headers=auth)
    assert r.status_code == 422
    assert error_code(r) == "invalid_query"


def test_other_users_image_is_404_everywhere(client: TestClient[Any]) -> None:
    alice = signup(client, "alice")
    bob = signup(client, "bob")
    image_id = upload(client, alice, img.jpeg()).json()["id"]
    for method, path in [("GET", ""), ("GET", "/content"), ("DELETE", ""), ("POST", "/analysis")]:
        r = client.request(method, f"/api/v1/images/{image_id}{path}", headers=bob)
        assert r.status_code == 404
        assert error_code(r) == "not_found"
    assert client.get("/api/v1/images", headers=bob).json()["items"] == []
    assert client.get(f"/api/v1/images/{image_id}", headers=alice).status_code == 200


def test_content_redirects_to_a_working_temporary_url(env: tuple[TestClient[Any], Any]) -> None:
    client, _ = env
    auth = signup(client)
    data = img.jpeg()
    image = upload(client, auth, data).json()
    r = client.get(f"/api/v1/images/{image['id']}/content", headers=auth, follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"].startswith("/blobs/")


def test_delete_removes_blobs_and_row(env: tuple[TestClient[Any], Any]) -> None:
    client, container = env
    auth = signup(client)
    image_id = upload(client, auth, img.jpeg()).json()["id"]
    assert len(list(container.blob_store().keys())) == 2  # original and thumbnail
    assert client.delete(f"/api/v1/images/{image_id}", headers=auth).status_code == 204
    assert list(container.blob_store().keys()) == []
    assert client.get(f"/api/v1/images/{image_id}", headers=auth).status_code == 404
    assert client.delete(f"/api/v1/images/{image_id}", headers=auth).status_code == 404


def test_reanalysis_sets_status_back_to_pending(env: tuple[TestClient[Any], Any]) -> None:
    client, container = env
    auth = signup(client)
    image_id = upload(client, auth, img.jpeg()).json()["id"]
    container.analysis_service().run_once()
    assert client.get(f"/api/v1/images/{image_id}", headers=auth).json()["analysis"]["status"] == "done"
    r = client.post(f"/api/v1/images/{image_id}/analysis", headers=auth)
    assert r.status_code == 202
    assert r.json()["analysis"]["status"] == "pending"
    container.analysis_service().run_once()
    done = client.get(f"/api/v1/images/{image_id}", headers=auth).json()["analysis"]
    assert done["status"] == "done"
    assert done["tags"] == [{"name": "image", "confidence": 1.0}]


def test_storage_outage_is_503_and_leaves_nothing(env: tuple[TestClient[Any], Any]) -> None:
    client, container = env
    auth = signup(client)
    store: InMemoryBlobStore = container.blob_store()
    store.fail_puts = True
    r = upload(client, auth, img.jpeg())
    assert r.status_code == 503
    assert error_code(r) == "service_unavailable"
    store.fail_puts = False
    assert client.get("/api/v1/me", headers=auth).json()["quota"]["used"] == 0
    assert list(store.keys()) == []


def test_database_outage_is_503(env: tuple[TestClient[Any], Any]) -> None:
    client, container = env
    auth = signup(client)
    repo: InMemoryImageRepository = container.image_repository()
    repo.available = False
    r = client.get("/api/v1/images", headers=auth)
    assert r.status_code == 503
    repo.available = True


def test_unknown_route_uses_the_error_format(client: TestClient[Any]) -> None:
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert error_code(r) == "not_found"


def test_openapi_document_lists_the_contract(client: TestClient[Any]) -> None:
    r = client.get("/schema/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path in ["/api/v1/accounts", "/api/v1/sessions", "/api/v1/sessions/current", "/api/v1/me",
                 "/api/v1/images", "/api/v1/images/{image_id}", "/api/v1/images/{image_id}/content",
                 "/api/v1/images/{image_id}/analysis", "/health/live", "/health/ready"]:
        assert path in paths, path


def test_every_operation_has_a_unique_camel_case_verb_as_its_id(client: TestClient[Any]) -> None:
    """Client generators name their methods after operationIds (uploadImage → upload_image): each is
    explicit, unique, camelCase, tagged with its resource and described."""
    doc = client.get("/schema/openapi.json").json()
    ops = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()
           if isinstance(op, dict)]
    ids = [op["operationId"] for _, _, op in ops]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if not re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", i)] == []
    declared_tags = {t["name"] for t in doc["tags"]}
    for path, method, op in ops:
        assert len(op["tags"]) == 1, (method, path)
        assert op["tags"][0] in declared_tags, (method, path)
        assert op.get("summary"), (method, path)
        assert op.get("description"), (method, path)
    credentials = doc["components"]["schemas"]["CredentialsIn"]["properties"]
    assert credentials["username"]["examples"] == ["alice"]
    assert credentials["password"]["description"] == "; ".join(PASSWORD_RULES)  # the rules sign-up applies
    by_route = {(m, p): op["operationId"] for p, m, op in ops}
    assert by_route[("get", "/api/v1/images/{image_id}")] == "getImage"
    assert by_route[("post", "/api/v1/sessions")] == "signIn"
    assert by_route[("delete", "/api/v1/sessions")] == "signOutEverywhere"


def test_security_headers_on_every_response(client: TestClient[Any]) -> None:
    for path in ["/", "/health/live", "/api/v1/me"]:
        r = client.get(path)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"


def test_a_full_decode_gate_is_503_busy_with_retry_after(tmp_path: Path) -> None:
    from imagerepo.adapters.pillow_inspector import DecodeGate, PillowImageInspector

    gate = DecodeGate(max_concurrent=1, wait_seconds=0.05)
    inspector = PillowImageInspector(big_pixels=100, gate=gate)
    container = memory_container(Settings(data_dir=tmp_path, workers=0), inspector=inspector)
    with TestClient(create_app(container)) as client, gate.slot():  # another big decode holds the slot
        auth = signup(client)
        r = upload(client, auth, img.jpeg())
        assert r.status_code == 503
        assert error_code(r) == "busy"
        assert int(r.headers["retry-after"]) > 0
        assert client.get("/api/v1/me", headers=auth).json()["quota"]["used"] == 0
        assert upload(client, auth, img.jpeg()).status_code == 503
    with TestClient(create_app(container)) as client:  # the slot is free again
        assert upload(client, auth, img.jpeg()).status_code == 201
