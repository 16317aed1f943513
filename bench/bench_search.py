"""Search/list latency for one big user, with the indexes and without, on SQLite and PostgreSQL.

Run with `make bench-search`. Default scale: 20,000 images for the big user (plus other users) so
it finishes in a few minutes; BENCH_SCALE=full: 1,000,000 images over 10,000 users in PostgreSQL
with one user holding 100,000, and 100,000 for one user in SQLite; BENCH_SCALE=tiny: 1,100, only
to check that the benchmark runs. PostgreSQL is used when
IMAGEREPO_TEST_DATABASE_URL (or the local server) answers, in a throwaway database.

Metadata is realistic in shape: tags from the ImageNet label vocabulary with a Zipf
distribution, descriptions composed from them and a scene word, OCR text on some images,
palettes of 3-5 colors. It is written through the adapters' bulk loader (COPY/executemany).

PostgreSQL loads through COPY into tables stripped of their indexes and constraints, which are
rebuilt afterwards (then VACUUM ANALYZE), so 1M images load in minutes rather than hours.

"Without the index" is the naive plan, measured in the same run, and checked to return the very
page the indexed query returns (same images, same order, same "more to come"): SQLite scans the
images table (NOT INDEXED) without the search side tables, testing each row in plain SQL (words
as prefixes of its space-joined terms, tags against the names in its analysis JSON, colors by the
same integer color score the index uses, from its palette JSON, and by their names in its analysis
JSON), sorts, and pages with OFFSET; a
word query ranked by relevance has its matches ranked in Python (the images table holds no field
weights). PostgreSQL runs the very same query with index, index-only and bitmap scans switched off
(SET LOCAL, never from a prepared statement, EXPLAIN checked to read no index), and pages 50 with
OFFSET. Ends with one line per query and database:
`bench search db=<sqlite|postgres> query=<name> n=<images of the user> p50_ms=<x> p99_ms=<y>`.

To iterate on a few shapes: BENCH_QUERIES=combo,place_tag runs only those (names as printed;
page50 included by name); BENCH_NAIVE=0 skips the baseline (and so its same-page check);
BENCH_DB=postgres or sqlite picks one database; BENCH_KEEP_DB=1 keeps the loaded PostgreSQL
database (named for the scale) and reuses it on the next run when it was loaded completely by
the same generator at the same scale (the schema is migrated on open, as the application does),
else it is dropped and loaded again (BENCH_KEEP_PREFIX=x_ names it x_imagerepo_bench_keep_<scale>,
so runs sharing a server keep apart). Drop it with `DROP DATABASE imagerepo_bench_keep_<scale>`
when done.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from imagerepo.adapters.sql.colors import color_near_params, color_near_sql, color_term_params
from imagerepo.adapters.sql.rows import image_from_row
from imagerepo.adapters.sqlite.database import SQLITE
from imagerepo.domain.colors import COLOR_MIN_FRACTION, color_name, rgb_to_lab, same_name_colors, to_hex
from imagerepo.domain.images import Analysis, AnalysisStatus, Color, Image, Tag
from imagerepo.domain.photos import Camera, Location, PhotoInfo
from imagerepo.domain.queries import RELEVANCE_ORDER, ImageQuery, build_query
from imagerepo.domain.ranking import PLACE_MARK, relevance, relevance_key

SCALE = os.environ.get("BENCH_SCALE", "").lower()  # "full", "tiny" (a check that it runs), else default
FULL, TINY = SCALE == "full", SCALE == "tiny"
SEED = 20261124
BATCH = 5000
T0 = datetime(2024, 1, 1, tzinfo=UTC)
SCENES = ["beach", "park", "kitchen", "street", "snow", "forest", "office", "garden", "city", "lake", "desk", "road"]
PLACES = [
    Location(48.8566, 2.3522, "Paris", "Île-de-France", "France", "FR"),
    Location(51.5072, -0.1276, "London", "England", "United Kingdom", "GB"),
    Location(-33.8688, 151.2093, "Sydney", "New South Wales", "Australia", "AU"),
    Location(40.7128, -74.006, "New York City", "New York", "United States", "US"),
    Location(35.6762, 139.6503, "Tokyo", "Tokyo", "Japan", "JP"),
    Location(45.4642, 9.19, "Milan", "Lombardy", "Italy", "IT"),
]
SIGNS = ["espresso", "menu", "open", "sale", "exit", "coffee", "bakery", "parking", "hotel", "station"]
REPS, NAIVE_REPS = (60, 5) if FULL else (3, 1) if TINY else (100, 10)
# Only these query names when set (comma-separated), e.g. "combo,place_tag".
ONLY = {n.strip() for n in os.environ.get("BENCH_QUERIES", "").split(",") if n.strip()}
KEEP_DB = os.environ.get("BENCH_KEEP_DB", "") == "1"
# BENCH_NAIVE=0: time the indexed queries only (no baseline, so no same-page check either).
NAIVE = os.environ.get("BENCH_NAIVE", "1") != "0"


@attrs.frozen
class Scale:
    big: int  # images of the benchmarked user
    others: int  # images of everybody else
    users: int  # other users


def scale(db: str) -> Scale:
    if FULL:
        return Scale(100_000, 900_000, 9_999) if db == "postgres" else Scale(100_000, 0, 0)
    if TINY:  # page 50 needs 50 pages of 20
        return Scale(1_100, 300, 9)
    return Scale(20_000, 20_000, 199) if db == "postgres" else Scale(20_000, 5_000, 49)


# ---------------------------------------------------------------- data


class Generator:
    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        folder = resources.files("imagerepo.adapters.local").joinpath("data", "imagenet_labels.txt")
        labels = [s.strip() for s in folder.read_text(encoding="utf-8").splitlines() if s.strip()]
        self.rng.shuffle(labels)
        self.labels = labels  # rank order: labels[0] is the most common tag
        self.weights = [1 / (r + 1) ** 1.07 for r in range(len(labels))]

    def tags(self) -> list[str]:
        out: dict[str, None] = {}
        for name in self.rng.choices(self.labels, self.weights, k=self.rng.randint(2, 6)):
            out.setdefault(name, None)
        return list(out)

    def palette(self) -> tuple[Color, ...]:
        n = self.rng.randint(3, 5)
        shares = sorted((self.rng.random() for _ in range(n)), reverse=True)
        total = sum(shares)
        base = [self.rng.randint(0, 255) for _ in range(3)]
        colors = []
        for share in shares:
            rgb = [max(0, min(255, c + self.rng.randint(-90, 90))) for c in base]
            colors.append(Color(to_hex(rgb), round(share / total, 4), color_name(rgb)))  # as analyzers name them
        return tuple(colors)

    def image(self, owner: str, n: int) -> Image:
        rng = self.rng
        tags = self.tags()
        scene = rng.choice(SCENES)
        description = f"a {tags[0]} {'and a ' + tags[1] if len(tags) > 1 else ''} in the {scene}"
        text = " ".join(rng.sample(SIGNS, 2)) if rng.random() < 0.1 else ""
        at = T0 + timedelta(seconds=n * 37 + rng.randint(0, 30), microseconds=rng.randint(0, 999_999))
        analysis = Analysis(
            status=AnalysisStatus.DONE,
            analyzer="bench",
            description=description,
            tags=tuple(Tag(t, round(rng.uniform(0.3, 0.99), 3)) for t in tags),
            colors=self.palette(),
            text=text,
            updated_at=at,
        )
        photo = None
        if rng.random() < 0.8:  # read at upload; three in four photos are dated, two in five placed
            taken = at - timedelta(days=rng.randint(0, 6 * 365), seconds=rng.randint(0, 86_399))
            photo = PhotoInfo(
                taken_at=taken.astimezone(timezone(timedelta(hours=rng.randint(-8, 10))))
                if rng.random() < 0.94
                else None,
                camera=Camera("Canon", "EOS R5") if rng.random() < 0.5 else None,
                location=rng.choice(PLACES) if rng.random() < 0.5 else None,
            )
        stem = rng.choice(["IMG_", "DSC", "photo-", "scan ", f"{scene}_"])
        return Image(
            id=str(uuid.UUID(int=rng.getrandbits(128))),
            owner_id=owner,
            filename=f"{stem}{rng.randint(0, 99999):05d}.{rng.choice(['jpg', 'png', 'webp'])}",
            content_type="image/jpeg",
            width=4000,
            height=3000,
            size_bytes=int(rng.lognormvariate(14.5, 0.8)),
            sha256=uuid.UUID(int=rng.getrandbits(128)).hex * 2,
            uploaded_at=at,
            analysis=analysis,
            photo=photo,
        )

    def images(self, s: Scale) -> Iterator[list[Image]]:
        """Batches: the big user's images interleaved in time with everybody else's."""
        batch: list[Image] = []
        for n in range(s.big):
            batch.append(self.image("big", n))
            if len(batch) >= BATCH:
                yield batch
                batch = []
        for n in range(s.others):
            batch.append(self.image(f"user{n % s.users:05d}", n % s.big))
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch


def load(repo: Any, s: Scale, label: str) -> None:
    t = time.perf_counter()
    done = 0
    for batch in Generator().images(s):
        repo.import_ready(batch)
        done += len(batch)
        print(f"\r  {label}: loaded {done:,} images in {time.perf_counter() - t:.0f} s", end="", flush=True)
    print()


# ---------------------------------------------------------------- queries


def queries(gen: Generator) -> dict[str, ImageQuery]:
    common, second, mid = gen.labels[0], gen.labels[1], gen.labels[6]
    return {
        "list": build_query("big"),
        "sort_oldest": build_query("big", sort="uploaded_at"),
        "sort_filename": build_query("big", sort="filename"),
        "sort_largest": build_query("big", sort="-size_bytes"),
        "sort_smallest": build_query("big", sort="size_bytes"),
        "tag": build_query("big", tags=[mid]),
        "tag_common": build_query("big", tags=[common]),
        "two_tags": build_query("big", tags=[common, second]),
        "word": build_query("big", q="beach"),
        "word_prefix": build_query("big", q="espres"),
        "word_sorted": build_query("big", q="beach", sort="-uploaded_at"),
        "color": build_query("big", color="#1f6fb2"),
        # A color picker's pure blue: few colors lie within the cut-off, most matches are named blue.
        "color_blue": build_query("big", color="#0000ff"),
        "combo": build_query("big", q="park", tags=[common], color="#808080", sort="-uploaded_at"),
        # Combined shapes people type: a word and a color (ranked by relevance), two words and a
        # tag, a word sorted by name.
        "word_color": build_query("big", q="beach", color="#1f6fb2"),
        "two_words_tag": build_query("big", q=f"{common} park", tags=[second]),
        "word_filename": build_query("big", q="beach", sort="filename"),
        "sort_taken": build_query("big", sort="-taken_at"),
        "sort_taken_old": build_query("big", sort="taken_at"),
        "taken_range": build_query("big", taken_after="2021-01-01", taken_before="2021-02-01"),
        "taken_sorted": build_query("big", taken_after="2021-01-01", taken_before="2021-02-01", sort="-taken_at"),
        "place": build_query("big", place="paris"),
        "place_tag": build_query("big", place="tokyo", tags=[mid]),
        "word_place": build_query("big", q="paris"),
        "word_month": build_query("big", q="june 2023"),
    }


def timed(fn: Callable[[], Any], reps: int) -> tuple[float, float]:
    fn()  # warm caches
    samples = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    p99 = samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]
    return statistics.median(samples), p99


def cursor_at_page(repo: Any, query: ImageQuery, page: int) -> ImageQuery:
    for _ in range(page - 1):
        cur = repo.search(query).next_cursor
        assert cur is not None, "not enough images for the cursor benchmark"
        query = attrs.evolve(query, cursor=cur)
    return query


# ---------------------------------------------------------------- naive plans


def sqlite_naive(db: Any, query: ImageQuery, offset: int = 0) -> Callable[[], Any]:
    """The same question without the search tables: scan the images table (NOT INDEXED), test each
    row in plain SQL (words as prefixes of its stored terms, tags against its analysis JSON, colors
    by the same integer score from its palette JSON, or by name), sort and page with OFFSET. The images table
    holds no field weights, so a word query ranked by relevance has its matches ranked in Python
    from their stored analysis (ranking.relevance) before the OFFSET is applied."""
    where = ["owner_id = ?", "state = 'ready'"]
    params: list[Any] = [query.owner_id]
    for tag in query.tags:  # exact names: the space-joined tags column cannot tell "cat" from "tiger cat"
        where.append("EXISTS (SELECT 1 FROM json_each(analysis, '$.tags') AS g WHERE lower(g.value ->> 0) = ?)")
        params.append(tag)
    for word in (*query.words, *(PLACE_MARK + p for p in query.place)):
        where.append("instr(' ' || terms, ?) > 0")
        params.append(f" {word}")
    if query.taken_after is not None:  # a plain date against the photo's own clock (migration 0150)
        where.append(f"{'taken_local_key' if query.taken_after_local else 'taken_desc_key'} >= ?")
        params.append(query.taken_after)
    if query.taken_before is not None:
        where.append(f"{'taken_local_key' if query.taken_before_local else 'taken_asc_key'} < ?")
        params.append(query.taken_before)
    key = {
        "uploaded_at": "uploaded_key", "filename": "filename_key", "size_bytes": "size_bytes",
        "-taken_at": "taken_desc_key", "taken_at": "taken_asc_key",
    }.get(query.order if "taken" in query.order else query.order.lstrip("-"), "uploaded_key")
    score_params: list[Any] = []
    if query.color is not None:
        lab = rgb_to_lab(query.color)
        # Colors named like the query match too (colors.same_name_colors): names from the analysis JSON.
        names = sorted(same_name_colors(query.color)) or [""]
        score = (
            f"(SELECT min({SQLITE.color_score}) FROM (SELECT json_extract(p.value, '$[0]') AS l,"
            " json_extract(p.value, '$[1]') AS a, json_extract(p.value, '$[2]') AS b,"
            " json_extract(p.value, '$[3]') AS fraction,"
            " json_extract(analysis, '$.colors[' || p.key || '][2]') AS name FROM json_each(palette) AS p) AS c"
            f" WHERE c.fraction >= {COLOR_MIN_FRACTION} AND ({color_near_sql()}"
            f" OR c.name IN ({', '.join('?' * len(names))})))"
        )
        color_params = [*color_term_params(lab), *color_near_params(lab), *names]
        where.append(f"{score} IS NOT NULL")
        params += color_params
        if query.order == "color":
            key = score
            score_params = color_params
    ranked = query.order == RELEVANCE_ORDER
    direction = "DESC" if query.order.startswith("-") else "ASC"
    sql = (
        "SELECT id, owner_id, filename, content_type, width, height, size_bytes, sha256, uploaded_at, uploaded_key,"
        f" analysis, photo FROM images NOT INDEXED WHERE {' AND '.join(where)}"
    )
    if not ranked:
        sql += f" ORDER BY {key} {direction}, id {direction} LIMIT ? OFFSET ?"

    def run() -> Any:
        with db.transaction(write=False) as conn:
            if not ranked:
                return conn.execute(sql, [*params, *score_params, query.limit + 1, offset]).fetchall()
            rows = conn.execute(sql, params).fetchall()
        keyed = [(relevance_key(relevance(image_from_row(r), query.words), r["uploaded_key"]), r["id"], r)
                 for r in rows]
        keyed.sort(key=lambda k: (k[0], k[1]), reverse=True)
        return [r for _, _, r in keyed[offset : offset + query.limit + 1]]

    return run


NO_INDEX = ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan")


@contextmanager
def postgres_unindexed(db: Any) -> Iterator[Callable[[str, list[Any]], list[Any]]]:
    """A pooled connection in one transaction with index, index-only and bitmap scans off
    (SET LOCAL), and a fetch that never uses a prepared statement: psycopg prepares a query after
    five runs, and a prepared plan made with the indexes on ignores the switches, so the naive
    runs would silently time the indexed plan. The first run of each SQL text is EXPLAINed and
    must read no index."""
    with db.connection() as conn:
        for setting in NO_INDEX:
            conn.execute(f"SET LOCAL {setting} = off", prepare=False)

        def fetch(text: str, params: list[Any]) -> list[Any]:
            if text not in _EXPLAINED:
                plan = conn.execute(f"EXPLAIN (FORMAT JSON) {text}", params, prepare=False).fetchone()
                nodes = _plan_nodes(next(iter(plan.values()))[0]["Plan"])
                used = sorted({n for n in nodes if "Index" in n or "Bitmap" in n})
                assert not used, f"naive plan still reads an index ({', '.join(used)}): {text[:120]}"
                _EXPLAINED.add(text)
            return list(conn.execute(text, params, prepare=False).fetchall())

        yield fetch


_EXPLAINED: set[str] = set()


def _plan_nodes(plan: dict[str, Any]) -> Iterator[str]:
    yield plan["Node Type"]
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def postgres_naive(db: Any, repo: Any, query: ImageQuery) -> Callable[[], Any]:
    """The adapter's own query with the planner forbidden to use any index (a Seq Scan of each
    table, checked by EXPLAIN)."""
    from imagerepo.adapters.postgres.database import POSTGRES, placeholders
    from imagerepo.adapters.sql.search import search_rows

    def run() -> Any:
        with postgres_unindexed(db) as fetch:
            return search_rows(
                query, POSTGRES, lambda sql: fetch(placeholders(sql.text), sql.params), repo.drive_below
            )

    return run


# ---------------------------------------------------------------- runs


def same_page(db_name: str, name: str, page: Any, naive_rows: list[Any], limit: int) -> None:
    """A baseline that answers another question would make the gain meaningless: the naive plan
    must return the very page (and the same "more to come") the indexed query does."""
    naive_ids = [r["id"] for r in naive_rows]
    got = [i.id for i in page.items]
    assert got == naive_ids[:limit], f"{db_name} {name}: naive {naive_ids[:limit]} != indexed {got}"
    assert (page.next_cursor is not None) == (len(naive_ids) > limit), f"{db_name} {name}: next page differs"


Result = tuple[str, str, int, float, float, float | None, float | None]


def run_queries(db_name: str, repo: Any, naive: Callable[[ImageQuery, int], Callable[[], Any]], n: int) -> list[Result]:
    gen = Generator()
    out: list[Result] = []
    for name, query in queries(gen).items():
        if ONLY and name not in ONLY:
            continue
        n50 = n99 = None
        if NAIVE:
            same_page(db_name, name, repo.search(query), naive(query, 0)(), query.limit)
        p50, p99 = timed(functools.partial(repo.search, query), REPS)
        if NAIVE:
            n50, n99 = timed(naive(query, 0), NAIVE_REPS)
        out.append((db_name, name, n, p50, p99, n50, n99))
        print(f"  {name:14s} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms   naive p50 {n50 or 0:8.2f} ms", flush=True)
    if ONLY and "page50" not in ONLY:
        return out
    page50 = cursor_at_page(repo, build_query("big"), 50)
    n50 = n99 = None
    if NAIVE:
        same_page(db_name, "page50", repo.search(page50), naive(build_query("big"), 49 * 20)(), page50.limit)
    p50, p99 = timed(lambda: repo.search(page50), REPS)
    if NAIVE:
        n50, n99 = timed(naive(build_query("big"), 49 * 20), NAIVE_REPS)
    out.append((db_name, "page50", n, p50, p99, n50, n99))
    print(f"  {'page50':14s} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms   naive p50 {n50 or 0:8.2f} ms", flush=True)
    return out


def bench_sqlite() -> list[Result]:
    from imagerepo.adapters.sqlite import SqliteDatabase, SqliteImageRepository

    s = scale("sqlite")
    with tempfile.TemporaryDirectory() as tmp:
        db = SqliteDatabase(Path(tmp) / "bench.sqlite3")
        db.open()
        repo = SqliteImageRepository(db)
        print(f"sqlite: big user {s.big:,}, others {s.others:,}")
        load(repo, s, "sqlite")
        with db.transaction() as conn:
            conn.execute("ANALYZE")
        results = run_queries("sqlite", repo, lambda q, off: sqlite_naive(db, q, off), s.big)
        db.close()
    return results


def bench_postgres() -> list[Result]:
    import psycopg
    from psycopg.conninfo import make_conninfo

    from imagerepo.adapters.postgres import PostgresDatabase, PostgresImageRepository

    server = os.environ.get("IMAGEREPO_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        print(f"postgres: skipped, server not reachable ({e})")
        return []
    s = scale("postgres")
    keep = f"{os.environ.get('BENCH_KEEP_PREFIX', '')}imagerepo_bench_keep_{SCALE or 'default'}"
    name = keep if KEEP_DB else f"imagerepo_bench_{uuid.uuid4().hex[:10]}"
    dsn = make_conninfo(server, dbname=name)
    loaded = KEEP_DB and _complete_load(admin, dsn, name)
    if not loaded:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    db = PostgresDatabase(dsn, min_size=1, max_size=2)
    try:
        db.open()
        repo = PostgresImageRepository(db)
        print(f"postgres: big user {s.big:,}, others {s.others:,} over {s.users:,} users")
        if loaded:
            print(f"  postgres: reusing the loaded database {name}")
        else:
            with bare_tables(dsn):
                load(repo, s, "postgres")
            if KEEP_DB:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute("CREATE TABLE bench_loaded (fingerprint text NOT NULL)")
                    conn.execute("INSERT INTO bench_loaded VALUES (%s)", (_load_fingerprint(s),))

        def naive(q: ImageQuery, offset: int) -> Callable[[], Any]:
            if offset:  # the naive way to page 50: OFFSET on the same query, index scans off
                return postgres_offset(db, offset)
            return postgres_naive(db, repo, q)

        return run_queries("postgres", repo, naive, s.big)
    finally:
        db.close()
        if not KEEP_DB:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _load_fingerprint(s: Scale) -> str:
    """What the loaded rows depend on: the scale, the seed and the generator's code."""
    return hashlib.sha256(f"{s} {SEED} {BATCH} {inspect.getsource(Generator)}".encode()).hexdigest()


