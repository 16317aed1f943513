"""The SQL of ImageRepository.search, shared by SQLite and PostgreSQL.

Reads the owner-first side tables of migration 0020 (search_terms, search_tags, search_colors)
and plans each query one of four ways, so a big user's query touches few rows:

* **walk**: follow the sort index of ``images`` (owner, state, key, id) from the cursor and probe
  each image's filters through the by-image indexes; cheap when filters are common or absent.
* **drive**: start from the rarest filter's index entries (fewer than ``DRIVE_BELOW`` images),
  probe the other filters for each, look the survivors up and sort them; cheap when a filter is rare.
* **intersect** (PostgreSQL, several common filters that rarely meet): read each filter's image
  set from its owner-first index and join them by hashing; chosen after a short walk of the first
  images of the order finds the matches too sparse (_column_plan). In upload order with a word or
  a place, the side tables alone sort the matches (_intersect_by_upload).
* **ranked**: relevance and color orders start from the word (or color bucket) entries, which
  are the matches, and rank them on the side table alone (search_terms carries uploaded_key;
  side tables hold ready images only, migration 0030), joining ``images`` for the page only.
  Color ranks in tiers: colors within ΔE 4 first, widening only while the page is not full;
  the last adds the colors named like the query (search_colors_by_name).
  Several words rank by score level, best first, each weight tuple walked from its rarest class
  (_words_by_level); grouping every image holding all the words is the fallback.

The SQL is written with ``?`` placeholders, as every statement of the SQL repositories (dialect.py).
"""

# ruff: noqa: S608  # SQL is assembled from constant fragments only; values are always bound parameters

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import attrs

from imagerepo.adapters.sql.colors import (
    color_box_params,
    color_box_sql,
    color_near_params,
    color_near_sql,
    color_reach_params,
    color_reach_sql,
    color_term_params,
)
from imagerepo.adapters.sql.dialect import Dialect
from imagerepo.adapters.sql.rows import IMAGE_COLUMNS
from imagerepo.domain.colors import COLOR_MATCH_CUTOFF, COLOR_SHARE_WEIGHT, Lab, rgb_to_lab, same_name_colors
from imagerepo.domain.photos import LOCAL_REACH
from imagerepo.domain.queries import RELEVANCE_ORDER, ImageQuery, is_descending
from imagerepo.domain.ranking import COLOR_SCORE_SCALE, FIELD_WEIGHTS, PLACE_MARK, color_cells_near

# Above every code point a stored term can contain: [w, w + TOP) in code-point order holds
# exactly the terms that start with w.
TOP = "\U0010ffff"
# A filter matching fewer images than this drives the query; otherwise the sort index is walked.
DRIVE_BELOW = 3000
# Color ranking tiers (ΔE): a page is complete once it fills from colors this close; None is
# the cut-off itself. Each tier reads about twice the colors of the one before (radius x 1.26),
# so the tiers before the one that fills cost about as much as it, and it reads at most about
# twice what the page needed (4, 8, 14: up to 5-8 times; a color at 100,000 images in SQLite
# filled at ΔE 10 but read every color within 14, 14 ms of 20).
COLOR_TIERS: tuple[float | None, ...] = (4.0, 5.0, 6.3, 8.0, 10.0, 12.6, 16.0, 20.0, None)
# A one-word relevance query matching at most this many distinct terms walks them one by one.
MAX_WALKED_TERMS = 32
# Words of a query reaching DRIVE_BELOW are counted again up to this many times it.
WORD_RECOUNT = 16
# SQLite groups several words unless their entries outnumber the rarest word's this many times
# (then the rarest drives); PostgreSQL always groups, by hashing.
GROUP_SORTED = 4
# PostgreSQL intersects a rare filter with the others while they hold at most this many times
# its entries (hashing an entry costs far less than probing an index for it).
GROUP_HASHED = 20
# relevance_key's multiplier (ranking._RELEVANCE_SHIFT), as an SQL literal.
_SHIFT = str(2**53)
# The weights a stored term can carry, best first (_words_by_level walks the classes they make).
WEIGHTS = tuple(sorted(set(FIELD_WEIGHTS.values()), reverse=True))
# _words_by_level counts each weight class of a word up to this many entries.
LEVEL_COUNT = 256
# Relevance to more words than this is ranked by grouping only (the weight classes multiply).
MAX_LEVEL_WORDS = 3

_COLUMN_KEYS = {
    "uploaded_at": "i.uploaded_key",
    "filename": "i.filename_key",
    "size_bytes": "i.size_bytes",
    "-taken_at": "i.taken_desc_key",
    "taken_at": "i.taken_asc_key",
}


@attrs.frozen
class Sql:
    text: str
    params: list[Any]


@attrs.frozen
class Source:
    """One filter as a set of image ids read from an owner-first index."""

    ids: Sql  # SELECT image_id ... (each image once)
    probe: Sql  # correlated EXISTS for one image whose id is the expression {id}
    sample: Sql  # SELECT 1 ... index entries, for estimating the size (LIMIT appended)


