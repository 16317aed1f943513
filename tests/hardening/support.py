"""Helpers shared by the hardening tests: a client on fakes, sign-up, upload, error checks."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from imagerepo.adapters.memory import InMemoryBlobStore

PASSWORD = "correct horse"


def signup(client: TestClient[Any], username: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/api/v1/accounts", json={"username": username, "password": password})
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/sessions", json={"username": username, "password": password})
    assert r.status_code == 201, r.text
    client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def upload(client: TestClient[Any], auth: dict[str, str], data: bytes, name: str = "photo.jpg",
           ctype: str = "image/jpeg") -> Any:
    return client.post("/api/v1/images", files={"file": (name, data, ctype)}, headers=auth)


def raw_upload(client: TestClient[Any], auth: dict[str, str], data: bytes, filename: bytes) -> Any:
    """A multipart upload whose filename bytes go on the wire untouched (httpx would escape NUL)."""
    boundary = b"hardening-boundary-7f3a"
    body = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="' + filename
            + b'"\r\nContent-Type: image/jpeg\r\n\r\n' + data + b"\r\n--" + boundary + b"--\r\n")
    headers = {**auth, "content-type": "multipart/form-data; boundary=" + boundary.decode()}
    return client.post("/api/v1/images", content=body, headers=headers)


def error_code(r: Any) -> str:
    """The machine code of an API.md error body, asserting its shape on the way."""
    body = r.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert isinstance(body["error"].get("details", {}), dict)
    return str(body["error"]["code"])


def listed_ids(client: TestClient[Any], auth: dict[str, str]) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/images", params=params, headers=auth)
        assert page.status_code == 200, page.text
        body = page.json()
        ids += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            return ids


def blob_image_ids(store: Any) -> set[str]:
    """Image ids that own at least one blob (keys are ``<owner>/<image>/<kind>``)."""
    return {key.split("/")[1] for key in store.keys()}


def assert_consistent(client: TestClient[Any], auth: dict[str, str], store: InMemoryBlobStore | Any) -> list[str]:
    """No half-images: quota used == images listed, and the blobs are exactly theirs (2 each)."""
    ids = listed_ids(client, auth)
    me = client.get("/api/v1/me", headers=auth).json()
    assert me["quota"]["used"] == len(ids)
    keys = list(store.keys())
    assert blob_image_ids(store) == set(ids)
    assert len(keys) == 2 * len(ids)
    return ids
