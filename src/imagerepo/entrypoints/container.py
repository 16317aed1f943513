"""The composition root: the only module that reads the environment and picks adapters."""

from __future__ import annotations

import difflib
import functools
import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
from dependency_injector import containers, providers

from imagerepo.adapters.filestore import fsync_directory
from imagerepo.adapters.imaging import allow_pixels
from imagerepo.adapters.pillow_inspector import PillowImageInspector
from imagerepo.adapters.system import Argon2PasswordHasher, SystemClock
from imagerepo.adapters.worker import NullScheduler, ThreadAnalysisWorker, TimeoutImageAnalyzer
from imagerepo.domain.accounts_service import AccountService
from imagerepo.domain.analysis_service import AnalysisService
from imagerepo.domain.identity import OidcProviderConfig
from imagerepo.domain.images_service import ImageService
from imagerepo.entrypoints.client_address import LOOPBACK, Network, parse_trusted_proxies

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


# Every variable Settings.from_env reads (docs/operations.md lists the same); <NAME> is any
# provider name. IMAGEREPO_NEW_PASSWORD is read by `imagerepo create-user`.
SETTINGS_VARIABLES = (
    "IMAGEREPO_HOST", "IMAGEREPO_PORT", "IMAGEREPO_DATA_DIR", "IMAGEREPO_DATABASE_URL", "IMAGEREPO_STORAGE_URL",
    "IMAGEREPO_S3_ENDPOINT_URL", "IMAGEREPO_S3_SSE", "IMAGEREPO_S3_KMS_KEY_ID", "IMAGEREPO_S3_REGION",
    "IMAGEREPO_S3_ADDRESSING_STYLE", "IMAGEREPO_ANALYZER",
    "AZURE_CV_ENDPOINT", "AZURE_CV_KEY", "IMAGEREPO_AZURE_API", "IMAGEREPO_LOCAL_MODELS", "IMAGEREPO_WORKERS",
    "IMAGEREPO_ANALYSIS_TIMEOUT_SECONDS", "IMAGEREPO_ANALYSIS_LEASE_SECONDS", "IMAGEREPO_ANALYSIS_PROCESSES",
    "IMAGEREPO_UPLOAD_QUOTA",
    "IMAGEREPO_MAX_UPLOAD_BYTES", "IMAGEREPO_MAX_PIXELS", "IMAGEREPO_URL_TTL_SECONDS",
    "IMAGEREPO_SESSION_TTL_SECONDS", "IMAGEREPO_SECRET_KEY", "IMAGEREPO_TRUST_PROXY", "IMAGEREPO_TRUSTED_PROXIES",
    "IMAGEREPO_PUBLIC_URL", "IMAGEREPO_LOG_LEVEL", "IMAGEREPO_DEMO", "IMAGEREPO_OIDC_<NAME>_ISSUER",
    "IMAGEREPO_OIDC_<NAME>_CLIENT_ID", "IMAGEREPO_OIDC_<NAME>_CLIENT_SECRET", "IMAGEREPO_OIDC_<NAME>_SCOPES",
    "IMAGEREPO_OIDC_<NAME>_DISPLAY_NAME", "IMAGEREPO_NEW_PASSWORD",
)
_OIDC_PREFIX = "IMAGEREPO_OIDC_"
_OIDC_FIELDS = tuple(v[len(_OIDC_PREFIX + "<NAME>_") :] for v in SETTINGS_VARIABLES if "<NAME>" in v)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def unknown_variables(env: Mapping[str, str]) -> dict[str, str]:
    """IMAGEREPO_* names that are no setting (typos, most likely), each with the setting it most
    resembles ("" when none). The test suite's IMAGEREPO_TEST_* are not settings and not typos."""
    exact = {v for v in SETTINGS_VARIABLES if "<NAME>" not in v}
    found = {}
    for name in env:
        if not name.startswith("IMAGEREPO_") or name.startswith("IMAGEREPO_TEST_") or name in exact:
            continue
        if name.startswith(_OIDC_PREFIX) and any(
            name.endswith("_" + f) and len(name) > len(_OIDC_PREFIX + f) + 1 for f in _OIDC_FIELDS
        ):
            continue
        shaped = re.sub(r"^IMAGEREPO_OIDC_[A-Z0-9]+_", "IMAGEREPO_OIDC_<NAME>_", name)
        close = difflib.get_close_matches(shaped, SETTINGS_VARIABLES, n=1, cutoff=0.8)
        found[name] = close[0] if close else ""
    return found


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be at most {maximum}, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], *, upper: bool = False) -> str:
    """One of ``choices`` (the first is the default); ``upper``: any case is accepted."""
    raw = env.get(name, "").strip() or choices[0]
    raw = raw.upper() if upper else raw
    if raw not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {raw!r}")
    return raw


