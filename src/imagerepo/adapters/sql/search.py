"""The SQL of ImageRepository.search, shared by SQLite and PostgreSQL.

Reads the owner-first side tables of migration 0020 (search_terms, search_tags, search_colors)
and plans each query one of three ways, so a big user's query touches few rows:

* **walk**: follow the sort index of ``images`` (owner, state, key, id) from the cursor and probe
  each image's filters through the by-image indexes; cheap when filters are common or absent.
* **drive**: start from the rarest filter's index entries (fewer than ``DRIVE_BELOW`` images),
  look those images up and sort them; cheap when a filter is rare.
* **ranked**: relevance and color orders need every match scored, so they start from the word
  (or color bucket) entries, which are the matches.

The SQL is written with ``?`` placeholders; PostgreSQL swaps in ``%s`` (no other ``?`` or ``%``
appears in it).
"""

# ruff: noqa: S608  # SQL is assembled from constant fragments only; values are always bound parameters

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from imagerepo.adapters.sql.rows import IMAGE_COLUMNS
from imagerepo.domain.colors import rgb_to_lab
from imagerepo.domain.images import ImageQuery
from imagerepo.domain.search import color_cells_near, is_descending

# Above every code point a stored term can contain: [w, w + TOP) in code-point order holds
# exactly the terms that start with w.
TOP = "\U0010ffff"
# A filter matching fewer images than this drives the query; otherwise the sort index is walked.
DRIVE_BELOW = 3000
# relevance_key's multiplier (search._RELEVANCE_SHIFT), as an SQL literal.
_SHIFT = str(2**53)

_COLUMN_KEYS = {"uploaded_at": "i.uploaded_key", "filename": "i.filename_key", "size_bytes": "i.size_bytes"}


@attrs.frozen
class Dialect:
    """What differs between the databases: how one palette color scores against the query.

    ``color_term`` is an SQL expression over a ``search_colors`` row ``c`` that is the color's
    score (colors.color_match_score of that one color) or NULL when it cannot match; it takes
    the parameters ``color_params(lab)``.
    """

    color_term: str
    color_params: Callable[[tuple[float, float, float]], list[Any]]


@attrs.frozen
class Sql:
    text: str
    params: list[Any]


@attrs.frozen
class Source:
    """One filter as a set of image ids read from an owner-first index."""

    ids: Sql  # SELECT image_id ... (each image once)
    probe: Sql  # correlated EXISTS for one image i
    sample: Sql  # SELECT 1 ... index entries, for estimating the size (LIMIT appended)


def sources(query: ImageQuery, dialect: Dialect) -> list[Source]:
    out = []
    for tag in query.tags:
        out.append(
            Source(
                Sql("SELECT image_id FROM search_tags WHERE owner_id = ? AND tag = ?", [query.owner_id, tag]),
                Sql("EXISTS (SELECT 1 FROM search_tags g WHERE g.image_id = i.id AND g.tag = ?)", [tag]),
                Sql("SELECT 1 FROM search_tags WHERE owner_id = ? AND tag = ?", [query.owner_id, tag]),
            )
        )
    for word in query.words:
        rng = [word, word + TOP]
        out.append(
            Source(
                Sql(
                    "SELECT DISTINCT image_id FROM search_terms WHERE owner_id = ? AND term >= ? AND term < ?",
                    [query.owner_id, *rng],
                ),
                Sql(
                    "EXISTS (SELECT 1 FROM search_terms t WHERE t.image_id = i.id AND t.term >= ? AND t.term < ?)",
                    rng,
                ),
                Sql("SELECT 1 FROM search_terms WHERE owner_id = ? AND term >= ? AND term < ?", [query.owner_id, *rng]),
            )
        )
    if query.color is not None:
        lab = rgb_to_lab(query.color)
        cells = color_cells_near(lab)
        marks = ", ".join("?" * len(cells))
        term = dialect.color_term
        out.append(
            Source(
                Sql(
                    f"SELECT DISTINCT image_id FROM search_colors c WHERE c.owner_id = ? AND c.cell IN ({marks})"
                    f" AND {term} IS NOT NULL",
                    [query.owner_id, *cells, *dialect.color_params(lab)],
                ),
                Sql(
                    f"EXISTS (SELECT 1 FROM search_colors c WHERE c.image_id = i.id AND {term} IS NOT NULL)",
                    dialect.color_params(lab),
                ),
                Sql(f"SELECT 1 FROM search_colors WHERE owner_id = ? AND cell IN ({marks})", [query.owner_id, *cells]),
            )
        )
    return out


