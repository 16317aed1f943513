"""Settings: every environment variable the program reads, validated at start, and the keys."""

from __future__ import annotations

import difflib
import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import attrs

from imagerepo.adapters.filestore import fsync_directory
from imagerepo.domain.identity import OidcProviderConfig
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
    "IMAGEREPO_ANALYZE_THUMBNAIL",
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


def unknown_variables(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """IMAGEREPO_* names that are no setting (typos, most likely), each with the setting it most
    resembles ("" when none). The test suite's IMAGEREPO_TEST_* are not settings and not typos."""
    env = os.environ if env is None else env
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
        raise ConfigError(f"{name} must be one of {', '.join(dict.fromkeys(choices))}; got {raw!r}")
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


def _local_models(env: Mapping[str, str]) -> tuple[bool, str]:
    """IMAGEREPO_LOCAL_MODELS: true/all (every installed model), light (small machines), false (colors only)."""
    raw = env.get("IMAGEREPO_LOCAL_MODELS", "").strip().lower()
    if raw in ("all", "light"):
        return True, raw
    try:
        return _bool(env, "IMAGEREPO_LOCAL_MODELS", True), "all"
    except ConfigError:
        raise ConfigError(f"IMAGEREPO_LOCAL_MODELS must be all (or true), light or false, got {raw!r}") from None


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
    analyze_thumbnail: bool = False
    # Child processes for local analysis: None = one per worker, 0 = in the worker's own process.
    analysis_processes: int | None = None
    local_models: bool = True
    # Which models: "all", or "light" for small machines (no text reading, NSFW or person detector).
    local_profile: str = "all"
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
            analyze_thumbnail=_bool(e, "IMAGEREPO_ANALYZE_THUMBNAIL", False),
            analysis_processes=(
                _int(e, "IMAGEREPO_ANALYSIS_PROCESSES", 0, 0) if e.get("IMAGEREPO_ANALYSIS_PROCESSES", "").strip()
                else None
            ),
            local_models=_local_models(e)[0],
            local_profile=_local_models(e)[1],
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

    @property
    def database_kind(self) -> str:
        """Which database the container builds: "postgres" or "sqlite"."""
        return "postgres" if self.uses_postgres else "sqlite"

    @property
    def storage_kind(self) -> str:
        """Which blob storage the container builds: "s3" or "files"."""
        return "s3" if self.uses_s3 else "files"


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