def sources(query: ImageQuery) -> list[Source]:
    out = []
    for tag in query.tags:
        out.append(
            Source(
                Sql("SELECT image_id FROM search_tags WHERE owner_id = ? AND tag = ?", [query.owner_id, tag]),
                Sql("EXISTS (SELECT 1 FROM search_tags g WHERE g.image_id = {id} AND g.tag = ?)", [tag]),
                Sql("SELECT 1 FROM search_tags WHERE owner_id = ? AND tag = ?", [query.owner_id, tag]),
            )
        )
    for person in query.people:  # after the tags, and treated as tags by search_sql
        out.append(
            Source(
                Sql(
                    "SELECT DISTINCT image_id FROM faces WHERE owner_id = ? AND person_id = ?", [query.owner_id, person]
                ),
                Sql("EXISTS (SELECT 1 FROM faces f WHERE f.image_id = {id} AND f.person_id = ?)", [person]),
                Sql("SELECT 1 FROM faces WHERE owner_id = ? AND person_id = ?", [query.owner_id, person]),
            )
        )
    marked = [PLACE_MARK + w for w in query.place]
    for word in (*query.words, *marked):
        rng = [word, word + TOP]
        out.append(
            Source(
                Sql(
                    "SELECT DISTINCT image_id FROM search_terms WHERE owner_id = ? AND term >= ? AND term < ?",
                    [query.owner_id, *rng],
                ),
                Sql(
                    "EXISTS (SELECT 1 FROM search_terms t WHERE t.image_id = {id} AND t.term >= ? AND t.term < ?)",
                    rng,
                ),
                Sql("SELECT 1 FROM search_terms WHERE owner_id = ? AND term >= ? AND term < ?", [query.owner_id, *rng]),
            )
        )
    if query.color is not None:
        lab = rgb_to_lab(query.color)
        cells = color_cells_near(lab)
        marks = ", ".join("?" * len(cells))
        near, near_params = color_near_sql(), color_near_params(lab)
        ids = Sql(
            f"SELECT DISTINCT image_id FROM search_colors c WHERE c.owner_id = ? AND c.cell IN ({marks}) AND {near}",
            [query.owner_id, *cells, *near_params],
        )
        probe = Sql(f"EXISTS (SELECT 1 FROM search_colors c WHERE c.image_id = {{id}} AND {near})", near_params)
        sample = Sql(f"SELECT 1 FROM search_colors WHERE owner_id = ? AND cell IN ({marks})", [query.owner_id, *cells])
        names = sorted(same_name_colors(query.color))
        if names:  # colors named like the query match at any distance (search_colors_by_name)
            named = f"c.name IN ({', '.join('?' * len(names))})"
            ids = Sql(
                f"{ids.text} UNION SELECT image_id FROM search_colors c WHERE c.owner_id = ? AND {named}",
                [*ids.params, query.owner_id, *names],
            )
            probe = Sql(
                f"EXISTS (SELECT 1 FROM search_colors c WHERE c.image_id = {{id}} AND ({near} OR {named}))",
                [*near_params, *names],
            )
            sample = Sql(
                f"{sample.text} UNION ALL SELECT 1 FROM search_colors c WHERE c.owner_id = ? AND {named}",
                [*sample.params, query.owner_id, *names],
            )
        out.append(Source(ids, probe, sample))
    return out


def color_candidates(
    owner_id: str, lab: Lab, dialect: Dialect, tier: float | None, names: list[str]
) -> tuple[str, list[Any]]:
    """The search_colors rows (as ``c``) color ranking scores in tier ``tier``: those passing
    color_tier_tests, and for the last tier (None) also every color named like the query
    (``names``, colors.same_name_colors), read from search_colors_by_name. A finite tier needs
    no names: its colors lie within ΔE 20, under the cut-off, so they match by distance."""
    tests, params = color_tier_tests(owner_id, lab, dialect, tier)
    if tier is not None or not names:
        return f"search_colors c WHERE {tests}", params
    cols = "c.image_id, c.l, c.a, c.b, c.fraction"
    rows = (
        f"(SELECT {cols} FROM search_colors c WHERE {tests} UNION ALL SELECT {cols} FROM search_colors c"
        f" WHERE c.owner_id = ? AND c.name IN ({', '.join('?' * len(names))})) AS c"
    )
    return rows, [*params, owner_id, *names]


def color_tier_tests(owner_id: str, lab: Lab, dialect: Dialect, tier: float | None) -> tuple[str, list[Any]]:
    """The WHERE of color ranking's tier ``tier`` (None: the cut-off) on search_colors ``c``:
    the owner's rows in the buckets reaching within the tier that can score within it.

    Each row passes cheap tests first (its share, the cube around the ball), so only rows inside
    the cube pay the distance's arithmetic (a bucket reaches well beyond the ball: at 100,000
    images, 11,000 rows read for 4,200 within ΔE 14), and only rows scoring within the tier are
    grouped: an image scores within the tier exactly when one of its colors does, and that color
    is its best."""
    radius = COLOR_MATCH_CUTOFF if tier is None else tier + 0.001
    cells = color_cells_near(lab, radius)
    tests = [f"c.owner_id = ? AND c.cell IN ({', '.join('?' * len(cells))})"]
    params: list[Any] = [owner_id, *cells]
    if tier is not None:
        # A color's score is at least COLOR_SHARE_WEIGHT x (1 - its share).
        tests.append("c.fraction >= ?")
        params.append(1.0 - tier / COLOR_SHARE_WEIGHT - 0.001)
    tests += [color_box_sql(), color_near_sql() if tier is None else color_reach_sql()]
    params += [
        *color_box_params(lab, radius),
        *(color_near_params(lab) if tier is None else color_reach_params(lab, radius)),
    ]
    if tier is not None:
        tests.append(f"{dialect.color_score} <= ?")
        params += [*color_term_params(lab), tier * COLOR_SCORE_SCALE]
    return " AND ".join(tests), params


def taken_filters(query: ImageQuery, ident: str) -> list[Sql]:
    """The capture-time range as conditions on the image row ``ident``: undated images hold keys
    beyond every instant (photos.taken_keys), so the keys' range tests exclude them.

    A dated image's two keys are equal, so each bound is stated on both keys: whichever of the
    taken indexes the sort walks then has both ends of the range, instead of walking from one end
    of the owner's images and filtering (52 ms instead of 1 ms at 100,000 images in SQLite).

    A plain-date bound (ImageQuery.taken_after_local) tests the local key, NULL when undated. The
    instant keys then get the bound widened by LOCAL_REACH, since a photo's instant lies within a
    day of its wall clock, so the indexes still hold both ends of the range."""
    out = []
    if query.taken_after is not None:
        after = query.taken_after - (LOCAL_REACH if query.taken_after_local else 0)
        out.append(Sql(f"{ident}.taken_desc_key >= ?", [after]))
        out.append(Sql(f"{ident}.taken_asc_key >= ?", [after]))
        if query.taken_after_local:
            out.append(Sql(f"{ident}.taken_local_key >= ?", [query.taken_after]))
    if query.taken_before is not None:
        before = query.taken_before + (LOCAL_REACH if query.taken_before_local else 0)
        out.append(Sql(f"{ident}.taken_asc_key < ?", [before]))
        out.append(Sql(f"{ident}.taken_desc_key < ?", [before]))
        if query.taken_before_local:
            out.append(Sql(f"{ident}.taken_local_key < ?", [query.taken_before]))
    return out


def _taken_probe(query: ImageQuery) -> list[Sql]:
    conds = taken_filters(query, "x")
    if not conds:
        return []
    where = " AND ".join(c.text for c in conds)
    params = [p for c in conds for p in c.params]
    return [Sql(f"EXISTS (SELECT 1 FROM images x WHERE x.id = {{id}} AND {where})", params)]


