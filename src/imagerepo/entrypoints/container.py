"""The composition root: builds the adapters and services that the settings choose."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from dependency_injector import containers, providers

from imagerepo.adapters.imaging import allow_pixels
from imagerepo.adapters.pillow_inspector import PillowImageInspector
from imagerepo.adapters.system import Argon2PasswordHasher, SystemClock
from imagerepo.adapters.worker import NullScheduler, ThreadAnalysisWorker, TimeoutImageAnalyzer
from imagerepo.domain.accounts_service import AccountService
from imagerepo.domain.analysis_service import AnalysisService
from imagerepo.domain.identity_service import ExternalSignInService
from imagerepo.domain.images_service import ImageService
from imagerepo.domain.tokens_service import TokenService
from imagerepo.entrypoints.settings import ConfigError, Keys, Settings, load_keys

log = logging.getLogger(__name__)


def open_database(settings: Settings) -> Iterator[Any]:
    """Resource: the database handle, opened (and migrated) at start, closed at shutdown."""
    if settings.uses_postgres:
        from imagerepo.adapters.postgres import PostgresDatabase

        db: Any = PostgresDatabase(settings.database_url)
    else:
        from imagerepo.adapters.sqlite import SqliteDatabase

        if settings.database_url.startswith("sqlite:///"):
            path = Path(settings.database_url[len("sqlite:///") :])
        else:
            path = settings.data_dir / "imagerepo.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        db = SqliteDatabase(path)
    db.open()  # both databases apply pending migrations when they open
    try:
        yield db
    finally:
        db.close()


def _repository(kind: str, db: Any, settings: Settings) -> Any:
    """The repository class of the configured database, e.g. PostgresImageRepository."""
    if settings.uses_postgres:
        from imagerepo.adapters import postgres as module
    else:
        from imagerepo.adapters import sqlite as module  # type: ignore[no-redef]
    prefix = "Postgres" if settings.uses_postgres else "Sqlite"
    return getattr(module, f"{prefix}{kind}Repository")(db)


def open_http_client(settings: Settings) -> Iterator[Any]:
    import httpx

    client = httpx.Client(timeout=httpx.Timeout(settings.analysis_timeout_seconds, connect=10.0))
    try:
        yield client
    finally:
        client.close()


def _s3_blob_store(settings: Settings) -> Any:
    """The S3 store, signing for the bucket's region: the configured one, which must be the one
    the bucket names (else a ConfigError), or with none configured the bucket's own."""
    from imagerepo.adapters.s3 import S3BlobStore, make_s3_client

    bucket = settings.storage_url[len("s3://") :].strip("/")
    endpoint = settings.s3_endpoint_url or None

    def store(region: str) -> S3BlobStore:
        client = make_s3_client(endpoint, region, addressing_style=settings.s3_addressing_style or None)
        return S3BlobStore(client, bucket, sse=settings.s3_sse, kms_key_id=settings.s3_kms_key_id or None)

    configured, source = settings.s3_region, settings.s3_region_source
    probe = store(configured or "us-east-1")
    named = probe.bucket_region(on_aws=endpoint is None)
    if configured and named and named != configured:
        raise ConfigError(
            f"S3 bucket {bucket!r} is in region {named}, but {source} sets {configured}: set "
            f"IMAGEREPO_S3_REGION={named}" + ("" if source == "IMAGEREPO_S3_REGION" else f" or correct {source}")
        )
    region = configured or named or "us-east-1"
    blobs = probe if region == (configured or "us-east-1") else store(region)
    blobs.verify_bucket()
    how = (f"set by {source}" if configured else "named by the bucket" if named else "the default") + (
        ", confirmed by the bucket" if configured and named else ""
    )
    log.info("S3 bucket %r: region %s (%s); requests and URLs are signed for it", bucket, region, how)
    return blobs


def make_blob_store(settings: Settings, keys: Keys, clock: Any) -> Any:
    if settings.uses_s3:
        return _s3_blob_store(settings)
    from imagerepo.adapters.filestore import EncryptedFileBlobStore

    root = (
        Path(settings.storage_url[len("file://") :])
        if settings.storage_url.startswith("file://")
        else settings.data_dir / "blobs"
    )
    root.mkdir(parents=True, exist_ok=True)
    return EncryptedFileBlobStore(root, keys.blob_key, keys.url_key, clock, base_url="/blobs")


def open_analyzer(settings: Settings, http_client: Any) -> Iterator[Any]:
    """Resource: the analyzer. Local analysis runs in child processes that a stage past the
    timeout is killed with; Azure's calls are I/O with their own timeouts and stay in-process."""
    timeout = settings.analysis_timeout_seconds
    allow_pixels(settings.max_pixels)  # a worker process decodes what serve accepted
    if settings.analyzer == "azure":
        from imagerepo.adapters.azure import AzureVisionAnalyzer

        yield AzureVisionAnalyzer(http_client, settings.azure_endpoint, settings.azure_key, api=settings.azure_api)
        return
    from imagerepo.adapters.local import LocalImageAnalyzer

    factory = functools.partial(
        LocalImageAnalyzer, models=settings.local_models, timeout_seconds=timeout, max_pixels=settings.max_pixels
    )
    processes = max(1, settings.workers) if settings.analysis_processes is None else settings.analysis_processes
    if processes == 0:  # for debugging: a stage past the timeout is abandoned in its thread
        yield TimeoutImageAnalyzer(factory(), timeout)
        return
    from imagerepo.adapters.process_analyzer import ProcessImageAnalyzer

    analyzer = ProcessImageAnalyzer(factory, name=LocalImageAnalyzer.name, processes=processes, timeout_seconds=timeout)
    try:
        yield analyzer
    finally:
        analyzer.close()


