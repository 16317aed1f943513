"""/health/ready is public: it names what is down, and the log (not the caller) gets the details."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from imagerepo.adapters.s3 import S3BlobStore, make_s3_client
from imagerepo.adapters.sqlite import SqliteDatabase, SqliteImageRepository
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests.fixtures_services import _free_ports
from tests.wiring import memory_container

BUCKET = "acme-private-photos-7f3a"


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()}")


def test_ready_tells_anonymous_callers_only_what_is_down(tmp_path: Path) -> None:
    # Real adapters failing for real: a database file that cannot be opened (its directory is a
    # file) and an S3 endpoint where nothing listens; their messages name the path and the bucket.
    blocker = tmp_path / "secret-location"
    blocker.write_text("not a directory")
    db_path = blocker / "imagerepo.sqlite3"
    (port,) = _free_ports(1)
    s3 = make_s3_client(f"http://127.0.0.1:{port}", "us-east-1", access_key="k", secret_key="s")
    settings = Settings(data_dir=tmp_path, workers=0)
    container = memory_container(settings, image_repository=SqliteImageRepository(SqliteDatabase(db_path)),
                                 blob_store=S3BlobStore(s3, BUCKET))
    records, root = Records(), logging.getLogger()
    try:
        with TestClient(create_app(container)) as client:
            root.addHandler(records)  # after start-up: Litestar's logging set-up replaces root handlers
            r = client.get("/health/ready")
    finally:
        root.removeHandler(records)
        s3.close()
    assert r.status_code == 503
    assert r.json() == {"status": "unavailable", "failing": ["database", "blob_store"],
                        "details": {"database": "unavailable", "blob_store": "unavailable"}}
    for secret in (str(db_path), "secret-location", BUCKET, str(port)):
        assert secret not in r.text
    logged = "\n".join(records.lines)
    assert str(db_path) in logged
    assert BUCKET in logged


def test_ready_is_ok_when_everything_answers(tmp_path: Path) -> None:
    with TestClient(create_app(memory_container(Settings(data_dir=tmp_path, workers=0)))) as client:
        r: Any = client.get("/health/ready")
        assert (r.status_code, r.json()) == (200, {"status": "ok"})
