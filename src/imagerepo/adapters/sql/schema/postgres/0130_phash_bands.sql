-- An upload is told it copies an image of the owner's (hashes within 3 bits) by one indexed
-- lookup, not by loading the owner's fingerprints: two such hashes agree exactly on at least one
-- of their four 16-bit bands (pigeonhole), and each band has an index (on its expression, so
-- rows need no new columns and nothing is backfilled).
CREATE INDEX image_fingerprints_by_band0 ON image_fingerprints (owner_id, (phash & 65535));
CREATE INDEX image_fingerprints_by_band1 ON image_fingerprints (owner_id, ((phash >> 16) & 65535));
CREATE INDEX image_fingerprints_by_band2 ON image_fingerprints (owner_id, ((phash >> 32) & 65535));
CREATE INDEX image_fingerprints_by_band3 ON image_fingerprints (owner_id, ((phash >> 48) & 65535));