def make_identity_links(db: Any, settings: Settings) -> Any:
    if settings.uses_postgres:
        from imagerepo.adapters.postgres import PostgresIdentityLinkRepository

        return PostgresIdentityLinkRepository(db)
    from imagerepo.adapters.sqlite import SqliteDatabase

    if isinstance(db, SqliteDatabase):
        from imagerepo.adapters.sqlite import SqliteIdentityLinkRepository

        return SqliteIdentityLinkRepository(db)
    from imagerepo.adapters.memory_identity import InMemoryIdentityLinkRepository

    return InMemoryIdentityLinkRepository()  # memory_container's stand-in database


def make_throttle(db: Any, clock: Any, settings: Settings) -> Any:
    """The sign-in throttle keeps its counters in the database, so every process shares them."""
    if settings.uses_postgres:
        from imagerepo.adapters.postgres import PostgresLoginThrottle

        return PostgresLoginThrottle(db, clock)
    from imagerepo.adapters.sqlite import SqliteLoginThrottle

    return SqliteLoginThrottle(db, clock)


def make_scheduler(settings: Settings, worker: ThreadAnalysisWorker) -> Any:
    return worker if settings.workers > 0 else NullScheduler()


class Container(containers.DeclarativeContainer):
    settings = providers.Singleton(Settings.from_env)
    clock = providers.Singleton(SystemClock)
    keys = providers.Singleton(load_keys, settings)

    database = providers.Resource(open_database, settings)
    http_client = providers.Resource(open_http_client, settings)

    account_repository = providers.Singleton(_repository, "Account", database, settings)
    session_repository = providers.Singleton(_repository, "Session", database, settings)
    image_repository = providers.Singleton(_repository, "Image", database, settings)
    identity_links = providers.Singleton(make_identity_links, database, settings)
    blob_store = providers.Singleton(make_blob_store, settings, keys, clock)
    inspector = providers.Singleton(
        lambda s: PillowImageInspector(max_pixels=s.max_pixels), settings
    )
    analyzer = providers.Resource(open_analyzer, settings, http_client)
    hasher = providers.Singleton(Argon2PasswordHasher)
    throttle = providers.Singleton(make_throttle, database, clock, settings)

    # The lease is how long a claimed job stays hidden from other workers: a worker that dies
    # mid-job gives its analysis back to the queue once the lease runs out.
    analysis_service = providers.Singleton(
        lambda images, blobs, analyzer, clock, s: AnalysisService(
            images, blobs, analyzer, clock, lease=timedelta(seconds=s.analysis_lease_seconds)
        ),
        image_repository,
        blob_store,
        analyzer,
        clock,
        settings,
    )
    worker = providers.Singleton(
        lambda service, s: ThreadAnalysisWorker(service, concurrency=max(1, s.workers)),
        analysis_service,
        settings,
    )
    scheduler = providers.Singleton(make_scheduler, settings, worker)

    account_service = providers.Singleton(
        lambda accounts, sessions, hasher, clock, throttle, s: AccountService(
            accounts, sessions, hasher, clock, throttle, session_ttl=timedelta(seconds=s.session_ttl_seconds)
        ),
        account_repository,
        session_repository,
        hasher,
        clock,
        throttle,
        settings,
    )
    signed_blob_server = providers.Singleton(lambda store: store if hasattr(store, "resolve") else None, blob_store)
    image_service = providers.Singleton(
        lambda images, blobs, inspector, scheduler, clock, s, signed: ImageService(
            images, blobs, inspector, scheduler, clock,
            default_quota=s.upload_quota, url_ttl=timedelta(seconds=s.url_ttl_seconds), analyzer_name=s.analyzer,
            signed_blobs=signed,
        ),
        image_repository,
        blob_store,
        inspector,
        scheduler,
        clock,
        settings,
        signed_blob_server,
    )
    token_service = providers.Singleton(TokenService, session_repository, clock)
    external_sign_in = providers.Singleton(
        ExternalSignInService, account_repository, identity_links, hasher, clock, account_service
    )


def memory_container(settings: Settings | None = None, **overrides: Any) -> Container:
    """A container wired to the in-memory fakes (tests, demos); ``overrides`` replace providers."""
    from imagerepo.adapters import memory

    c = Container()
    s = settings or Settings(workers=0)
    c.settings.override(providers.Object(s))
    defaults: dict[str, Any] = {
        "database": object(),
        "http_client": object(),
        "account_repository": memory.InMemoryAccountRepository(),
        "session_repository": memory.InMemorySessionRepository(),
        "image_repository": memory.InMemoryImageRepository(),
        "inspector": PillowImageInspector(max_pixels=s.max_pixels),
        "analyzer": memory.FakeImageAnalyzer(),
        "hasher": memory.FastPasswordHasher(),
        "keys": Keys(url_key=b"k" * 32, blob_key=b"b" * 32),
    }
    defaults.update(overrides)
    for name, value in defaults.items():
        getattr(c, name).override(providers.Object(value))
    if "throttle" not in overrides:  # follows an overridden clock
        c.throttle.override(providers.Singleton(memory.InMemoryLoginThrottle, c.clock))
    if "blob_store" not in overrides:  # its URLs expire by the same clock
        c.blob_store.override(providers.Singleton(memory.InMemoryBlobStore, clock=c.clock))
    return c
