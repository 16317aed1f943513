"""PostgresLoginThrottle: sign-in failure counters in the login_attempts table (migration 0040)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import psycopg

from imagerepo.adapters.postgres.database import PostgresDatabase
from imagerepo.adapters.sql.login_attempts import counter_id
from imagerepo.domain.errors import ServiceUnavailable
from imagerepo.domain.throttle import ThrottlePolicy, ThrottleRules
from imagerepo.ports.clock import Clock


class PostgresLoginThrottle:
    """Shared by every process on the database, and kept across restarts."""

    def __init__(self, db: PostgresDatabase, clock: Clock, policy: ThrottlePolicy | None = None) -> None:
        self._db = db
        self._clock = clock
        self._rules = ThrottleRules.scaled(policy)

    def retry_after(self, keys: Sequence[str]) -> int:
        counters = self._rules.counters(keys)
        now = self._clock.now()
        keys_by_id = {counter_id(k): k for k, _ in counters}
        with self._db.connection() as conn:
            found = {
                keys_by_id[r["key"]]: (r["failures"], (now - r["last_failure"]).total_seconds())
                for r in conn.execute(
                    "SELECT key, failures, last_failure FROM login_attempts WHERE key = ANY(%s)", (list(keys_by_id),)
                ).fetchall()
            }
        return self._rules.retry_after(counters, found)

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
                oldest = now - timedelta(seconds=self._rules.forget_after)
                conn.execute("DELETE FROM login_attempts WHERE last_failure < %s", (oldest,))
        except psycopg.IntegrityError as e:
            raise ServiceUnavailable(f"database error: {e}") from e

    def succeeded(self, keys: Sequence[str]) -> None:
        cleared = [counter_id(k) for k in self._rules.cleared_by_success(keys)]
        if cleared:
            with self._db.connection() as conn:
                conn.execute("DELETE FROM login_attempts WHERE key = ANY(%s)", (cleared,))
