"""Hostile input: mutated and random uploads, odd filenames and usernames, malformed JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.http.uploads import MAX_HEADER_BYTES
from imagerepo.entrypoints.settings import Settings
from tests import images as img
from tests.hardening.strategies import declared_types, hostile_bytes, hostile_filenames
from tests.hardening.support import assert_consistent, error_code, raw_upload, signup, upload
from tests.wiring import memory_container

# What an upload may answer, and the code that goes with each refusal.
UPLOAD_CODES = {
    409: {"quota_exceeded", "duplicate_image"},
    413: {"too_large"},
    415: {"unsupported_media_type"},
    422: {"invalid_image"},
}


def test_fuzzed_uploads_get_a_clear_answer_and_never_a_half_image(tmp_path: Path) -> None:
    container = memory_container(Settings(data_dir=tmp_path, workers=0, max_upload_bytes=200_000, upload_quota=3))
    store = container.blob_store()
    with TestClient(create_app(container)) as client:
        auth = signup(client, "fuzzer")
        answered: dict[int, int] = {}

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(data=hostile_bytes, name=hostile_filenames, ctype=declared_types)
        def run(data: bytes, name: str, ctype: str) -> None:
            r = upload(client, auth, data, name=name, ctype=ctype)
            answered[r.status_code] = answered.get(r.status_code, 0) + 1
            if r.status_code == 201:
                body = r.json()
                assert body["size_bytes"] == len(data)
                assert "/" not in body["filename"]
                assert "\x00" not in body["filename"]
                assert len(body["filename"]) <= 255
                assert assert_consistent(client, auth, store) == [body["id"]]
                assert client.delete(f"/api/v1/images/{body['id']}", headers=auth).status_code == 204
            else:
                assert r.status_code in UPLOAD_CODES, (r.status_code, r.text)
                assert error_code(r) in UPLOAD_CODES[r.status_code]
            assert assert_consistent(client, auth, store) == []

        run()
    print("fuzz answers by status:", dict(sorted(answered.items())))
    assert set(answered) <= {201, *UPLOAD_CODES}
    # The corpus exercises both sides: real images still pass, broken ones are refused.
    assert answered.get(201, 0) > 0
    assert (answered.get(415, 0) + answered.get(422, 0)) > 0


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("..\\..\\windows\\win.ini.jpg", "win.ini.jpg"),
        ("/var/lib/x.jpg", "x.jpg"),
        ("\u202egpj.exe", "gpj.exe"),
        ("a" * 1_000 + ".jpg", "a" * 251 + ".jpg"),  # shortened before the extension
        ("фото 😀.jpg", "фото 😀.jpg"),
        ("..", "image"),
        ("", "image"),
    ],
)
def test_hostile_filenames_are_stored_as_a_harmless_display_name(
    client: TestClient[Any], name: str, shown: str
) -> None:
    auth = signup(client, "alice")
    r = upload(client, auth, img.jpeg(), name=name)
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == shown
    got = client.get(f"/api/v1/images/{r.json()['id']}", headers=auth).json()
    assert got["filename"] == shown


@pytest.mark.parametrize(
    ("raw", "shown"),
    [(b"evil\x00.jpg", "evil.jpg"), (b"a\x00/../../b.jpg", "b.jpg"), ("\u202egpj.exe".encode(), "gpj.exe"),
     (b"\xff\xfe.jpg", None)],
)
def test_nul_and_raw_bytes_in_filenames_never_reach_the_stored_name(
    client: TestClient[Any], raw: bytes, shown: str | None
) -> None:
    auth = signup(client, "alice")
    r = raw_upload(client, auth, img.jpeg(), raw)
    if r.status_code == 201:
        name = r.json()["filename"]
        assert "\x00" not in name
        assert "/" not in name
        assert "\u202e" not in name
        if shown is not None:
            assert name == shown
    else:
        assert r.status_code == 400, r.text
        assert error_code(r) == "validation_error"


@pytest.mark.parametrize("name", ["a" * 10_000 + ".jpg", "ф" * 10_000 + ".jpg", "😀" * 10_000 + ".jpg"])
def test_a_10000_character_filename_is_accepted_and_shortened(client: TestClient[Any], name: str) -> None:
    auth = signup(client, "alice")
    r = upload(client, auth, img.jpeg(), name=name)
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == name[:251] + ".jpg"
    assert client.get("/api/v1/me", headers=auth).json()["quota"]["used"] == 1


def test_an_absurd_part_header_is_a_clear_400_and_changes_nothing(client: TestClient[Any]) -> None:
    auth = signup(client, "alice")
    r = raw_upload(client, auth, img.jpeg(), b"a" * (MAX_HEADER_BYTES + 1) + b".jpg")
    assert r.status_code == 400
    assert error_code(r) == "validation_error"
    assert "header" in r.json()["error"]["message"]
    assert client.get("/api/v1/me", headers=auth).json()["quota"]["used"] == 0


@pytest.mark.parametrize(
    "username",
    ["алиса", "アリス", "a\u202eb", "a\x00b", "ali ce", "ALİCE", "a" * 10_000, "😀😀😀", "a/b", "<script>"],
)
def test_unicode_and_hostile_usernames_are_a_clear_422(client: TestClient[Any], username: str) -> None:
    r = client.post("/api/v1/accounts", json={"username": username, "password": "correct horse"})
    assert r.status_code == 422, r.text
    assert error_code(r) == "invalid_credentials_format"
    assert "username" in r.json()["error"]["details"]
    # Signing in with such a name is an ordinary failed login, not a crash.
    r = client.post("/api/v1/sessions", json={"username": username, "password": "correct horse"})
    assert r.status_code == 401
    assert error_code(r) == "invalid_login"


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'"alice"',
        b"42",
        b"null",
        b'{"username": {"a": 1}, "password": []}',
        b'{"username": "alice", "password": 12345678}',
        b'{"username": "alice"',
        b"\xff\xfe\x00garbage",
        b'{"username": "al\\ud800ice", "password": "correct horse"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
        json.dumps({"username": "x" * 1_000_000, "password": "y"}).encode(),
    ],
    ids=["array", "string", "number", "null", "objects", "int-password", "unterminated", "not-utf8",
         "lone-surrogate", "deep-array", "deep-object", "huge"],
)
@pytest.mark.parametrize("path", ["/api/v1/accounts", "/api/v1/sessions"])
def test_json_of_the_wrong_shape_is_a_clear_4xx(client: TestClient[Any], path: str, body: bytes) -> None:
    r = client.post(path, content=body, headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert error_code(r) in {"bad_request", "validation_error", "invalid_credentials_format", "invalid_login",
                             "too_large"}
    assert r.status_code != 401 or path.endswith("sessions")


_NOT_TEXT = st.one_of(
    st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@given(field=st.sampled_from(["username", "password"]), value=_NOT_TEXT)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_a_credential_that_is_not_text_is_the_documented_422_and_creates_nothing(field: str, value: Any) -> None:
    """API.md: sign-up data that breaks the credential rules is 422 invalid_credentials_format,
    details per field; a number or a list where the name goes breaks them as a missing name does."""
    with TestClient(create_app(memory_container(Settings(workers=0)))) as client:
        body = {"username": "alice", "password": "correct horse", field: value}
        r = client.post("/api/v1/accounts", json=body)
        assert r.status_code == 422, r.text
        assert error_code(r) == "invalid_credentials_format"
        assert list(r.json()["error"]["details"]) == [field]
        good = {"username": "alice", "password": "correct horse"}
        assert client.post("/api/v1/accounts", json=good).status_code == 201  # nothing was created before


def test_upload_that_is_not_multipart_or_lies_about_its_length_is_a_4xx(client: TestClient[Any]) -> None:
    auth = signup(client, "alice")
    cases: list[dict[str, Any]] = [
        {"content": b"raw bytes", "headers": {"content-type": "image/jpeg"}},
        {"content": b"--x\r\n", "headers": {"content-type": "multipart/form-data; boundary=x"}},
        {"content": b"x", "headers": {"content-type": "multipart/form-data"}},
        {"content": b"--x--\r\n", "headers": {"content-type": "multipart/form-data; boundary=x",
                                              "content-length": "99999999999"}},
    ]
    for case in cases:
        r = client.post("/api/v1/images", content=case["content"], headers={**auth, **case["headers"]})
        assert 400 <= r.status_code < 500, (case, r.status_code, r.text)
        error_code(r)
    assert client.get("/api/v1/me", headers=auth).json()["quota"]["used"] == 0


def test_two_files_in_one_api_upload_are_refused_and_neither_is_stored(client: TestClient[Any]) -> None:
    auth = signup(client, "alice")
    files = [("file", ("a.png", img.png(color=(1, 2, 3)), "image/png")),
             ("file", ("b.png", img.png(color=(4, 5, 6)), "image/png"))]
    r = client.post("/api/v1/images", files=files, headers=auth)
    assert 400 <= r.status_code < 500, r.text
    assert "one image per request" in r.json()["error"]["message"]
    assert client.get("/api/v1/me", headers=auth).json()["quota"]["used"] == 0
    assert client.get("/api/v1/images", headers=auth).json()["items"] == []


@given(q=st.text(max_size=300), tag=st.lists(st.text(max_size=50), max_size=5), color=st.text(max_size=12),
       sort=st.text(max_size=15), limit=st.text(max_size=5), cursor=st.text(max_size=80))
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_hostile_list_queries_are_200_or_422(q: str, tag: list[str], color: str, sort: str, limit: str,
                                              cursor: str) -> None:
    with TestClient(create_app(memory_container(Settings(workers=0)))) as client:
        auth = signup(client, "alice")
        params = {"q": q, "tag": tag, "color": color, "sort": sort, "limit": limit, "cursor": cursor}
        r = client.get("/api/v1/images", params=params, headers=auth)
        assert r.status_code in (200, 400, 422), (r.status_code, r.text)
        if r.status_code != 200:
            assert error_code(r) in {"invalid_query", "bad_request"}
