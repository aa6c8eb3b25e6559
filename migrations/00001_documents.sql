-- +goose Up
CREATE TABLE documents (
    id              uuid PRIMARY KEY,
    owner           text        NOT NULL CHECK (owner <> ''),
    filename        text        NOT NULL,
    size_bytes      bigint      NOT NULL CHECK (size_bytes >= 0),
    sha256          text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    s3_key          text        NOT NULL UNIQUE,
    status          text        NOT NULL CHECK (status IN ('queued', 'parsing', 'done', 'failed', 'canceled')),
    failure_code    text,
    failure_message text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Owner-scoped listing, newest first, with keyset pagination on (created_at, id).
CREATE INDEX documents_owner_created_idx ON documents (owner, created_at DESC, id DESC);
-- "duplicate_of": same bytes already uploaded by the same owner.
CREATE INDEX documents_owner_sha256_idx ON documents (owner, sha256);

-- +goose Down
DROP TABLE documents;
