"""Sign-in with an OpenID Connect provider, end to end against a provider on loopback."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from litestar.testing import TestClient

from imagerepo.domain.identity import OidcProviderConfig
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.http.auth import SESSION_COOKIE
from imagerepo.entrypoints.settings import Settings
from tests.oidc_provider import OidcTestProvider
from tests.wiring import memory_container


@pytest.fixture
def idp() -> Iterator[OidcTestProvider]:
    with OidcTestProvider() as provider:
        yield provider


@pytest.fixture
def env(tmp_path: Path, idp: OidcTestProvider) -> Iterator[tuple[TestClient[Any], Any]]:
    config = OidcProviderConfig(name="corp", issuer=idp.issuer, client_id=idp.client_id,
                                client_secret=idp.client_secret, display_name="Corp SSO")
    settings = Settings(data_dir=tmp_path, workers=0, oidc_providers=(config,))
    with httpx.Client(timeout=10) as http:
        container = memory_container(settings, http_client=http)
        with TestClient(create_app(container)) as client:
            yield client, container


@pytest.fixture
def client(env: tuple[TestClient[Any], Any]) -> TestClient[Any]:
    return env[0]


def start(client: TestClient[Any], return_to: str | None = None) -> str:
    """Begin a sign-in; returns the provider's authorize URL the browser is sent to."""
    params = {"return_to": return_to} if return_to else {}
    r = client.get("/api/v1/oidc/corp/login", params=params, follow_redirects=False)
    assert r.status_code == 302, r.text
    return str(r.headers["location"])


def at_provider(authorize_url: str) -> str:
    """The browser at the provider: it signs the user in and redirects back; returns that URL."""
    r = httpx.get(authorize_url, follow_redirects=False)
    assert r.status_code == 302, r.text
    return str(r.headers["location"])


def back(client: TestClient[Any], callback_url: str) -> Any:
    parts = urlsplit(callback_url)
    return client.get(f"{parts.path}?{parts.query}", follow_redirects=False)


def sign_in(client: TestClient[Any]) -> Any:
    return back(client, at_provider(start(client)))


def accounts(container: Any) -> list[str]:
    return [a.username for a in container.account_repository().list()]


def test_first_sign_in_creates_a_user_and_sets_the_session_cookie(
    env: tuple[TestClient[Any], Any], idp: OidcTestProvider
) -> None:
    client, _container = env
    url = start(client, return_to="/gallery")
    q = parse_qs(urlsplit(url).query)
    assert url.startswith(idp.issuer + "/authorize?")
    assert q["code_challenge_method"] == ["S256"]
    assert q["nonce"]
    assert q["state"]
    assert q["scope"] == ["openid profile email"]
    assert q["redirect_uri"] == ["http://testserver.local/api/v1/oidc/corp/callback"]
    r = back(client, at_provider(url))
    assert r.status_code == 303
    assert r.headers["location"] == "/gallery"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie.replace("Lax", "lax")
    me = client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["username"] == "jane"
    # The token request proved possession of the PKCE verifier.
    assert idp.token_requests[-1]["code_verifier"]
    assert "code_verifier" not in url


def test_signing_in_again_reuses_the_linked_account(env: tuple[TestClient[Any], Any], idp: OidcTestProvider) -> None:
    client, container = env
    assert sign_in(client).status_code == 303
    first = client.get("/api/v1/me").json()["id"]
    client.cookies.clear()
    idp.next_user = {**idp.next_user, "preferred_username": "jane.renamed"}
    assert sign_in(client).status_code == 303
    assert client.get("/api/v1/me").json()["id"] == first
    assert accounts(container) == ["jane"]


def test_a_different_subject_with_a_taken_name_gets_a_new_unique_account(
    env: tuple[TestClient[Any], Any], idp: OidcTestProvider
) -> None:
    client, _container = env
    client.post("/api/v1/accounts", json={"username": "jane", "password": "correct horse"})
    assert sign_in(client).status_code == 303
    assert client.get("/api/v1/me").json()["username"] == "jane-2"
    # The password account named jane was not taken over.
    r = client.post("/api/v1/sessions", json={"username": "jane", "password": "correct horse"})
    assert r.status_code == 201


