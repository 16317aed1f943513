-- Search at scale: owner-first side tables, so a query reads only its owner's index entries
-- (the 0001 tables were keyed by term or tag alone: a common word meant every user's rows).
-- Each table has a by-image index too, for probing one image while walking a sort index.

CREATE TABLE search_terms (
    owner_id TEXT NOT NULL,
    term     TEXT NOT NULL,                 -- search.weighted_terms: words and stems
    image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    weight   INTEGER NOT NULL,              -- search.FIELD_WEIGHTS of the best field holding it
    PRIMARY KEY (owner_id, term, image_id)
) WITHOUT ROWID;
CREATE INDEX search_terms_by_image ON search_terms (image_id, term);

CREATE TABLE search_tags (
    owner_id TEXT NOT NULL,
    tag      TEXT NOT NULL,                 -- search.tag_names (casefolded)
    image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    PRIMARY KEY (owner_id, tag, image_id)
) WITHOUT ROWID;
CREATE INDEX search_tags_by_image ON search_tags (image_id, tag);

-- Palette colors large enough to match (fraction >= colors.COLOR_MIN_FRACTION), filed by
-- search.color_cell; the Lab values ride in the key so a bucket scan needs no table lookup.
CREATE TABLE search_colors (
    owner_id TEXT NOT NULL,
    cell     INTEGER NOT NULL,
    image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    l        REAL NOT NULL,
    a        REAL NOT NULL,
    b        REAL NOT NULL,
    fraction REAL NOT NULL,
    PRIMARY KEY (owner_id, cell, image_id, position)
) WITHOUT ROWID;
CREATE INDEX search_colors_by_image ON search_colors (image_id);

-- Backfill. Field weights are not recoverable in SQL: existing terms get the lowest weight
-- (they still match; their relevance is exact again once the image is re-analysed).
INSERT INTO search_terms (owner_id, term, image_id, weight)
    SELECT i.owner_id, t.term, t.image_id, 1 FROM image_terms t JOIN images i ON i.id = t.image_id;
INSERT INTO search_tags (owner_id, tag, image_id)
    SELECT i.owner_id, g.tag, g.image_id FROM image_tags g JOIN images i ON i.id = g.image_id;
INSERT INTO search_colors (owner_id, cell, image_id, position, l, a, b, fraction)
    SELECT i.owner_id,
           ((CAST(floor(json_extract(p.value, '$[0]') / 10.0) AS INTEGER) + 32) * 64
             + CAST(floor(json_extract(p.value, '$[1]') / 10.0) AS INTEGER) + 32) * 64
             + CAST(floor(json_extract(p.value, '$[2]') / 10.0) AS INTEGER) + 32,
           i.id, CAST(p.key AS INTEGER),
           json_extract(p.value, '$[0]'), json_extract(p.value, '$[1]'),
           json_extract(p.value, '$[2]'), json_extract(p.value, '$[3]')
    FROM images i, json_each(i.palette) p
    WHERE json_extract(p.value, '$[3]') >= 0.03;

DROP TABLE image_terms;
DROP TABLE image_tags;
