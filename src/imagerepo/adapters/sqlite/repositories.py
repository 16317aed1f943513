"""SQLite implementations of AccountRepository, SessionRepository and ImageRepository."""

# ruff: noqa: S608  # SQL is assembled from constant fragments only; values are always bound parameters

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

import attrs

from imagerepo.adapters.sql.rows import (
    IMAGE_COLUMNS,
    SearchIndex,
    account_from_row,
    analysis_json,
    image_from_row,
    session_from_row,
    to_micros,
)
from imagerepo.adapters.sql.search import DRIVE_BELOW, Dialect, Sql, search_rows
from imagerepo.adapters.sqlite.database import SqliteDatabase
from imagerepo.domain.accounts import Account, Session, normalize_username
from imagerepo.domain.errors import DuplicateImage, QuotaExceeded, UsernameTaken
from imagerepo.domain.images import Analysis, AnalysisJob, AnalysisStatus, Cursor, Image, ImageQuery, Page

_COLS = ", ".join(IMAGE_COLUMNS)
SQLITE_DIALECT = Dialect(floor_to_int="CAST(floor({}) AS INTEGER)")


class SqliteAccountRepository:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def add(self, account: Account) -> None:
        try:
            with self._db.transaction() as conn:
                conn.execute(
                    "INSERT INTO accounts (id, username, username_key,"
                    " password_hash, created_at, quota_limit)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        account.id,
                        account.username,
                        normalize_username(account.username),
                        account.password_hash,
                        to_micros(account.created_at),
                        account.quota_limit,
                    ),
                )
        except sqlite3.IntegrityError as e:
            raise UsernameTaken(account.username) from e

    def get(self, account_id: str) -> Account | None:
        with self._db.transaction(write=False) as conn:
            row = conn.execute("SELECT * FROM accounts WHERE id = ?", (account_id,)).fetchone()
        return account_from_row(row) if row else None

    def get_by_username(self, username: str) -> Account | None:
        with self._db.transaction(write=False) as conn:
            row = conn.execute(
                "SELECT * FROM accounts WHERE username_key = ?", (normalize_username(username),)
            ).fetchone()
        return account_from_row(row) if row else None

    def set_password_hash(self, account_id: str, password_hash: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("UPDATE accounts SET password_hash = ? WHERE id = ?", (password_hash, account_id))

    def set_quota_limit(self, account_id: str, limit: int | None) -> None:
        with self._db.transaction() as conn:
            conn.execute("UPDATE accounts SET quota_limit = ? WHERE id = ?", (limit, account_id))

    def list(self) -> Sequence[Account]:
        with self._db.transaction(write=False) as conn:
            rows = conn.execute("SELECT * FROM accounts ORDER BY created_at, id").fetchall()
        return [account_from_row(r) for r in rows]


class SqliteSessionRepository:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def add(self, session: Session) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO sessions (token_hash, account_id, kind, name, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    session.token_hash,
                    session.account_id,
                    session.kind,
                    session.name,
                    to_micros(session.created_at),
                    to_micros(session.expires_at),
                ),
            )

    def get(self, token_hash: str) -> Session | None:
        with self._db.transaction(write=False) as conn:
            row = conn.execute("SELECT * FROM sessions WHERE token_hash = ?", (token_hash,)).fetchone()
        return session_from_row(row) if row else None

    def delete(self, token_hash: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))

    def list_for(self, account_id: str, kind: str) -> Sequence[Session]:
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(
                "SELECT * FROM sessions WHERE account_id = ? AND kind = ? ORDER BY created_at, token_hash",
                (account_id, kind),
            ).fetchall()
        return [session_from_row(r) for r in rows]

    def delete_expired(self, now: datetime) -> int:
        with self._db.transaction() as conn:
            return conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (to_micros(now),)).rowcount

    def delete_for_account(self, account_id: str) -> int:
        with self._db.transaction() as conn:
            return conn.execute("DELETE FROM sessions WHERE account_id = ?", (account_id,)).rowcount


def _index(conn: sqlite3.Connection, image: Image) -> None:
    """(Re)write the search columns of ``image`` from its current analysis, and its side-table
    rows when it is ready (the side tables hold ready images only)."""
    ix = SearchIndex.of(image)
    row = conn.execute(
        "UPDATE images SET terms = ?, tags = ?, palette = ?, filename_key = ?, uploaded_key = ? WHERE id = ?"
        " RETURNING state",
        (ix.terms_text, " ".join(ix.tags), ix.palette_json, ix.filename_key, ix.uploaded_key, image.id),
    ).fetchone()
    _drop_index_rows(conn, image.id)
    if row is not None and row["state"] == "ready":
        _insert_index_rows(conn, [(image, ix)])


def _drop_index_rows(conn: sqlite3.Connection, image_id: str) -> None:
    for table in ("search_terms", "search_tags", "search_colors"):
        conn.execute(f"DELETE FROM {table} WHERE image_id = ?", (image_id,))


