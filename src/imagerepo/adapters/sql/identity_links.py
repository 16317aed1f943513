"""IdentityLinkRepository in SQL: the identity_links table of migration 0010."""

from __future__ import annotations

from collections.abc import Sequence

from imagerepo.adapters.sql.dialect import Database
from imagerepo.adapters.sql.rows import identity_link_from_row
from imagerepo.domain.errors import ServiceUnavailable
from imagerepo.domain.identity import IdentityLink

_GET = "SELECT * FROM identity_links WHERE issuer = ? AND subject = ?"


class SqlIdentityLinkRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, link: IdentityLink) -> IdentityLink:
        d = self._db.dialect
        try:
            with self._db.transaction() as tx:
                tx.execute(
                    "INSERT INTO identity_links (issuer, subject, account_id, email, created_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (issuer, subject) DO NOTHING",
                    (link.issuer, link.subject, link.account_id, link.email, d.time(link.created_at)),
                )
                # The link stored first wins: a racing second first-sign-in gets it back.
                row = tx.execute(_GET, (link.issuer, link.subject)).fetchone()
        except d.integrity_error as e:
            raise ServiceUnavailable(f"database error: {e}") from e
        return identity_link_from_row(row)

    def get(self, issuer: str, subject: str) -> IdentityLink | None:
        with self._db.transaction(write=False) as tx:
            row = tx.execute(_GET, (issuer, subject)).fetchone()
        return identity_link_from_row(row) if row else None

    def list_for(self, account_id: str) -> Sequence[IdentityLink]:
        with self._db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT * FROM identity_links WHERE account_id = ? ORDER BY created_at, issuer, subject",
                (account_id,),
            ).fetchall()
        return [identity_link_from_row(r) for r in rows]

    def delete_for(self, account_id: str) -> int:
        with self._db.transaction() as tx:
            return int(tx.execute("DELETE FROM identity_links WHERE account_id = ?", (account_id,)).rowcount)
