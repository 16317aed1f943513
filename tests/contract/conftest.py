"""Repository fixtures parametrized over every adapter: the fake, SQLite, and PostgreSQL."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from imagerepo.adapters.memory import (
    InMemoryAccountRepository,
    InMemoryImageRepository,
    InMemorySessionRepository,
)
from imagerepo.adapters.memory_identity import InMemoryIdentityLinkRepository
from imagerepo.adapters.memory_people import InMemoryPeopleRepository

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.integration)]


class Backend:
    """Builds repositories of one technology on an empty database."""

    def __init__(self, name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.name = name
        self._request = request
        self._tmp = tmp_path
        self._closers: list[Callable[[], None]] = []
        self.db: Any = None
        if name == "sqlite":
            from imagerepo.adapters.sqlite import SqliteDatabase

            self.db = SqliteDatabase(tmp_path / "imagerepo.sqlite3")
            self.db.open()
            self._closers.append(self.db.close)
        elif name == "postgres":
            self.db = request.getfixturevalue("postgres_database")
            truncate_postgres(self.db)

    def accounts(self) -> Any:
        return self._adapter(InMemoryAccountRepository, "AccountRepository")

    def sessions(self) -> Any:
        return self._adapter(InMemorySessionRepository, "SessionRepository")

    def images(self) -> Any:
        return self._adapter(InMemoryImageRepository, "ImageRepository")

    def identity_links(self) -> Any:
        return self._adapter(InMemoryIdentityLinkRepository, "IdentityLinkRepository")

    def people(self, images: Any) -> Any:
        if self.name == "memory":
            return InMemoryPeopleRepository(lambda owner, image: images.get(owner, image) is not None)
        return self._adapter(InMemoryPeopleRepository, "PeopleRepository")

    def _adapter(self, fake: Callable[[], Any], port: str) -> Any:
        """The fake, or the database package's adapter by its public name (SqliteImageRepository…)."""
        if self.name == "memory":
            return fake()
        package = importlib.import_module(f"imagerepo.adapters.{self.name}")
        return getattr(package, f"{self.name.capitalize()}{port}")(self.db)

    def close(self) -> None:
        for close in reversed(self._closers):
            close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = Backend(request.param, request, tmp_path)
    yield b
    b.close()


@pytest.fixture
def account_repo(backend: Backend) -> Any:
    return backend.accounts()


@pytest.fixture
def session_repo(backend: Backend) -> Any:
    return backend.sessions()


@pytest.fixture
def image_repo(backend: Backend) -> Any:
    return backend.images()


@pytest.fixture
def analysis_queue(image_repo: Any) -> Any:
    """Every adapter keeps the queue and the images in one store: one object serves both ports."""
    return image_repo


@pytest.fixture
def identity_link_repo(backend: Backend) -> Any:
    return backend.identity_links()


@pytest.fixture
def people_repo(backend: Backend, image_repo: Any) -> Any:
    return backend.people(image_repo)


def truncate_postgres(db: Any) -> None:
    """Empty every table so each test starts from a clean database."""
    with db.connection() as conn:
        conn.execute("TRUNCATE accounts, sessions, images, identity_links, persons CASCADE")
