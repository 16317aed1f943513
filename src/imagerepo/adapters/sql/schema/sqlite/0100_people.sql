-- Faces found in images and the people they are grouped into (issue 16). Face rows go with their
-- image (foreign key); a person is deleted by the service when it is merged or left empty.
CREATE TABLE persons (
    id         TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL,
    name       TEXT,
    hidden     INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX persons_by_owner ON persons (owner_id);
CREATE TABLE faces (
    id        TEXT PRIMARY KEY,
    owner_id  TEXT NOT NULL,
    image_id  TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    person_id TEXT,
    box_x     REAL NOT NULL,
    box_y     REAL NOT NULL,
    box_w     REAL NOT NULL,
    box_h     REAL NOT NULL,
    embedding BLOB NOT NULL,
    quality   REAL NOT NULL,
    pinned    INTEGER NOT NULL DEFAULT 0,
    rejected  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX faces_by_owner ON faces (owner_id, person_id, image_id);
CREATE INDEX faces_by_image ON faces (image_id);
CREATE INDEX faces_by_person ON faces (person_id, image_id);
