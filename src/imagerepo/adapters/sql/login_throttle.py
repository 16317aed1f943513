"""LoginThrottle in SQL: sign-in failure counters in the login_attempts table (migration 0040),
shared by every process on the database and kept across restarts."""

# ruff: noqa: S608  # SQL is assembled from constant fragments only; values are always bound parameters

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence

from imagerepo.adapters.sql.dialect import Database
from imagerepo.adapters.sql.rows import when
from imagerepo.domain.errors import ServiceUnavailable
from imagerepo.domain.throttle import ThrottlePolicy, ThrottleRules
from imagerepo.ports.clock import Clock


def counter_id(key: str) -> str:
    """The stored key: a digest, so no username or address sits in the table in clear."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _marks(values: Collection[object]) -> str:
    return ", ".join("?" * len(values))


class SqlLoginThrottle:
    def __init__(self, db: Database, clock: Clock, policy: ThrottlePolicy | None = None) -> None:
        self._db = db
        self._clock = clock
        self._rules = ThrottleRules.scaled(policy)

    def retry_after(self, keys: Sequence[str]) -> int:
        counters = self._rules.counters(keys)
        now = self._clock.now()
        keys_by_id = {counter_id(k): k for k, _ in counters}
        with self._db.transaction(write=False) as tx:
            rows = tx.execute(
                f"SELECT key, failures, last_failure FROM login_attempts WHERE key IN ({_marks(keys_by_id)})",
                list(keys_by_id),
            ).fetchall()
        found = {
            keys_by_id[r["key"]]: (int(r["failures"]), (now - when(r["last_failure"])).total_seconds()) for r in rows
        }
        return self._rules.retry_after(counters, found)

    def failed(self, keys: Sequence[str]) -> None:
        d = self._db.dialect
        now = self._clock.now()
        # Sorted, so two processes failing on overlapping counters lock rows in the same order.
        counters = sorted(self._rules.counters(keys), key=lambda c: counter_id(c[0]))
        try:
            with self._db.transaction() as tx:
                for key, policy in counters:
                    # A counter idle for longer than forget_after starts again from one.
                    tx.execute(
                        "INSERT INTO login_attempts (key, failures, last_failure) VALUES (?, 1, ?)"
                        " ON CONFLICT (key) DO UPDATE SET"
                        " failures = CASE WHEN excluded.last_failure - login_attempts.last_failure > ?"
                        " THEN 1 ELSE login_attempts.failures + 1 END,"
                        f" last_failure = {d.greatest}(login_attempts.last_failure, excluded.last_failure)",
                        (counter_id(key), d.time(now), d.interval(policy.forget_after)),
                    )
                oldest = d.time(now) - d.interval(self._rules.forget_after)
                tx.execute("DELETE FROM login_attempts WHERE last_failure < ?", (oldest,))
        except d.integrity_error as e:
            raise ServiceUnavailable(f"database error: {e}") from e

    def succeeded(self, keys: Sequence[str]) -> None:
        cleared = [counter_id(k) for k in self._rules.cleared_by_success(keys)]
        if cleared:
            with self._db.transaction() as tx:
                tx.execute(f"DELETE FROM login_attempts WHERE key IN ({_marks(cleared)})", cleared)
