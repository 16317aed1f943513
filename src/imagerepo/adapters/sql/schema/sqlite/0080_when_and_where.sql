-- When and where (issue 14): what the file says about the photo, its taken_at sort keys, and the
-- account's privacy settings.
ALTER TABLE images ADD COLUMN photo TEXT;   -- PhotoInfo.to_json(); NULL: the file was not read for it yet
-- domain.photos.taken_keys: the instant when dated; undated images after every dated one, by upload time.
ALTER TABLE images ADD COLUMN taken_desc_key INTEGER NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN taken_asc_key INTEGER NOT NULL DEFAULT 0;
UPDATE images SET taken_desc_key = uploaded_key - 2305843009213693952,
                  taken_asc_key = uploaded_key + 2305843009213693952;
CREATE INDEX images_by_taken_desc ON images (owner_id, state, taken_desc_key, id);
CREATE INDEX images_by_taken_asc ON images (owner_id, state, taken_asc_key, id);

ALTER TABLE accounts ADD COLUMN keep_location INTEGER NOT NULL DEFAULT 1;
ALTER TABLE accounts ADD COLUMN face_recognition INTEGER NOT NULL DEFAULT 0;
