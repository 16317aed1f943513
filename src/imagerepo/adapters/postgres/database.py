"""PostgresDatabase: a psycopg connection pool, migrations under an advisory lock, error mapping;
the PostgreSQL dialect of the SQL repositories."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
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
    hash_joins=True,
    search_setup="SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)",
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


# What psycopg's wait functions raise when their timeout runs out (an OperationalError).
_WAIT_TIMEOUT: type[Exception] = getattr(psycopg.errors, "_WaitTimeout", psycopg.errors.ConnectionTimeout)


class BoundedConnection(psycopg.Connection[Any]):
    """A connection whose every wait for the server lasts at most ``wait_timeout`` seconds.

    psycopg waits for an answer without limit, so a server or network that accepts bytes and
    never answers would hang the request, and the pool check behind it, for good. A wait that
    runs out closes the connection (its state is unknown) and raises OperationalError."""

    wait_timeout: float | None = None

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        limit = timeout if timeout is not None else self.wait_timeout
        try:
            return super().wait(gen, interval=interval, timeout=limit)
        except psycopg.OperationalError as e:
            if timeout is None and isinstance(e, _WAIT_TIMEOUT):  # ours ran out, not the caller's
                self.close()
                raise psycopg.OperationalError(f"no answer from the server within {limit:g} s") from None
            raise


class PostgresDatabase:
    """Owns the pool. Created closed; the app's lifespan calls open() and close().

    Every wait is bounded: ``timeout`` for a pooled connection, ``connect_timeout`` (unless the
    DSN sets one) for a new one, ``query_timeout`` for each statement's answer (enforced on the
    server as statement_timeout and on the client against a silent network; migrations are
    exempt). A request that meets any of them gets ServiceUnavailable."""

    def __init__(self, dsn: str, min_size: int = 1, max_size: int = 10, timeout: float = 10.0,
                 *, connect_timeout: int = 10, query_timeout: float = 30.0,
                 reconnect_timeout: float = 30.0) -> None:
        self.dsn = dsn
        self._timeout = timeout
        self._query_timeout = query_timeout
        kwargs: dict[str, Any] = {
            # Timestamps come back in UTC; rows as dicts for the shared row translators.
            "row_factory": dict_row,
            "options": f"-c TimeZone=UTC -c statement_timeout={max(1, round(query_timeout * 1000))}",
        }
        if "connect_timeout" not in conninfo_to_dict(dsn):
            kwargs["connect_timeout"] = max(2, connect_timeout)  # libpq's least
        self._pool: ConnectionPool[Any] = ConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            open=False,
            timeout=timeout,
            # The pool retries a failed connect with doubling delays until this runs out; a new
            # request then starts afresh. Small, so service resumes soon after an outage ends
            # (psycopg's 5 minutes let the retry delay grow past 2 minutes).
            reconnect_timeout=reconnect_timeout,
            kwargs=kwargs,
            connection_class=BoundedConnection,
            configure=self._configure,
            check=ConnectionPool.check_connection,
            name="imagerepo",
        )

    def _configure(self, conn: BoundedConnection) -> None:
        # Set before the first wait; +1 s lets the server's statement_timeout answer first.
        conn.wait_timeout = self._query_timeout + 1.0

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
        with self.connection() as conn, self._unbounded(conn):
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

    @contextmanager
    def _unbounded(self, conn: Any) -> Iterator[None]:
        """No statement timeout for this transaction (a migration may rebuild a large index)."""
        conn.execute("SET LOCAL statement_timeout = 0")
        conn.wait_timeout = None
        try:
            yield
        finally:
            conn.wait_timeout = self._query_timeout + 1.0

    def schema_versions(self) -> list[int]:
        with self.connection() as conn:
            return [r["version"] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]

    def check(self) -> None:
        with self.connection() as conn:
            conn.execute("SELECT 1").fetchall()
