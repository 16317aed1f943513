"""Migration 0060: API tokens of older versions, which never expired, get the default lifetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from imagerepo.domain.accounts import Session
from tests.contract.conftest import Backend

FOR_EVER = datetime(9999, 1, 1, tzinfo=UTC)  # how older versions stored "never expires"


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.integration)],
                         indirect=True)
def test_tokens_that_never_expired_get_90_days_from_the_upgrade(backend: Backend) -> None:
    repo = backend.sessions()
    now = datetime.now(UTC)
    soon = now + timedelta(days=30)
    repo.add(Session("legacy", "acct-1", now, FOR_EVER, "api_token", "old script"))
    repo.add(Session("dated", "acct-1", now, soon, "api_token", "new script"))
    with backend.db.transaction() if backend.name == "sqlite" else backend.db.connection() as conn:
        conn.execute("DELETE FROM schema_version WHERE version = 60")  # as if upgrading now
    assert 60 in backend.db.migrate()
    after = datetime.now(UTC)
    legacy, dated = repo.get("legacy"), repo.get("dated")
    assert legacy is not None
    assert dated is not None
    assert now + timedelta(days=90) - timedelta(seconds=1) <= legacy.expires_at <= after + timedelta(days=90)
    assert dated.expires_at == soon  # tokens that already expire keep their own date
