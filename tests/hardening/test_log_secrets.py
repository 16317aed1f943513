"""IMAGEREPO_LOG_LEVEL works under `imagerepo serve`, and no level lets a secret into the log:
libraries (botocore logs every presigned URL's canonical request and signature at DEBUG) stay
at WARNING."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests import images as img
from tests.fixtures_services import S3Service, fresh_bucket
from tests.hardening.support import PASSWORD
from tests.serve_process import serving

APP_DEBUG = re.compile(r" DEBUG imagerepo[.\w]*: ")
SECRET_KEY = "log-test-secret-5c7e1f0a9b8d6c4e2a0f1e3d5c7b9a8f"


def _signed_in(http: httpx.Client) -> dict[str, str]:
    assert http.post("/api/v1/accounts", json={"username": "alice", "password": PASSWORD}).status_code == 201
    r = http.post("/api/v1/sessions", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 201, r.text
    http.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_the_debug_level_works_under_serve(tmp_path: Path) -> None:
    with serving(tmp_path, {"IMAGEREPO_LOG_LEVEL": "DEBUG", "IMAGEREPO_SECRET_KEY": SECRET_KEY}) as server:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            _signed_in(http)
        log = server.stop()
    assert APP_DEBUG.search(log), log[-3000:]
    assert SECRET_KEY not in log


def test_the_warning_level_hides_info(tmp_path: Path) -> None:
    with serving(tmp_path, {"IMAGEREPO_LOG_LEVEL": "WARNING"}) as server:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            http.get("/health/ready")
        log = server.stop()
    assert "imagerepo.access" not in log  # the access log is INFO


@pytest.mark.integration
@pytest.mark.slow
def test_presigned_urls_leave_no_signature_in_a_debug_log(tmp_path: Path, s3_service: S3Service) -> None:
    with fresh_bucket(s3_service.client()) as bucket:
        settings = {
            "IMAGEREPO_LOG_LEVEL": "DEBUG", "IMAGEREPO_SECRET_KEY": SECRET_KEY,
            "IMAGEREPO_STORAGE_URL": f"s3://{bucket}", "IMAGEREPO_S3_ENDPOINT_URL": s3_service.endpoint,
            "AWS_ACCESS_KEY_ID": s3_service.access_key, "AWS_SECRET_ACCESS_KEY": s3_service.secret_key,
            "AWS_DEFAULT_REGION": s3_service.region,
        }
        with serving(tmp_path, settings) as server:
            with httpx.Client(base_url=server.url, timeout=30) as http:
                auth = _signed_in(http)
                r = http.post("/api/v1/images", files={"file": ("p.jpg", img.jpeg(), "image/jpeg")}, headers=auth)
                assert r.status_code == 201, r.text
                image = http.get(f"/api/v1/images/{r.json()['id']}", headers=auth).json()  # presigns again
                assert http.get(image["url"]).content == img.jpeg()  # a working presigned URL
            log = server.stop()
    assert APP_DEBUG.search(log), log[-3000:]
    signatures = [parse_qs(urlsplit(u).query)["X-Amz-Signature"][0] for u in (image["url"], image["thumbnail_url"])]
    for secret in (*signatures, s3_service.secret_key, SECRET_KEY, auth["Authorization"][len("Bearer "):]):
        assert secret not in log
    assert "Signature" not in log
    assert "StringToSign" not in log
