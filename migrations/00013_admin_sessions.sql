-- +goose Up
-- Admins signed in from a browser (the admin listener's /admin/login). The
-- cookie holds a random session id; only its SHA-256 is kept here, so a
-- copy of this table signs nobody in. A session ends at expires_at (at
-- most FOLIO_ADMIN_SESSION_TTL, and never after the token it was opened
-- with), or when its admin signs out (the row is deleted).
CREATE TABLE admin_sessions (
    id_hash     bytea       PRIMARY KEY,
    subject     text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX admin_sessions_expires_at ON admin_sessions (expires_at);

-- +goose Down
DROP TABLE admin_sessions;
