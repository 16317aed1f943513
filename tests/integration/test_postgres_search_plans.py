"""PostgreSQL search is planned with its values every time, never from a prepared generic plan.

psycopg prepares a statement after five runs on a connection; PostgreSQL may then switch to a
generic plan that cannot see the owner or the color buckets. At 1M images that turned a 3 ms
color search into 160 ms (bench/bench_search.py), so the repository must not prepare searches.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from imagerepo.domain.images import Analysis, AnalysisResult, Color, Image, Tag
from imagerepo.domain.photos import Location, PhotoInfo
from imagerepo.domain.queries import build_query
from tests.search_reference import search_all

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.integration


def _image(owner: str, tags: tuple[str, ...] = ("dog",), at: datetime = T0) -> Image:
    analysis = Analysis.done(
        AnalysisResult(
            "fake", "a dog in the park", tuple(Tag(t, 0.9) for t in tags), (Color("#1f6fb2", 0.6, "blue"),), ""
        ),
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
        uploaded_at=at,
        analysis=analysis,
    )


def _recording(tx: Any, texts: list[str]) -> Callable[[Any], list[Any]]:
    """A search_rows fetch on ``tx`` that keeps each statement's text in ``texts``."""

    def fetch(sql: Any) -> list[Any]:
        texts.append(sql.text)
        return list(tx.execute(sql.text, sql.params, prepare=False).fetchall())

    return fetch


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


TOKYO = Location(35.6762, 139.6503, "Tokyo", "Tokyo", "Japan", "JP")


def test_common_filters_that_rarely_meet_are_intersected_from_owner_first_indexes(postgres_database: Any) -> None:
    """A place and a tag, each on many of the owner's images but together on few (the bench's
    place_tag: 62 ms at 100,000 images when each image was probed along the sort index): once a
    short walk of the newest images finds too few, both filters' image sets are read from their
    owner-first indexes and intersected, and the page is still the reference's."""
    from imagerepo.adapters.postgres import PostgresImageRepository
    from imagerepo.adapters.sql.search import search_rows, search_sql

    owner = f"plans-{uuid.uuid4().hex[:8]}"
    images = []
    for n in range(80):
        tags = ("stage",) if n % 2 else ("cat",)
        img = _image(owner, tags, T0 + timedelta(minutes=n))
        if n % 2 == 0 or n < 6:  # Tokyo on the even ones; the oldest odd ones are staged there too
            img = attrs.evolve(img, photo=PhotoInfo(location=TOKYO))
        images.append(img)
    PostgresImageRepository(postgres_database).import_ready(images)
    query = build_query(owner, place="tokyo", tags=["stage"], sort="-uploaded_at")
    texts: list[str] = []
    with postgres_database.transaction(write=False) as tx:
        fetch = _recording(tx, texts)
        rows = search_rows(query, postgres_database.dialect, fetch, drive_below=24)  # walks 3 images first
        page = texts[-1]
        assert [r["id"] for r in rows] == [i.id for i in search_all(images, query)]
        # Each filter a set read from its owner-first index, none probed image by image (how PostgreSQL
        # then joins them depends on its statistics: a hash join at the bench's 100,000 images).
        assert "EXISTS" not in page
        assert "FROM (SELECT image_id, max(uploaded_key) AS uk FROM search_terms WHERE owner_id = ?" in page
        assert "d.image_id IN (SELECT image_id FROM search_tags WHERE owner_id = ? AND tag = ?)" in page
        # Sorted by the upload key search_terms carries: images is read for the page's rows only
        # (at 1M images, reading every match from images to sort it cost more than the join).
        sql = search_sql(query, postgres_database.dialect, lambda _: 0, 24, plan="intersect")
        plan = tx.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql.text}", sql.params, prepare=False).fetchone()
        reads = [n for n in _nodes(next(iter(plan.values()))[0]["Plan"]) if n.get("Relation Name") == "images"]
    assert len(reads) == 1  # the page's join
    assert reads[0]["Actual Loops"] * reads[0]["Actual Rows"] == len(rows)


def _nodes(plan: dict[str, Any]) -> Any:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def test_filtered_searches_run_without_jit_or_parallel_workers(postgres_database: Any) -> None:
    """A misestimated cost made PostgreSQL compile a place search with JIT and start parallel
    workers (190 ms for under 1,000 index probes at 100,000 images); a filtered search's
    transaction switches both off first, for itself only."""
    from imagerepo.adapters.postgres import PostgresImageRepository

    seen: list[tuple[str, str]] = []

    class Spy:
        dialect = postgres_database.dialect

        def transaction(self, *, write: bool = True) -> Any:
            return _Watched(postgres_database.transaction(write=write), seen)

    def settings() -> tuple[str, str]:
        with postgres_database.transaction(write=False) as tx:
            row = tx.execute(_SETTINGS).fetchone()
        return row["j"], row["p"]

    owner = f"plans-{uuid.uuid4().hex[:8]}"
    PostgresImageRepository(postgres_database).import_ready([_image(owner)])
    before = settings()
    repo = PostgresImageRepository(Spy())  # type: ignore[arg-type]
    assert len(repo.search(build_query(owner, tags=["dog"], sort="-uploaded_at")).items) == 1
    assert seen == [("off", "0")]
    assert settings() == before  # for the search's own transaction only


_SETTINGS = "SELECT current_setting('jit') AS j, current_setting('max_parallel_workers_per_gather') AS p"


