"""PostgreSQL search is planned with its values every time, never from a prepared generic plan.

psycopg prepares a statement after five runs on a connection; PostgreSQL may then switch to a
generic plan that cannot see the owner or the color buckets. At 1M images that turned a 3 ms
color search into 160 ms (bench/bench_search.py), so the repository must not prepare searches.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from imagerepo.domain.images import Analysis, AnalysisResult, Color, Image, Tag
from imagerepo.domain.queries import build_query

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.integration


def _image(owner: str) -> Image:
    analysis = Analysis.done(
        AnalysisResult("fake", "a dog in the park", (Tag("dog", 0.9),), (Color("#1f6fb2", 0.6, "blue"),), ""),
        T0,
    )
    return Image(
        id=str(uuid.uuid4()),
        owner_id=owner,
        filename="dog.jpg",
        content_type="image/jpeg",
        width=40,
        height=30,
        size_bytes=1000,
        sha256=uuid.uuid4().hex,
        uploaded_at=T0,
        analysis=analysis,
    )


def test_repeated_searches_leave_no_prepared_statement(postgres_database: Any, postgres_dsn: str) -> None:
    from imagerepo.adapters.postgres import PostgresDatabase, PostgresImageRepository

    owner = f"plans-{uuid.uuid4().hex[:8]}"
    PostgresImageRepository(postgres_database).import_ready([_image(owner)])
    db = PostgresDatabase(postgres_dsn, min_size=1, max_size=1)  # one session: its statements are visible
    db.open(migrate=False)
    try:
        repo = PostgresImageRepository(db)
        queries = [
            build_query(owner, color="#1f6fb2"),
            build_query(owner, q="park", tags=["dog"], color="#1f6fb2", sort="-uploaded_at"),
            build_query(owner, q="dog"),
        ]
        for _ in range(8):  # past psycopg's prepare_threshold (5)
            for query in queries:
                assert len(repo.search(query).items) == 1
        with db.connection() as conn:
            prepared = conn.execute("SELECT statement FROM pg_prepared_statements").fetchall()
        assert prepared == []
    finally:
        db.close()
