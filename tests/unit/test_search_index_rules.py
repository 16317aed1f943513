"""Property tests of the rules the SQL search indexes rely on: color buckets and relevance keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from imagerepo.domain.colors import COLOR_MATCH_CUTOFF, delta_e76, rgb_to_lab
from imagerepo.domain.images import Analysis, AnalysisResult, Image, Tag
from imagerepo.domain.search import color_cell, color_cells_near, relevance, relevance_key, timestamp_key

rgbs = st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))


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
