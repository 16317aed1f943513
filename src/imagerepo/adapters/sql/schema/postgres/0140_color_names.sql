-- Color search matches a palette color named like the query at any distance (colors.
-- same_name_colors), so each search_colors row carries its palette color's name, backfilled
-- from the analysis JSON (colors are [hex, share, name] in palette order, as position counts).
ALTER TABLE search_colors ADD COLUMN name text COLLATE "C" NOT NULL DEFAULT '';
UPDATE search_colors c SET name = coalesce(i.analysis -> 'colors' -> c.position ->> 2, '')
    FROM images i WHERE i.id = c.image_id;
-- The owner's colors of a name, with what ranking reads (index only).
CREATE INDEX search_colors_by_name ON search_colors (owner_id, name) INCLUDE (image_id, l, a, b, fraction);
-- The probe tests the name too, still from the by-image index alone (migration 0020).
CREATE INDEX search_colors_by_image_name ON search_colors (image_id) INCLUDE (l, a, b, fraction, name);
DROP INDEX search_colors_by_image;
