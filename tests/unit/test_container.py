"""The composition root builds the adapters the settings choose, and nothing else."""

from __future__ import annotations

import io
from pathlib import Path

from dependency_injector import providers

from imagerepo.adapters.filestore import EncryptedFileBlobStore
from imagerepo.adapters.sqlite import SqliteDatabase
from imagerepo.entrypoints.container import Container
from imagerepo.entrypoints.settings import Settings


def container(settings: Settings) -> Container:
    c = Container()
    c.settings.override(providers.Object(settings))
    return c


def test_the_embedded_default_is_sqlite_and_encrypted_files_that_serve_their_own_urls(tmp_path: Path) -> None:
    c = container(Settings(data_dir=tmp_path, workers=0, local_models=False))
    c.init_resources()
    try:
        assert isinstance(c.database(), SqliteDatabase)
        assert (tmp_path / "imagerepo.sqlite3").exists()
        assert isinstance(c.blob_store(), EncryptedFileBlobStore)
        assert c.signed_blob_server() is c.blob_store()
    finally:
        c.shutdown_resources()


def test_with_s3_the_app_serves_no_blob_urls(tmp_path: Path) -> None:
    c = container(Settings(data_dir=tmp_path, workers=0, storage_url="s3://bucket", s3_region="eu-west-1"))
    assert c.signed_blob_server() is None  # S3 answers its presigned URLs; the bucket is not even asked
    assert not (tmp_path / "blobs").exists()


def test_the_files_and_the_database_go_where_the_settings_say(tmp_path: Path) -> None:
    c = container(Settings(data_dir=tmp_path / "data", workers=0, local_models=False,
                           database_url=f"sqlite:///{tmp_path / 'db' / 'repo.sqlite3'}",
                           storage_url=f"file://{tmp_path / 'files'}"))
    c.init_resources()
    try:
        alice = c.account_service().sign_up("alice", "correct horse")
        c.blob_store().put(f"{alice.id}/x/original", io.BytesIO(b"pixels"), "image/png")
        assert (tmp_path / "db" / "repo.sqlite3").exists()
        assert any(p.is_file() for p in (tmp_path / "files").rglob("*"))
        assert not (tmp_path / "data" / "imagerepo.sqlite3").exists()
    finally:
        c.shutdown_resources()
