-- API tokens now always expire (90 days by default, 365 at most). Tokens made by older versions
-- could live for ever (stored as year 9999): they get the default lifetime from the upgrade on.
UPDATE sessions
   SET expires_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000000 + 90 * 86400 * 1000000
 WHERE kind = 'api_token'
   AND expires_at > CAST(strftime('%s', 'now') AS INTEGER) * 1000000 + 365 * 86400 * 1000000;
