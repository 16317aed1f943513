"""Accounts, sessions, images and the analysis queue in SQL, once for SQLite and PostgreSQL."""

# ruff: noqa: S608  # SQL is assembled from constant fragments only; values are always bound parameters

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs

from imagerepo.adapters.sql.dialect import Database, Dialect, Transaction, insert_sql
from imagerepo.adapters.sql.rows import (
    IMAGE_COLUMNS,
    SearchIndex,
    account_from_row,
    image_from_row,
    json_text,
    session_from_row,
)
from imagerepo.adapters.sql.search import DRIVE_BELOW, Sql, filtered, search_rows
from imagerepo.domain.accounts import Account, AccountSettings, Session, normalize_username
from imagerepo.domain.errors import DuplicateImage, QuotaExceeded, UsernameTaken
from imagerepo.domain.images import Analysis, AnalysisJob, AnalysisStatus, Image
from imagerepo.domain.photos import PhotoInfo
from imagerepo.domain.queries import Cursor, ImageQuery, Page

_COLS = ", ".join(IMAGE_COLUMNS)
_LIVE_SHA = "SELECT id FROM images WHERE owner_id = ? AND sha256 = ? AND state <> 'deleting' LIMIT 1"
_LIVE_COUNT = "SELECT count(*) AS n FROM images WHERE owner_id = ? AND state <> 'deleting'"


class SqlAccountRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, account: Account) -> None:
        d = self._db.dialect
        try:
            with self._db.transaction() as tx:
                tx.execute(
                    "INSERT INTO accounts (id, username, username_key, password_hash, created_at, quota_limit,"
                    " keep_location, face_recognition) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        account.id,
                        account.username,
                        normalize_username(account.username),
                        account.password_hash,
                        d.time(account.created_at),
                        account.quota_limit,
                        account.settings.keep_location,
                        account.settings.face_recognition,
                    ),
                )
        except d.unique_violation as e:
            raise UsernameTaken(account.username) from e

    def get(self, account_id: str) -> Account | None:
        with self._db.transaction(write=False) as tx:
            row = tx.execute("SELECT * FROM accounts WHERE id = ?", (account_id,)).fetchone()
        return account_from_row(row) if row else None

    def get_by_username(self, username: str) -> Account | None:
        with self._db.transaction(write=False) as tx:
            row = tx.execute(
                "SELECT * FROM accounts WHERE username_key = ?", (normalize_username(username),)
            ).fetchone()
        return account_from_row(row) if row else None

    def set_password_hash(self, account_id: str, password_hash: str) -> None:
        with self._db.transaction() as tx:
            tx.execute("UPDATE accounts SET password_hash = ? WHERE id = ?", (password_hash, account_id))

    def set_quota_limit(self, account_id: str, limit: int | None) -> None:
        with self._db.transaction() as tx:
            tx.execute("UPDATE accounts SET quota_limit = ? WHERE id = ?", (limit, account_id))

    def set_settings(self, account_id: str, settings: AccountSettings) -> None:
        with self._db.transaction() as tx:
            tx.execute(
                "UPDATE accounts SET keep_location = ?, face_recognition = ? WHERE id = ?",
                (settings.keep_location, settings.face_recognition, account_id),
            )

    def list(self) -> Sequence[Account]:
        with self._db.transaction(write=False) as tx:
            rows = tx.execute("SELECT * FROM accounts ORDER BY created_at, id").fetchall()
        return [account_from_row(r) for r in rows]

    def delete(self, account_id: str) -> bool:
        with self._db.transaction() as tx:
            return tx.execute("DELETE FROM accounts WHERE id = ?", (account_id,)).rowcount > 0


class SqlSessionRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, session: Session) -> None:
        d = self._db.dialect
        with self._db.transaction() as tx:
            tx.execute(
                "INSERT INTO sessions (token_hash, account_id, kind, name, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (token_hash) DO UPDATE SET"
                " account_id = excluded.account_id, kind = excluded.kind, name = excluded.name,"
                " created_at = excluded.created_at, expires_at = excluded.expires_at",
                (
                    session.token_hash,
                    session.account_id,
                    session.kind,
                    session.name,
                    d.time(session.created_at),
                    d.time(session.expires_at),
                ),
            )

    def get(self, token_hash: str) -> Session | None:
        with self._db.transaction(write=False) as tx:
            row = tx.execute("SELECT * FROM sessions WHERE token_hash = ?", (token_hash,)).fetchone()
        return session_from_row(row) if row else None

    def delete(self, token_hash: str) -> None:
        with self._db.transaction() as tx:
            tx.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))

    def list_for(self, account_id: str, kind: str) -> Sequence[Session]:
        with self._db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT * FROM sessions WHERE account_id = ? AND kind = ? ORDER BY created_at, token_hash",
                (account_id, kind),
            ).fetchall()
        return [session_from_row(r) for r in rows]

    def delete_expired(self, now: datetime) -> int:
        with self._db.transaction() as tx:
            return tx.execute("DELETE FROM sessions WHERE expires_at <= ?", (self._db.dialect.time(now),)).rowcount

    def delete_for_account(self, account_id: str) -> int:
        with self._db.transaction() as tx:
            return tx.execute("DELETE FROM sessions WHERE account_id = ?", (account_id,)).rowcount


def _search_columns(d: Dialect, image: Image, ix: SearchIndex) -> dict[str, Any]:
    """The image row's columns that follow from its analysis."""
    cols = {
        "filename_key": ix.filename_key,
        "uploaded_key": ix.uploaded_key,
        "analysis": d.json(image.analysis.to_json()),
        "analysis_status": image.analysis.status.value,
        "terms": ix.terms_text,
        "tags": d.text_list(ix.tags),
        "photo": json_text(image.photo.to_json()) if image.photo is not None else None,
        "taken_desc_key": ix.taken_desc_key,
        "taken_asc_key": ix.taken_asc_key,
        "taken_local_key": ix.taken_local_key,
    }
    if d.palette_column:
        cols["palette"] = ix.palette_json
    return cols


def _image_row(d: Dialect, image: Image, ix: SearchIndex, state: str) -> dict[str, Any]:
    """Every column of a new image row."""
    return {
        "id": image.id,
        "owner_id": image.owner_id,
        "state": state,
        "filename": image.filename,
        "content_type": image.content_type,
        "width": image.width,
        "height": image.height,
        "size_bytes": image.size_bytes,
        "sha256": image.sha256,
        "uploaded_at": d.time(image.uploaded_at),
        "available_at": d.time(image.uploaded_at),
        **_search_columns(d, image, ix),
    }


def _index(tx: Transaction, d: Dialect, image: Image) -> Image:
    """Store ``image``'s analysis and the search columns derived from it, and its side-table rows
    when it is ready (the side tables hold ready images only)."""
    ix = SearchIndex.of(image)
    cols = _search_columns(d, image, ix)
    row = tx.execute(
        f"UPDATE images SET {', '.join(c + ' = ?' for c in cols)} WHERE id = ? RETURNING state",
        (*cols.values(), image.id),
    ).fetchone()
    _drop_index_rows(tx, image.id)
    if row is not None and row["state"] == "ready":
        _insert_index_rows(tx, [(image, ix)])
    return image


def _drop_index_rows(tx: Transaction, image_id: str) -> None:
    for table in ("search_terms", "search_tags", "search_colors"):
        tx.execute(f"DELETE FROM {table} WHERE image_id = ?", (image_id,))


