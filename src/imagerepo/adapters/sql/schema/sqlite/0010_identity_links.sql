-- Accounts signed in through an OpenID Connect provider, linked by (issuer, subject).
CREATE TABLE identity_links (
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    account_id TEXT NOT NULL,
    email      TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX identity_links_by_account ON identity_links (account_id, created_at);