def _http_url(env: Mapping[str, str], name: str, *, base: bool = False) -> str:
    """An http(s) URL with a host ("" when unset); ``base``: no query or fragment either."""
    raw = env.get(name, "").strip()
    if not raw:
        return ""
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname or (base and (parts.query or parts.fragment)):
        shape = "https://host[:port][/path]" if base else "an http(s) URL such as https://host:port"
        raise ConfigError(f"{name} must be {shape}, got {raw!r}")
    return raw.rstrip("/") if base else raw


def _host(env: Mapping[str, str]) -> str:
    raw = env.get("IMAGEREPO_HOST", "").strip() or "127.0.0.1"
    if not re.fullmatch(r"[A-Za-z0-9._:%-]+", raw):
        raise ConfigError(f"IMAGEREPO_HOST must be an address or host name to listen on, got {raw!r}")
    return raw


def _data_dir(env: Mapping[str, str]) -> Path:
    path = Path(env.get("IMAGEREPO_DATA_DIR", "").strip() or "var")
    if path.exists() and not path.is_dir():
        raise ConfigError(f"IMAGEREPO_DATA_DIR must be a directory; {path} is a file")
    return path


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


MIN_KEY_BYTES = 32


def _strong_secret(instance: object, attribute: object, value: str) -> None:
    """attrs validator: an explicit secret key must carry at least MIN_KEY_BYTES bytes."""
    if value and len(value.encode()) < MIN_KEY_BYTES:
        raise ConfigError(
            f"IMAGEREPO_SECRET_KEY must be at least {MIN_KEY_BYTES} bytes of random data, got "
            f"{len(value.encode())} (make one: python3 -c 'import secrets; print(secrets.token_hex(32))')"
        )


def _trusted_proxies(env: Mapping[str, str]) -> tuple[Network, ...]:
    """IMAGEREPO_TRUSTED_PROXIES, plus loopback when the older IMAGEREPO_TRUST_PROXY is true."""
    try:
        listed = parse_trusted_proxies(env.get("IMAGEREPO_TRUSTED_PROXIES", ""))
    except ValueError as e:
        raise ConfigError(f"IMAGEREPO_TRUSTED_PROXIES: {e}") from None
    loopback = LOOPBACK if _bool(env, "IMAGEREPO_TRUST_PROXY", False) else ()
    return tuple(dict.fromkeys(listed + loopback))


