"""PostgresLoginThrottle: sign-in failure counters in the login_attempts table (migration 0040)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import psycopg

from imagerepo.adapters.postgres.database import PostgresDatabase
from imagerepo.adapters.sql.login_attempts import counter_id
from imagerepo.domain.errors import ServiceUnavailable
from imagerepo.domain.throttle import ThrottlePolicy, ThrottleRules, whole_seconds
from imagerepo.ports.clock import Clock


class PostgresLoginThrottle:
    """Shared by every process on the database, and kept across restarts."""

    def __init__(self, db: PostgresDatabase, clock: Clock, policy: ThrottlePolicy | None = None) -> None:
        self._db = db
        self._clock = clock
        self._rules = ThrottleRules.scaled(policy)
        self._horizon = max(p.forget_after for p in (self._rules.pair, self._rules.address, self._rules.account))

    def retry_after(self, keys: Sequence[str]) -> int:
        counters = self._rules.counters(keys)
        now = self._clock.now()
        with self._db.connection() as conn:
            rows = {
                r["key"]: (r["failures"], r["last_failure"])
                for r in conn.execute(
                    "SELECT key, failures, last_failure FROM login_attempts WHERE key = ANY(%s)",
                    ([counter_id(k) for k, _ in counters],),
                ).fetchall()
            }
        wait = 0.0
        for key, policy in counters:
            if (found := rows.get(counter_id(key))) is not None:
                failures, last = found
                wait = max(wait, policy.wait(failures, (now - last).total_seconds()))
        return whole_seconds(wait)

    def failed(self, keys: Sequence[str]) -> None:
        now = self._clock.now()
        # Sorted, so two processes failing on overlapping counters lock rows in the same order.
        counters = sorted(self._rules.counters(keys), key=lambda c: counter_id(c[0]))
        try:
            with self._db.connection() as conn:
                for key, policy in counters:
                    # A counter idle for longer than forget_after starts again from one.
                    conn.execute(
                        "INSERT INTO login_attempts (key, failures, last_failure) VALUES (%s, 1, %s)"
                        " ON CONFLICT (key) DO UPDATE SET"
                        " failures = CASE WHEN excluded.last_failure - login_attempts.last_failure > %s"
                        " THEN 1 ELSE login_attempts.failures + 1 END,"
                        " last_failure = GREATEST(login_attempts.last_failure, excluded.last_failure)",
                        (counter_id(key), now, timedelta(seconds=policy.forget_after)),
                    )
                conn.execute(
                    "DELETE FROM login_attempts WHERE last_failure < %s", (now - timedelta(seconds=self._horizon),)
                )
        except psycopg.IntegrityError as e:
            raise ServiceUnavailable(f"database error: {e}") from e

    def succeeded(self, keys: Sequence[str]) -> None:
        cleared = [counter_id(k) for k in self._rules.cleared_by_success(keys)]
        if cleared:
            with self._db.connection() as conn:
                conn.execute("DELETE FROM login_attempts WHERE key = ANY(%s)", (cleared,))
