"""SqliteLoginThrottle: sign-in failure counters in the login_attempts table (migration 0040)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from imagerepo.adapters.sql.login_attempts import counter_id
from imagerepo.adapters.sql.rows import to_micros
from imagerepo.adapters.sqlite.database import SqliteDatabase
from imagerepo.domain.errors import ServiceUnavailable
from imagerepo.domain.throttle import ThrottlePolicy, ThrottleRules
from imagerepo.ports.clock import Clock


class SqliteLoginThrottle:
    """Shared by every process on the same database file, and kept across restarts."""

    def __init__(self, db: SqliteDatabase, clock: Clock, policy: ThrottlePolicy | None = None) -> None:
        self._db = db
        self._clock = clock
        self._rules = ThrottleRules.scaled(policy)

    def retry_after(self, keys: Sequence[str]) -> int:
        counters = self._rules.counters(keys)
        now = to_micros(self._clock.now())
        found = {}
        with self._db.transaction(write=False) as conn:
            for key, _ in counters:  # at most three counters per attempt
                row = conn.execute(
                    "SELECT failures, last_failure FROM login_attempts WHERE key = ?", (counter_id(key),)
                ).fetchone()
                if row is not None:
                    found[key] = (row["failures"], (now - row["last_failure"]) / 1e6)
        return self._rules.retry_after(counters, found)

    def failed(self, keys: Sequence[str]) -> None:
        now = to_micros(self._clock.now())
        try:
            with self._db.transaction() as conn:
                for key, policy in self._rules.counters(keys):
                    # A counter idle for longer than forget_after starts again from one.
                    conn.execute(
                        "INSERT INTO login_attempts (key, failures, last_failure) VALUES (?, 1, ?)"
                        " ON CONFLICT (key) DO UPDATE SET"
                        " failures = CASE WHEN excluded.last_failure - login_attempts.last_failure > ?"
                        " THEN 1 ELSE login_attempts.failures + 1 END,"
                        " last_failure = max(login_attempts.last_failure, excluded.last_failure)",
                        (counter_id(key), now, int(policy.forget_after * 1e6)),
                    )
                oldest = now - int(self._rules.forget_after * 1e6)
                conn.execute("DELETE FROM login_attempts WHERE last_failure < ?", (oldest,))
        except sqlite3.IntegrityError as e:
            raise ServiceUnavailable(f"database error: {e}") from e

    def succeeded(self, keys: Sequence[str]) -> None:
        cleared = [counter_id(k) for k in self._rules.cleared_by_success(keys)]
        if not cleared:
            return
        with self._db.transaction() as conn:
            conn.executemany("DELETE FROM login_attempts WHERE key = ?", [(k,) for k in cleared])
