"""SQLite's plans for merged word walks: the bound of a walk cut to its newest entries is computed
once for the statement, not once per merged index scan."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from imagerepo.domain.images import Analysis, AnalysisResult, Image, Tag
from imagerepo.domain.queries import build_query
from tests.search_reference import search_all

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _image(owner: str, n: int) -> Image:
    description = "a dog in the park" if n % 3 else "parking"  # the word "park" matches two terms
    tags = ("dog",) if n % 2 else ("cat",)
    analysis = Analysis.done(AnalysisResult("fake", description, tuple(Tag(t, 0.9) for t in tags), (), ""), T0)
    return Image(
        id=str(uuid.uuid4()),
        owner_id=owner,
        filename=f"park{n}.jpg" if n % 5 == 0 else "x.jpg",
        content_type="image/jpeg",
        width=40,
        height=30,
        size_bytes=1000,
        sha256=uuid.uuid4().hex,
        uploaded_at=T0 + timedelta(minutes=n),
        analysis=analysis,
    )


def test_a_word_walk_cut_to_its_newest_entries_computes_its_bound_once(tmp_path: Path) -> None:
    """A word and a tag in upload order walk the word's entries (one index scan per term and
    weight, merged) only as deep as the newest few: the upload key where that depth ends is one
    materialized value every scan reads (it was merged again inside each scan: word + tag + color
    at 100,000 images, 11.3 ms of CPU instead of 5.4); the page is the reference's."""
    from imagerepo.adapters.sql.search import search_rows
    from imagerepo.adapters.sqlite import SqliteDatabase, SqliteImageRepository

    db = SqliteDatabase(tmp_path / "plans.sqlite3")
    db.open()
    try:
        owner = "plans"
        images = [_image(owner, n) for n in range(60)]
        SqliteImageRepository(db).import_ready(images)
        query = build_query(owner, q="park", tags=["dog"], sort="-uploaded_at", limit=4)
        walks: list[Any] = []
        with db.transaction(write=False) as tx:

            def fetch(sql: Any) -> list[Any]:
                if "LIMIT 1 OFFSET" in sql.text:
                    walks.append(sql)
                return list(tx.execute(sql.text, sql.params).fetchall())

            rows = search_rows(query, db.dialect, fetch, drive_below=12)  # walks the newest 6 entries first
            assert [r["id"] for r in rows] == [i.id for i in search_all(images, query)][:5]
            assert walks
            for sql in walks:
                assert sql.text.count("LIMIT 1 OFFSET") == 1
                plan = [r["detail"] for r in tx.execute("EXPLAIN QUERY PLAN " + sql.text, sql.params).fetchall()]
                assert plan.count("MATERIALIZE bound") == 1
                scans = [d for d in plan if d.startswith("SEARCH search_terms USING COVERING INDEX")]
                assert len(scans) > 2  # the merged scans (terms x weights), and the bound's own, each once
    finally:
        db.close()
