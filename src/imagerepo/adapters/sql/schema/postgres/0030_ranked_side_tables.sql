-- Ranking on the side tables alone: search_terms carries each image's upload key (so the
-- relevance order reads one index, index-only, no lookup in images per match), and the side
-- tables hold ready images only (rows are written at commit and removed when deletion begins),
-- so a ranked query needs no state check per match.

ALTER TABLE search_terms ADD COLUMN uploaded_key bigint NOT NULL DEFAULT 0;
UPDATE search_terms t SET uploaded_key = i.uploaded_key FROM images i WHERE i.id = t.image_id;

DELETE FROM search_terms t USING images i WHERE i.id = t.image_id AND i.state <> 'ready';
DELETE FROM search_tags g USING images i WHERE i.id = g.image_id AND i.state <> 'ready';
DELETE FROM search_colors c USING images i WHERE i.id = c.image_id AND i.state <> 'ready';

-- The primary key again, now covering what ranking reads.
CREATE UNIQUE INDEX search_terms_ranked ON search_terms (owner_id, term, image_id) INCLUDE (weight, uploaded_key);
ALTER TABLE search_terms DROP CONSTRAINT search_terms_pkey;
ALTER TABLE search_terms ADD CONSTRAINT search_terms_pkey PRIMARY KEY USING INDEX search_terms_ranked;
