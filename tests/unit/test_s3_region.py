"""Which region S3 requests and presigned URLs are signed for, and how it is chosen.

A stub S3 endpoint on 127.0.0.1 plays a bucket in one region: like AWS it refuses a request signed
for another region, names its region in ``x-amz-bucket-region`` and answers GetBucketLocation.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from imagerepo.adapters.s3 import S3BlobStore, make_s3_client
from imagerepo.entrypoints.container import Container
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import ConfigError, Settings

BUCKET = "photos"
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/s3/aws4_request")


def scope_region(url: str) -> str:
    """The region of a presigned URL's credential scope (X-Amz-Credential=KEY/DATE/REGION/s3/...)."""
    (credential,) = parse_qs(urlsplit(url).query)["X-Amz-Credential"]
    return credential.split("/")[2]


class StubS3:
    """A bucket in ``region``. ``header``: HeadBucket names the region; ``location``: what
    GetBucketLocation answers (None: the call is refused). Records each request's signing region."""

    def __init__(self, region: str, *, header: bool = True, location: str | None = None, strict: bool = True) -> None:
        self.region = region
        self.header = header
        self.location = location
        self.strict = strict
        self.objects = {"a/original": b"pixels"}
        self.signed_for: list[tuple[str, str, str]] = []  # (method, path?query, region)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _region(self) -> str:
                query = parse_qs(urlsplit(self.path).query)
                if "X-Amz-Credential" in query:
                    return query["X-Amz-Credential"][0].split("/")[2]
                found = _SCOPE.search(self.headers.get("Authorization", ""))
                return found.group(1) if found else ""

            def _reply(self, status: int, body: bytes = b"", **headers: str) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _error(self, status: int, code: str, **extra: str) -> None:
                fields = "".join(f"<{k}>{v}</{k}>" for k, v in {"Code": code, **extra}.items())
                self._reply(status, f"<Error>{fields}</Error>".encode(), content_type="application/xml")

            def _handle(self) -> None:
                split = urlsplit(self.path)
                bucket, _, key = unquote(split.path).lstrip("/").partition("/")
                signed = self._region()
                stub.signed_for.append((self.command, self.path, signed))
                named = {"x_amz_bucket_region": stub.region} if stub.header else {}
                if bucket != BUCKET:
                    return self._error(404, "NoSuchBucket")
                if stub.strict and signed != stub.region:
                    if self.command == "HEAD":  # AWS: 400 and the region in a header, no body
                        return self._reply(400, **named)
                    return self._error(400, "AuthorizationHeaderMalformed", Region=stub.region)
                if key:
                    if key not in stub.objects:
                        return self._error(404, "NoSuchKey")
                    params = parse_qs(split.query)
                    ctype = params.get("response-content-type", ["binary/octet-stream"])[0]
                    return self._reply(200, stub.objects[key], content_type=ctype)
                if self.command == "HEAD":
                    return self._reply(200, **named)
                if split.query == "location":
                    if stub.location is None:
                        return self._error(403, "AccessDenied")
                    xml = f'<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{stub.location}</LocationConstraint>'
                    return self._reply(200, xml.encode(), content_type="application/xml")
                return self._error(501, "NotImplemented")  # the public-access checks: skipped

            do_GET = do_HEAD = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="stub-s3", daemon=True
        )

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> StubS3:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An environment with credentials and nothing else of AWS's: no region, empty shared files."""
    import os

    for name in list(os.environ):
        if name.startswith(("AWS_", "IMAGEREPO_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSTUB")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "stub-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("IMAGEREPO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IMAGEREPO_STORAGE_URL", f"s3://{BUCKET}")
    monkeypatch.setenv("IMAGEREPO_WORKERS", "0")
    return monkeypatch


def container_from_env() -> Container:
    """What `imagerepo serve` builds: the settings of the environment, in a Container."""
    container = Container()
    container.settings.override(providers.Object(Settings.from_env()))
    return container


def presign(store: Any, key: str = "a/original") -> str:
    expires = datetime.now(UTC) + timedelta(minutes=5)
    return str(store.url(key, expires, filename="été.png", content_type="image/png"))


# --------------------------------------------------------------------- presigned URLs


@pytest.mark.parametrize("region", ["eu-west-1", "ap-southeast-2"])
def test_a_presigned_aws_url_is_signed_for_the_region_on_its_regional_virtual_host(region: str) -> None:
    client = make_s3_client(None, region, access_key="AKIDSTUB", secret_key="stub-secret")
    url = presign(S3BlobStore(client, BUCKET))
    assert scope_region(url) == region
    assert urlsplit(url).netloc == f"{BUCKET}.s3.{region}.amazonaws.com"
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["response-content-type"] == ["image/png"]
    assert query["response-content-disposition"][0].startswith("inline;")


@pytest.mark.parametrize("region", ["eu-west-1", "ap-southeast-2"])
def test_the_configured_region_signs_urls_and_requests(
    aws_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, region: str
) -> None:
    with StubS3(region) as s3, caplog.at_level(logging.INFO, logger="imagerepo"):
        aws_env.setenv("IMAGEREPO_S3_ENDPOINT_URL", s3.endpoint)
        aws_env.setenv("IMAGEREPO_S3_REGION", region)
        store = container_from_env().blob_store()
        url = presign(store)
        assert scope_region(url) == region
        assert urlsplit(url).path == f"/{BUCKET}/a/original"  # path style on a custom endpoint
        assert httpx.get(url).content == b"pixels"  # the stub, like AWS, refuses another region
        assert store.exists("a/original")
        assert {signed for _, _, signed in s3.signed_for} == {region}
    assert f"'{BUCKET}': region {region} (set by IMAGEREPO_S3_REGION, confirmed by the bucket)" in caplog.text


def test_with_no_region_configured_the_bucket_names_it(
    aws_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with StubS3("eu-west-3") as s3, caplog.at_level(logging.INFO, logger="imagerepo"):
        aws_env.setenv("IMAGEREPO_S3_ENDPOINT_URL", s3.endpoint)
        store = container_from_env().blob_store()
        url = presign(store)
        assert scope_region(url) == "eu-west-3"
        assert httpx.get(url).status_code == 200
    assert not [path for _, path, _ in s3.signed_for if "location" in path]  # HeadBucket sufficed
    assert f"S3 bucket '{BUCKET}': region eu-west-3 (named by the bucket)" in caplog.text


def test_a_bucket_without_the_header_is_asked_for_its_location(aws_env: pytest.MonkeyPatch) -> None:
    with StubS3("ap-south-1", header=False, location="ap-south-1", strict=False) as s3:
        aws_env.setenv("IMAGEREPO_S3_ENDPOINT_URL", s3.endpoint)
        assert scope_region(presign(container_from_env().blob_store())) == "ap-south-1"


@pytest.mark.parametrize(
    ("location", "on_aws", "expected"),
    [
        ("", True, "us-east-1"),  # AWS answers an empty location for us-east-1
        ("EU", True, "eu-west-1"),  # and the legacy "EU" for eu-west-1
        ("sa-east-1", True, "sa-east-1"),
        ("", False, None),  # an S3-compatible store that names no region
    ],
)
def test_get_bucket_location_answers_are_read_as_aws_means_them(
    location: str, on_aws: bool, expected: str | None
) -> None:
    with StubS3("unused", header=False, location=location, strict=False) as s3:
        client = make_s3_client(s3.endpoint, "us-east-1", access_key="AKIDSTUB", secret_key="stub-secret")
        assert S3BlobStore(client, BUCKET).bucket_region(on_aws=on_aws) == expected


def test_a_store_that_names_no_region_uses_the_configured_one(aws_env: pytest.MonkeyPatch) -> None:
    with StubS3("eu-central-1", header=False, location="", strict=False) as s3:  # like SeaweedFS
        aws_env.setenv("IMAGEREPO_S3_ENDPOINT_URL", s3.endpoint)
        aws_env.setenv("AWS_DEFAULT_REGION", "eu-central-1")
        assert scope_region(presign(container_from_env().blob_store())) == "eu-central-1"
        aws_env.delenv("AWS_DEFAULT_REGION")
        assert scope_region(presign(container_from_env().blob_store())) == "us-east-1"


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
def test_on_aws_the_bucket_names_its_region_and_urls_use_its_virtual_host(
    aws_env: pytest.MonkeyPatch, region: str
) -> None:
    """Against moto's model of AWS: no endpoint, the region only the bucket knows."""
    from moto import mock_aws

    with mock_aws():
        where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        make_s3_client(None, region).create_bucket(Bucket=BUCKET, **where)
        url = presign(container_from_env().blob_store())
    assert scope_region(url) == region
    host = "s3.amazonaws.com" if region == "us-east-1" else f"s3.{region}.amazonaws.com"  # us-east-1's is global
    assert urlsplit(url).netloc == f"{BUCKET}.{host}"


def test_on_aws_a_region_that_is_not_the_buckets_stops_the_start(aws_env: pytest.MonkeyPatch) -> None:
    from moto import mock_aws

    aws_env.setenv("AWS_DEFAULT_REGION", "us-east-2")
    with mock_aws():
        make_s3_client(None, "eu-west-1").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        with pytest.raises(ConfigError, match="AWS_DEFAULT_REGION") as raised:
            container_from_env().blob_store()
    assert "us-east-2" in str(raised.value)
    assert "eu-west-1" in str(raised.value)


# --------------------------------------------------------------------- a region that disagrees


def _innermost(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


@pytest.mark.parametrize("header", [True, False])
def test_a_configured_region_that_is_not_the_buckets_stops_the_start(aws_env: pytest.MonkeyPatch, header: bool) -> None:
    with StubS3("us-east-2", header=header, location="us-east-2") as s3:
        aws_env.setenv("IMAGEREPO_S3_ENDPOINT_URL", s3.endpoint)
        aws_env.setenv("AWS_REGION", "eu-west-1")
        with pytest.raises((ConfigError, BaseExceptionGroup)) as raised, TestClient(create_app(container_from_env())):
            pass
    error = _innermost(raised.value)
    assert isinstance(error, ConfigError), raised.value
    message = str(error)
    assert message == (
        f"S3 bucket '{BUCKET}' is in region us-east-2, but AWS_REGION sets eu-west-1: "
        "set IMAGEREPO_S3_REGION=us-east-2 or correct AWS_REGION"
    )


@pytest.mark.timeout(60)  # before the fix, serve started and ran on
def test_a_region_mismatch_is_a_configuration_error_of_imagerepo_serve(aws_env: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from imagerepo.entrypoints.cli import cli

    with StubS3("us-east-2") as s3:
        aws_env.setenv("IMAGEREPO_S3_ENDPOINT_URL", s3.endpoint)
        aws_env.setenv("IMAGEREPO_S3_REGION", "eu-west-1")
        result = CliRunner().invoke(cli, ["serve", "--port", "0"])
    assert result.exit_code == 2, result.output
    assert "configuration error" in result.output
    assert "IMAGEREPO_S3_REGION=us-east-2" in result.output


@pytest.mark.timeout(60)
def test_imagerepo_serve_refuses_a_missing_bucket_with_a_plain_message(aws_env: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from imagerepo.entrypoints.cli import cli

    with StubS3("eu-west-1") as s3:
        aws_env.setenv("IMAGEREPO_S3_ENDPOINT_URL", s3.endpoint)
        aws_env.setenv("IMAGEREPO_STORAGE_URL", "s3://no-such-bucket")
        result = CliRunner().invoke(cli, ["serve", "--port", "0"])
    assert result.exit_code == 1, result.output
    assert "cannot start: S3 bucket 'no-such-bucket' does not exist" in result.output


# --------------------------------------------------------------------- where the region comes from

SOURCES = ["IMAGEREPO_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION", "profile"]
REGIONS = dict(zip(SOURCES, ["eu-north-1", "ca-central-1", "sa-east-1", "ap-northeast-3"], strict=True))


@pytest.mark.parametrize("first", range(len(SOURCES)), ids=SOURCES)
def test_the_region_comes_from_the_first_source_that_sets_one(
    aws_env: pytest.MonkeyPatch, tmp_path: Path, first: int
) -> None:
    """Each source set together with every source after it: the earliest wins."""
    for source in SOURCES[first:]:
        if source == "profile":
            (tmp_path / "aws-config").write_text(f"[default]\nregion = {REGIONS[source]}\n")
        else:
            aws_env.setenv(source, REGIONS[source])
    settings = Settings.from_env()
    assert settings.s3_region == REGIONS[SOURCES[first]]
    assert (SOURCES[first] if first < 3 else "aws-config") in settings.s3_region_source


def test_blank_variables_are_skipped(aws_env: pytest.MonkeyPatch) -> None:
    aws_env.setenv("IMAGEREPO_S3_REGION", " ")
    aws_env.setenv("AWS_REGION", "")
    aws_env.setenv("AWS_DEFAULT_REGION", "eu-south-1")
    assert Settings.from_env().s3_region == "eu-south-1"


def test_the_active_profile_of_the_shared_config_is_used(aws_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "aws-config").write_text(
        "[default]\nregion = us-west-1\n\n[profile images]\nregion = eu-west-2\n\n[profile bare]\noutput = json\n"
    )
    assert Settings.from_env().s3_region == "us-west-1"
    aws_env.setenv("AWS_PROFILE", "images")
    settings = Settings.from_env()
    assert (settings.s3_region, "'images'" in settings.s3_region_source) == ("eu-west-2", True)
    aws_env.setenv("AWS_PROFILE", "bare")  # a profile without a region: the bucket is asked
    assert Settings.from_env().s3_region == ""
    aws_env.delenv("AWS_PROFILE")
    aws_env.setenv("AWS_DEFAULT_PROFILE", "images")
    assert Settings.from_env().s3_region == "eu-west-2"


def test_a_region_in_the_shared_credentials_file_counts_like_botocore_counts_it(
    aws_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "aws-credentials").write_text("[default]\nregion = me-central-1\n")
    assert Settings.from_env().s3_region == "me-central-1"


def test_no_source_leaves_the_region_to_the_bucket(aws_env: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env()
    assert (settings.s3_region, settings.s3_region_source) == ("", "")


def test_an_unknown_profile_is_a_configuration_error(aws_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "aws-config").write_text("[default]\nregion = us-west-1\n")
    aws_env.setenv("AWS_PROFILE", "nosuch")
    with pytest.raises(ConfigError, match="nosuch"):
        Settings.from_env()


def test_the_shared_config_is_not_read_without_s3(aws_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    aws_env.setenv("IMAGEREPO_STORAGE_URL", f"file://{tmp_path / 'blobs'}")
    aws_env.setenv("AWS_PROFILE", "nosuch")  # would be an error with S3
    assert Settings.from_env().s3_region == ""


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IMAGEREPO_S3_REGION", "eu west 1"),
        ("AWS_REGION", "eu-west-1/"),
        ("AWS_DEFAULT_REGION", "-eu"),
        ("IMAGEREPO_S3_ADDRESSING_STYLE", "dns"),
    ],
)
def test_malformed_values_are_refused_naming_the_variable(aws_env: pytest.MonkeyPatch, name: str, value: str) -> None:
    aws_env.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        Settings.from_env()


def test_a_malformed_region_in_the_profile_is_refused(aws_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "aws-config").write_text("[default]\nregion = not a region\n")
    with pytest.raises(ConfigError, match="aws-config"):
        Settings.from_env()


@pytest.mark.parametrize(
    ("style", "netloc", "path"),
    [
        ("path", "s3.eu-west-1.amazonaws.com", f"/{BUCKET}/a/original"),
        ("virtual", f"{BUCKET}.s3.eu-west-1.amazonaws.com", "/a/original"),
        ("", f"{BUCKET}.s3.eu-west-1.amazonaws.com", "/a/original"),  # AWS's default
    ],
)
def test_the_addressing_style_can_be_chosen(aws_env: pytest.MonkeyPatch, style: str, netloc: str, path: str) -> None:
    aws_env.setenv("IMAGEREPO_S3_ADDRESSING_STYLE", style)
    settings = Settings.from_env()
    client = make_s3_client(None, "eu-west-1", addressing_style=settings.s3_addressing_style or None)
    url = urlsplit(presign(S3BlobStore(client, BUCKET)))
    assert (url.netloc, url.path) == (netloc, path)


def test_a_custom_endpoint_defaults_to_path_style_and_may_ask_for_virtual_hosts(aws_env: pytest.MonkeyPatch) -> None:
    with StubS3("eu-west-1") as s3:
        aws_env.setenv("IMAGEREPO_S3_ENDPOINT_URL", s3.endpoint)
        aws_env.setenv("IMAGEREPO_S3_REGION", "eu-west-1")
        assert urlsplit(presign(container_from_env().blob_store())).path == f"/{BUCKET}/a/original"
    client = make_s3_client("http://s3.internal:9000", "eu-west-1", addressing_style="virtual")
    assert urlsplit(presign(S3BlobStore(client, BUCKET))).netloc == f"{BUCKET}.s3.internal:9000"


def _img_src_allows(csp: str, url: str) -> bool:
    """Whether the CSP's img-src lets a page show ``url`` (exact origins and ``*.`` host wildcards)."""
    (img_src,) = [d.split()[1:] for d in csp.split(";") if d.split()[:1] == ["img-src"]]
    u = urlsplit(url)
    for source in img_src:
        scheme, _, host = source.partition("://")
        if scheme == u.scheme and (host == u.netloc or (host.startswith("*.") and u.netloc.endswith(host[1:]))):
            return True
    return False


@pytest.mark.parametrize(
    ("endpoint", "style"),
    [(None, ""), (None, "path"), (None, "auto"), ("http://s3.internal:9000", ""),
     ("http://s3.internal:9000", "virtual"), ("https://s3.example.net", "auto")],
)
def test_the_pages_may_show_images_from_the_presigned_urls(
    aws_env: pytest.MonkeyPatch, endpoint: str | None, style: str
) -> None:
    from imagerepo.entrypoints.http.security import content_security_policy

    settings = Settings(storage_url=f"s3://{BUCKET}", s3_endpoint_url=endpoint or "", s3_addressing_style=style)
    client = make_s3_client(endpoint, "eu-west-1", addressing_style=style or None)
    url = presign(S3BlobStore(client, BUCKET))
    assert _img_src_allows(content_security_policy(settings), url), url

