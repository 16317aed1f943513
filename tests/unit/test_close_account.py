"""Closing an account (DELETE /api/v1/me, the Account page): everything the account holds goes —
images, blobs, analyses, fingerprints, faces, people, crops, provider links, sessions and tokens —
and nothing of anyone else's; a wrong confirmation changes nothing. On the in-memory adapters,
SQLite with the encrypted file store, and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
from litestar.testing import TestClient

from imagerepo.adapters.memory import InMemoryAccountRepository, ManualClock
from imagerepo.adapters.memory_people import ScriptedFaceAnalyzer
from imagerepo.domain.errors import ServiceUnavailable
from imagerepo.domain.identity import IdentityLink
from imagerepo.domain.tokens_service import API_TOKEN_KIND
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests import images as img
from tests.hardening.test_url_dies_with_image import FailingDeletes
from tests.integration.stack import fresh_database
from tests.people_faces import finding
from tests.unit.test_people_api import Env
from tests.unit.test_web import csrf
from tests.wiring import memory_container, real_container

PASSWORD = "correct horse"


def keys_of(env: Env, account_id: str) -> list[str]:
    return [k for k in env.container.blob_store().keys() if k.startswith(account_id + "/")]


def open_env(stack: ExitStack, kind: str, tmp_path: Path, request: pytest.FixtureRequest, **overrides: Any) -> Env:
    faces = ScriptedFaceAnalyzer()
    settings = Settings(data_dir=tmp_path, workers=0, upload_quota=50, local_models=False)
    if kind == "memory":
        container = memory_container(settings, clock=ManualClock(), face_analyzer=faces, **overrides)
    else:
        if kind == "postgres":
            url = stack.enter_context(fresh_database(request.getfixturevalue("postgres_dsn")))
            settings = attrs.evolve(settings, database_url=url)
        container = real_container(settings, face_analyzer=faces, **overrides)
    return Env(stack.enter_context(TestClient(create_app(container))), container, faces)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    with ExitStack() as stack:
        yield open_env(stack, request.param, tmp_path, request)


def signup(client: TestClient[Any], username: str) -> tuple[dict[str, str], str]:
    r = client.post("/api/v1/accounts", json={"username": username, "password": PASSWORD})
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/sessions", json={"username": username, "password": PASSWORD})
    client.cookies.clear()
    auth = {"Authorization": f"Bearer {r.json()['token']}"}
    me = client.patch("/api/v1/me", json={"face_recognition": True}, headers=auth)
    assert me.status_code == 200
    return auth, str(me.json()["id"])


def holdings(env: Env, account_id: str, image_ids: list[str] | None = None) -> dict[str, int]:
    """What the stores keep for the account, read from the adapters, not through the API."""
    people = env.container.people_repository()
    fingerprints = env.container.fingerprint_repository()
    return {
        "stored_fingerprints": sum(fingerprints.get(account_id, i) is not None for i in image_ids or []),
        "blobs": len(keys_of(env, account_id)),
        "faces": len(people.faces(account_id)),
        "persons": len(people.persons(account_id)),
        "fingerprints": len(fingerprints.changes(account_id, 0, 1000)),
        "images": env.container.image_repository().count(account_id),
        "links": len(env.container.identity_links().list_for(account_id)),
        "tokens": len(env.container.session_repository().list_for(account_id, API_TOKEN_KIND)),
    }


def test_closing_deletes_everything_the_account_holds_and_nothing_else(env: Env) -> None:
    alice, alice_id = signup(env.client, "alice")
    bob, bob_id = signup(env.client, "bob")
    ids = [env.photo(alice, finding(1, i + 1), finding(2, i + 1))["id"] for i in range(3)]
    kept = env.photo(bob, finding(7, 1))
    token = env.client.post("/api/v1/tokens", json={"name": "script"}, headers=alice).json()["token"]
    env.container.identity_links().add(IdentityLink(issuer="https://id.example", subject="a-1",
                                                    account_id=alice_id, created_at=datetime.now(UTC)))
    before = holdings(env, alice_id, ids)
    assert before["stored_fingerprints"] == 3
    assert before["blobs"] >= 6 + 2  # originals, thumbnails, face crops
    assert (before["faces"], before["persons"], before["fingerprints"]) == (6, 2, 3)
    assert (before["images"], before["links"], before["tokens"]) == (3, 1, 1)
    bob_before = holdings(env, bob_id)

    r = env.client.request("DELETE", "/api/v1/me", json={"username": "ALICE"}, headers=alice)
    assert r.status_code == 204, r.text
    assert "max-age=0" in r.headers["set-cookie"].lower()

    assert holdings(env, alice_id, ids) == dict.fromkeys(before, 0)
    assert env.container.account_repository().get(alice_id) is None
    for dead in (alice, {"Authorization": f"Bearer {token}"}):
        assert env.client.get("/api/v1/me", headers=dead).status_code == 401
    r = env.client.post("/api/v1/sessions", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 401
    # Bob keeps everything, and can still see his image.
    assert holdings(env, bob_id) == bob_before
    assert env.client.get(f"/api/v1/images/{kept['id']}", headers=bob).status_code == 200
    # The name is free again, for a new, empty account.
    again, again_id = signup(env.client, "alice")
    assert again_id != alice_id
    assert env.client.get("/api/v1/images", headers=again).json()["items"] == []


@pytest.mark.parametrize("body", [{"username": "bob"}, {"username": ""}, {"username": "alic"}])
def test_a_wrong_confirmation_is_refused_and_changes_nothing(env: Env, body: dict[str, str]) -> None:
    alice, alice_id = signup(env.client, "alice")
    signup(env.client, "bob")
    env.photo(alice, finding(1, 1))
    before = holdings(env, alice_id)
    r = env.client.request("DELETE", "/api/v1/me", json=body, headers=alice)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "validation_error"
    assert "username" in r.json()["error"]["details"]
    assert holdings(env, alice_id) == before
    assert env.client.get("/api/v1/me", headers=alice).status_code == 200


@pytest.mark.parametrize("body", [None, {}, {"username": 5}, {"username": "alice", "also": 1}])
def test_a_missing_or_malformed_confirmation_is_refused(body: Any, tmp_path: Path,
                                                        request: pytest.FixtureRequest) -> None:
    with ExitStack() as stack:
        env = open_env(stack, "memory", tmp_path, request)
        alice, alice_id = signup(env.client, "alice")
        env.photo(alice)
        r = env.client.request("DELETE", "/api/v1/me", json=body, headers=alice)
        assert r.status_code == 400, r.text
        assert holdings(env, alice_id)["images"] == 1


def test_closing_needs_a_signed_in_account(env: Env) -> None:
    r = env.client.request("DELETE", "/api/v1/me", json={"username": "alice"})
    assert r.status_code == 401


def test_a_store_that_refuses_deletes_does_not_stop_the_close(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The images are hidden and the account gone at once; the sweeper removes the blobs later."""
    with ExitStack() as stack:
        probe = open_env(stack, "memory", tmp_path, request)
        store = FailingDeletes(probe.container.blob_store(), failures=None)
        stack.close()
    with ExitStack() as stack:
        env = open_env(stack, "memory", tmp_path, request, blob_store=store)
        alice, alice_id = signup(env.client, "alice")
        for _ in range(4):
            env.photo(alice, finding(1, 1))
        r = env.client.request("DELETE", "/api/v1/me", json={"username": "alice"}, headers=alice)
        assert r.status_code == 204
        # One try per face crop, then the first image's blob: the rest is left to the sweeper, unretried.
        assert store.attempts == 4 + 1
        assert env.container.image_repository().count(alice_id) == 0
        assert env.container.account_repository().get(alice_id) is None
        assert keys_of(env, alice_id)  # still stored: the store refused
        store.failures = 0
        report = env.container.image_service().sweep()
        # The images, then the face crops they orphaned.
        assert (report.deletions_finished, report.orphan_blobs_removed) == (4, 4)
        assert keys_of(env, alice_id) == []


