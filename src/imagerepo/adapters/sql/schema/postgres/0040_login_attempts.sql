-- Sign-in failure counters shared by every process (PostgresLoginThrottle). The key is the
-- SHA-256 of the counter name, so no username or address is stored in clear.
CREATE TABLE login_attempts (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    last_failure TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_attempts_by_time ON login_attempts (last_failure);
