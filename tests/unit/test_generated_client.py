"""The served OpenAPI document makes a usable client: openapi-python-client generates one (offline,
no formatter hooks) and the seed's journey runs through it against a live server."""

from __future__ import annotations

import importlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests import images as img
from tests.wiring import memory_container

GENERATOR = str(Path(sys.executable).with_name("openapi-python-client"))
PACKAGE = "imagerepo_client"
# No post hooks: the default ones run ruff from PATH; generation needs nothing but the document.
CONFIG = f"post_hooks: []\nproject_name_override: {PACKAGE}\npackage_name_override: {PACKAGE}\n"


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    settings = Settings(data_dir=tmp_path_factory.mktemp("client-data"), workers=0, log_level="WARNING")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    config = uvicorn.Config(create_app(memory_container(settings)), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="on", ws="none", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-client-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # only stops a dead start
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the app did not start under uvicorn")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def client_package(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    out = tmp_path_factory.mktemp("generated")
    config = out / "config.yaml"
    config.write_text(CONFIG)
    done = subprocess.run(
        [GENERATOR, "generate", "--url", f"{server_url}/schema/openapi.json", "--meta", "none",
         "--config", str(config), "--output-path", str(out / PACKAGE), "--fail-on-warning"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def api(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def test_the_generated_client_names_operations_after_what_they_do(client_package: ModuleType) -> None:
    for module in ["accounts.sign_up", "accounts.get_me", "sessions.sign_in", "sessions.sign_out",
                   "images.upload_image", "images.list_images", "images.get_image", "images.delete_image",
                   "images.get_image_content", "images.reanalyze_image", "tokens.create_token",
                   "tokens.revoke_token", "health.live", "health.ready"]:
        assert callable(api(module).sync_detailed), module


def test_the_seed_journey_through_the_generated_client(client_package: ModuleType, server_url: str) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    types = importlib.import_module(f"{PACKAGE}.types")
    with client_package.Client(base_url=server_url) as anonymous:
        signed_in = journey_as_newcomer(anonymous, models)
    with client_package.AuthenticatedClient(base_url=server_url, token=signed_in.token) as me:
        journey_as_owner(me, models, types)


def journey_as_newcomer(anonymous: Any, models: Any) -> Any:
    creds = models.CredentialsIn(username="clientuser", password="correct horse battery")

    account = api("accounts.sign_up").sync(client=anonymous, body=creds)
    assert isinstance(account, models.AccountOut)
    assert account.username == "clientuser"
    taken = api("accounts.sign_up").sync_detailed(client=anonymous, body=creds)
    assert taken.status_code == 409
    assert taken.parsed.error.code == "username_taken"

    signed_in = api("sessions.sign_in").sync(client=anonymous, body=creds)
    assert isinstance(signed_in, models.TokenOut)
    return signed_in


def journey_as_owner(me: Any, models: Any, types: Any) -> None:
    photo = img.jpeg((80, 60), (200, 40, 40))
    body = models.UploadImageBody(file=types.File(payload=photo, file_name="red.jpg", mime_type="image/jpeg"))
    uploaded = api("images.upload_image").sync(client=me, body=body)
    assert isinstance(uploaded, models.UploadedImageOut), uploaded  # ImageOut + duplicate_of
    assert uploaded.duplicate_of is None
    assert uploaded.filename == "red.jpg"
    assert uploaded.size_bytes == len(photo)

    page = api("images.list_images").sync(client=me)
    assert isinstance(page, models.ImagePageOut)
    assert [i.id for i in page.items] == [uploaded.id]

    one = api("images.get_image").sync(image_id=uploaded.id, client=me)
    assert isinstance(one, models.ImageOut)
    assert one.id == uploaded.id

    again = models.UploadImageBody(file=types.File(payload=photo, file_name="again.jpg", mime_type="image/jpeg"))
    duplicate = api("images.upload_image").sync_detailed(client=me, body=again)
    assert duplicate.status_code == 409
    assert isinstance(duplicate.parsed, models.ErrorOut)
    assert duplicate.parsed.error.code == "duplicate_image"

    quota = api("accounts.get_me").sync(client=me)
    assert isinstance(quota, models.MeOut)
    assert quota.quota.used == 1

    deleted = api("images.delete_image").sync_detailed(image_id=uploaded.id, client=me)
    assert deleted.status_code == 204
    gone = api("images.get_image").sync_detailed(image_id=uploaded.id, client=me)
    assert gone.status_code == 404
    assert gone.parsed.error.code == "not_found"
    assert api("images.list_images").sync(client=me).items == []

    assert api("sessions.sign_out").sync_detailed(client=me).status_code == 204
    assert api("accounts.get_me").sync_detailed(client=me).status_code == 401