def sample_sql(source: Source, cap: int) -> Sql:
    """Counts the source's index entries, stopping at ``cap`` (an upper bound of its images)."""
    return Sql(f"SELECT count(*) AS n FROM ({source.sample.text} LIMIT ?) AS s", [*source.sample.params, cap])


def search_rows(
    query: ImageQuery, dialect: Dialect, fetch: Callable[[Sql], list[Any]], drive_below: int = DRIVE_BELOW
) -> list[Any]:
    """The page's rows (limit + 1 at most, each with its ``sort_key``); ``fetch`` runs one Sql.

    Color order runs tier by tier (COLOR_TIERS) until a tier fills the page: every image
    scoring within tier T has a color within ΔE T, so the tier's candidates rank it exactly.
    """
    if query.order == RELEVANCE_ORDER and len(query.words) == 1:
        word = query.words[0]
        found = fetch(Sql(_TERMS_IN_RANGE, [query.owner_id, word, word + TOP, query.owner_id, word + TOP]))
        terms = [r["term"] for r in found]
        if len(terms) <= MAX_WALKED_TERMS:
            return fetch(search_sql(query, dialect, lambda _: 0, drive_below, word_terms=terms))
    if query.order == RELEVANCE_ORDER and 2 <= len(query.words) <= MAX_LEVEL_WORDS and drive_below > 0:
        by_level = _words_by_level(query, dialect, fetch, drive_below)
        if by_level is not None:
            return by_level
    if query.order != "color":
        counted: dict[str, int] = {}

        def estimate(sql: Sql) -> int:
            got = counted.get(repr(sql))
            if got is None:
                got = counted[repr(sql)] = int(fetch(sql)[0]["n"])
            return got

        if query.order != RELEVANCE_ORDER:
            plan = _column_plan(query, dialect, fetch, estimate, drive_below)
            if isinstance(plan, list):
                return plan
            return fetch(search_sql(query, dialect, estimate, drive_below, plan=plan))
        return fetch(search_sql(query, dialect, estimate, drive_below))
    rows: list[Any] = []
    reach = 0.0  # the next tier reaches at least this far
    for tier in COLOR_TIERS:
        if tier is not None and query.cursor is not None and query.cursor.key > tier * COLOR_SCORE_SCALE:
            continue  # the whole tier lies before the cursor
        if tier is not None and tier < reach:
            continue
        rows = fetch(search_sql(query, dialect, lambda _: 0, drive_below, color_tier=tier))
        if len(rows) > query.limit or tier is None:
            break
        # Not full: guess how far the page lies, the images within a radius growing about as its
        # fourth power (as its cube for the volume, faster for the share's part of the score),
        # and skip the tiers short of it; each statement costs a round trip and its planning
        # (in PostgreSQL at 20,000 images, six tiers of 0.5 ms each took longer than three).
        reach = tier * ((query.limit + 1) / max(len(rows), 1)) ** 0.25
    return rows


def _column_plan(
    query: ImageQuery,
    dialect: Dialect,
    fetch: Callable[[Sql], list[Any]],
    estimate: Callable[[Sql], int],
    drive_below: int,
) -> str | list[Any]:
    """How to answer a query ordered by a column when every filter is common (DRIVE_BELOW images
    or more) but their intersection may be rare: a walk probing each image would then read far
    into the sort index (a place and a tag at 100,000 images in PostgreSQL: 62 ms). First walk
    only the first walk_sample images of the order: when they hold a page, that is the page.
    Otherwise their matches estimate how far a full walk would read; past drive_below images,
    intersect the filters' image sets instead (where the database joins by hashing). Returns a
    plan for search_sql, or the page's rows."""
    filters = sources(query)
    if drive_below <= 0:
        return "auto"
    if _by_upload(query):  # a place alone too: its newest entries are the page
        walked = _word_walk(query, dialect, fetch, estimate, drive_below)
        if walked is not None:
            return walked
    if len(filters) < 2:
        return "auto"
    rarest = min(estimate(sample_sql(f, drive_below)) for f in filters)
    if rarest < drive_below:
        # A rare filter drives. Probing the others costs an index descent per driving image; in
        # PostgreSQL, hashing the other filters' sets costs far less per entry, so it intersects
        # while they hold at most GROUP_HASHED times as many (a place and a tag at 20,000 images).
        if dialect.hash_joins and _within(filters, estimate, GROUP_HASHED * max(rarest, 1) + rarest):
            return "intersect"
        return "auto"
    if not dialect.hash_joins:
        # SQLite would intersect through temporary b-trees, slower than its cheap walk probes
        # (a place and a tag at 100,000 images: 20 ms of CPU against 17).
        return "walk"
    sample = walk_sample(drive_below)
    found = 0
    if sample > 0:
        rows = fetch(search_sql(query, dialect, estimate, drive_below, plan="sample"))
        if len(rows) > query.limit:
            return rows
        found = len(rows)
    walk = sample * (query.limit + 1) // max(found, 1)  # images a full walk would read, roughly
    if walk <= drive_below:
        return "walk"
    # Intersecting reads every filter's index entries: worth it while they number at most about
    # twice the images the walk would read, or eight times when no match is read from images
    # before the page (_intersect_by_upload: an entry hashed costs far less than an image walked
    # and probed). Counted with the budget left, so a huge filter costs one bounded count.
    per_walked = 8 if _by_upload(query) else 2
    return "intersect" if _within(filters, estimate, per_walked * walk) else "walk"


def _by_upload(query: ImageQuery) -> bool:
    """Whether the intersect plan runs on the side tables alone (_intersect_by_upload)."""
    return query.order.lstrip("-") == "uploaded_at" and bool(query.words or query.place) and not query.taken_range


