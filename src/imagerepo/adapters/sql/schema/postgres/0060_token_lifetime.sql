-- API tokens now always expire (90 days by default, 365 at most). Tokens made by older versions
-- could live for ever (stored as year 9999): they get the default lifetime from the upgrade on.
UPDATE sessions
   SET expires_at = now() + interval '90 days'
 WHERE kind = 'api_token'
   AND expires_at > now() + interval '365 days';
