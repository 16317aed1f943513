"""The claims of SECURITY.md, one test (or more) each."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import argon2
import pytest
from dependency_injector import providers
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from imagerepo.adapters.filestore import EncryptedFileBlobStore
from imagerepo.adapters.memory import (
    InMemoryAccountRepository,
    InMemoryLoginThrottle,
    InMemorySessionRepository,
    ManualClock,
)
from imagerepo.adapters.system import Argon2PasswordHasher
from imagerepo.domain.accounts_service import AccountService
from imagerepo.domain.errors import InvalidLogin
from imagerepo.domain.throttle import ThrottlePolicy
from imagerepo.entrypoints.container import Container
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.http.auth import SESSION_COOKIE
from imagerepo.entrypoints.settings import Settings
from tests import images as img
from tests.bursts import GateHasher, burst
from tests.hardening.support import PASSWORD, error_code, signup, upload
from tests.wiring import memory_container

# Routes anyone may call. Everything else must refuse anonymous callers and other users' ids.
PUBLIC = {
    ("GET", "/"), ("GET", "/health/live"), ("GET", "/health/ready"), ("GET", "/api/v1/rules"),
    ("POST", "/api/v1/accounts"), ("POST", "/api/v1/sessions"),
    ("GET", "/signin"), ("POST", "/signin"), ("GET", "/signup"), ("POST", "/signup"),
    ("GET", "/api/v1/oidc/providers"), ("GET", "/api/v1/oidc/{name}/login"), ("GET", "/api/v1/oidc/{name}/callback"),
    # The installable app's shell: the same for everyone, no user data.
    ("GET", "/manifest.webmanifest"), ("GET", "/sw.js"), ("GET", "/icons/{name}"),
}
PUBLIC_PREFIXES = ("/schema", "/static/")
# /blobs/{key} is public by design: its signature is the credential (see the signed-URL tests).
SIGNED = ("/blobs/",)


def plain(path: str) -> str:
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def private_routes(app: Any) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        path = plain(route.path)
        for method in sorted(route.methods - {"OPTIONS", "HEAD"}):
            if (method, path) in PUBLIC or path.startswith(PUBLIC_PREFIXES + SIGNED):
                continue
            found.append((method, path))
    return found


@pytest.fixture
def sec(tmp_path: Path, clock: ManualClock) -> Iterator[tuple[TestClient[Any], Container]]:
    store = EncryptedFileBlobStore(tmp_path / "blobs", b"b" * 32, b"u" * 32, clock)
    container = memory_container(Settings(data_dir=tmp_path, workers=0), clock=clock, blob_store=store)
    with TestClient(create_app(container)) as client:
        yield client, container


def csrf_token(client: TestClient[Any]) -> str:
    """A valid CSRF token, its cookie left in the client's jar: with it a request gets past the
    pages' CSRF guard, so what answers is the handler's own check."""
    match = re.search(r'name="_csrf_token" value="([^"]+)"', client.get("/signin").text)
    assert match
    return match.group(1)


def test_every_route_refuses_anonymous_callers_and_other_users_ids(sec: tuple[TestClient[Any], Container]) -> None:
    client, _ = sec
    alice = signup(client, "alice")
    bob = signup(client, "bob")
    bob_token = bob["Authorization"].split()[1]
    image_id = upload(client, alice, img.jpeg()).json()["id"]
    routes = private_routes(client.app)
    assert ("GET", "/api/v1/me") in routes
    assert ("DELETE", "/api/v1/images/{image_id}") in routes
    assert ("POST", "/images/{image_id}/delete") in routes
    csrf = {"x-csrftoken": csrf_token(client)}
    for method, path in routes:
        url = path.replace("{image_id}", image_id).replace("{token_id}", "t").replace("{name}", "x")
        r = client.request(method, url, headers=csrf, follow_redirects=False)
        if path.startswith("/api/"):
            assert (r.status_code, error_code(r)) == (401, "unauthenticated"), (method, path, r.text[:200])
        else:  # a page sends the visitor to sign in, and back afterwards when it was a GET
            assert r.status_code == 303, (method, path, r.status_code, r.text[:200])
            want = f"/signin?next={quote(url, safe='')}" if method == "GET" else "/signin"
            assert r.headers["location"] == want, (method, path)
        if "{image_id}" in path:
            if path.startswith("/api/"):
                r = client.request(method, url, headers=bob, follow_redirects=False)
            else:  # the web pages use the session cookie
                client.cookies.set(SESSION_COOKIE, bob_token)
                r = client.request(method, url, headers=csrf, follow_redirects=False)
                client.cookies.delete(SESSION_COOKIE)
            assert r.status_code == 404, (method, path, r.status_code, r.text[:200])
            if path.startswith("/api/"):
                assert error_code(r) == "not_found"
    # None of that touched alice's image.
    assert client.get(f"/api/v1/images/{image_id}", headers=alice).status_code == 200
    assert client.get("/api/v1/images", headers=bob).json()["items"] == []


def test_tokens_are_long_random_and_rotated_on_each_sign_in(sec: tuple[TestClient[Any], Container]) -> None:
    client, _ = sec
    client.post("/api/v1/accounts", json={"username": "alice", "password": PASSWORD})
    tokens = [client.post("/api/v1/sessions", json={"username": "alice", "password": PASSWORD}).json()["token"]
              for _ in range(3)]
    assert len(set(tokens)) == 3
    for t in tokens:
        assert len(t) >= 43  # token_urlsafe(32): 256 bits; 22 characters would already be 128
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {t}"}).status_code == 200


def test_tokens_are_stored_hashed(tmp_path: Path) -> None:
    """On the embedded database, the token never reaches the disk."""
    container = Container()
    container.settings.override(providers.Object(Settings(data_dir=tmp_path, workers=0, local_models=False)))
    with TestClient(create_app(container)) as client:
        client.post("/api/v1/accounts", json={"username": "alice", "password": PASSWORD})
        token = client.post("/api/v1/sessions", json={"username": "alice", "password": PASSWORD}).json()["token"]
        assert client.get("/api/v1/me").status_code == 200
        files = [p for p in tmp_path.rglob("*") if p.is_file()]
        assert any(p.suffix == ".sqlite3" for p in files)
        for p in files:
            content = p.read_bytes()
            assert token.encode() not in content, p
            assert PASSWORD.encode() not in content, p


def test_expiry_and_revocation_on_sign_out(sec: tuple[TestClient[Any], Container], clock: ManualClock) -> None:
    client, _ = sec
    auth = signup(client, "alice")
    assert client.delete("/api/v1/sessions/current", headers=auth).status_code == 204
    assert client.get("/api/v1/me", headers=auth).status_code == 401
    # Cookie sessions end the same way.
    assert client.post("/api/v1/sessions", json={"username": "alice", "password": PASSWORD}).status_code == 201
    cookie = dict(client.cookies)
    assert client.get("/api/v1/me").status_code == 200
    out = client.delete("/api/v1/sessions/current")
    assert out.status_code == 204
    assert "max-age=0" in out.headers["set-cookie"].lower()
    client.cookies.update(cookie)  # a stolen copy of the cookie is useless now
    assert client.get("/api/v1/me").status_code == 401
    client.cookies.clear()
    fresh = signup_again(client)
    clock.advance(timedelta(days=7, seconds=1))
    assert client.get("/api/v1/me", headers=fresh).status_code == 401


def signup_again(client: TestClient[Any]) -> dict[str, str]:
    token = client.post("/api/v1/sessions", json={"username": "alice", "password": PASSWORD}).json()["token"]
    client.cookies.clear()
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(("base", "secure"), [("https://imagerepo.example", True), ("http://testserver.local", False)])
def test_cookie_flags(tmp_path: Path, base: str, secure: bool) -> None:
    container = memory_container(Settings(data_dir=tmp_path, workers=0))
    with TestClient(create_app(container), base_url=base) as client:
        client.post("/api/v1/accounts", json={"username": "alice", "password": PASSWORD})
        r = client.post("/api/v1/sessions", json={"username": "alice", "password": PASSWORD})
        flags = [f.strip().lower() for f in r.headers["set-cookie"].split(";")]
        assert "httponly" in flags
        assert "samesite=lax" in flags
        assert "path=/" in flags
        assert ("secure" in flags) is secure
        assert r.headers["cache-control"] == "no-store"


def test_login_throttling_per_account_with_retry_after_and_no_permanent_lockout(
    sec: tuple[TestClient[Any], Container], clock: ManualClock
) -> None:
    client, _ = sec
    signup(client, "alice")
    waits = []
    for _ in range(40):  # an attacker keeps hammering
        r = client.post("/api/v1/sessions", json={"username": "alice", "password": "wrong guess"})
        if r.status_code == 429:
            assert error_code(r) == "too_many_attempts"
            waits.append(int(r.headers["retry-after"]))
            clock.advance(waits[-1])
    assert waits
    assert max(waits) <= ThrottlePolicy().max_delay
    r = client.post("/api/v1/sessions", json={"username": "alice", "password": PASSWORD})
    if r.status_code == 429:  # locked right now: the real user waits at most the ceiling
        clock.advance(int(r.headers["retry-after"]))
        r = client.post("/api/v1/sessions", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 201


def test_login_throttling_per_client_address(sec: tuple[TestClient[Any], Container], clock: ManualClock) -> None:
    client, _ = sec
    signup(client, "victim")
    statuses = [client.post("/api/v1/sessions", json={"username": f"user{i}", "password": "guess guess"}).status_code
                for i in range(30)]  # spraying many names from one address
    assert 429 in statuses
    first = statuses.index(429)
    assert first >= 5
    assert set(statuses[:first]) == {401}
    r = client.post("/api/v1/sessions", json={"username": "victim", "password": PASSWORD})
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    clock.advance(int(r.headers["retry-after"]))
    assert client.post("/api/v1/sessions", json={"username": "victim", "password": PASSWORD}).status_code == 201


def test_simultaneous_guesses_through_the_api_get_no_more_checks_than_the_free_allowance(
    tmp_path: Path, clock: ManualClock
) -> None:
    """30 wrong sign-ins sent at once: at most the free attempts reach the password check, the
    others are answered 429 without one."""
    # Few free attempts: the held checks must leave the test server (a few threads) room to answer.
    policy = ThrottlePolicy(free_attempts=2)
    hasher = GateHasher(guesses=30, allowance=policy.free_attempts)
    throttle = InMemoryLoginThrottle(clock, policy)
    container = memory_container(Settings(data_dir=tmp_path, workers=0), clock=clock, hasher=hasher, throttle=throttle)
    with TestClient(create_app(container)) as client:
        assert client.post("/api/v1/accounts", json={"username": "alice", "password": PASSWORD}).status_code == 201

        def guess(n: int) -> bool:
            r = client.post("/api/v1/sessions", json={"username": "alice", "password": f"wrong guess {n}"})
            assert r.status_code in (401, 429), r.text
            return r.status_code == 429

        burst(hasher, guess)
    assert 0 < hasher.checks <= policy.free_attempts
    assert hasher.refused == 30 - hasher.checks


def test_argon2id_parameters_and_rehash_on_change() -> None:
    current = Argon2PasswordHasher()
    assert current.hash("correct horse").startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    old = Argon2PasswordHasher(time_cost=1, memory_cost_kib=8192, parallelism=1)
    clock = ManualClock()
    accounts = InMemoryAccountRepository()
    legacy = AccountService(accounts, InMemorySessionRepository(), old, clock, InMemoryLoginThrottle(clock))
    account = legacy.sign_up("alice", "correct horse")
    assert accounts.get(account.id).password_hash.startswith("$argon2id$v=19$m=8192,t=1,p=1$")  # type: ignore[union-attr]
    service = AccountService(accounts, InMemorySessionRepository(), current, clock, InMemoryLoginThrottle(clock))
    service.sign_in("alice", "correct horse")
    upgraded = accounts.get(account.id).password_hash  # type: ignore[union-attr]
    assert upgraded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert current.verify(upgraded, "correct horse")


def test_an_unknown_user_costs_one_verification_like_a_wrong_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """What makes both answers take as long: each runs argon2 exactly once, with the same
    parameters (bench/bench_login_timing.py measures the resulting timing)."""
    work: list[tuple[str, str]] = []  # (argon2 call, the parameters of the hash it used)
    real_verify, real_hash = argon2.PasswordHasher.verify, argon2.PasswordHasher.hash

    def verify(self: argon2.PasswordHasher, password_hash: str, password: str) -> bool:
        work.append(("verify", password_hash.rsplit("$", 2)[0]))
        return real_verify(self, password_hash, password)

    def hash_(self: argon2.PasswordHasher, password: str, **kw: Any) -> str:
        made = real_hash(self, password, **kw)
        work.append(("hash", made.rsplit("$", 2)[0]))
        return made

    monkeypatch.setattr(argon2.PasswordHasher, "verify", verify)
    monkeypatch.setattr(argon2.PasswordHasher, "hash", hash_)
    clock = ManualClock()
    accounts = InMemoryAccountRepository()
    throttle = InMemoryLoginThrottle(clock, ThrottlePolicy(free_attempts=10_000))
    hasher = Argon2PasswordHasher(time_cost=1, memory_cost_kib=8192, parallelism=1)  # cheap; the count matters
    service = AccountService(accounts, InMemorySessionRepository(), hasher, clock, throttle)
    service.sign_up("alice", "correct horse")
    stored = accounts.get_by_username("alice").password_hash.rsplit("$", 2)[0]  # type: ignore[union-attr]

    def cost(username: str) -> list[tuple[str, str]]:
        work.clear()
        with pytest.raises(InvalidLogin):
            service.sign_in(username, "wrong password")
        return list(work)

    assert cost("nobody") == [("hash", stored), ("verify", stored)]  # the dummy hash, made once
    for i in range(3):
        assert cost(f"nobody{i}") == [("verify", stored)]
        assert cost("alice") == [("verify", stored)]


def test_signed_urls_expire_and_cannot_be_altered(sec: tuple[TestClient[Any], Container], clock: ManualClock) -> None:
    client, _ = sec
    auth = signup(client, "alice")
    a = upload(client, auth, img.jpeg()).json()
    b = upload(client, auth, img.png()).json()
    assert client.get(a["url"]).content == img.jpeg()
    path, _, query = a["url"].partition("?")
    params = dict(p.split("=", 1) for p in query.split("&"))
    other_path = b["url"].partition("?")[0]
    tampered = [
        f"{other_path}?{query}",  # another object, same signature
        f"{path}?exp={int(params['exp']) + 3600}&sig={params['sig']}",  # a later expiry
        f"{path}?exp={params['exp']}&sig={'0' * len(params['sig'])}",
        f"{path}?exp={params['exp']}",
        path,
        path.replace("/original", "/../original"),
    ]
    for url in tampered:
        r = client.get(url)
        assert r.status_code in (403, 404), (url, r.status_code)
    clock.advance(timedelta(seconds=1801))
    assert client.get(a["url"]).status_code in (403, 404)
    fresh = client.get(f"/api/v1/images/{a['id']}", headers=auth).json()["url"]
    assert client.get(fresh).status_code == 200


SECURITY_HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer"}


def test_security_headers_on_every_response(sec: tuple[TestClient[Any], Container]) -> None:
    client, _ = sec
    auth = signup(client, "alice")
    image = upload(client, auth, img.jpeg()).json()
    responses = [
        client.get(image["url"]),
        client.get("/nowhere"),
        client.put("/api/v1/me", headers=auth),
        client.post("/api/v1/accounts", content=b"{", headers={"content-type": "application/json"}),
    ]
    for route in client.app.routes:
        if isinstance(route, HTTPRoute) and "GET" in route.methods and "{" not in route.path:
            responses.append(client.get(route.path, headers=auth, follow_redirects=False))
    for r in responses:
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value, (r.request.url, name)


AZURE_KEY = "azure-key-5f1c0d9e8b7a6f5e4d3c2b1a"
S3_SECRET = "s3-secret-9a8b7c6d5e4f3a2b1c0d"
APP_SECRET = "app-secret-0e1d2c3b4a5f6e7d8c9b7a6f5e4d"


def test_secrets_are_never_logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run with every credential set, at DEBUG, through failures that log: no secret in the logs."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDBENCHLOGTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET)
    import io
    import logging

    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s %(args)s"))
    # The test client's own httpx log lines (it is the user, holding the URL) are not the server's.
    handler.addFilter(lambda r: not (r.name == "httpx" and "testserver" in r.getMessage()))
    root = logging.getLogger()
    with socket_closed_port() as dead:
        settings = Settings(data_dir=tmp_path, workers=0, local_models=False, analyzer="azure",
                            azure_endpoint=f"http://127.0.0.1:{dead}", azure_key=AZURE_KEY, secret_key=APP_SECRET,
                            analysis_timeout_seconds=5)
        container = Container()
        container.settings.override(providers.Object(settings))
        with TestClient(create_app(container)) as client:
            # Attached after start-up: Litestar's logging set-up replaces the root handlers.
            old_level = root.level
            root.addHandler(handler)
            root.setLevel(logging.DEBUG)
            client.post("/api/v1/accounts", json={"username": "alice", "password": PASSWORD})
            token = client.post("/api/v1/sessions", json={"username": "alice", "password": PASSWORD}).json()["token"]
            client.cookies.clear()
            auth = {"Authorization": f"Bearer {token}"}
            image = upload(client, auth, img.jpeg()).json()
            client.get(image["url"])
            client.get(image["url"] + "x")  # a refused signature
            client.post("/api/v1/sessions", json={"username": "alice", "password": "wrong " + PASSWORD})
            container.analysis_service().run_once()  # Azure is unreachable: logged as a failure
            failed = client.get(f"/api/v1/images/{image['id']}", headers=auth).json()["analysis"]
            assert failed["status"] in ("pending", "failed")
            client.get("/api/v1/me", headers={"Authorization": "Bearer " + token + "x"})
        from imagerepo.adapters.s3 import S3BlobStore, make_s3_client

        store = S3BlobStore(make_s3_client(f"http://127.0.0.1:{dead}", "us-east-1"), "bucket")
        with pytest.raises(Exception):  # noqa: PT011 (the point is the log, not the error)
            store.check()
        presigned = store.url("o/i/original", datetime.now(UTC) + timedelta(minutes=5), filename="a.jpg",
                              content_type="image/jpeg")  # botocore logs each signature at DEBUG
    root.removeHandler(handler)
    root.setLevel(old_level)
    text = captured.getvalue()
    assert "analysis" in text or "azure" in text.lower()  # the failures did log
    sig = image["url"].rsplit("sig=", 1)[-1]
    s3_sig = presigned.rsplit("X-Amz-Signature=", 1)[-1]
    for secret in (AZURE_KEY, S3_SECRET, APP_SECRET, token, PASSWORD, sig, s3_sig):
        assert secret not in text, secret[:6]
    assert "Signature" not in text


class socket_closed_port:
    """A loopback port with nothing listening (bound, then closed)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None
