"""People through the API (issue 16): opt in, faces grouped, GET /people, rename, merge, person=,
`people` on the image object, face boxes, and turning the setting off; on the in-memory adapters,
SQLite and PostgreSQL, with scripted faces."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import attrs
import pytest
from litestar.testing import TestClient

from imagerepo.adapters.memory import ManualClock
from imagerepo.adapters.memory_people import ScriptedFaceAnalyzer
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests import images as img
from tests.integration.stack import fresh_database
from tests.people_faces import finding
from tests.wiring import memory_container, real_container


@attrs.define
class Env:
    client: TestClient[Any]
    container: Any
    faces: ScriptedFaceAnalyzer
    n: int = 0

    def photo(self, auth: dict[str, str], *faces: Any) -> dict[str, Any]:
        self.n += 1
        data = img.png(color=(self.n % 256, self.n // 256, 77))
        self.faces.script(data, faces)
        r = self.client.post("/api/v1/images", files={"file": (f"p{self.n}.png", data, "image/png")}, headers=auth)
        assert r.status_code == 201, r.text
        self.container.analysis_service().drain()
        return dict(r.json())


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    faces = ScriptedFaceAnalyzer()
    settings = Settings(data_dir=tmp_path, workers=0, upload_quota=50, local_models=False)
    with ExitStack() as stack:
        if request.param == "memory":
            container = memory_container(settings, clock=ManualClock(), face_analyzer=faces)
        else:
            if request.param == "postgres":
                url = stack.enter_context(fresh_database(request.getfixturevalue("postgres_dsn")))
                settings = attrs.evolve(settings, database_url=url)
            container = real_container(settings, face_analyzer=faces)
        client = stack.enter_context(TestClient(create_app(container)))
        yield Env(client, container, faces)


def signup(client: TestClient[Any], username: str = "alice", *, faces: bool = True) -> dict[str, str]:
    assert client.post("/api/v1/accounts", json={"username": username, "password": "correct horse"}).status_code == 201
    r = client.post("/api/v1/sessions", json={"username": username, "password": "correct horse"})
    client.cookies.clear()
    auth = {"Authorization": f"Bearer {r.json()['token']}"}
    if faces:
        assert client.patch("/api/v1/me", json={"face_recognition": True}, headers=auth).status_code == 200
    return auth


def people(env: Env, auth: dict[str, str]) -> list[dict[str, Any]]:
    r = env.client.get("/api/v1/people", headers=auth)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_faces_become_people_the_owner_names_merges_and_finds(env: Env) -> None:
    auth = signup(env.client)
    a = env.photo(auth, finding(1, 1), finding(2, 1))
    b = env.photo(auth, finding(1, 2))
    c = env.photo(auth, finding(3, 1))
    listed = people(env, auth)
    assert [p["face_count"] for p in listed] == [2, 1, 1]
    assert all(p["name"] is None for p in listed)
    grace = listed[0]
    crop = env.client.get(grace["cover_url"])
    assert crop.status_code == 200
    assert crop.content.startswith(b"crop 1")

    r = env.client.patch(f"/api/v1/people/{grace['id']}", json={"name": "Grace"}, headers=auth)
    assert r.status_code == 200
    assert r.json()["name"] == "Grace"
    assert r.json()["face_count"] == 2
    assert env.client.patch(f"/api/v1/people/{grace['id']}", json={"name": " "}, headers=auth).status_code == 422
    assert env.client.patch("/api/v1/people/nobody", json={"name": "X"}, headers=auth).status_code == 404

    got = env.client.get(f"/api/v1/images/{a['id']}", headers=auth).json()
    assert {"id": grace["id"], "name": "Grace"} in got["people"]
    assert len(got["people"]) == 2
    found = env.client.get("/api/v1/images", params={"person": grace["id"]}, headers=auth).json()["items"]
    assert sorted(i["id"] for i in found) == sorted([a["id"], b["id"]])
    assert all({"id": grace["id"], "name": "Grace"} in i["people"] for i in found)

    other = next(p for p in listed if p["id"] != grace["id"] and p["face_count"] == 1
                 and c["id"] in [i["id"] for i in env.client.get(
                     "/api/v1/images", params={"person": p["id"]}, headers=auth).json()["items"]])
    r = env.client.post(f"/api/v1/people/{other['id']}/merge", json={"into": grace["id"]}, headers=auth)
    assert r.status_code == 200
    assert (r.json()["id"], r.json()["name"], r.json()["face_count"]) == (grace["id"], "Grace", 3)
    assert env.client.post(f"/api/v1/people/{other['id']}/merge", json={"into": grace["id"]},
                           headers=auth).status_code == 404
    both = env.client.get("/api/v1/images", params=[("person", grace["id"])], headers=auth).json()["items"]
    assert len(both) == 3

    boxes = env.client.get(f"/api/v1/images/{a['id']}/faces", headers=auth).json()["items"]
    assert len(boxes) == 2
    assert all(0 <= f["box"]["x"] <= 1 for f in boxes)


def test_people_are_private_to_their_owner(env: Env) -> None:
    alice, bob = signup(env.client, "alice"), signup(env.client, "bob")
    env.photo(alice, finding(1, 1))
    [grace] = people(env, alice)
    assert people(env, bob) == []
    assert env.client.patch(f"/api/v1/people/{grace['id']}", json={"name": "X"}, headers=bob).status_code == 404
    assert env.client.get("/api/v1/images", params={"person": grace["id"]}, headers=bob).json()["items"] == []


def test_nothing_is_found_until_opted_in_and_turning_off_deletes_every_face(env: Env) -> None:
    auth = signup(env.client, faces=False)
    shot = env.photo(auth, finding(1, 1))
    assert env.faces.calls == 0
    assert people(env, auth) == []
    assert env.client.get(f"/api/v1/images/{shot['id']}", headers=auth).json()["people"] == []
    env.client.patch("/api/v1/me", json={"face_recognition": True}, headers=auth)
    env.photo(auth, finding(1, 2))
    [person] = people(env, auth)
    cover = person["cover_url"]
    r = env.client.patch("/api/v1/me", json={"face_recognition": False}, headers=auth)
    assert r.json()["settings"]["face_recognition"] is False
    assert people(env, auth) == []
    assert env.client.get(cover).status_code == 404
    me = env.client.get("/api/v1/me", headers=auth).json()
    assert me["settings"]["face_recognition"] is False


def test_a_named_persons_name_finds_their_photos(env: Env) -> None:
    auth = signup(env.client)
    a = env.photo(auth, finding(1, 1))
    env.photo(auth, finding(2, 1))
    [first, second] = people(env, auth)
    grace = first if a["id"] in [i["id"] for i in env.client.get(
        "/api/v1/images", params={"person": first["id"]}, headers=auth).json()["items"]] else second
    assert env.client.get("/api/v1/images", params={"q": "grace"}, headers=auth).json()["items"] == []
    env.client.patch(f"/api/v1/people/{grace['id']}", json={"name": "Grace Hopper"}, headers=auth)
    for q in ("grace hopper", "GRACE", "Hopper"):
        found = env.client.get("/api/v1/images", params={"q": q}, headers=auth).json()["items"]
        assert [i["id"] for i in found] == [a["id"]], q
    # The other words still count: no image of Grace is described as a volcano.
    assert env.client.get("/api/v1/images", params={"q": "grace volcano"}, headers=auth).json()["items"] == []


def test_a_face_is_moved_or_taken_out_and_a_person_hidden(env: Env) -> None:
    auth = signup(env.client)
    a = env.photo(auth, finding(1, 1), finding(2, 1))
    env.photo(auth, finding(1, 2))
    grace, other = people(env, auth)
    assert env.client.patch(f"/api/v1/people/{grace['id']}", json={}, headers=auth).status_code == 400
    same = env.client.post(f"/api/v1/people/{grace['id']}/merge", json={"into": grace["id"]}, headers=auth)
    assert (same.status_code, same.json()["face_count"]) == (200, 2)

    faces = env.client.get(f"/api/v1/images/{a['id']}/faces", headers=auth).json()["items"]
    stranger = next(f for f in faces if f["person"]["id"] == other["id"])
    r = env.client.post(f"/api/v1/faces/{stranger['id']}/person", json={"person_id": grace["id"]}, headers=auth)
    assert r.status_code == 200
    assert r.json()["person"]["id"] == grace["id"]
    assert [p["face_count"] for p in people(env, auth)] == [3]
    r = env.client.post(f"/api/v1/faces/{stranger['id']}/person", json={"person_id": None}, headers=auth)
    assert r.json()["person"] is None
    assert env.client.get(f"/api/v1/people/{grace['id']}", headers=auth).json()["face_count"] == 2
    assert env.client.post("/api/v1/faces/nope/person", json={"person_id": None}, headers=auth).status_code == 404

    r = env.client.patch(f"/api/v1/people/{grace['id']}", json={"hidden": True}, headers=auth)
    assert r.json()["hidden"] is True
    assert grace["id"] not in [p["id"] for p in people(env, auth)]
    assert env.client.get(f"/api/v1/people/{grace['id']}", headers=auth).status_code == 200


def test_face_crop_links_last_as_long_as_the_configured_url_lifetime(tmp_path: Path) -> None:
    """IMAGEREPO_URL_TTL_SECONDS sets every temporary URL's lifetime, the face crops' too."""
    faces, clock = ScriptedFaceAnalyzer(), ManualClock()
    settings = Settings(data_dir=tmp_path, workers=0, upload_quota=50, local_models=False, url_ttl_seconds=60)
    container = memory_container(settings, clock=clock, face_analyzer=faces)
    with TestClient(create_app(container)) as client:
        env = Env(client, container, faces)
        auth = signup(client)
        shot = env.photo(auth, finding(1, 1))
        [person] = people(env, auth)
        image_url = client.get(f"/api/v1/images/{shot['id']}", headers=auth).json()["url"]
        clock.advance(59)
        assert client.get(person["cover_url"]).status_code == 200
        clock.advance(2)
        assert client.get(image_url).status_code == 404
        assert client.get(person["cover_url"]).status_code == 404
