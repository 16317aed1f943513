"""PostgreSQL implementations of AccountRepository, SessionRepository and ImageRepository."""

# ruff: noqa: S608  # SQL is assembled from constant fragments only; values are always bound parameters

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs
import psycopg
from psycopg.types.json import Jsonb

from imagerepo.adapters.postgres.database import PostgresDatabase
from imagerepo.adapters.sql.rows import (
    IMAGE_COLUMNS,
    SearchIndex,
    account_from_row,
    image_from_row,
    session_from_row,
)
from imagerepo.adapters.sql.search import DRIVE_BELOW, Dialect, Sql, search_rows
from imagerepo.domain.accounts import Account, Session, normalize_username
from imagerepo.domain.errors import DuplicateImage, QuotaExceeded, UsernameTaken
from imagerepo.domain.images import Analysis, AnalysisJob, AnalysisStatus, Cursor, Image, ImageQuery, Page

Conn = psycopg.Connection[dict[str, Any]]

_COLS = ", ".join(IMAGE_COLUMNS)

def _pg(sql: str) -> str:
    """The shared search SQL uses ``?`` placeholders; psycopg wants ``%s``."""
    return sql.replace("?", "%s")

POSTGRES_DIALECT = Dialect(floor_to_int="floor({})::bigint")


class PostgresAccountRepository:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def add(self, account: Account) -> None:
        try:
            with self._db.connection() as conn:
                conn.execute(
                    "INSERT INTO accounts (id, username, username_key,"
                    " password_hash, created_at, quota_limit)"
                    " VALUES (%s, %s, %s, %s, %s, %s)",
                    (
                        account.id,
                        account.username,
                        normalize_username(account.username),
                        account.password_hash,
                        account.created_at,
                        account.quota_limit,
                    ),
                )
        except psycopg.errors.UniqueViolation as e:
            raise UsernameTaken(account.username) from e

    def get(self, account_id: str) -> Account | None:
        with self._db.connection() as conn:
            row = conn.execute("SELECT * FROM accounts WHERE id = %s", (account_id,)).fetchone()
        return account_from_row(row) if row else None

    def get_by_username(self, username: str) -> Account | None:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT * FROM accounts WHERE username_key = %s", (normalize_username(username),)
            ).fetchone()
        return account_from_row(row) if row else None

    def set_password_hash(self, account_id: str, password_hash: str) -> None:
        with self._db.connection() as conn:
            conn.execute("UPDATE accounts SET password_hash = %s WHERE id = %s", (password_hash, account_id))

    def set_quota_limit(self, account_id: str, limit: int | None) -> None:
        with self._db.connection() as conn:
            conn.execute("UPDATE accounts SET quota_limit = %s WHERE id = %s", (limit, account_id))

    def list(self) -> Sequence[Account]:
        with self._db.connection() as conn:
            rows = conn.execute("SELECT * FROM accounts ORDER BY created_at, id").fetchall()
        return [account_from_row(r) for r in rows]


class PostgresSessionRepository:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def add(self, session: Session) -> None:
        with self._db.connection() as conn:
            conn.execute(
                "INSERT INTO sessions (token_hash, account_id, kind, name, created_at, expires_at)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (token_hash) DO UPDATE SET"
                " account_id = excluded.account_id, kind = excluded.kind, name = excluded.name,"
                " created_at = excluded.created_at, expires_at = excluded.expires_at",
                (
                    session.token_hash,
                    session.account_id,
                    session.kind,
                    session.name,
                    session.created_at,
                    session.expires_at,
                ),
            )

    def get(self, token_hash: str) -> Session | None:
        with self._db.connection() as conn:
            row = conn.execute("SELECT * FROM sessions WHERE token_hash = %s", (token_hash,)).fetchone()
        return session_from_row(row) if row else None

    def delete(self, token_hash: str) -> None:
        with self._db.connection() as conn:
            conn.execute("DELETE FROM sessions WHERE token_hash = %s", (token_hash,))

    def list_for(self, account_id: str, kind: str) -> Sequence[Session]:
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT * FROM sessions WHERE account_id = %s AND kind = %s ORDER BY created_at, token_hash",
                (account_id, kind),
            ).fetchall()
        return [session_from_row(r) for r in rows]

    def delete_expired(self, now: datetime) -> int:
        with self._db.connection() as conn:
            return conn.execute("DELETE FROM sessions WHERE expires_at <= %s", (now,)).rowcount

    def delete_for_account(self, account_id: str) -> int:
        with self._db.connection() as conn:
            return conn.execute("DELETE FROM sessions WHERE account_id = %s", (account_id,)).rowcount


