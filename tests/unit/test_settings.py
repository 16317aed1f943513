"""Settings and keys: every malformed value stops the start with a message naming it."""

from __future__ import annotations

import re
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from imagerepo.entrypoints.cli import cli
from imagerepo.entrypoints.settings import SETTINGS_VARIABLES, ConfigError, Keys, Settings, load_keys, unknown_variables
from tests.fixtures_services import _free_ports
from tests.serve_process import IMAGEREPO, clean_env

STRONG = "k" * 32


# --------------------------------------------------------------------------------------- keys


def test_a_secret_key_needs_32_bytes() -> None:
    with pytest.raises(ConfigError, match="IMAGEREPO_SECRET_KEY"):
        Settings.from_env({"IMAGEREPO_SECRET_KEY": "x"})
    with pytest.raises(ConfigError, match="IMAGEREPO_SECRET_KEY"):
        Settings.from_env({"IMAGEREPO_SECRET_KEY": STRONG[:-1]})
    assert Settings.from_env({"IMAGEREPO_SECRET_KEY": STRONG}).secret_key == STRONG


@pytest.mark.parametrize("content", ["", "\n", "abcd", "not hex at all", "00" * 31])
@pytest.mark.parametrize("name", ["secret.key", "blob.key"])
def test_a_weak_or_damaged_key_file_stops_the_start(tmp_path: Path, name: str, content: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(ConfigError, match=name):
        load_keys(Settings(data_dir=tmp_path))


def test_key_files_are_made_once_and_kept(tmp_path: Path) -> None:
    first = load_keys(Settings(data_dir=tmp_path))
    assert len(first.url_key) == 32
    assert len(first.blob_key) == 32
    assert load_keys(Settings(data_dir=tmp_path)) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blob.key", "secret.key"]  # no temporary left
    for name in ("secret.key", "blob.key"):
        assert (tmp_path / name).stat().st_mode & 0o077 == 0


def test_processes_starting_together_on_a_fresh_data_dir_agree_on_one_key(tmp_path: Path) -> None:
    starters = 8
    for attempt in range(20):
        data_dir = tmp_path / str(attempt)
        barrier = threading.Barrier(starters)

        def start(_: int, data_dir: Path = data_dir, barrier: threading.Barrier = barrier) -> Keys:
            barrier.wait()
            return load_keys(Settings(data_dir=data_dir))

        with ThreadPoolExecutor(starters) as pool:
            keys = list(pool.map(start, range(starters)))
        assert len(set(keys)) == 1, f"attempt {attempt}: {len(set(keys))} different keys"


# ------------------------------------------------------------------------------ every variable

# (variable, a malformed value, a good value, other settings it needs to be read at all)
BAD_VALUES: list[tuple[str, str, str, dict[str, str]]] = [
    ("IMAGEREPO_HOST", "local host", "0.0.0.0", {}),
    ("IMAGEREPO_PORT", "http", "8080", {}),
    ("IMAGEREPO_PORT", "70000", "65535", {}),
    ("IMAGEREPO_DATA_DIR", "{a_file}", "{a_dir}", {}),
    ("IMAGEREPO_DATABASE_URL", "mysql://db/images", "postgresql://app@db/images", {}),
    ("IMAGEREPO_DATABASE_URL", "sqlite:///", "sqlite:///{a_dir}/db.sqlite3", {}),
    ("IMAGEREPO_STORAGE_URL", "gs://bucket", "s3://bucket", {}),
    ("IMAGEREPO_STORAGE_URL", "s3://", "s3://bucket", {}),
    ("IMAGEREPO_STORAGE_URL", "file://", "file:///{a_dir}", {}),
    ("IMAGEREPO_S3_ENDPOINT_URL", "localhost:9000", "http://localhost:9000", {}),
    ("IMAGEREPO_S3_SSE", "AES-256", "aws:kms", {}),
    ("IMAGEREPO_S3_KMS_KEY_ID", "alias/images", "", {"IMAGEREPO_S3_SSE": "AES256"}),
    ("IMAGEREPO_S3_REGION", "Europe (Ireland)", "eu-west-1", {"IMAGEREPO_STORAGE_URL": "s3://bucket"}),
    ("IMAGEREPO_S3_ADDRESSING_STYLE", "subdomain", "path", {}),
    ("IMAGEREPO_ANALYZER", "cloud", "local", {}),
    ("IMAGEREPO_AZURE_API", "v4", "4.0", {}),
    ("AZURE_CV_ENDPOINT", "westeurope", "https://x.cognitiveservices.azure.com", {}),
    ("IMAGEREPO_ANALYZER", "azure", "local", {"AZURE_CV_ENDPOINT": "https://x.cognitiveservices.azure.com"}),
    ("IMAGEREPO_LOCAL_MODELS", "maybe", "false", {}),
    ("IMAGEREPO_WORKERS", "two", "0", {}),
    ("IMAGEREPO_ANALYSIS_TIMEOUT_SECONDS", "0", "1", {}),
    ("IMAGEREPO_ANALYSIS_LEASE_SECONDS", "-5", "60", {}),
    ("IMAGEREPO_ANALYSIS_PROCESSES", "two", "0", {}),
    ("IMAGEREPO_ANALYZE_THUMBNAIL", "sometimes", "true", {}),
    ("IMAGEREPO_UPLOAD_QUOTA", "-1", "0", {}),
    ("IMAGEREPO_MAX_UPLOAD_BYTES", "50MB", "52428800", {}),
    ("IMAGEREPO_MAX_PIXELS", "1e8", "100000000", {}),
    ("IMAGEREPO_URL_TTL_SECONDS", "soon", "60", {}),
    ("IMAGEREPO_SESSION_TTL_SECONDS", "10", "60", {}),
    ("IMAGEREPO_SECRET_KEY", "x", STRONG, {}),
    ("IMAGEREPO_TRUST_PROXY", "yes please", "yes", {}),
    ("IMAGEREPO_TRUSTED_PROXIES", "10.0.0.0/33", "10.0.0.0/8, ::1", {}),
    ("IMAGEREPO_TRUSTED_PROXIES", "proxy.internal", "192.0.2.10", {}),
    ("IMAGEREPO_PUBLIC_URL", "images.example.com", "https://images.example.com", {}),
    ("IMAGEREPO_PUBLIC_URL", "https://images.example.com/?next=1", "https://example.com/images/", {}),
    ("IMAGEREPO_LOG_LEVEL", "LOUD", "debug", {}),
    ("IMAGEREPO_DEMO", "2", "1", {}),
    ("IMAGEREPO_OIDC_CORP_ISSUER", "accounts.example.com", "https://accounts.example.com",
     {"IMAGEREPO_OIDC_CORP_CLIENT_ID": "imagerepo"}),
    ("IMAGEREPO_OIDC_CORP_CLIENT_ID", "", "imagerepo", {"IMAGEREPO_OIDC_CORP_ISSUER": "https://id.example.com"}),
    ("IMAGEREPO_OIDC_CORP_SCOPES", "profile email", "openid email",
     {"IMAGEREPO_OIDC_CORP_ISSUER": "https://id.example.com", "IMAGEREPO_OIDC_CORP_CLIENT_ID": "imagerepo"}),
]


@pytest.mark.parametrize(("variable", "bad", "good", "others"), BAD_VALUES,
                         ids=[f"{v}={bad}" for v, bad, _, _ in BAD_VALUES])
def test_a_malformed_value_stops_the_start_naming_the_variable(
    tmp_path: Path, variable: str, bad: str, good: str, others: dict[str, str]
) -> None:
    a_file = tmp_path / "not-a-directory"
    a_file.write_text("")

    def env(value: str) -> dict[str, str]:
        return {**others, variable: value.format(a_file=a_file, a_dir=tmp_path)}

    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(env(bad))
    assert Settings.from_env(env(good)) is not None


def test_a_provider_setting_without_its_provider_stops_the_start() -> None:
    with pytest.raises(ConfigError, match="IMAGEREPO_OIDC_CORP_CLIENT_SECRET"):
        Settings.from_env({"IMAGEREPO_OIDC_CORP_CLIENT_SECRET": "s3cret", "IMAGEREPO_OIDC_CROP_ISSUER": "https://x",
                           "IMAGEREPO_OIDC_CROP_CLIENT_ID": "imagerepo"})


def test_every_setting_has_a_malformed_value_test() -> None:
    """Free text (passwords, keys, labels) has no malformed value; every other setting has a case."""
    tested = {v for v, *_ in BAD_VALUES}
    free_text = {"IMAGEREPO_NEW_PASSWORD", "AZURE_CV_KEY", "IMAGEREPO_OIDC_CORP_CLIENT_SECRET",
                 "IMAGEREPO_OIDC_CORP_DISPLAY_NAME"}
    settings = {v.replace("<NAME>", "CORP") for v in SETTINGS_VARIABLES} - free_text
    assert settings <= tested, settings - tested


def test_the_configuration_reference_lists_every_setting_and_only_them() -> None:
    reference = (Path(__file__).parents[2] / "docs" / "operations.md").read_text()
    table = reference[reference.index("## Configuration reference"):reference.index("### Identity providers")]
    documented = set(re.findall(r"`((?:IMAGEREPO|AZURE_CV)_[A-Z0-9_<>]+)`", table))
    assert documented == set(SETTINGS_VARIABLES)


def test_a_mistyped_variable_is_reported_with_its_likely_name() -> None:
    env = {"IMAGEREPO_UPLOAD_QOUTA": "9", "IMAGEREPO_UPLOAD_QUOTA": "3", "IMAGEREPO_OIDC_CORP_ISSUER": "https://x",
           "IMAGEREPO_OIDC_CORP_CLIENT_ID": "c", "IMAGEREPO_TEST_DATABASE_URL": "postgresql://ci", "HOME": "/root"}
    assert unknown_variables(env) == {"IMAGEREPO_UPLOAD_QOUTA": "IMAGEREPO_UPLOAD_QUOTA"}
    assert unknown_variables({"IMAGEREPO_OIDC_CORP_ISSUR": "https://x"}) == {
        "IMAGEREPO_OIDC_CORP_ISSUR": "IMAGEREPO_OIDC_<NAME>_ISSUER"}


def test_the_cli_warns_about_a_mistyped_variable(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["migrate"], env={"IMAGEREPO_DATA_DIR": str(tmp_path),
                                                       "IMAGEREPO_UPLOAD_QOUTA": "9"})
    assert result.exit_code == 0, result.output
    assert "IMAGEREPO_UPLOAD_QOUTA" in result.output
    assert "IMAGEREPO_UPLOAD_QUOTA" in result.output


@pytest.mark.parametrize(("variable", "value"), [("IMAGEREPO_LOG_LEVEL", "LOUD"), ("IMAGEREPO_SECRET_KEY", "short")])
def test_serve_exits_non_zero_naming_the_variable(tmp_path: Path, variable: str, value: str) -> None:
    env = clean_env(IMAGEREPO_DATA_DIR=str(tmp_path), IMAGEREPO_PORT=str(_free_ports(1)[0]), **{variable: value})
    done = subprocess.run([IMAGEREPO, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert variable in done.stderr
    assert "serving on" not in done.stderr


@pytest.mark.parametrize(
    ("raw", "models", "profile"),
    [("", True, "all"), ("true", True, "all"), ("all", True, "all"), ("LIGHT", True, "light"),
     ("light", True, "light"), ("false", False, "all"), ("0", False, "all")],
)
def test_local_models_chooses_a_profile(raw: str, models: bool, profile: str) -> None:
    """IMAGEREPO_LOCAL_MODELS=light is the documented profile for small machines; false keeps colors only."""
    settings = Settings.from_env({"IMAGEREPO_LOCAL_MODELS": raw} if raw else {})
    assert (settings.local_models, settings.local_profile) == (models, profile)


def test_a_choice_error_lists_each_choice_once() -> None:
    with pytest.raises(ConfigError) as e:
        Settings.from_env({"IMAGEREPO_LOG_LEVEL": "LOUD"})
    listed = str(e.value).split("one of ")[1].split(";")[0].split(", ")
    assert listed == ["INFO", "DEBUG", "WARNING", "ERROR", "CRITICAL"]