def _word_walk(
    query: ImageQuery,
    dialect: Dialect,
    fetch: Callable[[Sql], list[Any]],
    estimate: Callable[[Sql], int],
    drive_below: int,
) -> list[Any] | None:
    """Upload order with a word or a place among common filters: walk that word's index entries
    newest first (search_terms_ranked_walk, one ordered stream per term and weight, merged) and
    probe the other filters for each, so only images holding the word are read, through
    search_terms alone (a place and a tag, or a word, a tag and a color, at 1M images in
    PostgreSQL: the images walked along the sort index were mostly without the word). A first
    walk of drive_below // 2 entries tells how deep the whole would go; None when too deep (the
    other plans then run)."""
    filters = sources(query)
    nt = len(query.tags) + len(query.people)
    marked = [*query.words, *(PLACE_MARK + w for w in query.place)]
    sizes = [0]
    if len(marked) > 1:
        sizes = [estimate(sample_sql(f, 4 * drive_below)) for f in filters[nt : nt + len(marked)]]
    lead = min(range(len(marked)), key=lambda n: sizes[n])
    word = marked[lead]
    found = fetch(Sql(_TERMS_IN_RANGE, [query.owner_id, word, word + TOP, query.owner_id, word + TOP]))
    if not found:
        return []  # no image holds the word
    if len(found) > MAX_WALKED_TERMS:
        return None
    terms = [str(r["term"]) for r in found]
    probes = [f.probe for n, f in enumerate(filters) if n != nt + lead]
    sample = drive_below // 2
    inline = dialect.name == "sqlite"
    rows = fetch(_word_walk_sql(query, word, terms, probes, sample, inline))
    if len(rows) > query.limit or estimate(sample_sql(filters[nt + lead], drive_below)) < sample:
        return rows  # a page, or every entry of the word walked
    if len(rows) == 0 or sample * (query.limit + 1) // len(rows) > 2 * drive_below:
        return None  # too deep: intersecting (or walking the images) costs less
    return fetch(_word_walk_sql(query, word, terms, probes, 0, inline))


def _ordered_stream(
    cores: list[tuple[str, list[Any]]], direction: str, cap: int, merged_inline: bool
) -> tuple[str, list[Any]]:
    """Several index scans of search_terms (``cores``: SELECT image_id, uploaded_key, term ...)
    merged in upload order, the first ``cap`` rows only (0: all). PostgreSQL merges ordered
    subqueries (Merge Append, each branch stopping early); SQLite merges a compound SELECT whose
    ORDER BY each arm's index already gives (ordered subqueries there are sorted whole)."""
    order = f" ORDER BY uploaded_key {direction}, image_id {direction}"
    params: list[Any] = []
    if merged_inline:
        all_params = [p for _, ps in cores for p in ps]
        if not cap:
            return " UNION ALL ".join(c for c, _ in cores) + order, all_params
        # The newest cap entries as a bound on the upload key, so the merge still streams (a LIMIT
        # would make SQLite sort and probe all cap rows before the page's LIMIT).
        # Computed once, in a CTE every arm reads (a scalar subquery in each arm merged all the
        # streams again per arm: eight arms for a word of two terms, word + tag + color at
        # 100,000 images spending most of its time there).
        first = " UNION ALL ".join(c for c, _ in cores)
        cmp, past = (">=", "-1") if direction == "DESC" else ("<=", str(2**62))
        bound = (
            f"WITH bound(k) AS MATERIALIZED (SELECT coalesce((SELECT uploaded_key FROM ({first}{order}"
            f" LIMIT 1 OFFSET ?)), {past})) "
        )
        params = [*all_params, cap - 1]
        arms = []
        for core, ps in cores:
            arms.append(f"{core} AND uploaded_key {cmp} (SELECT k FROM bound)")
            params += ps
        return bound + " UNION ALL ".join(arms) + order, params
    branches = []
    for core, ps in cores:
        branches.append(f"SELECT * FROM ({core}{order}{' LIMIT ?' if cap else ''}) AS b")
        params += [*ps, *([cap] if cap else [])]
    text = " UNION ALL ".join(branches)
    if cap:
        text = f"SELECT * FROM ({text}) AS u{order} LIMIT ?"
        params.append(cap)
    return text, params


def _word_walk_sql(
    query: ImageQuery, word: str, terms: list[str], probes: list[Sql], cap: int, merged_inline: bool
) -> Sql:
    """The page of _word_walk, walking only the newest ``cap`` entries of the word (0: all)."""
    desc = is_descending(query)
    direction, cmp = ("DESC", "<") if desc else ("ASC", ">")
    cores = []
    for term in terms:
        for w in (0,) if word.startswith(PLACE_MARK) else WEIGHTS:  # place terms are stored with weight 0
            where = "owner_id = ? AND term = ? AND weight = ?"
            ps: list[Any] = [query.owner_id, term, w]
            if query.cursor is not None:
                where += f" AND (uploaded_key, image_id) {cmp} (?, ?)"
                ps += [query.cursor.key, query.cursor.id]
            cores.append((f"SELECT image_id, uploaded_key, term FROM search_terms WHERE {where}", ps))
    stream, params = _ordered_stream(cores, direction, cap, merged_inline)
    conds = []
    if len(terms) > 1:  # an image holding several of the word's terms counts once, at its first
        conds.append(
            "NOT EXISTS (SELECT 1 FROM search_terms h WHERE h.image_id = r.image_id AND h.term >= ?"
            " AND h.term < r.term)"
        )
        params.append(word)
    for p in probes:
        conds.append(_probe(p, "r.image_id"))
        params += p.params
    keys = (
        f"SELECT r.image_id AS id, r.uploaded_key AS sort_key FROM ({stream}) AS r"
        f"{' WHERE ' + ' AND '.join(conds) if conds else ''}"
        f" ORDER BY r.uploaded_key {direction}, r.image_id {direction} LIMIT ?"
    )
    params.append(query.limit + 1)
    cols = ", ".join("i." + c for c in IMAGE_COLUMNS)
    return Sql(
        f"SELECT {cols}, k.sort_key AS sort_key FROM ({keys}) AS k CROSS JOIN images AS i WHERE i.id = k.id"
        f" ORDER BY k.sort_key {direction}, k.id {direction}",
        params,
    )


def _within(filters: list[Source], estimate: Callable[[Sql], int], budget: int) -> bool:
    """Whether the filters' index entries number at most ``budget``, each counted with the budget
    left, so a huge filter costs one bounded count."""
    for f in filters:
        budget -= estimate(sample_sql(f, budget + 1))
        if budget < 0:
            return False
    return True


# The distinct terms a prefix matches, by a loose index scan (one b-tree seek per term).
_TERMS_IN_RANGE = (
    "WITH RECURSIVE t(term) AS ("
    " SELECT (SELECT min(term) FROM search_terms WHERE owner_id = ? AND term >= ? AND term < ?)"
    " UNION ALL SELECT (SELECT min(s.term) FROM search_terms s WHERE s.owner_id = ? AND s.term > t.term"
    " AND s.term < ?) FROM t WHERE t.term IS NOT NULL)"
    f" SELECT term FROM t WHERE term IS NOT NULL LIMIT {MAX_WALKED_TERMS + 1}"
)


