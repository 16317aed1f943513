"""S3BlobStore against a real S3 server: encryption, multipart, URLs, start-up checks, outages."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from imagerepo.adapters.s3 import S3BlobStore, make_s3_client
from imagerepo.domain.errors import BlobMissing, ServiceUnavailable
from tests.fixtures_services import S3Service, _free_ports

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


class Calls:
    """Names of the S3 operations a client sent, via botocore's own event hooks."""

    def __init__(self, client: Any) -> None:
        self.names: list[str] = []
        self.params: list[dict[str, Any]] = []
        client.meta.events.register("before-call.s3", self._record)

    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.names.append(model.name)
        self.params.append(params)


@pytest.fixture
def bucket(s3_bucket: tuple[Any, str]) -> tuple[Any, str]:
    return s3_bucket


@pytest.fixture
def store(bucket: tuple[Any, str]) -> S3BlobStore:
    client, name = bucket
    return S3BlobStore(client, name, multipart_threshold=5 * MiB)


def test_every_object_is_encrypted_at_rest_small_and_multipart(
    store: S3BlobStore, bucket: tuple[Any, str]
) -> None:
    client, name = bucket
    calls = Calls(client)
    store.put("o/i/thumbnail", io.BytesIO(b"small"), "image/jpeg")
    big = os.urandom(12 * MiB + 1)
    store.put("o/i/original", io.BytesIO(big), "image/png")
    assert "CreateMultipartUpload" in calls.names  # the big one went in parts
    assert calls.names.count("UploadPart") >= 2
    for key, ctype in (("o/i/thumbnail", "image/jpeg"), ("o/i/original", "image/png")):
        head = client.head_object(Bucket=name, Key=key)
        assert head["ServerSideEncryption"] == "AES256"
        assert head["ContentType"] == ctype
    assert store.get("o/i/original") == big


def test_small_objects_go_in_one_request(store: S3BlobStore, bucket: tuple[Any, str]) -> None:
    calls = Calls(bucket[0])
    store.put("o/i/original", io.BytesIO(os.urandom(MiB)), "image/png")
    assert "CreateMultipartUpload" not in calls.names
    assert calls.names.count("PutObject") == 1


def test_sse_kms_is_requested_with_the_key_id(bucket: tuple[Any, str]) -> None:
    client, name = bucket
    calls = Calls(client)
    store = S3BlobStore(client, name, sse="aws:kms", kms_key_id="arn:aws:kms:eu-west-1:111122223333:key/k1")
    with contextlib.suppress(ServiceUnavailable):  # the server may lack KMS; the request matters
        store.put("o/i/original", io.BytesIO(b"x"), "image/png")
    put = calls.params[calls.names.index("PutObject")]
    assert put["headers"]["x-amz-server-side-encryption"] == "aws:kms"
    assert put["headers"]["x-amz-server-side-encryption-aws-kms-key-id"].endswith("key/k1")


def test_presigned_url_sets_name_and_type(store: S3BlobStore) -> None:
    store.put("o/i/original", io.BytesIO(b"pixels"), "image/png")
    expires = datetime.now(UTC) + timedelta(minutes=30)
    url = store.url("o/i/original", expires, filename="plage d'été.png", content_type="image/png")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url
    assert "X-Amz-Expires=1799" in url or "X-Amz-Expires=1800" in url
    r = httpx.get(url)
    assert r.status_code == 200
    assert r.content == b"pixels"
    assert r.headers["content-type"] == "image/png"
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("inline;")
    assert "filename*=UTF-8''plage%20d%27%C3%A9t%C3%A9.png" in disposition


def test_a_failed_upload_leaves_nothing(store: S3BlobStore, bucket: tuple[Any, str]) -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.sent = 0

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            if self.sent > 7 * MiB:
                raise ConnectionResetError("client went away")
            n = len(b)
            b[:n] = b"\0" * n
            self.sent += n
            return n

    client, name = bucket
    with pytest.raises(ServiceUnavailable):
        store.put("o/i/original", io.BufferedReader(Broken()), "image/png")
    assert not store.exists("o/i/original")
    assert client.list_multipart_uploads(Bucket=name).get("Uploads", []) == []


def test_verify_bucket_accepts_a_private_bucket(store: S3BlobStore) -> None:
    assert store.verify_bucket() == []


def test_verify_bucket_refuses_a_missing_bucket(s3_service: S3Service) -> None:
    store = S3BlobStore(s3_service.client(), "imagerepo-no-such-bucket")
    with pytest.raises(ServiceUnavailable, match="does not exist"):
        store.verify_bucket()
    with pytest.raises(ServiceUnavailable):
        store.check()


def test_verify_bucket_warns_about_a_public_bucket(
    store: S3BlobStore, bucket: tuple[Any, str], caplog: pytest.LogCaptureFixture
) -> None:
    client, name = bucket
    try:
        client.put_bucket_acl(Bucket=name, ACL="public-read")
    except Exception as e:
        pytest.skip(f"this server cannot make a bucket public by ACL: {e}")
    with caplog.at_level(logging.WARNING, logger="imagerepo.adapters.s3"):
        warnings = store.verify_bucket()
    assert any("AllUsers" in w for w in warnings), warnings
    assert "AllUsers" in caplog.text


def test_wrong_credentials_are_an_outage_not_a_missing_blob(
    s3_service: S3Service, bucket: tuple[Any, str]
) -> None:
    _, name = bucket
    bad = make_s3_client(s3_service.endpoint, s3_service.region, access_key=s3_service.access_key,
                         secret_key="not-the-secret")
    store = S3BlobStore(bad, name)
    with pytest.raises(ServiceUnavailable):
        store.check()
    with pytest.raises(ServiceUnavailable):
        store.put("o/i/original", io.BytesIO(b"x"), "image/png")
    with pytest.raises(ServiceUnavailable):
        store.get("o/i/original")


@pytest.fixture
def unreachable() -> Iterator[S3BlobStore]:
    (port,) = _free_ports(1)
    client = make_s3_client(f"http://127.0.0.1:{port}", "us-east-1", access_key="k", secret_key="s")
    yield S3BlobStore(client, "anything")
    client.close()


def test_an_unreachable_server_is_service_unavailable(unreachable: S3BlobStore) -> None:
    with pytest.raises(ServiceUnavailable):
        unreachable.check()
    with pytest.raises(ServiceUnavailable):
        unreachable.put("o/i/original", io.BytesIO(b"x"), "image/png")
    with pytest.raises(ServiceUnavailable):
        unreachable.get("o/i/original")
    with pytest.raises(ServiceUnavailable):
        unreachable.exists("o/i/original")
    with pytest.raises(ServiceUnavailable):
        unreachable.delete("o/i/original")
    with pytest.raises(ServiceUnavailable):
        list(unreachable.keys())


def test_missing_blob_after_delete(store: S3BlobStore) -> None:
    store.put("o/i/original", io.BytesIO(b"x"), "image/png")
    store.delete("o/i/original")
    with pytest.raises(BlobMissing):
        store.get("o/i/original")


def test_credentials_never_reach_the_logs(
    s3_service: S3Service, store: S3BlobStore, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        store.put("o/i/original", io.BytesIO(b"x"), "image/png")
        store.get("o/i/original")
        store.url("o/i/original", datetime.now(UTC) + timedelta(minutes=1), filename="a.png", content_type="")
        store.verify_bucket()
    assert caplog.records  # botocore did log at debug level
    assert s3_service.secret_key not in caplog.text
