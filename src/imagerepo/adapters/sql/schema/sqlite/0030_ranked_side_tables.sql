-- Ranking on the side tables alone: search_terms carries each image's upload key (so the
-- relevance order reads one index, no lookup in images per match), and the side tables hold
-- ready images only (rows are written at commit and removed when deletion begins), so a ranked
-- query needs no state check per match.

ALTER TABLE search_terms ADD COLUMN uploaded_key INTEGER NOT NULL DEFAULT 0;
UPDATE search_terms SET uploaded_key = (SELECT i.uploaded_key FROM images i WHERE i.id = search_terms.image_id);

DELETE FROM search_terms WHERE image_id IN (SELECT id FROM images WHERE state <> 'ready');
DELETE FROM search_tags WHERE image_id IN (SELECT id FROM images WHERE state <> 'ready');
DELETE FROM search_colors WHERE image_id IN (SELECT id FROM images WHERE state <> 'ready');
