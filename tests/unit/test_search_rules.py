"""Property tests of the search rules every adapter shares."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imagerepo.domain.errors import InvalidQuery
from imagerepo.domain.photos import LOCAL_REACH, instant_key, local_key
from imagerepo.domain.queries import Cursor, build_query
from imagerepo.domain.ranking import timestamp_key
from imagerepo.domain.text import query_terms, stem, tokenize

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)))
def test_timestamp_key_is_exact_microseconds(at: datetime) -> None:
    key = timestamp_key(at)
    assert EPOCH + timedelta(microseconds=key) == at


# Capture times as files give them: with any offset under a day, or none (the wall clock alone).
OFFSETS = st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59))
TAKEN_TIMES = st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31),
                           timezones=st.none() | st.builds(timezone, OFFSETS))


@given(TAKEN_TIMES)
def test_a_local_key_is_the_instant_key_moved_by_the_offset(at: datetime) -> None:
    offset = at.utcoffset() or timedelta(0)
    assert local_key(at) == instant_key(at) + offset // timedelta(microseconds=1)
    assert abs(local_key(at) - instant_key(at)) < LOCAL_REACH  # search.taken_filters widens by it


@given(TAKEN_TIMES, st.dates(min_value=date(1, 1, 1)))
def test_a_plain_date_bound_compares_the_photos_own_date(at: datetime, day: date) -> None:
    query = build_query("owner", taken_after=day.isoformat(), taken_before=day.isoformat())
    assert query.taken_after_local
    assert query.taken_before_local
    assert (local_key(at) >= query.taken_after) == (at.date() >= day)
    assert (local_key(at) < query.taken_before) == (at.date() < day)


def test_a_date_time_bound_is_an_instant() -> None:
    query = build_query("owner", taken_after="2023-01-01T09:00:00+09:00", taken_before="2023-01-01")
    assert not query.taken_after_local
    assert query.taken_after == instant_key(datetime(2023, 1, 1, tzinfo=UTC))
    assert query.taken_before_local


def test_a_cursor_of_an_instant_range_does_not_page_a_date_range() -> None:
    instants = build_query("owner", taken_after="2023-01-01T00:00:00Z")
    dates = build_query("owner", taken_after="2023-01-01")
    assert instants.taken_after == dates.taken_after
    token = Cursor(key=1, id="x").encode(instants)
    assert Cursor.decode(token, instants) == Cursor(key=1, id="x")
    with pytest.raises(InvalidQuery):
        Cursor.decode(token, dates)


@given(st.text(max_size=200))
def test_tokens_are_lowercase_alphanumeric_words(text: str) -> None:
    for word in tokenize(text):
        assert word
        assert word == word.casefold()
        assert all(ch.isalnum() for ch in word)


def test_plural_and_prefix_forms_share_a_key() -> None:
    assert stem("cats") == stem("cat")
    assert "espresso".startswith(query_terms("espres")[0])


@given(st.text(min_size=1, max_size=60))
def test_garbage_cursors_are_invalid_queries_never_crashes(token: str) -> None:
    query = build_query("owner")
    with contextlib.suppress(InvalidQuery):
        Cursor.decode(token, query)


@given(st.integers(min_value=0, max_value=2**62), st.uuids())
def test_cursor_round_trips_and_is_bound_to_its_query(key: int, ident: object) -> None:
    query = build_query("owner", sort="-size_bytes")
    token = Cursor(key=key, id=str(ident)).encode(query)
    assert Cursor.decode(token, query) == Cursor(key=key, id=str(ident))
    other = build_query("owner", sort="size_bytes")
    try:
        Cursor.decode(token, other)
    except InvalidQuery:
        pass
    else:
        raise AssertionError("a cursor from another query was accepted")