def _terms_of_words(owner: str, words: tuple[str, ...] | list[str]) -> Sql:
    """_TERMS_IN_RANGE for several words in one statement (each a round trip and a planning
    less): rows (n, term), word n's distinct terms in order, at most MAX_WALKED_TERMS + 1 each."""
    ctes, arms, params = [], [], []
    for n, word in enumerate(words):
        ctes.append(
            f"t{n}(term) AS (SELECT (SELECT min(term) FROM search_terms WHERE owner_id = ? AND term >= ? AND term < ?)"
            f" UNION ALL SELECT (SELECT min(s.term) FROM search_terms s WHERE s.owner_id = ? AND s.term > t{n}.term"
            f" AND s.term < ?) FROM t{n} WHERE t{n}.term IS NOT NULL)"
        )
        arms.append(
            f"SELECT * FROM (SELECT {n} AS n, term FROM t{n} WHERE term IS NOT NULL"
            f" LIMIT {MAX_WALKED_TERMS + 1}) AS a{n}"
        )
        params += [owner, word, word + TOP, owner, word + TOP]
    return Sql(f"WITH RECURSIVE {', '.join(ctes)} {' UNION ALL '.join(arms)} ORDER BY n, term", params)


def _walk_terms(query: ImageQuery, terms: list[str], probes: list[Sql]) -> tuple[str, list[Any]]:
    """Relevance of one word as a merge of per-term walks of search_terms_ranked (weight, then
    upload time, descending), each row kept only when it is its image's best hit of the word;
    every walk stops after limit + 1 rows, so a common word costs no more than a rare one.
    Exact: ahead of an image's best row in its term's walk lie only other images' best rows."""
    word = query.words[0]
    params: list[Any] = []
    branches = []
    for term in terms:
        where = [
            "r.owner_id = ?",
            "r.term = ?",
            "NOT EXISTS (SELECT 1 FROM search_terms h WHERE h.image_id = r.image_id AND h.term >= ?"
            " AND h.term < ? AND h.weight > r.weight)",
        ]
        params += [query.owner_id, term, word, word + TOP]
        for p in probes:
            where.append(_probe(p, "r.image_id"))
            params += p.params
        if query.cursor is not None:
            where.append(f"(r.weight * {_SHIFT} + r.uploaded_key, r.image_id) < (?, ?)")
            params += [query.cursor.key, query.cursor.id]
        branches.append(
            f"SELECT * FROM (SELECT r.image_id AS image_id, r.weight * {_SHIFT} + r.uploaded_key AS sort_key"
            f" FROM search_terms r WHERE {' AND '.join(where)}"
            " ORDER BY r.weight DESC, r.uploaded_key DESC, r.image_id DESC LIMIT ?) AS w"
        )
        params.append(query.limit + 1)
    if not branches:
        return "SELECT '' AS image_id, 0 AS sort_key WHERE 1 = 0", []
    return f"SELECT DISTINCT image_id, sort_key FROM ({' UNION ALL '.join(branches)}) AS m", params


def _words_ranked(
    query: ImageQuery,
    dialect: Dialect,
    estimate: Callable[[Sql], int],
    word_filters: list[Source],
    probes: list[Sql],
    drive_below: int,
) -> tuple[str, list[Any], bool]:
    """Relevance to several words: the SQL ranking the images that hold every word, its
    parameters, and whether it applied ``probes`` itself.

    Two ways. Grouped: every entry of every word, grouped by image (always in PostgreSQL, which
    hashes them cheaply). Driven by the rarest word, when the others are far more common: each of its
    entries whose image holds every other word and passes ``probes`` (index probes by image)
    counts, and only those images look up their best weight for the other words (two words and a
    tag at 20,000 images in SQLite: 20 ms of CPU grouped, 9.6 driven)."""
    if dialect.hash_joins or drive_below <= 0:  # PostgreSQL groups by hashing: cheaper than counting
        return (*_words_grouped(query), False)
    sizes = [estimate(sample_sql(f, drive_below)) for f in word_filters]
    sizes = [  # a common word is counted further, to weigh the two ways
        estimate(sample_sql(f, drive_below * WORD_RECOUNT)) if n >= drive_below else n
        for f, n in zip(word_filters, sizes, strict=True)
    ]
    if sum(sizes) <= GROUP_SORTED * min(sizes):
        return (*_words_grouped(query), False)
    lead = min(range(len(query.words)), key=lambda n: sizes[n])
    others = [w for n, w in enumerate(query.words) if n != lead]
    best = [
        "(SELECT max(t.weight) FROM search_terms t WHERE t.image_id = d.image_id AND t.term >= ? AND t.term < ?)"
        for _ in others
    ]
    params: list[Any] = [p for w in others for p in (w, w + TOP)]
    where = ["s.owner_id = ?", "s.term >= ?", "s.term < ?"]
    params += [query.owner_id, query.words[lead], query.words[lead] + TOP]
    for probe in [f.probe for n, f in enumerate(word_filters) if n != lead] + probes:
        where.append(_probe(probe, "s.image_id"))
        params += probe.params
    ranked = (
        f"SELECT d.image_id AS image_id, ({' + '.join(['d.w', *best])}) * {_SHIFT} + d.uk AS sort_key"
        " FROM (SELECT s.image_id AS image_id, max(s.weight) AS w, max(s.uploaded_key) AS uk FROM search_terms s"
        f" WHERE {' AND '.join(where)} GROUP BY s.image_id) AS d"
    )
    return ranked, params, True


