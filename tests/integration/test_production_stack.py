"""The API.md journey on the production stack: PostgreSQL + S3 (a server that checks signatures),
wired by the real Container from Settings, served by create_app."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs
import httpx
import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from imagerepo.domain.errors import ServiceUnavailable
from imagerepo.entrypoints.container import Container
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests import images as img
from tests.fixtures_services import S3Service, fresh_bucket
from tests.integration.stack import (
    AZURE_KEY,
    azure_v32_body,
    fresh_database,
    keys_of,
    seaweedfs_with,
    wait_for,
)

pytestmark = pytest.mark.integration

URL_TTL = 4  # seconds; presigned for floor(TTL - a moment) = 3 s


@pytest.fixture(scope="module")
def s3_credentials(s3_service: S3Service) -> Iterator[S3Service]:
    """The container takes S3 credentials from the usual AWS variables, as in production."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", s3_service.access_key)
        mp.setenv("AWS_SECRET_ACCESS_KEY", s3_service.secret_key)
        mp.setenv("AWS_DEFAULT_REGION", s3_service.region)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            mp.delenv(name, raising=False)
        yield s3_service


@pytest.fixture(scope="module")
def database_url(postgres_dsn: str) -> Iterator[str]:
    with fresh_database(postgres_dsn) as url:
        yield url


@pytest.fixture(scope="module")
def bucket(s3_credentials: S3Service) -> Iterator[tuple[Any, str]]:
    client = s3_credentials.client()
    with fresh_bucket(client) as name:
        yield client, name


@pytest.fixture
def settings(tmp_path: Path, database_url: str, bucket: tuple[Any, str], s3_credentials: S3Service) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        storage_url=f"s3://{bucket[1]}",
        s3_endpoint_url=s3_credentials.endpoint,
        analyzer="local",
        local_models=False,
        upload_quota=3,
        url_ttl_seconds=URL_TTL,
        secret_key="production-stack-test-secret-of-32-bytes",
        workers=1,
    )


AppFactory = Callable[..., TestClient[Any]]


@pytest.fixture
def make_app(settings: Settings) -> Iterator[AppFactory]:
    """Start the app on a Container built from ``settings`` (plus changes and provider overrides)."""
    with ExitStack() as stack:

        def make(overrides: dict[str, Any] | None = None, **changes: Any) -> TestClient[Any]:
            container = Container()
            container.settings.override(providers.Object(attrs.evolve(settings, **changes)))
            for name, value in (overrides or {}).items():
                getattr(container, name).override(providers.Object(value))
            return stack.enter_context(TestClient(create_app(container)))

        yield make


@pytest.fixture
def client(make_app: AppFactory) -> TestClient[Any]:
    return make_app()


def signup(client: TestClient[Any], prefix: str = "user") -> dict[str, str]:
    username, password = f"{prefix}_{secrets.token_hex(4)}", "correct horse battery"
    r = client.post("/api/v1/accounts", json={"username": username, "password": password})
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/sessions", json={"username": username, "password": password})
    assert r.status_code == 201, r.text
    client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def upload(client: TestClient[Any], auth: dict[str, str], data: bytes, name: str = "photo.jpg") -> Any:
    return client.post("/api/v1/images", files={"file": (name, data, "image/jpeg")}, headers=auth)


def unique_jpeg(size: tuple[int, int] = (120, 90)) -> bytes:
    return img.jpeg(size, tuple(secrets.randbelow(256) for _ in range(3)))  # type: ignore[arg-type]


def analysis_settled(client: TestClient[Any], auth: dict[str, str], image_id: str) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"/api/v1/images/{image_id}", headers=auth).json()
        return body if body["analysis"]["status"] != "pending" else None

    result: dict[str, Any] = wait_for(settled, 30, f"the analysis of {image_id}")
    return result


def keys_for(bucket: tuple[Any, str], image_id: str) -> set[str]:
    return {k for k in keys_of(*bucket) if image_id in k}


# ---------------------------------------------------------------------------------- the journey


