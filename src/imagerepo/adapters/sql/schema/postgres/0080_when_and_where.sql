-- When and where (issue 14): what the file says about the photo, its taken_at sort keys, and the
-- account's privacy settings.
ALTER TABLE images ADD COLUMN photo text;   -- PhotoInfo.to_json(); NULL: the file was not read for it yet
-- domain.photos.taken_keys: the instant when dated; undated images after every dated one, by upload time.
ALTER TABLE images ADD COLUMN taken_desc_key bigint NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN taken_asc_key bigint NOT NULL DEFAULT 0;
UPDATE images SET taken_desc_key = uploaded_key - 2305843009213693952,
                  taken_asc_key = uploaded_key + 2305843009213693952;
CREATE INDEX images_by_taken_desc ON images (owner_id, taken_desc_key, id) WHERE state = 'ready';
CREATE INDEX images_by_taken_asc ON images (owner_id, taken_asc_key, id) WHERE state = 'ready';

ALTER TABLE accounts ADD COLUMN keep_location boolean NOT NULL DEFAULT true;
ALTER TABLE accounts ADD COLUMN face_recognition boolean NOT NULL DEFAULT false;