def _words_by_level(
    query: ImageQuery, dialect: Dialect, fetch: Callable[[Sql], list[Any]], cap: int
) -> list[Any] | None:
    """Relevance to several words, top-k by score level: the page's rows, or None when this way
    cannot tell them (then grouping ranks every image holding all the words).

    An image's score is the sum of each word's best weight, so the images scoring s are those of
    the weight tuples (one weight per word) summing to s. Levels run from the highest score
    down; each tuple walks its lead word's entries of its weight (the word's rarest class) newest
    first through search_terms_ranked_walk and probes the other words' weights by image, and
    the walk stops once the level has the rows the page still needs. A class holding more than
    ``cap`` entries is walked only ``cap`` deep: enough when the page fills from it, else the
    answer is not known here (two words in 1M images in PostgreSQL, 21 ms grouped: "june 2023")."""
    assert is_descending(query)
    owner, words = query.owner_id, query.words
    found = fetch(_terms_of_words(owner, words))
    terms = [[str(r["term"]) for r in found if int(r["n"]) == n] for n in range(len(words))]
    if not all(terms):
        return []  # no image holds one of the words
    if any(len(t) > MAX_WALKED_TERMS for t in terms):
        return None
    # Entries per (word, weight), each counted up to LEVEL_COUNT + 1 (an upper bound of its
    # images): a class past it is walked at most ``cap`` deep.
    counted = min(cap, LEVEL_COUNT)
    counts_sql, counts_params = [], []
    for n, word_terms in enumerate(terms):
        for w in WEIGHTS:
            branches = " UNION ALL ".join(
                "SELECT 1 AS x FROM search_terms WHERE owner_id = ? AND term = ? AND weight = ?" for _ in word_terms
            )
            counts_sql.append(f"(SELECT count(*) FROM ({branches} LIMIT ?) AS s) AS c{n}_{w}")
            counts_params += [p for t in word_terms for p in (owner, t, w)] + [counted + 1]
    got = fetch(Sql(f"SELECT {', '.join(counts_sql)}", counts_params))[0]
    count = [{w: int(got[f"c{n}_{w}"]) for w in WEIGHTS} for n in range(len(words))]
    present = [[w for w in WEIGHTS if count[n][w] > 0] for n in range(len(words))]
    if not all(present):
        return None  # a weight outside WEIGHTS: grouping still ranks it

    def class_sizes(keys: list[tuple[int, int]], upto: int) -> dict[tuple[int, int], int]:
        """Entries of word n at weight w for each (n, w) of ``keys``, each counted up to upto + 1,
        in one statement."""
        counts, params = [], []
        for k, (n, w) in enumerate(keys):
            branches = " UNION ALL ".join(
                "SELECT 1 AS x FROM search_terms WHERE owner_id = ? AND term = ? AND weight = ?" for _ in terms[n]
            )
            counts.append(f"(SELECT count(*) FROM ({branches} LIMIT ?) AS s) AS c{k}")
            params += [p for t in terms[n] for p in (owner, t, w)] + [upto + 1]
        got = fetch(Sql(f"SELECT {', '.join(counts)}", params))[0]
        return {key: int(got[f"c{k}"]) for k, key in enumerate(keys)}

    recounted: set[tuple[int, int]] = set()
    levels: dict[int, list[tuple[int, ...]]] = {}
    for combo in itertools.product(*present):
        levels.setdefault(sum(combo), []).append(combo)
    filters, nt = sources(query), len(query.tags) + len(query.people)  # tags, people, words, places, color
    probes = [f.probe for f in filters[:nt] + filters[nt + len(words) :]] + _taken_probe(query)
    cursor = None
    if query.cursor is not None:
        cursor = (*divmod(int(query.cursor.key), 2**53), query.cursor.id)
    rows: list[Any] = []
    for score in sorted(levels, reverse=True):
        if cursor is not None and score > cursor[0]:
            continue  # the whole level lies before the cursor
        need = query.limit + 1 - len(rows)
        after = cursor[1:] if cursor is not None and score == cursor[0] else None
        tuples = levels[score]
        parts, params = [], []
        capped, leads = [], []
        pending: list[tuple[int, int]] = []
        for combo in tuples:
            if min(count[n][combo[n]] for n in range(len(words))) > counted:
                # Every class past the first count: the smallest still leads (a walk reads about
                # need x its size / its matches), so count them to the cap, once (the level's
                # classes in one statement).
                pending += [(n, combo[n]) for n in range(len(words)) if (n, combo[n]) not in {*recounted, *pending}]
        if pending:
            for (n, w), size in class_sizes(pending, cap).items():
                recounted.add((n, w))
                count[n][w] = max(counted + 1, size)
        for k, combo in enumerate(tuples):
            lead = min(range(len(words)), key=lambda n: count[n][combo[n]])
            leads.append(lead)
            capped.append(count[lead][combo[lead]] > counted)
            text, part_params = _level_tuple(
                query, terms, combo, lead, probes, after, cap if capped[-1] else 0, need, dialect.name == "sqlite"
            )
            parts.append(f"SELECT t{k}.image_id AS image_id, t{k}.uk AS uk, {k} AS tno FROM ({text}) AS t{k}")
            params += part_params
        cols = ", ".join("i." + c for c in IMAGE_COLUMNS)
        found = fetch(
            Sql(
                f"SELECT {cols}, {score} * {_SHIFT} + k.uk AS sort_key, k.tno AS tno"
                f" FROM ({' UNION ALL '.join(parts)}) AS k CROSS JOIN images AS i WHERE i.id = k.image_id"
                " ORDER BY k.uk DESC, k.image_id DESC",
                params,
            )
        )
        # A capped walk that found fewer than the page needs may have stopped short: only when
        # its class holds more than ``cap`` entries, counted now (together).
        shorts = [k for k in range(len(tuples)) if capped[k] and sum(1 for r in found if r["tno"] == k) < need]
        keys = [(leads[k], tuples[k][leads[k]]) for k in shorts]
        unknown = [key for key in dict.fromkeys(keys) if key not in recounted]
        sizes = class_sizes(unknown, cap) if unknown else {}
        for n, w in keys:
            if (count[n][w] if (n, w) in recounted else sizes[(n, w)]) > cap:
                return None
        rows += found[:need]
        if len(rows) > query.limit:
            break
    return rows


