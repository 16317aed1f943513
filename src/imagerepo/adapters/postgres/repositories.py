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
from imagerepo.domain.accounts import Account, Session, normalize_username
from imagerepo.domain.colors import COLOR_MATCH_CUTOFF, COLOR_MIN_FRACTION, COLOR_SHARE_WEIGHT, rgb_to_lab
from imagerepo.domain.errors import DuplicateImage, QuotaExceeded, UsernameTaken
from imagerepo.domain.images import Analysis, AnalysisJob, AnalysisStatus, Cursor, Image, ImageQuery, Page
from imagerepo.domain.search import is_descending

Conn = psycopg.Connection[dict[str, Any]]

_COLS = ", ".join(IMAGE_COLUMNS)
# Above every code point a stored term can contain: [w, w + _TOP) in "C" order holds exactly
# the terms that start with w.
_TOP = "\U0010ffff"

# The color score of search.color_score in SQL, term for term (CIE76 in Lab, then the share
# weight, rounded to 6 places), so PostgreSQL orders colors exactly as the reference does.
_COLOR_SCORE = """(
    SELECT min(round((s.d + %s * (1.0::float8 - s.fraction))::numeric, 6))::float8
    FROM (SELECT sqrt(power(%s - c.l, 2) + power(%s - c.a, 2) + power(%s - c.b, 2)) AS d, c.fraction
          FROM image_colors c WHERE c.image_id = i.id AND c.fraction >= %s) AS s
    WHERE s.d <= %s)"""


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


def _index(conn: Conn, image: Image) -> None:
    """(Re)write the search columns and side tables of ``image`` from its current analysis."""
    ix = SearchIndex.of(image)
    conn.execute(
        "UPDATE images SET terms = %s, tags = %s, filename_key = %s, uploaded_key = %s,"
        " analysis = %s, analysis_status = %s WHERE id = %s",
        (
            ix.terms_text,
            list(ix.tags),
            ix.filename_key,
            ix.uploaded_key,
            Jsonb(image.analysis.to_json()),
            image.analysis.status.value,
            image.id,
        ),
    )
    conn.execute("DELETE FROM image_terms WHERE image_id = %s", (image.id,))
    conn.execute("DELETE FROM image_colors WHERE image_id = %s", (image.id,))
    with conn.cursor() as cur:
        if ix.terms:
            cur.executemany(
                "INSERT INTO image_terms (term, image_id) VALUES (%s, %s)", [(t, image.id) for t in ix.terms]
            )
        if ix.palette:
            cur.executemany(
                "INSERT INTO image_colors (image_id, position, l,"
                " a, b, fraction) VALUES (%s, %s, %s, %s, %s, %s)",
                [(image.id, n, *p) for n, p in enumerate(ix.palette)],
            )


class PostgresImageRepository:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

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
            conn.execute(
                "UPDATE images SET state = 'ready' WHERE id = %s AND state = 'uploading'", (image_id,)
            )

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
        score, score_params = "NULL::float8", []
        if query.color is not None:
            score = _COLOR_SCORE
            score_params = [
                COLOR_SHARE_WEIGHT,
                *rgb_to_lab(query.color),
                COLOR_MIN_FRACTION,
                COLOR_MATCH_CUTOFF,
            ]
        where = ["i.owner_id = %s", "i.state = 'ready'"]
        params: list[Any] = [query.owner_id]
        if query.tags:
            where.append("i.tags @> %s::text[]")
            params.append(list(query.tags))
        for word in query.words:
            where.append(
                "EXISTS (SELECT 1 FROM image_terms t WHERE t.term"
                " >= %s AND t.term < %s AND t.image_id = i.id)"
            )
            params += [word, word + _TOP]
        order = query.order.lstrip("-")
        key = {
            "uploaded_at": "uploaded_key",
            "filename": 'filename_key COLLATE "C"',
            "size_bytes": "size_bytes",
        }.get(order, "score")
        outer: list[str] = []
        outer_params: list[Any] = []
        if query.color is not None:
            outer.append("score IS NOT NULL")
        desc = is_descending(query)
        if query.cursor is not None:
            outer.append(f"(sort_key, id) {'<' if desc else '>'} (%s, %s)")
            outer_params += [query.cursor.key, query.cursor.id]
        direction = "DESC" if desc else "ASC"
        inner = (
            f"SELECT {', '.join('i.' + c for c in IMAGE_COLUMNS)}, i.uploaded_key, i.filename_key,"
            f" {score} AS score FROM images i WHERE {' AND '.join(where)}"
        )
        sql = f"SELECT * FROM (SELECT *, {key} AS sort_key FROM ({inner}) AS m) AS k"
        if outer:
            sql += " WHERE " + " AND ".join(outer)
        sql += f' ORDER BY sort_key {direction}, id COLLATE "C" {direction} LIMIT %s'
        with self._db.connection() as conn:
            rows = conn.execute(sql, [*score_params, *params, *outer_params, query.limit + 1]).fetchall()
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        last = Cursor(key=rows[-1]["sort_key"], id=rows[-1]["id"]) if more and rows else None
        return Page(tuple(image_from_row(r) for r in rows), last)

    def begin_delete(self, owner_id: str, image_id: str) -> Image | None:
        with self._db.connection() as conn:
            row = conn.execute(
                f"UPDATE images SET state = 'deleting' WHERE id = %s AND owner_id = %s AND state = 'ready'"
                f" RETURNING {_COLS}",
                (image_id, owner_id),
            ).fetchone()
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