def _index(conn: Conn, image: Image) -> None:
    """(Re)write the search columns of ``image`` from its current analysis, and its side-table
    rows when it is ready (the side tables hold ready images only)."""
    ix = SearchIndex.of(image)
    row = conn.execute(
        "UPDATE images SET terms = %s, tags = %s, filename_key = %s, uploaded_key = %s,"
        " analysis = %s, analysis_status = %s WHERE id = %s RETURNING state",
        (
            ix.terms_text,
            list(ix.tags),
            ix.filename_key,
            ix.uploaded_key,
            Jsonb(image.analysis.to_json()),
            image.analysis.status.value,
            image.id,
        ),
    ).fetchone()
    _drop_index_rows(conn, image.id)
    if row is not None and row["state"] == "ready":
        _insert_index_rows(conn, [(image, ix)])


def _drop_index_rows(conn: Conn, image_id: str) -> None:
    for table in ("search_terms", "search_tags", "search_colors"):
        conn.execute(f"DELETE FROM {table} WHERE image_id = %s", (image_id,))


def _insert_index_rows(conn: Conn, indexed: Sequence[tuple[Image, SearchIndex]]) -> None:
    with conn.cursor() as cur:
        if len(indexed) > 1:  # bulk loads: COPY is several times faster than INSERT
            for table, cols, rows in _index_tables(indexed):
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            return
        for table, cols, rows in _index_tables(indexed):
            if rows:
                marks = ", ".join(["%s"] * len(rows[0]))
                cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)


def _index_tables(indexed: Sequence[tuple[Image, SearchIndex]]) -> list[tuple[str, str, list[tuple[Any, ...]]]]:
    return [
        (
            "search_terms",
            "owner_id, term, image_id, weight, uploaded_key",
            [r for img, ix in indexed for r in ix.term_rows(img.owner_id, img.id)],
        ),
        (
            "search_tags",
            "owner_id, tag, image_id",
            [r for img, ix in indexed for r in ix.tag_rows(img.owner_id, img.id)],
        ),
        (
            "search_colors",
            "owner_id, cell, image_id, position, l, a, b, fraction",
            [r for img, ix in indexed for r in ix.color_rows(img.owner_id, img.id)],
        ),
    ]


