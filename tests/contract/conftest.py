"""Repository fixtures parametrized over every adapter: the fake, SQLite, and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from imagerepo.adapters.memory import (
    InMemoryAccountRepository,
    InMemoryImageRepository,
    InMemorySessionRepository,
)

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
        if self.name == "memory":
            return InMemoryAccountRepository()
        if self.name == "sqlite":
            from imagerepo.adapters.sqlite import SqliteAccountRepository

            return SqliteAccountRepository(self.db)
        from imagerepo.adapters.postgres import PostgresAccountRepository

        return PostgresAccountRepository(self.db)

    def sessions(self) -> Any:
        if self.name == "memory":
            return InMemorySessionRepository()
        if self.name == "sqlite":
            from imagerepo.adapters.sqlite import SqliteSessionRepository

            return SqliteSessionRepository(self.db)
        from imagerepo.adapters.postgres import PostgresSessionRepository

        return PostgresSessionRepository(self.db)

    def images(self) -> Any:
        if self.name == "memory":
            return InMemoryImageRepository()
        if self.name == "sqlite":
            from imagerepo.adapters.sqlite import SqliteImageRepository

            return SqliteImageRepository(self.db)
        from imagerepo.adapters.postgres import PostgresImageRepository

        return PostgresImageRepository(self.db)

    def identity_links(self) -> Any:
        if self.name == "memory":
            from imagerepo.adapters.memory_identity import InMemoryIdentityLinkRepository

            return InMemoryIdentityLinkRepository()
        if self.name == "sqlite":
            from imagerepo.adapters.sqlite import SqliteIdentityLinkRepository

            return SqliteIdentityLinkRepository(self.db)
        from imagerepo.adapters.postgres import PostgresIdentityLinkRepository

        return PostgresIdentityLinkRepository(self.db)

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
def identity_link_repo(backend: Backend) -> Any:
    return backend.identity_links()


def truncate_postgres(db: Any) -> None:
    """Empty every table so each test starts from a clean database."""
    with db.connection() as conn:
        conn.execute("TRUNCATE accounts, sessions, images, identity_links CASCADE")
