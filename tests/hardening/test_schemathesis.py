"""Schemathesis over /schema/openapi.json, in-process on the fakes: no 5xx, every response matches the schema.

Errors included: each route documents its error statuses with the API.md error body.

The normal run is bounded (HARDENING_FUZZ_EXAMPLES, default 8 per operation); `make fuzz` style
runs raise it, e.g. HARDENING_FUZZ_EXAMPLES=500 pytest tests/hardening/test_schemathesis.py.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from litestar.testing import TestClient
from schemathesis import checks

from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests import images as img
from tests.hardening.support import signup, upload
from tests.wiring import memory_container

# Schemathesis' in-process ASGI transport leaves anyio memory streams for the garbage collector.
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")

EXAMPLES = int(os.environ.get("HARDENING_FUZZ_EXAMPLES", "8"))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Any:
    container = memory_container(Settings(data_dir=tmp_path_factory.mktemp("st"), workers=0, upload_quota=1000))
    app = create_app(container)
    with TestClient(app) as client:
        auth = signup(client, "fuzzer")
        image_id = upload(client, auth, img.jpeg()).json()["id"]
        yield app, auth, image_id


def operations(app: Any) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def check(case: Any, headers: dict[str, str]) -> None:
    if case.method == "DELETE" and case.path == "/api/v1/sessions/current":
        return  # would sign the fuzzer out for the rest of the run
    response = case.call(headers=headers)
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
    if response.status_code >= 400:  # API.md's error shape, beyond what the document can say
        body = response.json()
        assert set(body) == {"error"}, body
        assert body["error"]["code"]
        assert body["error"]["message"]
    # Errors too: every status is documented for its route, every body matches the document.
    case.validate_response(response, checks=[
        checks.not_a_server_error, checks.status_code_conformance, checks.response_schema_conformance,
        checks.content_type_conformance, checks.response_headers_conformance,
    ])


@pytest.mark.parametrize("who", ["anonymous", "signed-in"])
def test_every_operation_conforms_and_never_5xx(api: Any, who: str) -> None:
    """(pytest 9 breaks schemathesis' from_fixture, so operations are walked here.)"""
    app, auth, image_id = api
    headers = auth if who == "signed-in" else {}
    ops = operations(app)
    assert len(ops) >= 10
    for op in ops:

        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            if headers and case.path_parameters and "image_id" in case.path_parameters:
                case.path_parameters["image_id"] = image_id  # reach the handlers, not just the 404
            check(case, headers)

        run()
