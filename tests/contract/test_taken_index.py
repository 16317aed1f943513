"""The capture-time orders and ranges read their own indexes (migration 0080) on SQLite and
PostgreSQL: the plan of each search names the index, so a big library is never sorted in full."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from imagerepo.adapters.sql.search import search_sql
from imagerepo.domain.queries import build_query
from tests.contract.conftest import Backend


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def sql_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    b = Backend(request.param, request, tmp_path)
    yield b
    b.close()


@pytest.mark.parametrize(
    ("params", "index"),
    [
        ({"sort": "-taken_at"}, "images_by_taken_desc"),
        ({"sort": "taken_at"}, "images_by_taken_asc"),
        ({"sort": "-taken_at", "taken_after": "2023-01-01", "taken_before": "2024-01-01"}, "images_by_taken_desc"),
        # Plain dates test the local key too (migration 0150), beside the instant keys these indexes hold.
        ({"sort": "taken_at", "taken_after": "2023-01-01"}, "images_by_taken_asc"),
        ({"sort": "taken_at", "taken_after": "2023-01-01T00:00:00Z", "taken_before": "2024-01-01"},
         "images_by_taken_asc"),
    ],
)
def test_taken_orders_read_their_index(sql_backend: Any, params: dict[str, str], index: str) -> None:
    db = sql_backend.db
    sql = search_sql(build_query("alice", **params), db.dialect, lambda _: 0, drive_below=0)
    with db.transaction() as tx:
        if sql_backend.name == "postgres":
            tx.execute("SET LOCAL enable_seqscan = off")  # an empty table: the planner would scan it whole
            rows = tx.execute("EXPLAIN " + sql.text, sql.params, prepare=False).fetchall()
        else:
            rows = tx.execute("EXPLAIN QUERY PLAN " + sql.text, sql.params).fetchall()
    plan = " ".join(str(v) for r in rows for v in (r.values() if hasattr(r, "values") else tuple(r)))
    assert index in plan, plan
