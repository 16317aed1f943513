"""SqliteDatabase: one connection per thread on one file, WAL mode, migrations on first use; the
SQLite dialect of the SQL repositories."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from imagerepo.adapters.sql import migrations
from imagerepo.adapters.sql.dialect import Dialect, insert_sql
from imagerepo.adapters.sql.rows import json_text, to_micros
from imagerepo.domain.errors import ServiceUnavailable

BUSY_TIMEOUT_MS = 10_000

# Times are exact integer microseconds; JSON and tag lists are text.
SQLITE = Dialect(
    name="sqlite",
    floor_to_int="CAST(floor({}) AS INTEGER)",
    greatest="max",
    code_points="BINARY",  # UTF-8 bytes sort in code-point order
    skip_locked="",  # a write transaction already holds the database's one write lock
    palette_column=True,
    hash_joins=False,
    search_setup=None,
    time=to_micros,
    interval=lambda seconds: int(seconds * 1e6),
    json=json_text,
    text_list=" ".join,
    unique_violation=sqlite3.IntegrityError,
    integrity_error=sqlite3.IntegrityError,
)


class SqliteTransaction:
    """The SQL repositories' Transaction on one sqlite3 connection (``?`` is SQLite's own)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = (), *, prepare: bool = True) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def insert(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, bulk: bool = False
    ) -> None:
        self.conn.executemany(insert_sql(table, columns), rows)

    def lock(self, key: str) -> None:
        """Nothing to do: a write transaction (BEGIN IMMEDIATE) already excludes every other writer."""


class SqliteDatabase:
    """Owns the connections to one SQLite file.

    Each thread gets its own connection (sqlite3 connections must not be shared mid-transaction);
    writers serialize with BEGIN IMMEDIATE, which is what makes the quota check atomic.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT_MS / 1000) -> None:
        self.path = Path(path)
        self._busy_ms = max(0, round(busy_timeout * 1000))  # how long a write waits for another's lock
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._epoch = 0
        self._migrated = False

    # ---- lifecycle

    def open(self) -> None:
        """Create the file if needed and apply pending migrations (idempotent)."""
        self.connection()

    def close(self) -> None:
        with self._lock:
            self._epoch += 1
            conns, self._all = self._all, []
            self._migrated = False
        for conn in conns:
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN ourselves; check_same_thread=False only so that
        # close() may close every thread's connection.
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=self._busy_ms / 1000
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        for attempt in range(100):  # switching to WAL needs a moment alone with the file
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError:
                if attempt == 99:
                    raise
                time.sleep(0.05)
        return conn

    def _thread_connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "epoch", None) == self._epoch:
            return conn
        try:
            conn = self._connect()
        except (sqlite3.Error, OSError) as e:
            raise ServiceUnavailable(f"database file {self.path} cannot be opened: {e}") from e
        with self._lock:
            self._all.append(conn)
            self._local.conn, self._local.epoch = conn, self._epoch
        return conn

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened (and the schema migrated) on first use."""
        conn = self._thread_connection()
        if not self._migrated:
            self._apply_migrations(conn)
        return conn

    # ---- transactions

    @property
    def dialect(self) -> Dialect:
        return SQLITE

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[SqliteTransaction]:
        """BEGIN IMMEDIATE (write) or a deferred read transaction; commit or roll back.

        sqlite3.IntegrityError passes through for the repositories to translate; every other
        driver error becomes ServiceUnavailable.
        """
        conn = self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield SqliteTransaction(conn)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as e:
            raise ServiceUnavailable(f"database error: {e}") from e

    def migrate(self) -> list[int]:
        """Apply pending migrations; returns the versions this call applied."""
        return self._apply_migrations(self._thread_connection())

    def _apply_migrations(self, conn: sqlite3.Connection) -> list[int]:
        applied: list[int] = []
        try:
            conn.execute("BEGIN IMMEDIATE")  # a second process starting now waits here
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version ("
                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
                )
                done = {r[0] for r in conn.execute("SELECT version FROM schema_version")}
                for mig in migrations.load("sqlite"):
                    if mig.version in done:
                        continue
                    for stmt in mig.statements():
                        conn.execute(stmt)
                    conn.execute(
                        "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                        (mig.version, mig.name, datetime.now(UTC).isoformat()),
                    )
                    applied.append(mig.version)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            raise ServiceUnavailable(f"database migration failed: {e}") from e
        with self._lock:
            self._migrated = True
        return applied

    def schema_versions(self) -> list[int]:
        with self.transaction(write=False) as tx:
            return [r[0] for r in tx.execute("SELECT version FROM schema_version ORDER BY version").fetchall()]

    def check(self) -> None:
        with self.transaction(write=False) as tx:
            tx.execute("SELECT 1 FROM schema_version LIMIT 1").fetchall()