def test_the_account_page_closes_the_account_after_the_username_is_typed(env: Env) -> None:
    r = env.client.post("/signup", data={"_csrf_token": csrf(env.client, "/signup"), "username": "carol",
                                         "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303
    carol_id = env.container.account_repository().get_by_username("carol").id
    page = env.client.get("/account")
    assert page.status_code == 200
    assert "Delete account" in page.text
    token = csrf(env.client, "/account")
    wrong = env.client.post("/account/delete", data={"username": "caro", "_csrf_token": token}, follow_redirects=False)
    assert wrong.status_code == 422
    assert "must be your own username" in wrong.text
    assert env.container.account_repository().get(carol_id) is not None
    r = env.client.post("/account/delete", data={"username": "carol", "_csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/signin?closed=1"
    assert "max-age=0" in r.headers["set-cookie"].lower()
    assert env.container.account_repository().get(carol_id) is None
    assert "were deleted" in env.client.get("/signin?closed=1").text
    assert env.client.get("/account", follow_redirects=False).status_code == 303  # to sign in


def test_the_account_page_turns_places_off_erasing_them_and_on_again(env: Env) -> None:
    env.client.post("/signup", data={"_csrf_token": csrf(env.client, "/signup"), "username": "dora",
                                     "password": PASSWORD})
    dora = env.container.account_repository().get_by_username("dora")
    assert dora.settings.keep_location
    r = env.client.post("/upload", data={"_csrf_token": csrf(env.client, "/gallery")},
                        files=[("file", ("paris.jpg", img.photo(), "image/jpeg"))])
    assert r.status_code in (200, 201, 303), r.text
    (image,) = env.container.image_service().images_of(dora)
    assert image.photo.location is not None
    token = csrf(env.client, "/account")
    r = env.client.post("/account/settings", data={"keep_location": "off", "_csrf_token": token})
    assert "Nothing was erased: tick the box to confirm first." in r.text  # one click erases nothing
    (image,) = env.container.image_service().images_of(dora)
    assert image.photo.location is not None
    r = env.client.post("/account/settings", data={"keep_location": "off", "confirm": "yes", "_csrf_token": token},
                        follow_redirects=False)
    assert r.status_code == 303
    assert not env.container.account_repository().get(dora.id).settings.keep_location
    (image,) = env.container.image_service().images_of(dora)
    assert image.photo.location is None
    assert "Places are not kept" in env.client.get("/account").text
    env.client.post("/account/settings", data={"keep_location": "on", "_csrf_token": csrf(env.client, "/account")})
    assert env.container.account_repository().get(dora.id).settings.keep_location


class FailsOnce:
    """An AccountRepository whose first delete fails, as a database restart would fail it."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.failed = False

    def delete(self, account_id: str) -> bool:
        if not self.failed:
            self.failed = True
            raise ServiceUnavailable("database restarting")
        return bool(self._inner.delete(account_id))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_a_close_that_failed_half_way_is_finished_by_asking_again(tmp_path: Path,
                                                                  request: pytest.FixtureRequest) -> None:
    accounts = FailsOnce(InMemoryAccountRepository())
    with ExitStack() as stack:
        env = open_env(stack, "memory", tmp_path, request, account_repository=accounts)
        alice, alice_id = signup(env.client, "alice")
        env.photo(alice, finding(1, 1))
        r = env.client.request("DELETE", "/api/v1/me", json={"username": "alice"}, headers=alice)
        assert r.status_code == 503
        assert holdings(env, alice_id)["images"] == 0  # what was done stays done
        again, same_id = signup_again(env.client, "alice")
        assert same_id == alice_id  # the account is still there, so its owner can sign in and finish
        assert env.client.request("DELETE", "/api/v1/me", json={"username": "alice"}, headers=again).status_code == 204
        assert env.container.account_repository().get(alice_id) is None
        assert holdings(env, alice_id) == dict.fromkeys(holdings(env, alice_id), 0)


def signup_again(client: TestClient[Any], username: str) -> tuple[dict[str, str], str]:
    r = client.post("/api/v1/sessions", json={"username": username, "password": PASSWORD})
    assert r.status_code == 201, r.text
    client.cookies.clear()
    auth = {"Authorization": f"Bearer {r.json()['token']}"}
    return auth, str(client.get("/api/v1/me", headers=auth).json()["id"])
