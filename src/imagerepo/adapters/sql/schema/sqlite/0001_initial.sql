-- Accounts, sessions, images with their search index and analysis queue.
-- Times are integer microseconds since the epoch (UTC), so they sort and compare exactly.

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL UNIQUE,   -- casefolded: names are unique without regard to case
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    quota_limit   INTEGER
);
CREATE INDEX accounts_by_age ON accounts (created_at, id);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_account ON sessions (account_id, kind, created_at);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE images (
    id              TEXT PRIMARY KEY,
    owner_id        TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('uploading', 'ready', 'deleting')),
    filename        TEXT NOT NULL,
    filename_key    TEXT NOT NULL,         -- search.filename_key, compared like Python str
    content_type    TEXT NOT NULL,
    width           INTEGER NOT NULL,
    height          INTEGER NOT NULL,
    size_bytes      INTEGER NOT NULL,
    sha256          TEXT NOT NULL,
    uploaded_at     INTEGER NOT NULL,      -- exact microseconds
    uploaded_key    INTEGER NOT NULL,      -- search.timestamp_key: the sort and cursor key
    analysis        TEXT NOT NULL,         -- Analysis.to_json()
    analysis_status TEXT NOT NULL,
    terms           TEXT NOT NULL DEFAULT '',    -- search.document_terms, space-joined
    tags            TEXT NOT NULL DEFAULT '',    -- search.tag_names, space-joined
    palette         TEXT NOT NULL DEFAULT '[]',  -- [[L, a, b, fraction], ...]
    generation      INTEGER NOT NULL DEFAULT 1,
    attempts        INTEGER NOT NULL DEFAULT 0,
    available_at    INTEGER,
    leased_until    INTEGER
);
-- One live copy of the same bytes per owner; deleting rows do not count.
CREATE UNIQUE INDEX images_live_sha ON images (owner_id, sha256) WHERE state <> 'deleting';
CREATE INDEX images_by_uploaded ON images (owner_id, state, uploaded_key, id);
CREATE INDEX images_by_filename ON images (owner_id, state, filename_key, id);
CREATE INDEX images_by_size ON images (owner_id, state, size_bytes, id);
CREATE INDEX images_queue ON images (available_at, id) WHERE state = 'ready' AND analysis_status = 'pending';
CREATE INDEX images_unfinished ON images (state, uploaded_at) WHERE state <> 'ready';

CREATE TABLE image_terms (
    term     TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    PRIMARY KEY (term, image_id)
) WITHOUT ROWID;
CREATE INDEX image_terms_by_image ON image_terms (image_id);

CREATE TABLE image_tags (
    tag      TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    PRIMARY KEY (tag, image_id)
) WITHOUT ROWID;
CREATE INDEX image_tags_by_image ON image_tags (image_id);
