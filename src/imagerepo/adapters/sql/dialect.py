"""What the SQL repositories need from a database: a dialect and transactions.

The repositories write each statement once, with ``?`` placeholders; a database's transaction
runs it in that database's own terms (PostgreSQL swaps in ``%s``). The ``Dialect`` holds the few
real differences: how values are encoded, a couple of SQL spellings, and which driver errors
mean what.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

import attrs

from imagerepo.adapters.sql.colors import color_term_sql


@attrs.frozen
class Dialect:
    name: str
    # How a float expression ``{}`` becomes an integer (colors.color_term_sql needs it).
    floor_to_int: str
    # The larger of two values (SQLite: the two-argument max).
    greatest: str
    # A collation ordering text by code point, like Python str.
    code_points: str
    # Appended to a one-row queue SELECT so that concurrent claimers pass over each other's row.
    skip_locked: str
    # SQLite keeps the palette as JSON on the image row too (its naive benchmark scans it).
    palette_column: bool
    # Joins sets by hashing (PostgreSQL): several common search filters are intersected as sets
    # rather than probed image by image along the sort index (sql.search._column_plan).
    hash_joins: bool
    # Run first in a search's transaction (None: nothing). PostgreSQL: no JIT compilation and no
    # parallel workers for these millisecond queries; a misestimated cost triggered both (a place
    # at 100,000 images: 40 ms compiling, 150 ms starting workers, for 686 index probes).
    search_setup: str | None
    # Values as the driver stores them: a UTC time, a span of seconds, JSON, a list of text.
    time: Callable[[datetime], Any]
    interval: Callable[[float], Any]
    json: Callable[[Any], Any]
    text_list: Callable[[Sequence[str]], Any]
    # Driver errors: a unique constraint refused a write; any constraint did.
    unique_violation: type[Exception]
    integrity_error: type[Exception]

    @property
    def color_score(self) -> str:
        return color_term_sql(self.floor_to_int)


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Transaction(Protocol):
    """One open transaction: committed when its block ends normally, else rolled back."""

    def execute(self, sql: str, params: Sequence[Any] = (), *, prepare: bool = True) -> Cursor:
        """Run ``sql`` (``?`` placeholders). ``prepare=False``: plan it afresh with these values."""
        ...

    def insert(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, bulk: bool = False
    ) -> None:
        """Insert ``rows``; ``bulk``: many rows, loaded the database's fastest way."""
        ...

    def lock(self, key: str) -> None:
        """Hold a lock on ``key`` until the transaction ends, so writers of one key queue."""
        ...


class Database(Protocol):
    @property
    def dialect(self) -> Dialect: ...

    def transaction(self, *, write: bool = True) -> AbstractContextManager[Transaction]:
        """A transaction; ``write=False`` promises only reads. Integrity errors pass through for
        the repositories to translate; other driver errors become ServiceUnavailable."""
        ...

    def check(self) -> None: ...


def insert_sql(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
