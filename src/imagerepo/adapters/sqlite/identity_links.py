"""SqliteIdentityLinkRepository: the identity_links table of migration 0010."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from imagerepo.adapters.sql.rows import from_micros, to_micros
from imagerepo.adapters.sqlite.database import SqliteDatabase
from imagerepo.domain.errors import ServiceUnavailable
from imagerepo.domain.identity import IdentityLink


def _link(row: sqlite3.Row) -> IdentityLink:
    return IdentityLink(
        issuer=row["issuer"], subject=row["subject"], account_id=row["account_id"],
        created_at=from_micros(row["created_at"]), email=row["email"],
    )


class SqliteIdentityLinkRepository:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def add(self, link: IdentityLink) -> IdentityLink:
        try:
            with self._db.transaction() as conn:
                conn.execute(
                    "INSERT INTO identity_links (issuer, subject, account_id, email, created_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (issuer, subject) DO NOTHING",
                    (link.issuer, link.subject, link.account_id, link.email, to_micros(link.created_at)),
                )
                row = conn.execute(
                    "SELECT * FROM identity_links WHERE issuer = ? AND subject = ?", (link.issuer, link.subject)
                ).fetchone()
        except sqlite3.IntegrityError as e:
            raise ServiceUnavailable(f"database error: {e}") from e
        return _link(row)

    def get(self, issuer: str, subject: str) -> IdentityLink | None:
        with self._db.transaction(write=False) as conn:
            row = conn.execute(
                "SELECT * FROM identity_links WHERE issuer = ? AND subject = ?", (issuer, subject)
            ).fetchone()
        return _link(row) if row else None

    def list_for(self, account_id: str) -> Sequence[IdentityLink]:
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(
                "SELECT * FROM identity_links WHERE account_id = ? ORDER BY created_at, issuer, subject",
                (account_id,),
            ).fetchall()
        return [_link(r) for r in rows]
