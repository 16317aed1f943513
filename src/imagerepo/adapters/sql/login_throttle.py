"""LoginThrottle in SQL: sign-in counters in the login_attempts table (migrations 0040, 0050),
shared by every process on the database and kept across restarts."""

# ruff: noqa: S608  # SQL is assembled from constant fragments only; values are always bound parameters

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

from imagerepo.adapters.sql.dialect import Database, Transaction
from imagerepo.adapters.sql.rows import Row, when
from imagerepo.domain.errors import ServiceUnavailable
from imagerepo.domain.throttle import Changes, CounterState, ThrottlePolicy, ThrottleRules
from imagerepo.ports.clock import Clock

T = TypeVar("T")

_UPSERT = (
    "INSERT INTO login_attempts (key, failures, last_failure, in_flight, reserved_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, last_failure = excluded.last_failure,"
    " in_flight = excluded.in_flight, reserved_at = excluded.reserved_at"
)


def counter_id(key: str) -> str:
    """The stored key: a digest, so no username or address sits in the table in clear."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _counter(row: Row) -> CounterState:
    reserved = row["reserved_at"]
    return CounterState(
        failures=int(row["failures"]),
        last_failure=when(row["last_failure"]),
        in_flight=int(row["in_flight"]),
        reserved_at=None if reserved is None else when(reserved),
    )


class SqlLoginThrottle:
    """Each step reads an attempt's counters, applies ThrottleRules and writes them back in one
    transaction that holds the counters' locks (SQLite: the write lock; PostgreSQL: an advisory
    lock per counter, taken in one order), so simultaneous attempts take turns."""

    def __init__(self, db: Database, clock: Clock, policy: ThrottlePolicy | None = None) -> None:
        self._db = db
        self._clock = clock
        self._rules = ThrottleRules.scaled(policy)

    def retry_after(self, keys: Sequence[str]) -> int:
        now = self._clock.now()
        with self._db.transaction(write=False) as tx:
            state = self._read(tx, keys)
        return self._rules.wait(keys, state, now)

    def reserve(self, keys: Sequence[str]) -> int:
        return self._step(keys, lambda state, now: self._rules.reserve(keys, state, now))

    def failed(self, keys: Sequence[str]) -> None:
        self._step(keys, lambda state, now: (None, self._rules.failed(keys, state, now)))

    def succeeded(self, keys: Sequence[str]) -> None:
        self._step(keys, lambda state, now: (None, self._rules.succeeded(keys, state)))

    def _read(self, tx: Transaction, keys: Sequence[str]) -> dict[str, CounterState]:
        by_id = {counter_id(k): k for k, _ in self._rules.counters(keys)}
        rows = tx.execute(
            f"SELECT * FROM login_attempts WHERE key IN ({', '.join('?' * len(by_id))})", list(by_id)
        ).fetchall()
        return {by_id[r["key"]]: _counter(r) for r in rows}

    def _step(self, keys: Sequence[str], decide: Callable[[dict[str, CounterState], datetime], tuple[T, Changes]]) -> T:
        d = self._db.dialect
        try:
            with self._db.transaction() as tx:
                for cid in sorted(counter_id(k) for k, _ in self._rules.counters(keys)):
                    tx.lock(f"login_attempts:{cid}")
                now = self._clock.now()  # once it is this step's turn
                result, changes = decide(self._read(tx, keys), now)
                for key, c in changes.items():
                    if c is None:
                        tx.execute("DELETE FROM login_attempts WHERE key = ?", (counter_id(key),))
                    else:
                        reserved = None if c.reserved_at is None else d.time(c.reserved_at)
                        tx.execute(
                            _UPSERT, (counter_id(key), c.failures, d.time(c.last_failure), c.in_flight, reserved)
                        )
                oldest = d.time(now) - d.interval(self._rules.forget_after)
                tx.execute(
                    "DELETE FROM login_attempts WHERE last_failure < ? AND (reserved_at IS NULL OR reserved_at < ?)",
                    (oldest, oldest),
                )
        except d.integrity_error as e:
            raise ServiceUnavailable(f"database error: {e}") from e
        return result