def _oidc_providers(env: Mapping[str, str]) -> tuple[OidcProviderConfig, ...]:
    """IMAGEREPO_OIDC_<NAME>_ISSUER / _CLIENT_ID / _CLIENT_SECRET / _SCOPES / _DISPLAY_NAME."""
    issuers = {k[: -len("ISSUER")] for k in env if k.startswith(_OIDC_PREFIX) and k.endswith("_ISSUER")}
    for key in sorted(env):
        if key.startswith(_OIDC_PREFIX) and not key.endswith("_ISSUER") and not any(
            key.startswith(prefix) for prefix in issuers
        ):
            raise ConfigError(f"{key} belongs to no provider: set the provider's IMAGEREPO_OIDC_<NAME>_ISSUER too")
    found = []
    for key in sorted(env):
        if not (key.startswith(_OIDC_PREFIX) and key.endswith("_ISSUER")):
            continue
        prefix = key[: -len("ISSUER")]
        name = prefix[len("IMAGEREPO_OIDC_") : -1].lower()
        issuer = env[key].strip().rstrip("/")
        client_id = env.get(prefix + "CLIENT_ID", "").strip()
        if not name or not issuer.startswith(("https://", "http://")) or not client_id:
            raise ConfigError(f"{key} needs an http(s) issuer URL and {prefix}CLIENT_ID")
        scopes = env.get(prefix + "SCOPES", "").strip() or "openid profile email"
        if "openid" not in scopes.split():
            raise ConfigError(f"{prefix}SCOPES must include openid, got {scopes!r}")
        found.append(OidcProviderConfig(
            name=name, issuer=issuer, client_id=client_id,
            client_secret=env.get(prefix + "CLIENT_SECRET", "").strip(),
            scopes=scopes,
            display_name=env.get(prefix + "DISPLAY_NAME", "").strip(),
        ))
    return tuple(found)


_REGION = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")  # botocore's rule
S3_ADDRESSING_STYLES = ("auto", "path", "virtual")


def _region(value: str, source: str) -> str:
    if not _REGION.fullmatch(value):
        raise ConfigError(f"{source} must be a region name such as eu-west-1, got {value!r}")
    return value


