"""PostgresDatabase: a psycopg connection pool, migrations under an advisory lock, error mapping;
the PostgreSQL dialect of the SQL repositories."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from imagerepo.adapters.sql import migrations
from imagerepo.adapters.sql.dialect import Dialect, insert_sql
from imagerepo.domain.errors import ServiceUnavailable

Conn = psycopg.Connection[dict[str, Any]]

# Times are timestamptz (handed over as aware datetimes), JSON is jsonb, tag lists are text[].
POSTGRES = Dialect(
    name="postgres",
    floor_to_int="floor({})::bigint",
    greatest="GREATEST",
    code_points='"C"',
    skip_locked=" FOR UPDATE SKIP LOCKED",
    palette_column=False,
    time=lambda at: at,
    interval=lambda seconds: timedelta(seconds=seconds),
    json=Jsonb,
    text_list=list,
    unique_violation=psycopg.errors.UniqueViolation,
    integrity_error=psycopg.IntegrityError,
)


@functools.lru_cache(maxsize=1024)
def placeholders(sql: str) -> str:
    """The SQL repositories write ``?``; psycopg wants ``%s`` (and a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresTransaction:
    """The SQL repositories' Transaction on one pooled psycopg connection."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = (), *, prepare: bool = True) -> psycopg.Cursor[Any]:
        # None: psycopg's default, which prepares a statement once it has run a few times.
        return self.conn.execute(placeholders(sql), params, prepare=None if prepare else False)

    def insert(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, bulk: bool = False
    ) -> None:
        if not rows:
            return
        with self.conn.cursor() as cur:
            if not bulk:
                cur.executemany(placeholders(insert_sql(table, columns)), rows)
                return
            # COPY is several times faster than INSERT for bulk loads.
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def lock(self, key: str) -> None:
        self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))

# pg_advisory_xact_lock key held while migrating ("imgrepo" in ASCII).
MIGRATION_LOCK = 0x696D677265706F


class PostgresDatabase:
    """Owns the pool. Created closed; the app's lifespan calls open() and close()."""

    def __init__(self, dsn: str, min_size: int = 1, max_size: int = 10, timeout: float = 10.0) -> None:
        self.dsn = dsn
        self._timeout = timeout
        self._pool: ConnectionPool[Any] = ConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            open=False,
            timeout=timeout,
            # Timestamps come back in UTC; rows as dicts for the shared row translators.
            kwargs={"row_factory": dict_row, "options": "-c TimeZone=UTC"},
            check=ConnectionPool.check_connection,
            name="imagerepo",
        )

    def open(self, *, migrate: bool = True) -> None:
        """Open the pool (waiting for the first connection) and apply pending migrations."""
        try:
            self._pool.open(wait=True, timeout=self._timeout)
        except psycopg.OperationalError as e:
            raise ServiceUnavailable(f"PostgreSQL is not reachable: {e}") from e
        if migrate:
            self.migrate()

    def close(self) -> None:
        self._pool.close()

    @property
    def dialect(self) -> Dialect:
        return POSTGRES

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[PostgresTransaction]:
        """A pooled connection inside one transaction (see connection()); reads and writes alike."""
        with self.connection() as conn:
            yield PostgresTransaction(conn)

    @contextmanager
    def connection(self) -> Iterator[Conn]:
        """A pooled connection inside one transaction: committed on success, else rolled back.

        Integrity errors pass through for the repositories to translate; connection failures,
        pool timeouts and a closed pool become ServiceUnavailable.
        """
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.IntegrityError:
            raise
        except (psycopg.OperationalError, psycopg.InterfaceError) as e:  # PoolTimeout, PoolClosed too
            raise ServiceUnavailable(f"database unavailable: {type(e).__name__}: {e}") from e

    def migrate(self) -> list[int]:
        """Apply pending migrations; returns the versions this call applied."""
        applied = []
        with self.connection() as conn:
            # Taken before reading the version table: a second process starting now waits here.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in conn.execute("SELECT version FROM schema_version")}
            for mig in migrations.load("postgres"):
                if mig.version in done:
                    continue
                conn.execute(mig.sql.encode())
                conn.execute(
                    "INSERT INTO schema_version (version, name) VALUES (%s, %s)", (mig.version, mig.name)
                )
                applied.append(mig.version)
        return applied

    def schema_versions(self) -> list[int]:
        with self.connection() as conn:
            return [r["version"] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]

    def check(self) -> None:
        with self.connection() as conn:
            conn.execute("SELECT 1").fetchall()