class _Watched:
    """A transaction whose searches report jit and parallel workers as they run."""

    def __init__(self, inner: Any, seen: list[tuple[str, str]]) -> None:
        self._inner, self._seen = inner, seen

    def __enter__(self) -> Any:
        tx = self._inner.__enter__()
        seen = self._seen

        class Tx:
            def execute(self, sql: str, params: Any = (), *, prepare: bool = True) -> Any:
                if sql.startswith("SELECT i.id") and not seen:
                    row = tx.execute(_SETTINGS).fetchone()
                    seen.append((row["j"], row["p"]))
                return tx.execute(sql, params, prepare=prepare)

        return Tx()

    def __exit__(self, *exc: object) -> Any:
        return self._inner.__exit__(*exc)


def test_several_words_fill_a_page_from_their_best_score_level_without_grouping(postgres_database: Any) -> None:
    """Relevance to two words ("june 2023" at 1M images: 21 ms grouping every image holding both):
    when the best score level holds a page, it is walked newest first and no statement groups
    the words' entries; the words' terms are read in one statement (each is a round trip and a
    planning); the page is the reference's."""
    from imagerepo.adapters.postgres import PostgresImageRepository
    from imagerepo.adapters.sql.search import search_rows

    owner = f"plans-{uuid.uuid4().hex[:8]}"
    images = []
    for n in range(60):
        img = _image(owner, ("dog",), T0 + timedelta(minutes=n))
        taken = datetime(2023, 6 if n % 3 else 7, 2, tzinfo=UTC)
        images.append(attrs.evolve(img, photo=PhotoInfo(taken_at=taken)))
    PostgresImageRepository(postgres_database).import_ready(images)
    query = build_query(owner, q="june 2023", limit=5)
    texts: list[str] = []
    with postgres_database.transaction(write=False) as tx:
        fetch = _recording(tx, texts)
        rows = search_rows(query, postgres_database.dialect, fetch)
    assert [r["id"] for r in rows] == [i.id for i in search_all(images, query)][:6]
    assert not [t for t in texts if "GROUP BY" in t]
    assert len([t for t in texts if t.startswith("WITH RECURSIVE")]) == 1  # both words' terms, one statement


def test_a_place_among_common_filters_walks_its_own_entries_newest_first(postgres_database: Any) -> None:
    """A place and a tag, both common, in upload order: the place's index entries are walked
    newest first, the tag probed for each, until a page; images is read for the page only (at
    1M images, walking the images' sort index read mostly images elsewhere)."""
    from imagerepo.adapters.postgres import PostgresImageRepository
    from imagerepo.adapters.sql.search import search_rows

    owner = f"plans-{uuid.uuid4().hex[:8]}"
    images = []
    for n in range(80):
        img = _image(owner, ("stage",) if n % 3 else ("cat",), T0 + timedelta(minutes=n))
        images.append(attrs.evolve(img, photo=PhotoInfo(location=TOKYO)) if n % 2 else img)
    PostgresImageRepository(postgres_database).import_ready(images)
    query = build_query(owner, place="tokyo", tags=["stage"], sort="-uploaded_at", limit=5)
    texts: list[str] = []
    with postgres_database.transaction(write=False) as tx:
        fetch = _recording(tx, texts)
        rows = search_rows(query, postgres_database.dialect, fetch, drive_below=24)
    assert [r["id"] for r in rows] == [i.id for i in search_all(images, query)][:6]
    page = texts[-1]
    assert "FROM search_terms WHERE owner_id = ? AND term = ? AND weight = ? ORDER BY uploaded_key DESC" in page
    assert "EXISTS (SELECT 1 FROM search_tags g WHERE g.image_id = r.image_id" in page
    assert page.count("images") == 1  # the page's rows only


def test_a_color_search_skips_the_tiers_short_of_its_page_and_reads_the_owner_first_index(
    postgres_database: Any,
) -> None:
    """Color order ranks tier by tier (colors within ΔE 4, 5, 6.3, 8, 10, ...); a tier that finds
    too few tells how far the page lies, and the tiers short of it are skipped: each is a
    statement (at 20,000 images in PostgreSQL, six statements of 0.5 ms each took longer than
    three). The tier reads the owner's buckets of search_colors once, testing each color's share
    and the cube around the query (cheap comparisons, which PostgreSQL runs before the distance's
    arithmetic); the page is the reference's."""
    from imagerepo.adapters.postgres import PostgresImageRepository
    from imagerepo.adapters.sql.search import search_rows, search_sql

    owner = f"plans-{uuid.uuid4().hex[:8]}"
    images = []
    for n in range(30):  # colors about ΔE 9 and 10 from #1f6fb2, as a whole photo
        analysis = Analysis.done(
            AnalysisResult("fake", "", (), (Color("#516fb2" if n % 2 else "#556fb2", 1.0, "blue"),), ""), T0
        )
        images.append(attrs.evolve(_image(owner, at=T0 + timedelta(minutes=n)), analysis=analysis))
    PostgresImageRepository(postgres_database).import_ready(images)
    query = build_query(owner, color="#1f6fb2", limit=20)
    texts: list[str] = []
    with postgres_database.transaction(write=False) as tx:
        fetch = _recording(tx, texts)
        rows = search_rows(query, postgres_database.dialect, fetch)
        assert [r["id"] for r in rows] == [i.id for i in search_all(images, query)][:21]
        assert len(texts) == 2  # ΔE 4 finds none; 5, 6.3 and 8 are skipped; 10 fills the page
        sql = search_sql(query, postgres_database.dialect, lambda _: 0, color_tier=10.0)
        plan = tx.execute(f"EXPLAIN (FORMAT JSON) {sql.text}", sql.params, prepare=False).fetchone()
    scans = [n for n in _nodes(next(iter(plan.values()))[0]["Plan"]) if n.get("Relation Name") == "search_colors"]
    assert len(scans) == 1
    assert all(test in scans[0]["Filter"] for test in ("fraction >=", "l >=", "a <=", "b <="))
