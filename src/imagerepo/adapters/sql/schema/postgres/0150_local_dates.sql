-- A plain date in taken_after / taken_before means the photo's own calendar day, the one its page
-- shows: domain.photos.local_key, the wall-clock time of taken_at read as UTC (NULL: undated).
-- Searches test it beside the instant keys, whose indexes bound the range to a day either side,
-- so it needs no index of its own. The wall clock is taken_at's text up to its offset (isoformat:
-- seconds, then .ffffff when there are microseconds); a timestamp's epoch is that clock as UTC.
ALTER TABLE images ADD COLUMN taken_local_key bigint;
UPDATE images SET taken_local_key = (extract(epoch FROM
        (CASE WHEN substr(t.at, 20, 1) = '.' THEN left(t.at, 26) ELSE left(t.at, 19) END)::timestamp) * 1000000)::bigint
  FROM (SELECT id, photo::jsonb ->> 'taken_at' AS at FROM images WHERE photo IS NOT NULL) AS t
  WHERE images.id = t.id AND t.at IS NOT NULL;