def _level_tuple(
    query: ImageQuery,
    terms: list[list[str]],
    combo: tuple[int, ...],
    lead: int,
    probes: list[Sql],
    after: tuple[int, str] | None,
    cap: int,
    need: int,
    merged_inline: bool,
) -> tuple[str, list[Any]]:
    """The newest ``need`` images whose best weight for word n is combo[n] (and passing
    ``probes``), walked from the lead word's entries of its weight (``cap`` > 0: only the newest
    ``cap`` of them). Columns image_id and uk (its upload key)."""
    owner, words = query.owner_id, query.words
    cores = []
    for term in terms[lead]:
        where = "owner_id = ? AND term = ? AND weight = ?"
        ps: list[Any] = [owner, term, combo[lead]]
        if after is not None:
            where += " AND (uploaded_key, image_id) < (?, ?)"
            ps += list(after)
        cores.append((f"SELECT image_id, uploaded_key, term FROM search_terms WHERE {where}", ps))
    stream, params = _ordered_stream(cores, "DESC", cap, merged_inline)
    conds: list[str] = []
    cond_params: list[Any] = []
    for n, word in enumerate(words):
        w, rng = combo[n], [word, word + TOP]
        if n == lead:
            if len(terms[n]) > 1:  # the image's best hit of the word, once (its first term of that weight)
                conds.append(
                    "NOT EXISTS (SELECT 1 FROM search_terms h WHERE h.image_id = r.image_id AND h.term >= ?"
                    " AND h.term < ? AND (h.weight > ? OR (h.weight = ? AND h.term < r.term)))"
                )
                cond_params += [*rng, w, w]
            continue
        if len(terms[n]) == 1:
            conds.append(
                "EXISTS (SELECT 1 FROM search_terms h WHERE h.image_id = r.image_id AND h.term = ? AND h.weight = ?)"
            )
            cond_params += [terms[n][0], w]
            continue
        conds.append(
            "EXISTS (SELECT 1 FROM search_terms h WHERE h.image_id = r.image_id AND h.term >= ? AND h.term < ?"
            " AND h.weight = ?)"
        )
        cond_params += [*rng, w]
        if w < WEIGHTS[0]:
            conds.append(
                "NOT EXISTS (SELECT 1 FROM search_terms h WHERE h.image_id = r.image_id AND h.term >= ?"
                " AND h.term < ? AND h.weight > ?)"
            )
            cond_params += [*rng, w]
    for p in probes:
        conds.append(_probe(p, "r.image_id"))
        cond_params += p.params
    text = (
        f"SELECT r.image_id AS image_id, r.uploaded_key AS uk FROM ({stream}) AS r"
        f"{' WHERE ' + ' AND '.join(conds) if conds else ''}"
        " ORDER BY r.uploaded_key DESC, r.image_id DESC LIMIT ?"
    )
    return text, [*params, *cond_params, need]


def _words_grouped(query: ImageQuery) -> tuple[str, list[Any]]:
    parts = [
        "SELECT image_id, max(weight) AS w, max(uploaded_key) AS uk FROM search_terms"
        " WHERE owner_id = ? AND term >= ? AND term < ? GROUP BY image_id"
        for _ in query.words
    ]
    params = [p for word in query.words for p in (query.owner_id, word, word + TOP)]
    ranked = (
        f"SELECT image_id, sum(w) * {_SHIFT} + max(uk) AS sort_key FROM ({' UNION ALL '.join(parts)})"
        f" AS u GROUP BY image_id HAVING count(*) = {len(query.words)}"
    )
    return ranked, params


def filtered(query: ImageQuery) -> bool:
    """Whether the query filters the owner's images (a plain list or sort reads one index)."""
    return bool(query.words or query.tags or query.place or query.color is not None or query.taken_range)


def walk_sample(drive_below: int) -> int:
    """How many images of the sort order a sampled walk reads (search_rows)."""
    return drive_below // 8


def _sampled_walk(
    query: ImageQuery, key: str, direction: str, rows: list[Sql], probes: list[Sql], sample: int
) -> tuple[str, list[Any]]:
    """The walk over only the first ``sample`` images of the order: exact when it finds a page."""
    head = (
        f"SELECT i.id AS id, {key} AS k FROM images AS i WHERE {' AND '.join(c.text for c in rows)}"
        f" ORDER BY {key} {direction}, i.id {direction} LIMIT ?"
    )
    where = " AND ".join(_probe(p, "w.id") for p in probes) or "1 = 1"
    keys = (
        f"SELECT w.id AS id, w.k AS sort_key FROM ({head}) AS w WHERE {where}"
        f" ORDER BY w.k {direction}, w.id {direction} LIMIT ?"
    )
    params = [p for c in rows for p in c.params] + [sample] + [p for c in probes for p in c.params]
    return keys, [*params, query.limit + 1]


def _intersect_by_upload(
    query: ImageQuery,
    filters: list[Source],
    marked: list[str],
    estimate: Callable[[Sql], int],
    drive_below: int,
    direction: str,
) -> tuple[str, list[Any]]:
    """The intersect plan in upload order, on the side tables alone: search_terms carries each
    image's upload key and holds ready images only, so the rarest word (or place) drives, each
    other filter's image set is joined to it, and only the page's images are read from
    ``images`` (a place and a tag at 1M images in PostgreSQL: every match was read from images
    to sort it)."""
    nt = len(query.tags) + len(query.people)
    word_filters = filters[nt : nt + len(marked)]
    lead = min(range(len(marked)), key=lambda n: estimate(sample_sql(word_filters[n], drive_below)))
    params: list[Any] = [query.owner_id, marked[lead], marked[lead] + TOP]
    where = []
    for n, f in enumerate(filters):
        if n != nt + lead:
            where.append(f"d.image_id IN ({f.ids.text})")
            params += f.ids.params
    if query.cursor is not None:
        where.append(f"(d.uk, d.image_id) {'<' if direction == 'DESC' else '>'} (?, ?)")
        params += [query.cursor.key, query.cursor.id]
    keys = (
        "SELECT d.image_id AS id, d.uk AS sort_key FROM (SELECT image_id, max(uploaded_key) AS uk FROM search_terms"
        " WHERE owner_id = ? AND term >= ? AND term < ? GROUP BY image_id) AS d"
        f"{' WHERE ' + ' AND '.join(where) if where else ''}"
        f" ORDER BY d.uk {direction}, d.image_id {direction} LIMIT ?"
    )
    return keys, [*params, query.limit + 1]


def _probe(probe: Sql, ident: str) -> str:
    return probe.text.replace("{id}", ident)