def test_the_api_journey_on_postgres_and_s3(client: TestClient[Any], bucket: tuple[Any, str]) -> None:
    assert client.get("/health/ready").status_code == 200
    alice = signup(client, "alice")
    me = client.get("/api/v1/me", headers=alice).json()
    assert me["quota"] == {"used": 0, "limit": 3}

    data = unique_jpeg()
    r = upload(client, alice, data, "beach.jpg")
    assert r.status_code == 201, r.text
    image = r.json()
    assert (image["filename"], image["content_type"], image["width"], image["height"]) == (
        "beach.jpg", "image/jpeg", 120, 90,
    )
    assert image["sha256"] == hashlib.sha256(data).hexdigest()
    assert image["size_bytes"] == len(data)
    assert len(keys_for(bucket, image["id"])) == 2  # the original and its thumbnail, side by side
    second = upload(client, alice, unique_jpeg(), "later.jpg").json()

    listed = client.get("/api/v1/images", headers=alice).json()
    assert [i["id"] for i in listed["items"]] == [second["id"], image["id"]]  # newest first
    assert listed["next_cursor"] is None
    page = client.get("/api/v1/images", params={"limit": 1}, headers=alice).json()
    assert [i["id"] for i in page["items"]] == [second["id"]]
    rest = client.get("/api/v1/images", params={"limit": 1, "cursor": page["next_cursor"]}, headers=alice).json()
    assert [i["id"] for i in rest["items"]] == [image["id"]]
    assert client.get("/api/v1/me", headers=alice).json()["quota"]["used"] == 2

    # The content redirect leads to S3 itself; the bytes come back unchanged.
    r = client.get(f"/api/v1/images/{image['id']}/content", headers=alice, follow_redirects=False)
    assert r.status_code == 307
    location = r.headers["location"]
    assert location.startswith(client.app.state.container.settings().s3_endpoint_url)
    got = httpx.get(location)
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-type"] == "image/jpeg"
    thumb = httpx.get(client.get(f"/api/v1/images/{image['id']}", headers=alice).json()["thumbnail_url"])
    assert thumb.status_code == 200
    assert thumb.content[:3] in (b"\xff\xd8\xff", b"RIF")  # JPEG or WebP

    done = analysis_settled(client, alice, image["id"])
    assert done["analysis"]["status"] == "done", done["analysis"]
    assert done["analysis"]["analyzer"] == "local"
    assert done["analysis"]["colors"]

    # Another user sees nothing of alice's.
    bob = signup(client, "bob")
    assert client.get(f"/api/v1/images/{image['id']}", headers=bob).status_code == 404
    assert client.get(f"/api/v1/images/{image['id']}/content", headers=bob).status_code == 404
    assert client.delete(f"/api/v1/images/{image['id']}", headers=bob).status_code == 404
    assert client.get("/api/v1/images", headers=bob).json()["items"] == []

    # Delete: row, original and thumbnail gone, the slot freed, the old URL useless.
    assert client.delete(f"/api/v1/images/{image['id']}", headers=alice).status_code == 204
    assert keys_for(bucket, image["id"]) == set()
    assert client.get(f"/api/v1/images/{image['id']}", headers=alice).status_code == 404
    assert httpx.get(location).status_code in (403, 404)
    assert client.get("/api/v1/me", headers=alice).json()["quota"]["used"] == 1

    # Sign out: the token stops working.
    assert client.delete("/api/v1/sessions/current", headers=alice).status_code == 204
    r = client.get("/api/v1/me", headers=alice)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthenticated"


def test_presigned_urls_expire_and_cannot_be_altered(client: TestClient[Any]) -> None:
    auth = signup(client)
    first = upload(client, auth, unique_jpeg()).json()
    other = upload(client, auth, unique_jpeg()).json()
    url = client.get(f"/api/v1/images/{first['id']}", headers=auth).json()["url"]
    assert httpx.get(url).status_code == 200

    parts = urlsplit(url)
    other_path = urlsplit(other["url"]).path
    to_other_object = urlunsplit(parts._replace(path=other_path))
    assert httpx.get(to_other_object).status_code == 403
    query = parts.query.replace("X-Amz-Expires=", "X-Amz-Expires=9")
    assert httpx.get(urlunsplit(parts._replace(query=query))).status_code == 403
    sig_at = parts.query.index("X-Amz-Signature=") + len("X-Amz-Signature=")
    flipped = "0" if parts.query[sig_at] != "0" else "1"
    forged = parts.query[:sig_at] + flipped + parts.query[sig_at + 1 :]
    assert httpx.get(urlunsplit(parts._replace(query=forged))).status_code == 403

    time.sleep(URL_TTL + 1.5)
    assert httpx.get(url).status_code == 403  # expired
    fresh = client.get(f"/api/v1/images/{first['id']}", headers=auth).json()["url"]
    assert httpx.get(fresh).status_code == 200  # a new URL works again


def test_quota_and_duplicates_change_nothing_in_the_bucket(
    client: TestClient[Any], bucket: tuple[Any, str]
) -> None:
    auth = signup(client)
    data = unique_jpeg()
    first = upload(client, auth, data).json()
    r = upload(client, auth, data, "same-bytes-other-name.jpg")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "duplicate_image"
    assert first["id"] in str(r.json()["error"]["details"])
    for _ in range(2):
        assert upload(client, auth, unique_jpeg()).status_code == 201
    before = keys_of(*bucket)
    r = upload(client, auth, unique_jpeg())
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "quota_exceeded"
    assert r.json()["error"]["details"] == {"used": 3, "limit": 3}
    assert keys_of(*bucket) == before
    assert client.get("/api/v1/me", headers=auth).json()["quota"] == {"used": 3, "limit": 3}
    assert len(client.get("/api/v1/images", headers=auth).json()["items"]) == 3