def test_a_forged_state_signs_nobody_in(env: tuple[TestClient[Any], Any]) -> None:
    client, container = env
    callback = at_provider(start(client))
    forged = callback.replace("state=", "state=x")
    r = back(client, forged)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "state_mismatch"
    assert accounts(container) == []
    assert client.get("/api/v1/me").status_code == 401


def test_the_login_cookie_hides_the_pkce_verifier_and_refuses_any_change(env: tuple[TestClient[Any], Any]) -> None:
    """The cookie is encrypted and authenticated: the browser (or a log) never sees the nonce or the
    PKCE verifier, and one changed character makes it worthless."""
    client, container = env
    authorize = start(client)
    sealed = client.cookies["imagerepo_oidc"]
    nonce = parse_qs(urlsplit(authorize).query)["nonce"][0]
    readable = [sealed] + [base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode("latin-1")
                           for part in sealed.split(".")]
    assert not [text for text in readable if nonce in text or "corp" in text]
    callback = at_provider(authorize)
    flipped = sealed[:20] + ("A" if sealed[20] != "A" else "B") + sealed[21:]
    client.cookies.set("imagerepo_oidc", flipped, path="/api/v1/oidc")
    r = back(client, callback)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "state_mismatch"
    assert accounts(container) == []


def test_a_callback_without_the_login_cookie_is_refused(env: tuple[TestClient[Any], Any]) -> None:
    """Login CSRF: an attacker's callback URL opened in the victim's browser."""
    client, container = env
    callback = at_provider(start(client))
    client.cookies.clear()
    r = back(client, callback)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "state_mismatch"
    assert accounts(container) == []


def test_a_wrong_nonce_is_refused(env: tuple[TestClient[Any], Any], idp: OidcTestProvider) -> None:
    client, container = env
    idp.nonce_override = "replayed-from-another-sign-in"
    r = sign_in(client)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_nonce"
    assert accounts(container) == []
    assert client.get("/api/v1/me").status_code == 401


def test_an_id_token_signed_by_another_key_is_refused(env: tuple[TestClient[Any], Any], idp: OidcTestProvider) -> None:
    client, container = env
    idp.sign_with_foreign_key = True
    r = sign_in(client)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_id_token"
    assert accounts(container) == []


def test_an_expired_code_is_refused(env: tuple[TestClient[Any], Any], idp: OidcTestProvider) -> None:
    client, container = env
    idp.code_ttl = -1  # every code is already expired when redeemed
    r = sign_in(client)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_grant"
    assert accounts(container) == []


def test_a_replayed_code_is_refused(env: tuple[TestClient[Any], Any], idp: OidcTestProvider) -> None:
    client, container = env
    callback = at_provider(start(client))
    assert back(client, callback).status_code == 303
    # Replaying the same callback: the login cookie was spent.
    r = back(client, callback)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "state_mismatch"
    # Replaying the code inside a fresh login (fresh state): the provider refuses the used code.
    client.cookies.clear()
    fresh = parse_qs(urlsplit(start(client)).query)["state"][0]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    r = client.get("/api/v1/oidc/corp/callback", params={"code": code, "state": fresh}, follow_redirects=False)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_grant"
    assert client.get("/api/v1/me").status_code == 401
    assert accounts(container) == ["jane"]


def test_open_redirects_are_not_possible(client: TestClient[Any]) -> None:
    r = back(client, at_provider(start(client, return_to="https://evil.example/")))
    assert r.status_code == 303
    assert r.headers["location"] == "/"


def test_providers_are_listed_and_unknown_ones_are_404(client: TestClient[Any]) -> None:
    assert client.get("/api/v1/oidc/providers").json() == {
        "items": [{"name": "corp", "display_name": "Corp SSO", "login_url": "/api/v1/oidc/corp/login"}]}
    r = client.get("/api/v1/oidc/nope/login", follow_redirects=False)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    paths = client.get("/schema/openapi.json").json()["paths"]
    assert "/api/v1/oidc/{name}/callback" in paths