def sample_sql(source: Source, cap: int) -> Sql:
    """Counts the source's index entries, stopping at ``cap`` (an upper bound of its images)."""
    return Sql(f"SELECT count(*) AS n FROM ({source.sample.text} LIMIT ?) AS s", [*source.sample.params, cap])


def search_sql(
    query: ImageQuery, dialect: Dialect, estimate: Callable[[Sql], int], drive_below: int = DRIVE_BELOW
) -> Sql:
    """The page query (limit + 1 rows, each with its ``sort_key``) for ``query``.

    ``estimate`` runs a sample_sql and returns its count; filters under ``drive_below`` images
    drive the query (0: always walk the sort index).
    """
    order = query.order.lstrip("-")
    desc = is_descending(query)
    direction = "DESC" if desc else "ASC"
    cols = ", ".join("i." + c for c in IMAGE_COLUMNS)
    filters = sources(query, dialect)
    nt, nw = len(query.tags), len(query.words)
    tag_filters, word_filters, color_filters = filters[:nt], filters[nt : nt + nw], filters[nt + nw :]
    where = ["i.owner_id = ?", "i.state = 'ready'"]
    params: list[Any] = [query.owner_id]
    head_params: list[Any] = []

    if order == "relevance":
        parts = [
            "SELECT image_id, max(weight) AS w FROM search_terms WHERE owner_id = ? AND term >= ? AND term < ?"
            " GROUP BY image_id"
            for _ in query.words
        ]
        for word in query.words:
            head_params += [query.owner_id, word, word + TOP]
        driver = (
            f"(SELECT image_id, sum(w) AS score FROM ({' UNION ALL '.join(parts)}) AS u"
            f" GROUP BY image_id HAVING count(*) = {len(query.words)}) AS c"
        )
        key = f"(c.score * {_SHIFT} + i.uploaded_key)"
        probes = [f.probe for f in (*tag_filters, *color_filters)]
    elif order == "color":
        assert query.color is not None
        lab = rgb_to_lab(query.color)
        cells = color_cells_near(lab)
        driver = (
            f"(SELECT c.image_id, min({dialect.color_term}) AS score FROM search_colors c"
            f" WHERE c.owner_id = ? AND c.cell IN ({', '.join('?' * len(cells))}) GROUP BY c.image_id) AS c"
        )
        head_params += [*dialect.color_params(lab), query.owner_id, *cells]
        key = "c.score"
        where.append("c.score IS NOT NULL")
        probes = [f.probe for f in (*tag_filters, *word_filters)]
    else:
        key = _COLUMN_KEYS[order]
        driver = ""
        probes = [f.probe for f in filters]
        if filters:
            sizes = [estimate(sample_sql(f, drive_below)) if drive_below > 0 else 0 for f in filters]
            smallest = min(range(len(filters)), key=lambda n: sizes[n])
            if sizes[smallest] < drive_below:
                lead = filters[smallest]
                driver = f"({lead.ids.text}) AS c"
                head_params += lead.ids.params
                probes = [f.probe for n, f in enumerate(filters) if n != smallest]

    for probe in probes:
        where.append(probe.text)
        params += probe.params
    if query.cursor is not None:
        where.append(f"({key}, i.id) {'<' if desc else '>'} (?, ?)")
        params += [query.cursor.key, query.cursor.id]
    # CROSS JOIN fixes the join order in SQLite (the driver first); PostgreSQL plans it freely.
    source = f"{driver} CROSS JOIN images AS i" if driver else "images AS i"
    if driver:
        where.insert(0, "i.id = c.image_id")
    # Two steps: order the matches by key reading only narrow columns, then fetch whole rows
    # (with their analysis JSON) for the one page.
    keys = (
        f"SELECT i.id AS id, {key} AS sort_key FROM {source} WHERE {' AND '.join(where)}"
        f" ORDER BY {key} {direction}, i.id {direction} LIMIT ?"
    )
    text = (
        f"SELECT {cols}, k.sort_key AS sort_key FROM ({keys}) AS k CROSS JOIN images AS i WHERE i.id = k.id"
        f" ORDER BY k.sort_key {direction}, k.id {direction}"
    )
    return Sql(text, [*head_params, *params, query.limit + 1])
