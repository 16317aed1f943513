"""Search latency of this tree's planner against another commit's, interleaved in one run.

`python bench/ab_search.py` with BENCH_BASE=<commit> (default HEAD~1): loads (or reuses) the
bench_search data, then times each query (BENCH_QUERIES, names as in bench_search) with the old
and the new sql/search.py alternately, round after round, so machine load hits both alike; each
page must be the same. BENCH_DB=postgres uses the kept database of bench_search (BENCH_KEEP_DB=1,
BENCH_KEEP_PREFIX, BENCH_SCALE: run bench_search once first); BENCH_DB=sqlite loads the SQLite
scale into BENCH_SQLITE_FILE (kept, reused when it exists). Prints, per query,
`ab search db=<db> query=<name> old_p50_ms= old_p99_ms= new_p50_ms= new_p99_ms=`.
BENCH_SERVER_TIME=1 (PostgreSQL): time the server's planning + execution of each search's
statements instead (EXPLAIN ANALYZE, summed per search), free of the client's share.
BENCH_CPU=1: time each search by the CPU time of the thread running it instead of the wall clock
(SQLite runs in that thread, so this is the whole search's work, far less disturbed by other
work on the machine; for PostgreSQL it is the client's share only).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import bench.bench_search as B

from imagerepo.adapters.sql import repositories
from imagerepo.adapters.sql import search as new_search

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "12"))
PER_ROUND = int(os.environ.get("BENCH_PER_ROUND", "5"))
CLOCK = time.thread_time if os.environ.get("BENCH_CPU") == "1" else time.perf_counter


def old_module(commit: str) -> types.ModuleType:
    root = Path(__file__).resolve().parent.parent
    text = subprocess.run(
        ["git", "show", f"{commit}:src/imagerepo/adapters/sql/search.py"], cwd=root, check=True,
        capture_output=True, text=True,
    ).stdout
    mod = types.ModuleType("old_search")
    exec(compile(text, "old_search.py", "exec"), mod.__dict__)  # our own file at a commit
    return mod


def percentile(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def server_ms(db: Any, query: Any, rows_fn: Any) -> float:
    """PostgreSQL's own planning + execution time of every statement of one search (EXPLAIN
    ANALYZE), free of the client's share, which dominates on a loaded machine."""
    from imagerepo.adapters.postgres.database import placeholders

    total = 0.0
    with db.connection() as conn:
        conn.execute(db.dialect.search_setup, prepare=False)

        def fetch(sql: Any) -> list[Any]:
            nonlocal total
            text = placeholders(sql.text)
            plan = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {text}", sql.params, prepare=False).fetchone()
            top = next(iter(plan.values()))[0]
            total += top["Planning Time"] + top["Execution Time"]
            return list(conn.execute(text, sql.params, prepare=False).fetchall())

        rows_fn(query, db.dialect, fetch)
    return total


def compare_server(db: Any, old: types.ModuleType) -> None:
    for name, query in B.queries(B.Generator()).items():
        if B.ONLY and name not in B.ONLY:
            continue
        times: dict[str, list[float]] = {"old": [], "new": []}
        for _ in range(ROUNDS):
            for fn in ("old", "new"):
                rows_fn = old.search_rows if fn == "old" else new_search.search_rows
                times[fn] += [server_ms(db, query, rows_fn) for _ in range(PER_ROUND)]
        o, n = times["old"], times["new"]
        print(
            f"ab search server_ms db=postgres query={name} old_p50_ms={statistics.median(o):.2f}"
            f" old_p99_ms={percentile(o, 0.99):.2f} new_p50_ms={statistics.median(n):.2f}"
            f" new_p99_ms={percentile(n, 0.99):.2f}",
            flush=True,
        )


def compare(db_name: str, repo: Any, old: types.ModuleType) -> None:
    for name, query in B.queries(B.Generator()).items():
        if B.ONLY and name not in B.ONLY:
            continue
        times: dict[str, list[float]] = {"old": [], "new": []}
        pages = {}
        for fn in ("old", "new"):
            repositories.search_rows = old.search_rows if fn == "old" else new_search.search_rows  # type: ignore[attr-defined]
            page = repo.search(query)
            pages[fn] = ([i.id for i in page.items], page.next_cursor is not None)
        assert pages["old"] == pages["new"], f"{db_name} {name}: pages differ"
        for _ in range(ROUNDS):
            for fn in ("old", "new"):
                repositories.search_rows = old.search_rows if fn == "old" else new_search.search_rows  # type: ignore[attr-defined]
                for _ in range(PER_ROUND):
                    t = CLOCK()
                    repo.search(query)
                    times[fn].append((CLOCK() - t) * 1000)
        o, n = times["old"], times["new"]
        kind = " cpu_ms" if CLOCK is time.thread_time else ""
        print(
            f"ab search{kind} db={db_name} query={name} old_p50_ms={statistics.median(o):.2f}"
            f" old_p99_ms={percentile(o, 0.99):.2f} new_p50_ms={statistics.median(n):.2f}"
            f" new_p99_ms={percentile(n, 0.99):.2f}",
            flush=True,
        )
    repositories.search_rows = new_search.search_rows  # type: ignore[attr-defined]


def main() -> int:
    old = old_module(os.environ.get("BENCH_BASE", "HEAD~1"))
    which = os.environ.get("BENCH_DB", "postgres")
    if which == "sqlite":
        from imagerepo.adapters.sqlite import SqliteDatabase, SqliteImageRepository

        path = Path(os.environ.get("BENCH_SQLITE_FILE", "/tmp/bench_search_ab.sqlite3"))
        fresh = not path.exists()
        db = SqliteDatabase(path)
        db.open()
        repo = SqliteImageRepository(db)
        if fresh:
            B.load(repo, B.scale("sqlite"), "sqlite")
            with db.transaction() as conn:
                conn.execute("ANALYZE")
        compare("sqlite", repo, old)
        db.close()
    else:
        from psycopg.conninfo import make_conninfo

        from imagerepo.adapters.postgres import PostgresDatabase, PostgresImageRepository

        server = os.environ.get("IMAGEREPO_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        name = f"{os.environ.get('BENCH_KEEP_PREFIX', '')}imagerepo_bench_keep_{B.SCALE or 'default'}"
        pg = PostgresDatabase(make_conninfo(server, dbname=name), min_size=1, max_size=2)
        pg.open()
        if os.environ.get("BENCH_SERVER_TIME") == "1":
            compare_server(pg, old)
        else:
            compare("postgres", PostgresImageRepository(pg), old)
        pg.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
