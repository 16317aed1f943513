-- Faces found in images and the people they are grouped into (issue 16). Face rows go with their
-- image (foreign key); a person is deleted by the service when it is merged or left empty.
CREATE TABLE persons (
    id         text COLLATE "C" PRIMARY KEY,
    owner_id   text NOT NULL,
    name       text,
    hidden     boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL
);
CREATE INDEX persons_by_owner ON persons (owner_id);
CREATE TABLE faces (
    id        text COLLATE "C" PRIMARY KEY,
    owner_id  text NOT NULL,
    image_id  text COLLATE "C" NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    person_id text COLLATE "C",
    box_x     double precision NOT NULL,
    box_y     double precision NOT NULL,
    box_w     double precision NOT NULL,
    box_h     double precision NOT NULL,
    embedding bytea NOT NULL,
    quality   double precision NOT NULL,
    pinned    boolean NOT NULL DEFAULT false,
    rejected  text NOT NULL DEFAULT ''
);
CREATE INDEX faces_by_owner ON faces (owner_id, person_id, image_id);
CREATE INDEX faces_by_image ON faces (image_id);
CREATE INDEX faces_by_person ON faces (person_id, image_id);
