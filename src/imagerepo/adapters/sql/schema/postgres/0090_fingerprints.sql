-- "More like this" and duplicates (issue 15): each ready image's perceptual hash (64 bits, signed)
-- and content embedding (int8 codes). seq orders one owner's writes, so a per-process cache
-- catches up by reading the rows after the last seq it saw (writers hold the owner's lock).
-- Ready images only, like the search side tables: begin_delete removes the row.
CREATE TABLE image_fingerprints (
    image_id text COLLATE "C" PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
    owner_id text NOT NULL,
    seq bigint NOT NULL,
    phash bigint,
    embedding bytea
);
CREATE INDEX image_fingerprints_by_seq ON image_fingerprints (owner_id, seq);
