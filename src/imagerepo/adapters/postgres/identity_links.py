"""PostgresIdentityLinkRepository: the identity_links table of migration 0010."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any

from imagerepo.adapters.postgres.database import PostgresDatabase
from imagerepo.domain.identity import IdentityLink


def _link(row: Mapping[str, Any]) -> IdentityLink:
    return IdentityLink(
        issuer=row["issuer"], subject=row["subject"], account_id=row["account_id"],
        created_at=row["created_at"].astimezone(UTC), email=row["email"],
    )


class PostgresIdentityLinkRepository:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def add(self, link: IdentityLink) -> IdentityLink:
        with self._db.connection() as conn:
            conn.execute(
                "INSERT INTO identity_links (issuer, subject, account_id, email, created_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (issuer, subject) DO NOTHING",
                (link.issuer, link.subject, link.account_id, link.email, link.created_at),
            )
            row = conn.execute(
                "SELECT * FROM identity_links WHERE issuer = %s AND subject = %s", (link.issuer, link.subject)
            ).fetchone()
        assert row is not None
        return _link(row)

    def get(self, issuer: str, subject: str) -> IdentityLink | None:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT * FROM identity_links WHERE issuer = %s AND subject = %s", (issuer, subject)
            ).fetchone()
        return _link(row) if row else None

    def list_for(self, account_id: str) -> Sequence[IdentityLink]:
        with self._db.connection() as conn:
            rows = conn.execute(
                "SELECT * FROM identity_links WHERE account_id = %s ORDER BY created_at, issuer, subject",
                (account_id,),
            ).fetchall()
        return [_link(r) for r in rows]
