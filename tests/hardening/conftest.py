"""Fixtures of the hardening suite: the real app on the in-memory fakes, a manual clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from imagerepo.adapters.memory import ManualClock
from imagerepo.entrypoints.container import Container
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests.wiring import memory_container


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def container(tmp_path: Path, clock: ManualClock) -> Container:
    settings = Settings(data_dir=tmp_path, workers=0, max_upload_bytes=2_000_000, upload_quota=5)
    return memory_container(settings, clock=clock)


@pytest.fixture
def client(container: Container) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(container)) as c:
        yield c
