-- Sign-in attempts are reserved before the password check (SqlLoginThrottle.reserve): a counter
-- also holds its attempts in flight and when the latest was reserved, so simultaneous guesses
-- count before any is checked, and a success leaves the failure count as it was.
ALTER TABLE login_attempts ADD COLUMN in_flight integer NOT NULL DEFAULT 0;
ALTER TABLE login_attempts ADD COLUMN reserved_at timestamptz;
