"""Property tests of the rules the SQL search indexes rely on: color buckets and relevance keys."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from imagerepo.adapters.sql.colors import color_near_params, color_near_sql, color_term_params
from imagerepo.adapters.sql.search import COLOR_TIERS, color_candidates, color_tier_tests
from imagerepo.domain.colors import (
    COLOR_MATCH_CUTOFF,
    COLOR_MIN_FRACTION,
    NEUTRAL_NAMES,
    color_name,
    delta_e76,
    rgb_to_lab,
    same_name_colors,
    spoken_color_name,
)
from imagerepo.domain.images import Analysis, AnalysisResult, Image, Tag
from imagerepo.domain.ranking import (
    COLOR_SCORE_SCALE,
    color_cell,
    color_cells_near,
    color_distance_squared,
    color_match_score,
    color_term_score,
    relevance,
    relevance_key,
    timestamp_key,
)

rgbs = st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
# A color near another: RGB steps around it (clamped), so many land within the color tiers.
offsets = (
    st.just((0, 0, 0))
    | st.tuples(*[st.integers(-2, 2)] * 3)
    | st.integers(-24, 24).map(lambda d: (d, d, d))  # mostly lightness: the cube's faces
    | st.tuples(*[st.integers(-24, 24)] * 3)
)


@given(rgbs, rgbs)
def test_every_color_within_the_cutoff_lies_in_a_visited_bucket(
    query: tuple[int, int, int], color: tuple[int, int, int]
) -> None:
    q, c = rgb_to_lab(query), rgb_to_lab(color)
    if delta_e76(q, c) <= COLOR_MATCH_CUTOFF:
        assert color_cell(c) in color_cells_near(q)


@given(rgbs)
def test_a_query_visits_few_buckets(query: tuple[int, int, int]) -> None:
    assert len(color_cells_near(rgb_to_lab(query))) <= 200


def photo(description: str = "", tags: tuple[str, ...] = (), filename: str = "x.jpg") -> Image:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    analysis = Analysis.done(AnalysisResult("t", description, tuple(Tag(t, 0.9) for t in tags)), at)
    return Image(str(uuid.uuid4()), "o", filename, "image/jpeg", 1, 1, 1, "s", at, analysis)


def test_a_tag_hit_outranks_a_description_hit_which_outranks_a_filename_hit() -> None:
    tagged, described, named = photo(tags=("dog",)), photo("a dog"), photo(filename="dog.jpg")
    assert relevance(tagged, ["dog"]) > relevance(described, ["dog"]) > relevance(named, ["dog"]) > 0
    assert relevance(photo("a cat"), ["dog"]) == 0


@given(
    st.integers(0, 128),
    st.integers(0, 128),
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2250, 1, 1), timezones=st.just(UTC)),
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2250, 1, 1), timezones=st.just(UTC)),
)
def test_relevance_key_orders_by_score_then_time(s1: int, s2: int, t1: datetime, t2: datetime) -> None:
    k1, k2 = relevance_key(s1, timestamp_key(t1)), relevance_key(s2, timestamp_key(t2))
    assert (k1 < k2) == ((s1, t1) < (s2, t2))
    assert k1 < 2**63  # fits a signed 64-bit column


@given(rgbs, rgbs, st.floats(0.0, 1.0))
def test_sqlite_computes_the_color_score_bit_for_bit(
    query: tuple[int, int, int], color: tuple[int, int, int], fraction: float
) -> None:
    """The SQL adapters rank colors by the very score the reference computes (PostgreSQL is
    held to it by the contract suite)."""
    from imagerepo.adapters.sqlite.database import SQLITE

    q, c = rgb_to_lab(query), rgb_to_lab(color)
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE search_colors (l REAL, a REAL, b REAL, fraction REAL)")
    conn.execute("INSERT INTO search_colors VALUES (?, ?, ?, ?)", (*c, fraction))
    score, near = conn.execute(
        f"SELECT {SQLITE.color_score}, {color_near_sql()} FROM search_colors c",
        [*color_term_params(q), *color_near_params(q)],
    ).fetchone()
    conn.close()
    expected = color_term_score(q, c, fraction)
    assert bool(near) == (color_distance_squared(q, c) <= COLOR_MATCH_CUTOFF**2)
    if expected is not None:
        assert score == expected


@given(
    rgbs,
    st.lists(st.tuples(rgbs, st.floats(0.0, 1.0)), max_size=5),
    st.sampled_from([t for t in COLOR_TIERS if t is not None]),
)
def test_a_color_tier_holds_every_image_scoring_within_it(
    query: tuple[int, int, int], palette: list[tuple[tuple[int, int, int], float]], tier: float
) -> None:
    """Color ranking reads only colors within ΔE tier + 0.001 to rank images scoring <= tier."""
    q = rgb_to_lab(query)
    labs = [(rgb_to_lab(c), f, "") for c, f in palette]
    score = color_match_score(q, labs)
    if score is not None and score <= tier * COLOR_SCORE_SCALE:
        near = [(lab, f, n) for lab, f, n in labs if color_distance_squared(q, lab) <= (tier + 0.001) ** 2]
        assert color_match_score(q, near) == score
        assert all(color_cell(lab) in color_cells_near(q, tier + 0.001) for lab, _, _ in near)


# Shares anywhere, and on the edges of the tiers (a share of 1 - tier / 10 scores the tier at distance 0).
shares = st.floats(0.03, 1.0) | st.sampled_from([1.0, *(1.0 - t / 10 for t in COLOR_TIERS if t is not None and t < 10)])


@given(
    rgbs,
    st.lists(st.lists(st.tuples(offsets, shares), min_size=1, max_size=4), max_size=12),
    st.sampled_from(COLOR_TIERS),
)
def test_a_color_tier_query_scores_exactly_the_images_within_it(
    query: tuple[int, int, int], palettes: list[list[tuple[tuple[int, int, int], float]]], tier: float | None
) -> None:
    """The SQL of one color tier (share, cube, reach and score tests on each palette color before
    grouping) keeps exactly the images scoring within the tier, each with its reference score."""
    from imagerepo.adapters.sqlite.database import SQLITE

    q = rgb_to_lab(query)
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE TABLE search_colors (owner_id TEXT, cell INTEGER, image_id TEXT, l REAL, a REAL, b REAL, fraction REAL)"
    )
    expected = {}
    for n, palette in enumerate(palettes):
        near = [tuple(max(0, min(255, v + d)) for v, d in zip(query, offset, strict=True)) for offset, _ in palette]
        labs = [(rgb_to_lab(c), f, "") for c, (_, f) in zip(near, palette, strict=True)]
        for lab, f, _ in labs:
            conn.execute("INSERT INTO search_colors VALUES ('o', ?, ?, ?, ?, ?, ?)", (color_cell(lab), str(n), *lab, f))
        score = color_match_score(q, labs)
        if score is not None and (tier is None or score <= tier * COLOR_SCORE_SCALE):
            expected[str(n)] = score
    tests, params = color_tier_tests("o", q, SQLITE, tier)
    got = conn.execute(
        f"SELECT c.image_id, min({SQLITE.color_score}) FROM search_colors c WHERE {tests} GROUP BY c.image_id",
        [*color_term_params(q), *params],
    ).fetchall()
    conn.close()
    assert dict(got) == expected


# ---------------------------------------------------------------- colors named like the query

shares_any = st.floats(0.0, 1.0)


@given(rgbs, rgbs)
def test_matching_by_name_is_symmetric_and_follows_the_spoken_name(
    x: tuple[int, int, int], y: tuple[int, int, int]
) -> None:
    """x's query matches y's color by name exactly when y's query matches x's: both are named the
    same basic color, a chromatic one (neutral queries match by distance only)."""
    nx, ny = color_name(x), color_name(y)
    by_name = ny in same_name_colors(x)
    assert by_name == (nx in same_name_colors(y))
    assert by_name == (spoken_color_name(nx) == spoken_color_name(ny) and spoken_color_name(nx) not in NEUTRAL_NAMES)


@given(rgbs, st.floats(COLOR_MIN_FRACTION, 1.0))
def test_a_color_big_enough_always_matches_itself(rgb: tuple[int, int, int], share: float) -> None:
    lab = rgb_to_lab(rgb)
    assert color_match_score(lab, [(lab, share, color_name(rgb))], same_name_colors(rgb)) is not None


@given(rgbs, rgbs, st.floats(0.0, COLOR_MIN_FRACTION, exclude_max=True))
def test_a_speck_never_matches_however_close_or_named(
    query: tuple[int, int, int], color: tuple[int, int, int], share: float
) -> None:
    names = same_name_colors(query)
    for name in (color_name(color), *names):
        assert color_match_score(rgb_to_lab(query), [(rgb_to_lab(color), share, name)], names) is None


@given(rgbs, rgbs, shares_any)
def test_the_name_widens_the_match_but_never_changes_the_score(
    query: tuple[int, int, int], color: tuple[int, int, int], share: float
) -> None:
    """Closest first still: a color matched by name scores by its distance and share, as one
    matched by distance does."""
    q, c = rgb_to_lab(query), rgb_to_lab(color)
    by_distance = color_term_score(q, c, share)
    by_name = color_term_score(q, c, share, named=True)
    if by_distance is not None:
        assert by_name == by_distance
    assert (by_name is None) == (share < COLOR_MIN_FRACTION)


@given(rgbs, st.lists(st.lists(st.tuples(rgbs, shares), min_size=1, max_size=4), max_size=10))
def test_the_last_color_tier_adds_every_color_named_like_the_query(
    query: tuple[int, int, int], palettes: list[list[tuple[tuple[int, int, int], float]]]
) -> None:
    """The SQL of the last tier (colors within the cut-off, and those named like the query) keeps
    exactly the images the domain matches, each with its reference score."""
    from imagerepo.adapters.sqlite.database import SQLITE

    q, names = rgb_to_lab(query), same_name_colors(query)
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE TABLE search_colors"
        " (owner_id TEXT, cell INTEGER, image_id TEXT, l REAL, a REAL, b REAL, fraction REAL, name TEXT)"
    )
    expected = {}
    for n, palette in enumerate(palettes):
        colors = [(rgb_to_lab(rgb), f, color_name(rgb)) for rgb, f in palette]
        for lab, f, name in colors:
            conn.execute(
                "INSERT INTO search_colors VALUES ('o', ?, ?, ?, ?, ?, ?, ?)", (color_cell(lab), str(n), *lab, f, name)
            )
        score = color_match_score(q, colors, names)
        if score is not None:
            expected[str(n)] = score
    rows, params = color_candidates("o", q, SQLITE, None, sorted(names))
    got = conn.execute(
        f"SELECT c.image_id, min({SQLITE.color_score}) FROM {rows} GROUP BY c.image_id",
        [*color_term_params(q), *params],
    ).fetchall()
    conn.close()
    assert dict(got) == expected
