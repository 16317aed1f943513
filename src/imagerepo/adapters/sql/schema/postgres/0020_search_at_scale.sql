-- Search at scale: owner-first side tables, so a query reads only its owner's index entries
-- (the 0001 term table was keyed by term alone: a common word meant every user's rows, and
-- the GIN index on images.tags is global too). Each table has a by-image index as well, for
-- probing one image while walking a sort index.

CREATE TABLE search_terms (
    owner_id text COLLATE "C" NOT NULL,
    term     text COLLATE "C" NOT NULL,     -- search.weighted_terms: words and stems
    image_id text COLLATE "C" NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    weight   smallint NOT NULL,             -- search.FIELD_WEIGHTS of the best field holding it
    PRIMARY KEY (owner_id, term, image_id)
);
CREATE INDEX search_terms_by_image ON search_terms (image_id, term);

CREATE TABLE search_tags (
    owner_id text COLLATE "C" NOT NULL,
    tag      text COLLATE "C" NOT NULL,     -- search.tag_names (casefolded)
    image_id text COLLATE "C" NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    PRIMARY KEY (owner_id, tag, image_id)
);
CREATE INDEX search_tags_by_image ON search_tags (image_id, tag);

-- Palette colors large enough to match (fraction >= colors.COLOR_MIN_FRACTION), filed by
-- search.color_cell; INCLUDE keeps a bucket scan index-only.
CREATE TABLE search_colors (
    owner_id text COLLATE "C" NOT NULL,
    cell     integer NOT NULL,
    image_id text COLLATE "C" NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    position integer NOT NULL,
    l        double precision NOT NULL,
    a        double precision NOT NULL,
    b        double precision NOT NULL,
    fraction double precision NOT NULL,
    PRIMARY KEY (owner_id, cell, image_id, position) INCLUDE (l, a, b, fraction)
);
CREATE INDEX search_colors_by_image ON search_colors (image_id) INCLUDE (l, a, b, fraction);

-- Backfill. Field weights are not recoverable in SQL: existing terms get the lowest weight
-- (they still match; their relevance is exact again once the image is re-analysed).
INSERT INTO search_terms (owner_id, term, image_id, weight)
    SELECT i.owner_id, t.term, t.image_id, 1 FROM image_terms t JOIN images i ON i.id = t.image_id;
INSERT INTO search_tags (owner_id, tag, image_id)
    SELECT DISTINCT i.owner_id, g.tag, i.id FROM images i, unnest(i.tags) AS g (tag);
INSERT INTO search_colors (owner_id, cell, image_id, position, l, a, b, fraction)
    SELECT i.owner_id,
           ((floor(c.l / 10.0)::int + 32) * 64 + floor(c.a / 10.0)::int + 32) * 64
             + floor(c.b / 10.0)::int + 32,
           c.image_id, c.position, c.l, c.a, c.b, c.fraction
    FROM image_colors c JOIN images i ON i.id = c.image_id
    WHERE c.fraction >= 0.03;

DROP TABLE image_terms;
DROP TABLE image_colors;
DROP INDEX images_tags;
