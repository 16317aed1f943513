-- Color search matches a palette color named like the query at any distance (colors.
-- same_name_colors), so each search_colors row carries its palette color's name, backfilled
-- from the analysis JSON (colors are [hex, share, name] in palette order, as position counts).
ALTER TABLE search_colors ADD COLUMN name TEXT NOT NULL DEFAULT '';
UPDATE search_colors SET name = coalesce(
    (SELECT json_extract(i.analysis, '$.colors[' || search_colors.position || '][2]')
     FROM images i WHERE i.id = search_colors.image_id), '');
-- The owner's colors of a name, with what ranking reads (index only).
CREATE INDEX search_colors_by_name ON search_colors (owner_id, name, image_id, l, a, b, fraction);
-- The probe tests the name too, still from the by-image index alone (migration 0085).
CREATE INDEX search_colors_by_image_lab_name ON search_colors (image_id, l, a, b, name);
DROP INDEX search_colors_by_image_lab;