def _insert_index_rows(conn: sqlite3.Connection, indexed: Sequence[tuple[Image, SearchIndex]]) -> None:
    conn.executemany(
        "INSERT INTO search_terms (owner_id, term, image_id, weight, uploaded_key) VALUES (?, ?, ?, ?, ?)",
        [r for img, ix in indexed for r in ix.term_rows(img.owner_id, img.id)],
    )
    conn.executemany(
        "INSERT INTO search_tags (owner_id, tag, image_id) VALUES (?, ?, ?)",
        [r for img, ix in indexed for r in ix.tag_rows(img.owner_id, img.id)],
    )
    conn.executemany(
        "INSERT INTO search_colors (owner_id, cell, image_id, position, l, a, b, fraction)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [r for img, ix in indexed for r in ix.color_rows(img.owner_id, img.id)],
    )


def _set_analysis(conn: sqlite3.Connection, image: Image, analysis: Analysis) -> Image:
    updated = attrs.evolve(image, analysis=analysis)
    conn.execute(
        "UPDATE images SET analysis = ?, analysis_status = ? WHERE id = ?",
        (analysis_json(analysis), analysis.status.value, image.id),
    )
    _index(conn, updated)
    return updated


class SqliteImageRepository:
    def __init__(self, db: SqliteDatabase, *, drive_below: int = DRIVE_BELOW) -> None:
        self._db = db
        # A search filter matching fewer images than this drives the query (sql.search).
        self.drive_below = drive_below

    def reserve(self, image: Image, quota_limit: int) -> None:
        # BEGIN IMMEDIATE takes the write lock first, so check-then-insert cannot race.
        with self._db.transaction() as conn:
            dup = conn.execute(
                "SELECT id FROM images WHERE owner_id = ? AND sha256 = ? AND state <> 'deleting' LIMIT 1",
                (image.owner_id, image.sha256),
            ).fetchone()
            if dup:
                raise DuplicateImage(dup[0])
            (used,) = conn.execute(
                "SELECT count(*) FROM images WHERE owner_id = ? AND state <> 'deleting'", (image.owner_id,)
            ).fetchone()
            if used >= quota_limit:
                raise QuotaExceeded(used, quota_limit)
            at = to_micros(image.uploaded_at)
            ix = SearchIndex.of(image)
            conn.execute(
                "INSERT INTO images (id, owner_id, state, filename,"
                " filename_key, content_type, width, height,"
                " size_bytes, sha256, uploaded_at, uploaded_key, analysis, analysis_status, available_at)"
                " VALUES (?, ?, 'uploading', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    at,
                    ix.uploaded_key,
                    analysis_json(image.analysis),
                    image.analysis.status.value,
                    at,
                ),
            )
            _index(conn, image)

    def commit(self, image_id: str) -> None:
        with self._db.transaction() as conn:
            row = conn.execute(
                f"UPDATE images SET state = 'ready' WHERE id = ? AND state = 'uploading' RETURNING {_COLS}",
                (image_id,),
            ).fetchone()
            if row is not None:  # searchable from now on
                image = image_from_row(row)
                _insert_index_rows(conn, [(image, SearchIndex.of(image))])

    def discard(self, image_id: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM images WHERE id = ?", (image_id,))

    def get(self, owner_id: str, image_id: str) -> Image | None:
        with self._db.transaction(write=False) as conn:
            row = conn.execute(
                f"SELECT {_COLS} FROM images WHERE id = ? AND owner_id = ? AND state = 'ready'",
                (image_id, owner_id),
            ).fetchone()
        return image_from_row(row) if row else None

    def find_by_sha256(self, owner_id: str, sha256: str) -> str | None:
        with self._db.transaction(write=False) as conn:
            row = conn.execute(
                "SELECT id FROM images WHERE owner_id = ? AND sha256 = ? AND state <> 'deleting' LIMIT 1",
                (owner_id, sha256),
            ).fetchone()
        return row[0] if row else None

    def count(self, owner_id: str) -> int:
        with self._db.transaction(write=False) as conn:
            (n,) = conn.execute(
                "SELECT count(*) FROM images WHERE owner_id = ? AND state <> 'deleting'", (owner_id,)
            ).fetchone()
        return int(n)

    def search(self, query: ImageQuery) -> Page:
        with self._db.transaction(write=False) as conn:

            def fetch(sql: Sql) -> list[sqlite3.Row]:
                return conn.execute(sql.text, sql.params).fetchall()

            rows = search_rows(query, SQLITE_DIALECT, fetch, self.drive_below)
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        last = Cursor(key=rows[-1]["sort_key"], id=rows[-1]["id"]) if more and rows else None
        return Page(tuple(image_from_row(r) for r in rows), last)

    def import_ready(self, images: Sequence[Image]) -> None:
        """Store ``images`` as ready, indexed, in one transaction, with no quota or duplicate check.

        Not part of the port: for trusted bulk loads (benchmarks, imports) where one
        reserve/commit per image would be far too slow.
        """
        indexed = [(img, SearchIndex.of(img)) for img in images]
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT INTO images (id, owner_id, state, filename, filename_key, content_type, width, height,"
                " size_bytes, sha256, uploaded_at, uploaded_key, analysis, analysis_status, terms, tags, palette,"
                " available_at) VALUES (?, ?, 'ready', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        img.id,
                        img.owner_id,
                        img.filename,
                        ix.filename_key,
                        img.content_type,
                        img.width,
                        img.height,
                        img.size_bytes,
                        img.sha256,
                        to_micros(img.uploaded_at),
                        ix.uploaded_key,
                        analysis_json(img.analysis),
                        img.analysis.status.value,
                        ix.terms_text,
                        " ".join(ix.tags),
                        ix.palette_json,
                        to_micros(img.uploaded_at),
                    )
                    for img, ix in indexed
                ],
            )
            _insert_index_rows(conn, indexed)

    def begin_delete(self, owner_id: str, image_id: str) -> Image | None:
        with self._db.transaction() as conn:
            row = conn.execute(
                f"UPDATE images SET state = 'deleting' WHERE id = ? AND owner_id = ? AND state = 'ready'"
                f" RETURNING {_COLS}",
                (image_id, owner_id),
            ).fetchone()
            if row is not None:
                _drop_index_rows(conn, image_id)
        return image_from_row(row) if row else None

    def stale(self, now: datetime, uploading_older_than: datetime) -> Sequence[tuple[Image, str]]:
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(
                f"SELECT {_COLS}, state FROM images"
                " WHERE state = 'deleting' OR (state = 'uploading'"
                " AND uploaded_at < ?) ORDER BY uploaded_at, id",
                (to_micros(uploading_older_than),),
            ).fetchall()
        return [(image_from_row(r), r["state"]) for r in rows]

    def exists(self, image_id: str) -> bool:
        with self._db.transaction(write=False) as conn:
            return conn.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone() is not None

    def tag_counts(self, owner_id: str) -> list[tuple[str, int]]:
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(
                "SELECT g.tag, count(*) AS n FROM search_tags g JOIN images i ON i.id = g.image_id"
                " WHERE g.owner_id = ? AND i.state = 'ready' GROUP BY g.tag ORDER BY n DESC, g.tag",
                (owner_id,),
            ).fetchall()
        return [(str(r[0]), int(r[1])) for r in rows]

    # ---- analysis queue

    def request_analysis(self, owner_id: str, image_id: str, now: datetime) -> Image | None:
        with self._db.transaction() as conn:
            row = conn.execute(
                f"UPDATE images SET generation = generation + 1, attempts = 0, available_at = ?,"
                f" leased_until = NULL WHERE id = ? AND owner_id = ? AND state = 'ready' RETURNING {_COLS}",
                (to_micros(now), image_id, owner_id),
            ).fetchone()
            if row is None:
                return None
            image = image_from_row(row)
            return _set_analysis(conn, image, Analysis.pending(image.analysis.analyzer))

    def claim_analysis(self, now: datetime, lease_until: datetime) -> AnalysisJob | None:
        t = to_micros(now)
        with self._db.transaction() as conn:
            row = conn.execute(
                f"UPDATE images SET leased_until = ?, attempts = attempts + 1 WHERE id = ("
                " SELECT id FROM images WHERE state = 'ready' AND analysis_status = 'pending'"
                " AND (available_at IS NULL OR available_at <= ?)"
                " AND (leased_until IS NULL OR leased_until <= ?)"
                f" ORDER BY available_at, id LIMIT 1) RETURNING {_COLS}, generation, attempts",
                (to_micros(lease_until), t, t),
            ).fetchone()
        if row is None:
            return None
        return AnalysisJob(image_from_row(row), int(row["generation"]), int(row["attempts"]))

    def complete_analysis(self, job: AnalysisJob, analysis: Analysis) -> bool:
        with self._db.transaction() as conn:
            row = conn.execute(
                f"UPDATE images SET leased_until = NULL WHERE id"
                f" = ? AND generation = ? AND state <> 'deleting'"
                f" RETURNING {_COLS}",
                (job.image.id, job.generation),
            ).fetchone()
            if row is None:
                return False
            _set_analysis(conn, image_from_row(row), analysis)
            return True

    def retry_analysis(self, job: AnalysisJob, available_at: datetime, error: str) -> bool:
        with self._db.transaction() as conn:
            row = conn.execute(
                f"UPDATE images SET available_at = ?, leased_until = NULL WHERE id = ? AND generation = ?"
                f" RETURNING {_COLS}",
                (to_micros(available_at), job.image.id, job.generation),
            ).fetchone()
            if row is None:
                return False
            image = image_from_row(row)
            _set_analysis(conn, image, attrs.evolve(image.analysis, error=error))
            return True

    def pending_analyses(self) -> int:
        with self._db.transaction(write=False) as conn:
            (n,) = conn.execute(
                "SELECT count(*) FROM images WHERE state = 'ready' AND analysis_status = ?",
                (AnalysisStatus.PENDING.value,),
            ).fetchone()
        return int(n)

    def check(self) -> None:
        self._db.check()