def test_bad_uploads_are_refused_without_a_trace(client: TestClient[Any], bucket: tuple[Any, str]) -> None:
    auth = signup(client)
    before = keys_of(*bucket)
    r = client.post("/api/v1/images", files={"file": ("x.svg", img.SVG, "image/svg+xml")}, headers=auth)
    assert (r.status_code, r.json()["error"]["code"]) == (415, "unsupported_media_type")
    r = client.post("/api/v1/images", files={"file": ("x.jpg", img.truncated_jpeg(), "image/jpeg")}, headers=auth)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_image")
    assert keys_of(*bucket) == before
    assert client.get("/api/v1/me", headers=auth).json()["quota"]["used"] == 0


def test_reanalysis_runs_again(client: TestClient[Any]) -> None:
    auth = signup(client)
    image = upload(client, auth, unique_jpeg()).json()
    first = analysis_settled(client, auth, image["id"])["analysis"]
    assert first["status"] == "done"
    r = client.post(f"/api/v1/images/{image['id']}/analysis", headers=auth)
    assert r.status_code == 202
    assert r.json()["analysis"]["status"] == "pending"
    again = analysis_settled(client, auth, image["id"])["analysis"]
    assert again["status"] == "done"
    assert again["analyzed_at"] >= first["analyzed_at"]  # whole seconds: may be equal
    assert again["colors"] == first["colors"]
    assert client.post(f"/api/v1/images/{image['id']}/analysis", headers=signup(client)).status_code == 404


def test_azure_analyzer_through_the_container(make_app: AppFactory) -> None:
    """IMAGEREPO_ANALYZER=azure with the container's HTTP client swapped for one that plays the
    documented v3.2 service."""
    seen: list[httpx.Request] = []

    def azure(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("Ocp-Apim-Subscription-Key") != AZURE_KEY:
            return httpx.Response(401, json={"error": {"code": "401", "message": "Access denied"}})
        return httpx.Response(200, json=azure_v32_body())

    with httpx.Client(transport=httpx.MockTransport(azure)) as http:
        client = make_app(
            {"http_client": http},
            analyzer="azure",
            azure_endpoint="https://imagerepo-test.cognitiveservices.azure.com/",
            azure_key=AZURE_KEY,
        )
        auth = signup(client)
        data = unique_jpeg()
        image = upload(client, auth, data).json()
        analysis = analysis_settled(client, auth, image["id"])["analysis"]
    assert analysis["status"] == "done", analysis
    assert analysis["analyzer"] == "azure"
    assert "man pointing at a screen" in analysis["description"].lower()
    assert {"person", "indoor"} <= {t["name"] for t in analysis["tags"]}
    assert analysis["colors"]
    assert len(seen) == 1
    assert seen[0].url.path == "/vision/v3.2/analyze"
    assert seen[0].url.params["visualFeatures"] == "Description,Tags,Color"
    found = client.get("/api/v1/images", params={"q": "screen"}, headers=auth).json()["items"]
    assert [i["id"] for i in found] == [image["id"]]


@pytest.mark.parametrize("workers", [0, 1])
def test_a_missing_bucket_stops_the_start(make_app: AppFactory, workers: int) -> None:
    with pytest.raises((ServiceUnavailable, BaseExceptionGroup)) as raised:  # the client may wrap it
        make_app(storage_url="s3://imagerepo-no-such-bucket", workers=workers)
    errors = [raised.value]
    while isinstance(errors[-1], BaseExceptionGroup) and len(errors[-1].exceptions) == 1:
        errors.append(errors[-1].exceptions[0])
    assert isinstance(errors[-1], ServiceUnavailable), raised.value
    assert "does not exist" in errors[-1].message


def test_an_identity_with_only_object_and_list_rights_can_run_the_app(
    make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The IAM policy of docs/production.md: object read/write/delete and ListBucket suffice; the
    public-access checks the role may not make are skipped with a warning, not a failed start."""
    admin = {"accessKey": "ADMIN" + secrets.token_hex(6), "secretKey": secrets.token_hex(20)}
    app_role = {"accessKey": "APP" + secrets.token_hex(6), "secretKey": secrets.token_hex(20)}
    identities = [
        {"name": "admin", "credentials": [admin], "actions": ["Admin", "Read", "Write", "List", "Tagging"]},
        {"name": "app", "credentials": [app_role], "actions": ["Read", "Write", "List"]},
    ]
    with seaweedfs_with(identities, tmp_path / "weed") as endpoint:
        S3Service(endpoint, admin["accessKey"], admin["secretKey"]).client().create_bucket(Bucket="restricted")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", app_role["accessKey"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", app_role["secretKey"])
        client = make_app(storage_url="s3://restricted", s3_endpoint_url=endpoint, workers=0)
        auth = signup(client)
        data = unique_jpeg()
        image = upload(client, auth, data).json()
        assert httpx.get(image["url"]).content == data
        assert client.delete(f"/api/v1/images/{image['id']}", headers=auth).status_code == 204
