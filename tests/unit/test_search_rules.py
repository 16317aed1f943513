"""Property tests of the search rules every adapter shares."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from imagerepo.domain.errors import InvalidQuery
from imagerepo.domain.queries import Cursor, build_query
from imagerepo.domain.ranking import timestamp_key
from imagerepo.domain.text import query_terms, stem, tokenize

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)))
def test_timestamp_key_is_exact_microseconds(at: datetime) -> None:
    key = timestamp_key(at)
    assert EPOCH + timedelta(microseconds=key) == at


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