def _s3_region(env: Mapping[str, str]) -> tuple[str, str]:
    """The configured S3 region and where it was set: IMAGEREPO_S3_REGION, AWS_REGION,
    AWS_DEFAULT_REGION, then the active profile (AWS_PROFILE, AWS_DEFAULT_PROFILE, else default)
    of the shared AWS config and credentials files, read as botocore reads them. ("", "") when
    none sets one: the bucket is asked at start."""
    for name in ("IMAGEREPO_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"):
        if value := env.get(name, "").strip():
            return _region(value, name), name
    from botocore.exceptions import BotoCoreError
    from botocore.session import Session

    session = Session()
    files = (
        env.get("AWS_CONFIG_FILE") or "~/.aws/config",
        env.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials",
    )
    session.set_config_variable("config_file", files[0])
    session.set_config_variable("credentials_file", files[1])
    chosen_by = next((n for n in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE") if env.get(n, "").strip()), "")
    profile = env[chosen_by].strip() if chosen_by else "default"
    try:
        profiles = session.full_config["profiles"]
    except BotoCoreError as e:
        raise ConfigError(f"cannot read the shared AWS config: {e}") from None
    if chosen_by and profile not in profiles:
        raise ConfigError(f"{chosen_by}={profile} names no profile of {files[0]} or {files[1]}")
    source = f"AWS profile {profile!r} of {files[0]} / {files[1]}"
    region = str(profiles.get(profile, {}).get("region", "")).strip()
    return (_region(region, source), source) if region else ("", "")


@attrs.frozen
class Settings:
    """Every setting, with the defaults of API.md's configuration contract."""

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("var")
    database_url: str = ""
    storage_url: str = ""
    analyzer: str = "local"
    upload_quota: int = 5
    max_upload_bytes: int = 52_428_800
    url_ttl_seconds: int = 1800
    secret_key: str = attrs.field(default="", repr=False, validator=_strong_secret)
    max_pixels: int = 100_000_000
    session_ttl_seconds: int = 7 * 24 * 3600
    workers: int = 2
    analysis_timeout_seconds: int = 120
    analysis_lease_seconds: int = 300
    # Child processes for local analysis: None = one per worker, 0 = in the worker's own process.
    analysis_processes: int | None = None
    local_models: bool = True
    s3_endpoint_url: str = ""
    s3_sse: str = "AES256"
    s3_kms_key_id: str = ""
    s3_region: str = ""  # "" = the bucket's own, asked at start
    s3_region_source: str = ""  # the variable or file that set s3_region, for messages
    s3_addressing_style: str = ""  # "" = virtual-hosted on AWS, path style on an endpoint
    azure_endpoint: str = ""
    azure_key: str = attrs.field(default="", repr=False)
    azure_api: str = "v3.2"
    # Reverse proxies whose X-Forwarded-For / -Proto are believed (see client_address.py).
    trusted_proxies: tuple[Network, ...] = ()
    log_level: str = "INFO"
    demo: bool = False
    public_url: str = ""
    oidc_providers: tuple[OidcProviderConfig, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = dict(os.environ if env is None else env)
        analyzer = _choice(e, "IMAGEREPO_ANALYZER", ("local", "azure"))
        s3_style = e.get("IMAGEREPO_S3_ADDRESSING_STYLE", "").strip().lower()
        if s3_style not in ("", *S3_ADDRESSING_STYLES):
            raise ConfigError(f"IMAGEREPO_S3_ADDRESSING_STYLE must be auto, path or virtual, got {s3_style!r}")
        uses_s3 = e.get("IMAGEREPO_STORAGE_URL", "").strip().startswith("s3://")
        s3_region, s3_region_source = _s3_region(e) if uses_s3 else ("", "")
        settings = cls(
            host=_host(e),
            port=_int(e, "IMAGEREPO_PORT", 8000, 1, 65535),
            data_dir=_data_dir(e),
            database_url=e.get("IMAGEREPO_DATABASE_URL", "").strip(),
            storage_url=e.get("IMAGEREPO_STORAGE_URL", "").strip(),
            analyzer=analyzer,
            upload_quota=_int(e, "IMAGEREPO_UPLOAD_QUOTA", 5, 0),
            max_upload_bytes=_int(e, "IMAGEREPO_MAX_UPLOAD_BYTES", 52_428_800, 1),
            url_ttl_seconds=_int(e, "IMAGEREPO_URL_TTL_SECONDS", 1800, 1),
            secret_key=e.get("IMAGEREPO_SECRET_KEY", ""),
            max_pixels=_int(e, "IMAGEREPO_MAX_PIXELS", 100_000_000, 1),
            session_ttl_seconds=_int(e, "IMAGEREPO_SESSION_TTL_SECONDS", 7 * 24 * 3600, 60),
            workers=_int(e, "IMAGEREPO_WORKERS", 2, 0),
            analysis_timeout_seconds=_int(e, "IMAGEREPO_ANALYSIS_TIMEOUT_SECONDS", 120, 1),
            analysis_lease_seconds=_int(e, "IMAGEREPO_ANALYSIS_LEASE_SECONDS", 300, 1),
            analysis_processes=(
                _int(e, "IMAGEREPO_ANALYSIS_PROCESSES", 0, 0) if e.get("IMAGEREPO_ANALYSIS_PROCESSES", "").strip()
                else None
            ),
            local_models=_bool(e, "IMAGEREPO_LOCAL_MODELS", True),
            s3_endpoint_url=_http_url(e, "IMAGEREPO_S3_ENDPOINT_URL"),
            s3_sse=_choice(e, "IMAGEREPO_S3_SSE", ("AES256", "aws:kms", "aws:kms:dsse")),
            s3_kms_key_id=e.get("IMAGEREPO_S3_KMS_KEY_ID", "").strip(),
            s3_region=s3_region,
            s3_region_source=s3_region_source,
            s3_addressing_style=s3_style,
            azure_endpoint=_http_url(e, "AZURE_CV_ENDPOINT"),
            azure_key=e.get("AZURE_CV_KEY", "").strip(),
            azure_api=_choice(e, "IMAGEREPO_AZURE_API", ("v3.2", "4.0")),
            trusted_proxies=_trusted_proxies(e),
            log_level=_choice(e, "IMAGEREPO_LOG_LEVEL", ("INFO", *LOG_LEVELS), upper=True),
            demo=_bool(e, "IMAGEREPO_DEMO", False),
            public_url=_http_url(e, "IMAGEREPO_PUBLIC_URL", base=True),
            oidc_providers=_oidc_providers(e),
        )
        database, storage = settings.database_url, settings.storage_url
        if database and not (database.startswith(("postgresql://", "postgres://"))
                             or (database.startswith("sqlite:///") and database[len("sqlite:///"):])):
            raise ConfigError("IMAGEREPO_DATABASE_URL must start with postgresql:// (or be sqlite:///PATH)")
        if storage and not storage.startswith(("s3://", "file://")):
            raise ConfigError("IMAGEREPO_STORAGE_URL must be s3://BUCKET (or file:///PATH)")
        if storage.startswith("s3://") and not storage[5:].strip("/"):
            raise ConfigError("IMAGEREPO_STORAGE_URL s3:// needs a bucket name, e.g. s3://my-images")
        if storage.startswith("file://") and not storage[len("file://"):]:
            raise ConfigError("IMAGEREPO_STORAGE_URL file:// needs a folder, e.g. file:///srv/images")
        if settings.s3_kms_key_id and not settings.s3_sse.startswith("aws:kms"):
            raise ConfigError("IMAGEREPO_S3_KMS_KEY_ID needs IMAGEREPO_S3_SSE=aws:kms (or aws:kms:dsse)")
        if analyzer == "azure" and not (settings.azure_endpoint and settings.azure_key):
            raise ConfigError("IMAGEREPO_ANALYZER=azure needs AZURE_CV_ENDPOINT and AZURE_CV_KEY")
        return settings

    @property
    def uses_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgres://"))

    @property
    def uses_s3(self) -> bool:
        return self.storage_url.startswith("s3://")


@attrs.frozen
class Keys:
    url_key: bytes = attrs.field(repr=False)
    blob_key: bytes = attrs.field(repr=False)


def _read_key(path: Path) -> bytes:
    try:
        value = bytes.fromhex(path.read_text().strip())
    except ValueError:
        value = b""
    if len(value) < MIN_KEY_BYTES:
        raise ConfigError(
            f"the key file {path} is damaged (it must hold at least {MIN_KEY_BYTES} bytes in hex): "
            "restore it from your backup"
        )
    return value


def _read_or_create(path: Path, nbytes: int) -> bytes:
    """A random key kept in a file of the data dir, created once with owner-only permissions.

    The key is written to a temporary file and then linked into place, which fails if the name
    exists: processes starting together on a fresh data dir all end up reading the one winner,
    and none can read a half-written file.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_bytes(nbytes).hex())
                f.flush()
                os.fsync(f.fileno())
            os.link(temporary, path)
            fsync_directory(path.parent)
        except FileExistsError:
            pass  # another process made it first: use that one
        finally:
            temporary.unlink()
    return _read_key(path)


def load_keys(settings: Settings) -> Keys:
    if settings.secret_key:
        secret = settings.secret_key.encode()
    else:
        secret = _read_or_create(settings.data_dir / "secret.key", 32)
    url_key = hmac.new(secret, b"imagerepo urls v1", hashlib.sha256).digest()
    blob_key = b"" if settings.uses_s3 else _read_or_create(settings.data_dir / "blob.key", 32)
    return Keys(url_key=url_key, blob_key=blob_key)


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
    image_service = providers.Singleton(
        lambda images, blobs, inspector, scheduler, clock, s: ImageService(
            images, blobs, inspector, scheduler, clock,
            default_quota=s.upload_quota, url_ttl=timedelta(seconds=s.url_ttl_seconds), analyzer_name=s.analyzer,
        ),
        image_repository,
        blob_store,
        inspector,
        scheduler,
        clock,
        settings,
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
        "blob_store": memory.InMemoryBlobStore(),
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
    return c