def _complete_load(admin: Any, dsn: str, name: str) -> bool:
    """Whether ``name`` exists and holds a finished load by this generator at this scale."""
    import psycopg

    if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
        return False
    with psycopg.connect(dsn, autocommit=True) as conn:
        table = conn.execute("SELECT to_regclass('bench_loaded')").fetchone()
        if table is None or table[0] is None:
            return False
        row = conn.execute("SELECT fingerprint FROM bench_loaded").fetchone()
    return row is not None and row[0] == _load_fingerprint(scale("postgres"))


LOADED_TABLES = ("images", "search_terms", "search_tags", "search_colors")


@contextmanager
def bare_tables(dsn: str) -> Iterator[None]:
    """Drop the loaded tables' indexes and constraints for the load, rebuild them after (one
    sort per index instead of millions of random b-tree inserts and FK checks), then VACUUM
    ANALYZE so plans and index-only scans see the final tables."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = list(LOADED_TABLES)
        cons = conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype FROM pg_constraint"
            " WHERE (conrelid::regclass::text = ANY(%s) AND contype IN ('p', 'u', 'f'))"
            " OR (confrelid::regclass::text = ANY(%s) AND contype = 'f')"  # other tables' keys into them
            " ORDER BY contype = 'f' DESC",
            (tables, tables),
        ).fetchall()
        owned = {c[1] for c in cons}
        idx = conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)", (tables,)).fetchall()
        idx = [i for i in idx if i[0] not in owned]
        for table, con, _, _ in cons:  # foreign keys first
            conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{con}"')
        for index, _ in idx:
            conn.execute(f'DROP INDEX "{index}"')
        yield
        t = time.perf_counter()
        for table, con, definition, _ in reversed(cons):  # keys before the foreign keys naming them
            conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{con}" {definition}')
        for _, definition in idx:
            conn.execute(definition)
        conn.execute("VACUUM ANALYZE")
        print(f"  postgres: indexes and constraints rebuilt, vacuumed in {time.perf_counter() - t:.0f} s")


def postgres_offset(db: Any, offset: int) -> Callable[[], Any]:
    def run() -> Any:
        with postgres_unindexed(db) as fetch:
            return fetch(
                "SELECT id, analysis FROM images WHERE owner_id = 'big' AND state = 'ready'"
                " ORDER BY uploaded_key DESC, id DESC LIMIT 21 OFFSET %s",
                [offset],
            )

    return run


def main() -> int:
    which = os.environ.get("BENCH_DB", "sqlite,postgres").split(",")
    results: list[Result] = []
    if "sqlite" in which:
        results += bench_sqlite()
    if "postgres" in which:
        results += bench_postgres()
    print()
    head = ("db", "query", "n", "p50 ms", "p99 ms", "naive p50", "naive p99", "gain")
    print("{:9s}{:15s}{:>8s}{:>9s}{:>9s}{:>11s}{:>11s}{:>8s}".format(*head))
    for db, name, n, p50, p99, n50, n99 in results:
        gain = f"{n50 / p50:7.0f}x" if n50 and p50 else ""
        print(f"{db:9s}{name:15s}{n:8d}{p50:9.2f}{p99:9.2f}{n50 or 0:11.2f}{n99 or 0:11.2f}{gain:>8s}")
    print()
    for db, name, n, p50, p99, _, _ in results:
        print(f"bench search db={db} query={name} n={n} p50_ms={p50:.2f} p99_ms={p99:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
