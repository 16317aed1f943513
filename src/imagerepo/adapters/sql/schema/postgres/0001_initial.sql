-- Accounts, sessions, images with their search index and analysis queue.
-- Ids and sort keys are COLLATE "C" so they order like Python str (code points).

CREATE TABLE accounts (
    id            text COLLATE "C" PRIMARY KEY,
    username      text NOT NULL,
    username_key  text NOT NULL UNIQUE,   -- casefolded: names are unique without regard to case
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL,
    quota_limit   integer
);
CREATE INDEX accounts_by_age ON accounts (created_at, id);

CREATE TABLE sessions (
    token_hash text PRIMARY KEY,
    account_id text NOT NULL,
    kind       text NOT NULL,
    name       text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_by_account ON sessions (account_id, kind, created_at);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE images (
    id              text COLLATE "C" PRIMARY KEY,
    owner_id        text NOT NULL,
    state           text NOT NULL CHECK (state IN ('uploading', 'ready', 'deleting')),
    filename        text NOT NULL,
    filename_key    text COLLATE "C" NOT NULL,  -- search.filename_key
    content_type    text NOT NULL,
    width           integer NOT NULL,
    height          integer NOT NULL,
    size_bytes      bigint NOT NULL,
    sha256          text NOT NULL,
    uploaded_at     timestamptz NOT NULL,
    uploaded_key    bigint NOT NULL,            -- search.timestamp_key: the sort and cursor key
    analysis        jsonb NOT NULL,             -- Analysis.to_json()
    analysis_status text NOT NULL,
    terms           text NOT NULL DEFAULT '',   -- search.document_terms, space-joined
    tags            text[] NOT NULL DEFAULT '{}',  -- search.tag_names
    generation      integer NOT NULL DEFAULT 1,
    attempts        integer NOT NULL DEFAULT 0,
    available_at    timestamptz,
    leased_until    timestamptz
);
-- One live copy of the same bytes per owner; deleting rows do not count.
CREATE UNIQUE INDEX images_live_sha ON images (owner_id, sha256) WHERE state <> 'deleting';
CREATE INDEX images_by_uploaded ON images (owner_id, uploaded_key, id) WHERE state = 'ready';
CREATE INDEX images_by_filename ON images (owner_id, filename_key, id) WHERE state = 'ready';
CREATE INDEX images_by_size ON images (owner_id, size_bytes, id) WHERE state = 'ready';
CREATE INDEX images_tags ON images USING gin (tags);
CREATE INDEX images_queue ON images (available_at, id) WHERE state = 'ready' AND analysis_status = 'pending';
CREATE INDEX images_unfinished ON images (state, uploaded_at) WHERE state <> 'ready';

-- Every document term once per image; a query word matches a term it is a prefix of,
-- found by a range scan on the C-collated btree.
CREATE TABLE image_terms (
    term     text COLLATE "C" NOT NULL,
    image_id text COLLATE "C" NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    PRIMARY KEY (term, image_id)
);
CREATE INDEX image_terms_by_image ON image_terms (image_id);

-- Palette colors in CIELAB, for the color score computed in SQL.
CREATE TABLE image_colors (
    image_id text COLLATE "C" NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    position integer NOT NULL,
    l        double precision NOT NULL,
    a        double precision NOT NULL,
    b        double precision NOT NULL,
    fraction double precision NOT NULL,
    PRIMARY KEY (image_id, position)
);
