"""The embedded default: SQLite (stdlib sqlite3) repositories on one file in the data dir."""

from imagerepo.adapters.sqlite.database import SqliteDatabase
from imagerepo.adapters.sqlite.repositories import (
    SqliteAccountRepository,
    SqliteImageRepository,
    SqliteSessionRepository,
)

__all__ = ["SqliteAccountRepository", "SqliteDatabase", "SqliteImageRepository", "SqliteSessionRepository"]