class PostgresImageRepository:
    def __init__(self, db: PostgresDatabase, *, drive_below: int = DRIVE_BELOW) -> None:
        self._db = db
        # A search filter matching fewer images than this drives the query (sql.search).
        self.drive_below = drive_below

    def reserve(self, image: Image, quota_limit: int) -> None:
        try:
            with self._db.connection() as conn:
                # One owner's reservations queue on this lock, so count-then-insert cannot race;
                # other owners are not held up.
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (image.owner_id,))
                dup = conn.execute(
                    "SELECT id FROM images WHERE owner_id = %s AND"
                    " sha256 = %s AND state <> 'deleting' LIMIT 1",
                    (image.owner_id, image.sha256),
                ).fetchone()
                if dup:
                    raise DuplicateImage(dup["id"])
                used = conn.execute(
                    "SELECT count(*) AS n FROM images WHERE owner_id = %s AND state <> 'deleting'",
                    (image.owner_id,),
                ).fetchone()["n"]  # type: ignore[index]
                if used >= quota_limit:
                    raise QuotaExceeded(used, quota_limit)
                ix = SearchIndex.of(image)
                conn.execute(
                    "INSERT INTO images (id, owner_id, state, filename,"
                    " filename_key, content_type, width, height,"
                    " size_bytes, sha256, uploaded_at, uploaded_key, analysis, analysis_status, available_at)"
                    " VALUES (%s, %s, 'uploading', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        image.id,
                        image.owner_id,
                        image.filename,
                        ix.filename_key,
                        image.content_type,
                        image.width,
                        image.height,
                        image.size_bytes,
                        image.sha256,
                        image.uploaded_at,
                        ix.uploaded_key,
                        Jsonb(image.analysis.to_json()),
                        image.analysis.status.value,
                        image.uploaded_at,
                    ),
                )
                _index(conn, image)
        except psycopg.errors.UniqueViolation as e:
            existing = self.find_by_sha256(image.owner_id, image.sha256)
            if existing is None:
                raise
            raise DuplicateImage(existing) from e

    def commit(self, image_id: str) -> None:
        with self._db.connection() as conn:
            row = conn.execute(
                f"UPDATE images SET state = 'ready' WHERE id = %s AND state = 'uploading' RETURNING {_COLS}",
                (image_id,),
            ).fetchone()
            if row is not None:  # searchable from now on
                image = image_from_row(row)
                _insert_index_rows(conn, [(image, SearchIndex.of(image))])

    def discard(self, image_id: str) -> None:
        with self._db.connection() as conn:
            conn.execute("DELETE FROM images WHERE id = %s", (image_id,))

    def get(self, owner_id: str, image_id: str) -> Image | None:
        with self._db.connection() as conn:
            row = conn.execute(
                f"SELECT {_COLS} FROM images WHERE id = %s AND owner_id = %s AND state = 'ready'",
                (image_id, owner_id),
            ).fetchone()
        return image_from_row(row) if row else None

    def find_by_sha256(self, owner_id: str, sha256: str) -> str | None:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT id FROM images WHERE owner_id = %s AND sha256 = %s AND state <> 'deleting' LIMIT 1",
                (owner_id, sha256),
            ).fetchone()
        return row["id"] if row else None

    def count(self, owner_id: str) -> int:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT count(*) AS n FROM images WHERE owner_id = %s AND state <> 'deleting'", (owner_id,)
            ).fetchone()
        return int(row["n"]) if row else 0

    def search(self, query: ImageQuery) -> Page:
        with self._db.connection() as conn:
            # Never prepared: psycopg prepares a query after five runs, and PostgreSQL may then keep
            # a generic plan that cannot see the owner or the color buckets (cell = ANY of
            # parameters became a filter over all of a big user's colors: 160 ms instead of 3 ms).
            # Planning each search with its values costs well under a millisecond.
            def fetch(sql: Sql) -> list[dict[str, Any]]:
                return conn.execute(_pg(sql.text), sql.params, prepare=False).fetchall()

            rows = search_rows(query, POSTGRES_DIALECT, fetch, self.drive_below)
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        last = Cursor(key=rows[-1]["sort_key"], id=rows[-1]["id"]) if more and rows else None
        return Page(tuple(image_from_row(r) for r in rows), last)

    def import_ready(self, images: Sequence[Image]) -> None:
        """Store ``images`` as ready, indexed, in one transaction (COPY), with no quota or duplicate
        check. Not part of the port: for trusted bulk loads (benchmarks, imports)."""
        indexed = [(img, SearchIndex.of(img)) for img in images]
        cols = (
            "id, owner_id, state, filename, filename_key, content_type, width, height, size_bytes, sha256,"
            " uploaded_at, uploaded_key, analysis, analysis_status, terms, tags, available_at"
        )
        with self._db.connection() as conn, conn.cursor() as cur:
            with cur.copy(f"COPY images ({cols}) FROM STDIN") as copy:
                for img, ix in indexed:
                    copy.write_row(
                        (
                            img.id,
                            img.owner_id,
                            "ready",
                            img.filename,
                            ix.filename_key,
                            img.content_type,
                            img.width,
                            img.height,
                            img.size_bytes,
                            img.sha256,
                            img.uploaded_at,
                            ix.uploaded_key,
                            Jsonb(img.analysis.to_json()),
                            img.analysis.status.value,
                            ix.terms_text,
                            list(ix.tags),
                            img.uploaded_at,
                        )
                    )
            _insert_index_rows(conn, indexed)

    def begin_delete(self, owner_id: str, image_id: str) -> Image | None:
        with self._db.connection() as conn:
            row = conn.execute(
                f"UPDATE images SET state = 'deleting' WHERE id = %s AND owner_id = %s AND state = 'ready'"
                f" RETURNING {_COLS}",
                (image_id, owner_id),
            ).fetchone()
            if row is not None:
                _drop_index_rows(conn, image_id)
        return image_from_row(row) if row else None

    def stale(self, now: datetime, uploading_older_than: datetime) -> Sequence[tuple[Image, str]]:
        with self._db.connection() as conn:
            rows = conn.execute(
                f"SELECT {_COLS}, state FROM images WHERE state = 'deleting'"
                " OR (state = 'uploading' AND uploaded_at < %s) ORDER BY uploaded_at, id",
                (uploading_older_than,),
            ).fetchall()
        return [(image_from_row(r), r["state"]) for r in rows]

    def exists(self, image_id: str) -> bool:
        with self._db.connection() as conn:
            return conn.execute("SELECT 1 FROM images WHERE id = %s", (image_id,)).fetchone() is not None

    def tag_counts(self, owner_id: str) -> list[tuple[str, int]]:
        # COLLATE "C": code-point order, as the other adapters sort ties, whatever the database locale.
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT g.tag, count(*) AS n FROM search_tags g JOIN images i ON i.id = g.image_id"
                " WHERE g.owner_id = %s AND i.state = 'ready' GROUP BY g.tag ORDER BY n DESC, g.tag COLLATE \"C\"",
                (owner_id,),
            ).fetchall()
        return [(str(r["tag"]), int(r["n"])) for r in rows]

    # ---- analysis queue

    def request_analysis(self, owner_id: str, image_id: str, now: datetime) -> Image | None:
        with self._db.connection() as conn:
            row = conn.execute(
                f"UPDATE images SET generation = generation + 1, attempts = 0, available_at = %s,"
                f" leased_until = NULL WHERE id = %s AND owner_id = %s AND state = 'ready' RETURNING {_COLS}",
                (now, image_id, owner_id),
            ).fetchone()
            if row is None:
                return None
            image = image_from_row(row)
            updated = attrs.evolve(image, analysis=Analysis.pending(image.analysis.analyzer))
            _index(conn, updated)
            return updated

    def claim_analysis(self, now: datetime, lease_until: datetime) -> AnalysisJob | None:
        with self._db.connection() as conn:
            # SKIP LOCKED: concurrent claimers pass over the row another is taking.
            row = conn.execute(
                f"UPDATE images SET leased_until = %s, attempts = attempts + 1 WHERE id = ("
                " SELECT id FROM images WHERE state = 'ready' AND analysis_status = 'pending'"
                " AND (available_at IS NULL OR available_at <= %s)"
                " AND (leased_until IS NULL OR leased_until <= %s)"
                " ORDER BY available_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
                f" RETURNING {_COLS}, generation, attempts",
                (lease_until, now, now),
            ).fetchone()
        if row is None:
            return None
        return AnalysisJob(image_from_row(row), int(row["generation"]), int(row["attempts"]))

    def complete_analysis(self, job: AnalysisJob, analysis: Analysis) -> bool:
        with self._db.connection() as conn:
            row = conn.execute(
                f"UPDATE images SET leased_until = NULL WHERE id ="
                f" %s AND generation = %s AND state <> 'deleting'"
                f" RETURNING {_COLS}",
                (job.image.id, job.generation),
            ).fetchone()
            if row is None:
                return False
            _index(conn, attrs.evolve(image_from_row(row), analysis=analysis))
            return True

    def retry_analysis(self, job: AnalysisJob, available_at: datetime, error: str) -> bool:
        with self._db.connection() as conn:
            row = conn.execute(
                f"UPDATE images SET available_at = %s, leased_until = NULL WHERE id = %s AND generation = %s"
                f" RETURNING {_COLS}",
                (available_at, job.image.id, job.generation),
            ).fetchone()
            if row is None:
                return False
            image = image_from_row(row)
            _index(conn, attrs.evolve(image, analysis=attrs.evolve(image.analysis, error=error)))
            return True

    def pending_analyses(self) -> int:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT count(*) AS n FROM images WHERE state = 'ready' AND analysis_status = %s",
                (AnalysisStatus.PENDING.value,),
            ).fetchone()
        return int(row["n"]) if row else 0

    def check(self) -> None:
        self._db.check()
