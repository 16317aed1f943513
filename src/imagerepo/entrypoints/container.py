"""The composition root: builds the adapters and services that the settings choose.

Adapters come in containers, one per technology, chosen with ``providers.Selector`` on the
settings: the SQL adapters (on SQLite or PostgreSQL, whichever database the settings name) and
the blob storage (encrypted files or S3). Each factory returns its port's type, so ``mypy
--strict`` checks that every adapter fits its port. Services see only the chosen adapters; tests
swap a whole adapters container for the in-memory fakes (tests/wiring.py).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from dependency_injector import containers, providers

from imagerepo.adapters.gazetteer import OfflineGazetteer
from imagerepo.adapters.imaging import allow_pixels
from imagerepo.adapters.pillow_inspector import PillowImageInspector
from imagerepo.adapters.similarity_index import NumpySimilarityIndex
from imagerepo.adapters.sql.dialect import Database
from imagerepo.adapters.sql.fingerprints import SqlFingerprintRepository
from imagerepo.adapters.sql.identity_links import SqlIdentityLinkRepository
from imagerepo.adapters.sql.login_throttle import SqlLoginThrottle
from imagerepo.adapters.sql.repositories import SqlAccountRepository, SqlImageRepository, SqlSessionRepository
from imagerepo.adapters.system import Argon2PasswordHasher, SystemClock, ThreadsTogether
from imagerepo.adapters.worker import NullScheduler, ThreadAnalysisWorker, TimeoutImageAnalyzer
from imagerepo.domain.accounts import Account
from imagerepo.domain.accounts_service import AccountService
from imagerepo.domain.analysis_service import AnalysisService
from imagerepo.domain.closing_service import AccountClosingService
from imagerepo.domain.identity_service import ExternalSignInService
from imagerepo.domain.images_service import ImageService
from imagerepo.domain.people_service import FacesAlongside, PeopleService
from imagerepo.domain.similarity_service import SimilarityService
from imagerepo.domain.tokens_service import TokenService
from imagerepo.entrypoints.settings import ConfigError, Keys, Settings, load_keys
from imagerepo.ports.account_repository import AccountRepository
from imagerepo.ports.analysis_queue import AnalysisQueue
from imagerepo.ports.analysis_scheduler import AnalysisScheduler
from imagerepo.ports.blob_store import BlobStore
from imagerepo.ports.clock import Clock
from imagerepo.ports.face_analyzer import FaceAnalyzer
from imagerepo.ports.fingerprint_repository import FingerprintRepository
from imagerepo.ports.gazetteer import Gazetteer
from imagerepo.ports.identity_link_repository import IdentityLinkRepository
from imagerepo.ports.image_analyzer import ImageAnalyzer
from imagerepo.ports.image_inspector import ImageInspector
from imagerepo.ports.image_repository import ImageRepository
from imagerepo.ports.login_throttle import LoginThrottle
from imagerepo.ports.password_hasher import PasswordHasher
from imagerepo.ports.people_repository import PeopleRepository
from imagerepo.ports.session_repository import SessionRepository
from imagerepo.ports.signed_blob_server import SignedBlobServer
from imagerepo.ports.similarity_index import SimilarityIndex

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------ database


class OpenableDatabase(Database, Protocol):
    def open(self) -> None:
        """Connect and apply pending migrations."""
        ...

    def close(self) -> None: ...


def sqlite_database(settings: Settings) -> OpenableDatabase:
    from imagerepo.adapters.sqlite import SqliteDatabase

    if settings.database_url.startswith("sqlite:///"):
        path = Path(settings.database_url[len("sqlite:///") :])
    else:
        path = settings.data_dir / "imagerepo.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteDatabase(path)


def postgres_database(settings: Settings) -> OpenableDatabase:
    from imagerepo.adapters.postgres import PostgresDatabase  # psycopg is imported only when chosen

    return PostgresDatabase(settings.database_url)


def opened(db: OpenableDatabase) -> Iterator[Database]:
    """Resource: the database, opened (and migrated) at start, closed at shutdown."""
    db.open()
    try:
        yield db
    finally:
        db.close()


def sql_accounts(db: Database) -> AccountRepository:
    return SqlAccountRepository(db)


def sql_sessions(db: Database) -> SessionRepository:
    return SqlSessionRepository(db)


def sql_images(db: Database) -> ImageRepository:
    return SqlImageRepository(db)


def sql_identity_links(db: Database) -> IdentityLinkRepository:
    return SqlIdentityLinkRepository(db)


def sql_fingerprints(db: Database) -> FingerprintRepository:
    return SqlFingerprintRepository(db)


def sql_people(db: Database) -> PeopleRepository:
    from imagerepo.adapters.sql.people import SqlPeopleRepository

    return SqlPeopleRepository(db)


def sql_throttle(db: Database, clock: Clock) -> LoginThrottle:
    """The sign-in throttle keeps its counters in the database, so every process shares them."""
    return SqlLoginThrottle(db, clock)


class SqlAdapters(containers.DeclarativeContainer):
    """The repositories on SQLite (the embedded default) or PostgreSQL: one SQL for both, over the
    database the settings name. Only the chosen database is built, opened and closed."""

    settings = providers.Dependency(instance_of=Settings)
    clock: providers.Provider[Clock] = providers.Dependency()

    database: providers.Provider[Database] = providers.Resource(
        opened,
        providers.Selector(
            settings.provided.database_kind,
            sqlite=providers.Factory(sqlite_database, settings),
            postgres=providers.Factory(postgres_database, settings),
        ),
    )
    account_repository: providers.Provider[AccountRepository] = providers.Singleton(sql_accounts, database)
    session_repository: providers.Provider[SessionRepository] = providers.Singleton(sql_sessions, database)
    image_repository: providers.Provider[ImageRepository] = providers.Singleton(sql_images, database)
    identity_links: providers.Provider[IdentityLinkRepository] = providers.Singleton(sql_identity_links, database)
    throttle: providers.Provider[LoginThrottle] = providers.Singleton(sql_throttle, database, clock)
    fingerprint_repository: providers.Provider[FingerprintRepository] = providers.Singleton(
        sql_fingerprints, database
    )
    people_repository: providers.Provider[PeopleRepository] = providers.Singleton(sql_people, database)


# ------------------------------------------------------------------------------------ blob storage


class SelfServedStore(NamedTuple):
    """A store whose URLs point at this app: one object behind both ports."""

    blobs: BlobStore
    server: SignedBlobServer


def encrypted_files(settings: Settings, keys: Keys, clock: Clock) -> SelfServedStore:
    from imagerepo.adapters.filestore import EncryptedFileBlobStore

    root = (
        Path(settings.storage_url[len("file://") :])
        if settings.storage_url.startswith("file://")
        else settings.data_dir / "blobs"
    )
    root.mkdir(parents=True, exist_ok=True)
    store = EncryptedFileBlobStore(root, keys.blob_key, keys.url_key, clock, base_url="/blobs")
    return SelfServedStore(store, store)


def s3_blob_store(settings: Settings) -> BlobStore:
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


class FileStorage(containers.DeclarativeContainer):
    """Encrypted files in the data dir; the app serves their signed URLs itself (/blobs)."""

    settings = providers.Dependency(instance_of=Settings)
    keys = providers.Dependency(instance_of=Keys)
    clock: providers.Provider[Clock] = providers.Dependency()

    files = providers.Singleton(encrypted_files, settings, keys, clock)
    blob_store: providers.Provider[BlobStore] = files.provided.blobs
    signed_blob_server: providers.Provider[SignedBlobServer | None] = files.provided.server


class S3Storage(containers.DeclarativeContainer):
    """A private S3 bucket; S3 answers its presigned URLs, so the app serves none."""

    settings = providers.Dependency(instance_of=Settings)

    blob_store: providers.Provider[BlobStore] = providers.Singleton(s3_blob_store, settings)
    signed_blob_server: providers.Provider[SignedBlobServer | None] = providers.Object(None)


# ------------------------------------------------------------------------------------ the rest


def open_http_client(settings: Settings) -> Iterator[Any]:
    import httpx

    client = httpx.Client(timeout=httpx.Timeout(settings.analysis_timeout_seconds, connect=10.0))
    try:
        yield client
    finally:
        client.close()


def open_analyzer(settings: Settings, http_client: Any) -> Iterator[ImageAnalyzer]:
    """Resource: the analyzer. Local analysis runs in child processes that a stage past the
    timeout is killed with; Azure's calls are I/O with their own timeouts and stay in-process."""
    timeout = settings.analysis_timeout_seconds
    allow_pixels(settings.max_pixels)  # a worker process decodes what serve accepted
    if settings.analyzer == "azure":
        from imagerepo.adapters.azure import AzureVisionAnalyzer
        from imagerepo.adapters.fingerprinting import FingerprintingAnalyzer

        azure = AzureVisionAnalyzer(http_client, settings.azure_endpoint, settings.azure_key, api=settings.azure_api)
        yield FingerprintingAnalyzer(azure)  # the perceptual hash, made here: duplicates need no model
        return
    from imagerepo.adapters.local import LocalImageAnalyzer

    factory = functools.partial(
        LocalImageAnalyzer,
        models=settings.local_models,
        timeout_seconds=timeout,
        max_pixels=settings.max_pixels,
        profile=settings.local_profile,
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


def system_clock() -> Clock:
    return SystemClock()


def argon2_hasher() -> PasswordHasher:
    return Argon2PasswordHasher()


def pillow_inspector(settings: Settings) -> ImageInspector:
    return PillowImageInspector(max_pixels=settings.max_pixels)


def make_analysis_service(
    queue: AnalysisQueue, blobs: BlobStore, analyzer: ImageAnalyzer, clock: Clock, settings: Settings,
    fingerprints: FingerprintRepository, people: PeopleService,
) -> AnalysisService:
    # The lease is how long a claimed job stays hidden from other workers: a worker that dies
    # mid-job gives its analysis back to the queue once the lease runs out.
    # Faces are found in their own child process while the analysis child runs, so a photo's
    # analysis with faces takes about the longer of the two, not their sum.
    return AnalysisService(
        queue, blobs, analyzer, clock, lease=timedelta(seconds=settings.analysis_lease_seconds),
        fingerprints=fingerprints, alongside=FacesAlongside(people),
        run_together=ThreadsTogether(threads=max(2, settings.workers)),
        use_thumbnail=settings.analyze_thumbnail,
    )


def open_face_analyzer(settings: Settings) -> Iterator[FaceAnalyzer]:
    """Resource: YuNet + dlib, offline, in child processes like the local analysis (a crash or a
    hang costs one child); the models load in a child on the first opted-in image."""
    processes = max(1, settings.workers) if settings.analysis_processes is None else settings.analysis_processes
    if processes == 0:
        from imagerepo.adapters.local.faces import LocalFaceAnalyzer

        yield LocalFaceAnalyzer(settings.max_pixels)
        return
    from imagerepo.adapters.local.face_process import ProcessFaceAnalyzer

    analyzer = ProcessFaceAnalyzer(processes=processes, timeout_seconds=settings.analysis_timeout_seconds,
                                   max_pixels=settings.max_pixels)
    try:
        yield analyzer
    finally:
        analyzer.close()


def make_thread_worker(service: AnalysisService, settings: Settings) -> ThreadAnalysisWorker:
    return ThreadAnalysisWorker(service, concurrency=max(1, settings.workers))


def make_scheduler(settings: Settings, worker: providers.Provider[ThreadAnalysisWorker]) -> AnalysisScheduler:
    """In-process workers are woken at once; with none, `imagerepo worker` processes poll."""
    return worker() if settings.workers > 0 else NullScheduler()


def make_account_service(
    accounts: AccountRepository, sessions: SessionRepository, hasher: PasswordHasher, clock: Clock,
    throttle: LoginThrottle, settings: Settings,
) -> AccountService:
    return AccountService(
        accounts, sessions, hasher, clock, throttle, session_ttl=timedelta(seconds=settings.session_ttl_seconds)
    )


def make_image_service(
    images: ImageRepository, blobs: BlobStore, inspector: ImageInspector, scheduler: AnalysisScheduler,
    clock: Clock, settings: Settings, signed_blobs: SignedBlobServer | None, gazetteer: Gazetteer,
    fingerprints: FingerprintRepository,
    people: PeopleService,
) -> ImageService:
    return ImageService(
        images, blobs, inspector, scheduler, clock, default_quota=settings.upload_quota,
        url_ttl=timedelta(seconds=settings.url_ttl_seconds), analyzer_name=settings.analyzer,
        signed_blobs=signed_blobs, gazetteer=gazetteer, run_together=ThreadsTogether(),
        fingerprints=fingerprints, forget_faces=people.forget_image,
    )


def make_people_service(
    people: PeopleRepository, accounts: AccountRepository, blobs: BlobStore, faces: FaceAnalyzer, clock: Clock,
    settings: Settings,
) -> PeopleService:
    # Face crops are biometric: their links last no longer than any other temporary URL.
    return PeopleService(people, accounts, blobs, faces, clock, url_ttl=timedelta(seconds=settings.url_ttl_seconds))


def import_journal_remover(settings: Settings) -> Callable[[Account], None]:
    """Closing an account removes its bulk-import journal (file paths and hashes of its photos)."""
    from imagerepo.entrypoints.bulk_import import journal_path

    def remove(account: Account) -> None:
        journal_path(settings.data_dir, account).unlink(missing_ok=True)

    return remove


def numpy_similarity_index(fingerprints: FingerprintRepository) -> SimilarityIndex:
    return NumpySimilarityIndex(fingerprints)


def offline_gazetteer() -> Gazetteer:
    return OfflineGazetteer()  # reads its data on the first lookup, not here


class Container(containers.DeclarativeContainer):
    settings = providers.Singleton(Settings.from_env)
    clock: providers.Provider[Clock] = providers.Singleton(system_clock)
    keys = providers.Singleton(load_keys, settings)
    http_client = providers.Resource(open_http_client, settings)

    # The adapter containers; tests override ``sql`` and ``storage`` with the fakes' (tests/wiring.py).
    sql = providers.Container(SqlAdapters, settings=settings, clock=clock)
    storage = providers.Selector(
        settings.provided.storage_kind,
        files=providers.Container(FileStorage, settings=settings, keys=keys, clock=clock),
        s3=providers.Container(S3Storage, settings=settings),
    )

    database = sql.database
    account_repository = sql.account_repository
    session_repository = sql.session_repository
    image_repository = sql.image_repository
    identity_links = sql.identity_links
    throttle = sql.throttle
    fingerprint_repository = sql.fingerprint_repository
    people_repository = sql.people_repository
    blob_store: providers.Provider[BlobStore] = storage.provided.blob_store.call()
    signed_blob_server: providers.Provider[SignedBlobServer | None] = storage.provided.signed_blob_server.call()
    inspector: providers.Provider[ImageInspector] = providers.Singleton(pillow_inspector, settings)
    analyzer: providers.Provider[ImageAnalyzer] = providers.Resource(open_analyzer, settings, http_client)
    hasher: providers.Provider[PasswordHasher] = providers.Singleton(argon2_hasher)
    gazetteer: providers.Provider[Gazetteer] = providers.Singleton(offline_gazetteer)
    similarity_index: providers.Provider[SimilarityIndex] = providers.Singleton(
        numpy_similarity_index, fingerprint_repository
    )
    face_analyzer: providers.Provider[FaceAnalyzer] = providers.Resource(open_face_analyzer, settings)
    people_service = providers.Singleton(
        make_people_service, people_repository, account_repository, blob_store, face_analyzer, clock, settings
    )

    # The image repository is also the AnalysisQueue: both ports share one store.
    analysis_service = providers.Singleton(
        make_analysis_service, image_repository, blob_store, analyzer, clock, settings, fingerprint_repository,
        people_service,
    )
    worker = providers.Singleton(make_thread_worker, analysis_service, settings)
    scheduler: providers.Provider[AnalysisScheduler] = providers.Singleton(make_scheduler, settings, worker.provider)

    account_service = providers.Singleton(
        make_account_service, account_repository, session_repository, hasher, clock, throttle, settings
    )
    image_service = providers.Singleton(
        make_image_service, image_repository, blob_store, inspector, scheduler, clock, settings, signed_blob_server,
        gazetteer, fingerprint_repository, people_service,
    )
    similarity_service = providers.Singleton(
        SimilarityService, image_repository, fingerprint_repository, similarity_index
    )
    token_service = providers.Singleton(TokenService, session_repository, clock)
    closing_service = providers.Singleton(
        AccountClosingService, account_repository, session_repository, identity_links, image_service, people_service,
        providers.Callable(import_journal_remover, settings),
    )
    external_sign_in = providers.Singleton(
        ExternalSignInService, account_repository, identity_links, hasher, clock, account_service
    )
