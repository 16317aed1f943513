-- A plain date in taken_after / taken_before means the photo's own calendar day, the one its page
-- shows: domain.photos.local_key, the wall-clock time of taken_at read as UTC (NULL: undated).
-- Searches test it beside the instant keys, whose indexes bound the range to a day either side,
-- so it needs no index of its own. The wall clock is taken_at's text up to its offset (isoformat:
-- seconds, then .ffffff when there are microseconds).
ALTER TABLE images ADD COLUMN taken_local_key INTEGER;
UPDATE images SET taken_local_key =
    CAST(strftime('%s', substr(json_extract(photo, '$.taken_at'), 1, 19)) AS INTEGER) * 1000000
    + CASE WHEN substr(json_extract(photo, '$.taken_at'), 20, 1) = '.'
           THEN CAST(substr(json_extract(photo, '$.taken_at'), 21, 6) AS INTEGER) ELSE 0 END
  WHERE json_extract(photo, '$.taken_at') IS NOT NULL;