def _insert_index_rows(tx: Transaction, indexed: Sequence[tuple[Image, SearchIndex]], *, bulk: bool = False) -> None:
    tx.insert(
        "search_terms",
        ("owner_id", "term", "image_id", "weight", "uploaded_key"),
        [r for img, ix in indexed for r in ix.term_rows(img.owner_id, img.id)],
        bulk=bulk,
    )
    tx.insert(
        "search_tags",
        ("owner_id", "tag", "image_id"),
        [r for img, ix in indexed for r in ix.tag_rows(img.owner_id, img.id)],
        bulk=bulk,
    )
    tx.insert(
        "search_colors",
        ("owner_id", "cell", "image_id", "position", "l", "a", "b", "fraction", "name"),
        [r for img, ix in indexed for r in ix.color_rows(img.owner_id, img.id)],
        bulk=bulk,
    )


class SqlImageRepository:
    """ImageRepository and AnalysisQueue: the jobs are columns of the images table."""

    def __init__(self, db: Database, *, drive_below: int = DRIVE_BELOW) -> None:
        self._db = db
        # A search filter matching fewer images than this drives the query (sql.search).
        self.drive_below = drive_below

    def reserve(self, image: Image, quota_limit: int) -> None:
        d = self._db.dialect
        try:
            with self._db.transaction() as tx:
                # One owner's reservations queue here, so count-then-insert cannot race.
                tx.lock(image.owner_id)
                dup = tx.execute(_LIVE_SHA, (image.owner_id, image.sha256)).fetchone()
                if dup:
                    raise DuplicateImage(dup["id"])
                used = int(tx.execute(_LIVE_COUNT, (image.owner_id,)).fetchone()["n"])
                if used >= quota_limit:
                    raise QuotaExceeded(used, quota_limit)
                row = _image_row(d, image, SearchIndex.of(image), "uploading")
                tx.execute(insert_sql("images", list(row)), list(row.values()))
        except d.unique_violation as e:
            existing = self.find_by_sha256(image.owner_id, image.sha256)
            if existing is None:
                raise
            raise DuplicateImage(existing) from e

    def commit(self, image_id: str) -> None:
        with self._db.transaction() as tx:
            row = tx.execute(
                f"UPDATE images SET state = 'ready' WHERE id = ? AND state = 'uploading' RETURNING {_COLS}",
                (image_id,),
            ).fetchone()
            if row is not None:  # searchable from now on
                image = image_from_row(row)
                _insert_index_rows(tx, [(image, SearchIndex.of(image))])

    def discard(self, image_id: str) -> None:
        with self._db.transaction() as tx:
            tx.execute("DELETE FROM images WHERE id = ?", (image_id,))

    def get(self, owner_id: str, image_id: str) -> Image | None:
        with self._db.transaction(write=False) as tx:
            row = tx.execute(
                f"SELECT {_COLS} FROM images WHERE id = ? AND owner_id = ? AND state = 'ready'",
                (image_id, owner_id),
            ).fetchone()
        return image_from_row(row) if row else None

    def get_many(self, owner_id: str, image_ids: Sequence[str]) -> Sequence[Image]:
        ids = list(dict.fromkeys(image_ids))
        if not ids:
            return []
        with self._db.transaction(write=False) as tx:
            # By id alone, owner and state checked here: a planner without statistics would
            # otherwise walk one of the owner's indexes (8 ms for 20 of 20k images, not 0.3).
            rows = tx.execute(
                f"SELECT {_COLS}, state FROM images WHERE id IN ({', '.join('?' * len(ids))})", ids, prepare=False
            ).fetchall()
        return [image_from_row(r) for r in rows if r["owner_id"] == owner_id and r["state"] == "ready"]

    def find_by_sha256(self, owner_id: str, sha256: str) -> str | None:
        with self._db.transaction(write=False) as tx:
            row = tx.execute(_LIVE_SHA, (owner_id, sha256)).fetchone()
        return str(row["id"]) if row else None

    def count(self, owner_id: str) -> int:
        with self._db.transaction(write=False) as tx:
            return int(tx.execute(_LIVE_COUNT, (owner_id,)).fetchone()["n"])

    def search(self, query: ImageQuery) -> Page:
        with self._db.transaction(write=False) as tx:
            # Never prepared: PostgreSQL would then keep a generic plan that cannot see the owner or
            # the color buckets (cell = ANY of parameters became a filter over all of a big user's
            # colors: 160 ms instead of 3 ms). Planning each search with its values costs well under
            # a millisecond.
            def fetch(sql: Sql) -> list[Any]:
                return tx.execute(sql.text, sql.params, prepare=False).fetchall()

            if self._db.dialect.search_setup and filtered(query):
                tx.execute(self._db.dialect.search_setup, prepare=False)
            rows = search_rows(query, self._db.dialect, fetch, self.drive_below)
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        last = Cursor(key=rows[-1]["sort_key"], id=rows[-1]["id"]) if more and rows else None
        return Page(tuple(image_from_row(r) for r in rows), last)

    def import_ready(self, images: Sequence[Image]) -> None:
        """Store ``images`` as ready, indexed, in one transaction, with no quota or duplicate check.

        Not part of the port: for trusted bulk loads (benchmarks, imports) where one
        reserve/commit per image would be far too slow.
        """
        d = self._db.dialect
        indexed = [(img, SearchIndex.of(img)) for img in images]
        rows = [_image_row(d, img, ix, "ready") for img, ix in indexed]
        if not rows:
            return
        with self._db.transaction() as tx:
            tx.insert("images", list(rows[0]), [list(r.values()) for r in rows], bulk=True)
            _insert_index_rows(tx, indexed, bulk=True)

    def begin_delete(self, owner_id: str, image_id: str) -> Image | None:
        with self._db.transaction() as tx:
            row = tx.execute(
                f"UPDATE images SET state = 'deleting' WHERE id = ? AND owner_id = ? AND state = 'ready'"
                f" RETURNING {_COLS}",
                (image_id, owner_id),
            ).fetchone()
            if row is not None:
                _drop_index_rows(tx, image_id)
                tx.execute("DELETE FROM image_fingerprints WHERE image_id = ?", (image_id,))  # ready images only
        return image_from_row(row) if row else None

    def stale(self, now: datetime, uploading_older_than: datetime) -> Sequence[tuple[Image, str]]:
        with self._db.transaction(write=False) as tx:
            rows = tx.execute(
                f"SELECT {_COLS}, state FROM images WHERE state = 'deleting'"
                " OR (state = 'uploading' AND uploaded_at < ?) ORDER BY uploaded_at, id",
                (self._db.dialect.time(uploading_older_than),),
            ).fetchall()
        return [(image_from_row(r), r["state"]) for r in rows]

    def exists(self, image_id: str) -> bool:
        with self._db.transaction(write=False) as tx:
            return tx.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone() is not None

    def tag_counts(self, owner_id: str) -> list[tuple[str, int]]:
        # Ties in code-point order, as the other adapters sort them, whatever the database locale.
        with self._db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT g.tag AS tag, count(*) AS n FROM search_tags g JOIN images i ON i.id = g.image_id"
                " WHERE g.owner_id = ? AND i.state = 'ready' GROUP BY g.tag"
                f" ORDER BY n DESC, g.tag COLLATE {self._db.dialect.code_points}",
                (owner_id,),
            ).fetchall()
        return [(str(r["tag"]), int(r["n"])) for r in rows]

    def request_analysis(self, owner_id: str, image_id: str, now: datetime) -> Image | None:
        d = self._db.dialect
        with self._db.transaction() as tx:
            row = tx.execute(
                "UPDATE images SET generation = generation + 1, attempts = 0, available_at = ?,"
                f" leased_until = NULL WHERE id = ? AND owner_id = ? AND state = 'ready' RETURNING {_COLS}",
                (d.time(now), image_id, owner_id),
            ).fetchone()
            if row is None:
                return None
            image = image_from_row(row)
            return _index(tx, d, attrs.evolve(image, analysis=Analysis.pending(image.analysis.analyzer)))

    # ---- AnalysisQueue

    def claim_analysis(self, now: datetime, lease_until: datetime) -> AnalysisJob | None:
        d = self._db.dialect
        with self._db.transaction() as tx:
            row = tx.execute(
                "UPDATE images SET leased_until = ?, attempts = attempts + 1 WHERE id = ("
                " SELECT id FROM images WHERE state = 'ready' AND analysis_status = 'pending'"
                " AND (available_at IS NULL OR available_at <= ?)"
                " AND (leased_until IS NULL OR leased_until <= ?)"
                f" ORDER BY available_at, id LIMIT 1{d.skip_locked}) RETURNING {_COLS}, generation, attempts",
                (d.time(lease_until), d.time(now), d.time(now)),
            ).fetchone()
        if row is None:
            return None
        return AnalysisJob(image_from_row(row), int(row["generation"]), int(row["attempts"]))

    def complete_analysis(self, job: AnalysisJob, analysis: Analysis) -> bool:
        with self._db.transaction() as tx:
            row = tx.execute(
                "UPDATE images SET leased_until = NULL WHERE id = ? AND generation = ? AND state <> 'deleting'"
                f" RETURNING {_COLS}",
                (job.image.id, job.generation),
            ).fetchone()
            if row is None:
                return False
            _index(tx, self._db.dialect, attrs.evolve(image_from_row(row), analysis=analysis))
            return True

    def retry_analysis(self, job: AnalysisJob, available_at: datetime, error: str) -> bool:
        d = self._db.dialect
        with self._db.transaction() as tx:
            row = tx.execute(
                "UPDATE images SET available_at = ?, leased_until = NULL WHERE id = ? AND generation = ?"
                f" RETURNING {_COLS}",
                (d.time(available_at), job.image.id, job.generation),
            ).fetchone()
            if row is None:
                return False
            image = image_from_row(row)
            _index(tx, d, attrs.evolve(image, analysis=attrs.evolve(image.analysis, error=error)))
            return True

    def set_photo(self, owner_id: str, image_id: str, photo: PhotoInfo) -> Image | None:
        with self._db.transaction() as tx:
            row = tx.execute(  # the UPDATE holds the row until the index is rewritten
                "UPDATE images SET photo = photo WHERE id = ? AND owner_id = ? AND state = 'ready'"
                f" RETURNING {_COLS}",
                (image_id, owner_id),
            ).fetchone()
            if row is None:
                return None
            return _index(tx, self._db.dialect, attrs.evolve(image_from_row(row), photo=photo))

    def erase_locations(self, owner_id: str) -> int:
        with self._db.transaction() as tx:
            tx.lock(owner_id)
            rows = tx.execute(
                f"UPDATE images SET photo = photo WHERE owner_id = ? AND photo IS NOT NULL RETURNING {_COLS}",
                (owner_id,),
            ).fetchall()
            placed = [i for i in map(image_from_row, rows) if i.photo is not None and i.location is not None]
            for image in placed:
                assert image.photo is not None
                _index(tx, self._db.dialect, attrs.evolve(image, photo=image.photo.without_location()))
        return len(placed)

    def unread_photos(self, after_id: str, limit: int) -> Sequence[Image]:
        with self._db.transaction(write=False) as tx:
            rows = tx.execute(
                f"SELECT {_COLS} FROM images WHERE state = 'ready' AND photo IS NULL AND id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        return [image_from_row(r) for r in rows]

    def pending_analyses(self) -> int:
        with self._db.transaction(write=False) as tx:
            row = tx.execute(
                "SELECT count(*) AS n FROM images WHERE state = 'ready' AND analysis_status = ?",
                (AnalysisStatus.PENDING.value,),
            ).fetchone()
        return int(row["n"])

    def check(self) -> None:
        self._db.check()