def search_sql(
    query: ImageQuery,
    dialect: Dialect,
    estimate: Callable[[Sql], int],
    drive_below: int = DRIVE_BELOW,
    color_tier: float | None = None,
    word_terms: list[str] | None = None,
    plan: str = "auto",
) -> Sql:
    """The page query (limit + 1 rows, each with its ``sort_key``) for ``query``.

    ``estimate`` runs a sample_sql and returns its count; filters under ``drive_below`` images
    drive the query (0: always walk the sort index). ``color_tier``: for color order, rank only
    images scoring within that ΔE (None: every match). ``word_terms``: for relevance to one word,
    the distinct stored terms it matches, walked term by term (_walk_terms). ``plan`` (orders by
    a column, see search_rows): "auto" drives from a rare filter else walks; "walk"; "sample"
    walks only the first walk_sample(drive_below) images of the order; "intersect" drives from
    the first filter and keeps the images in every other filter's set.
    """
    order = query.order.lstrip("-")
    desc = is_descending(query)
    direction = "DESC" if desc else "ASC"
    cols = ", ".join("i." + c for c in IMAGE_COLUMNS)
    filters = sources(query)
    nt, nw, np = len(query.tags) + len(query.people), len(query.words), len(query.place)
    tag_filters, word_filters = filters[:nt], filters[nt : nt + nw]
    place_filters, color_filters = filters[nt + nw : nt + nw + np], filters[nt + nw + np :]
    cmp = "<" if desc else ">"

    if order in ("relevance", "color"):
        # Ranked on the side tables alone: they hold only ready images (migration 0030).
        params: list[Any] = []
        if order == "relevance" and word_terms is not None:
            probes = [f.probe for f in (*tag_filters, *place_filters, *color_filters)] + _taken_probe(query)
            walked, walk_params = _walk_terms(query, word_terms, probes)
            keys = (
                f"SELECT r.image_id AS id, r.sort_key AS sort_key FROM ({walked}) AS r"
                f" ORDER BY r.sort_key {direction}, r.image_id {direction} LIMIT ?"
            )
            params = [*walk_params, query.limit + 1]
            return Sql(
                f"SELECT {cols}, k.sort_key AS sort_key FROM ({keys}) AS k CROSS JOIN images AS i WHERE i.id = k.id"
                f" ORDER BY k.sort_key {direction}, k.id {direction}",
                params,
            )
        if order == "relevance":
            probes = [f.probe for f in (*tag_filters, *place_filters, *color_filters)] + _taken_probe(query)
            if len(query.words) == 1:
                word = query.words[0]
                ranked = (
                    f"SELECT image_id, max(weight) * {_SHIFT} + max(uploaded_key) AS sort_key FROM search_terms"
                    " WHERE owner_id = ? AND term >= ? AND term < ? GROUP BY image_id"
                )
                params += [query.owner_id, word, word + TOP]
            else:
                ranked, ranked_params, probed = _words_ranked(
                    query, dialect, estimate, word_filters, probes, drive_below
                )
                params += ranked_params
                probes = [] if probed else probes
        else:
            assert query.color is not None
            lab = rgb_to_lab(query.color)
            names = sorted(same_name_colors(query.color))
            candidates, test_params = color_candidates(query.owner_id, lab, dialect, color_tier, names)
            ranked = (
                f"SELECT c.image_id AS image_id, min({dialect.color_score}) AS sort_key FROM {candidates}"
                " GROUP BY c.image_id"
            )
            params += [*color_term_params(lab), *test_params]
            probes = [f.probe for f in (*tag_filters, *word_filters, *place_filters)] + _taken_probe(query)
        where = [_probe(p, "r.image_id") for p in probes]
        for p in probes:
            params += p.params
        if query.cursor is not None:
            where.append(f"(r.sort_key, r.image_id) {cmp} (?, ?)")
            params += [query.cursor.key, query.cursor.id]
        keys = (
            f"SELECT r.image_id AS id, r.sort_key AS sort_key FROM ({ranked}) AS r"
            f"{' WHERE ' + ' AND '.join(where) if where else ''}"
            f" ORDER BY r.sort_key {direction}, r.image_id {direction} LIMIT ?"
        )
        params.append(query.limit + 1)
    else:
        key = _COLUMN_KEYS[query.order if order == "taken_at" else order]
        # Conditions on the image row (owner, state, capture range, cursor), then the filters.
        rows = [Sql("i.owner_id = ?", [query.owner_id]), Sql("i.state = 'ready'", [])]
        rows += taken_filters(query, "i")
        if query.cursor is not None:
            rows.append(Sql(f"({key}, i.id) {cmp} (?, ?)", [query.cursor.key, query.cursor.id]))
        driver: Sql | None = None
        probes = [f.probe for f in filters]
        sets: list[Sql] = []
        if filters and plan == "intersect":
            driver, probes, sets = filters[0].ids, [], [f.ids for f in filters[1:]]
        elif filters and plan == "auto":
            sizes = [estimate(sample_sql(f, drive_below)) if drive_below > 0 else 0 for f in filters]
            smallest = min(range(len(filters)), key=lambda n: sizes[n])
            if sizes[smallest] < drive_below:
                driver = filters[smallest].ids
                probes = [f.probe for n, f in enumerate(filters) if n != smallest]
        if plan == "intersect" and _by_upload(query):
            marked = [*query.words, *(PLACE_MARK + w for w in query.place)]
            keys, params = _intersect_by_upload(query, filters, marked, estimate, drive_below, direction)
        elif plan == "sample":
            keys, params = _sampled_walk(query, key, direction, rows, probes, walk_sample(drive_below))
        else:
            # A driven query probes the driver's ids, so SQLite tests the side tables' indexes before
            # it reads an image row (word + tag + color at 20,000 images: 16 ms of CPU before, 9.5 after).
            conds = [Sql(_probe(p, "drv.image_id" if driver else "i.id"), p.params) for p in probes]
            # Intersected: each other filter's image set is read once from its owner-first index (a
            # hash join in PostgreSQL), not probed image by image.
            conds += [Sql(f"drv.image_id IN ({ids.text})", ids.params) for ids in sets]
            matches = [*rows, *conds]
            params = [p for c in matches for p in c.params]
            # CROSS JOIN fixes the join order in SQLite (the driver first); PostgreSQL plans it freely.
            source = "images AS i"
            if driver is not None:
                source = f"({driver.text}) AS drv CROSS JOIN images AS i"
                matches.insert(0, Sql("i.id = drv.image_id", []))
                params = [*driver.params, *params]
            # Order the matches reading only narrow columns; whole rows are fetched for the page.
            keys = (
                f"SELECT i.id AS id, {key} AS sort_key FROM {source} WHERE {' AND '.join(c.text for c in matches)}"
                f" ORDER BY {key} {direction}, i.id {direction} LIMIT ?"
            )
            params.append(query.limit + 1)
    text = (
        f"SELECT {cols}, k.sort_key AS sort_key FROM ({keys}) AS k CROSS JOIN images AS i WHERE i.id = k.id"
        f" ORDER BY k.sort_key {direction}, k.id {direction}"
    )
    return Sql(text, params)
