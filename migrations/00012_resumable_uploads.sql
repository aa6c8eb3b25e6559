-- +goose Up
-- Resumable (tus) uploads in progress. The bytes go to an S3 multipart
-- upload at key (parts of the configured part size); the bytes after the
-- last whole part (fewer than a part) are kept here in tail, never on an
-- API's disk, so that the next PATCH can land on any API process.
-- "offset" counts every byte received: the parts' and the tail's.
-- hash_state is the SHA-256 of those bytes, Go's marshalled digest state.
-- A row whose offset reached its size is complete once document_id is set
-- (in the transaction that records the document and enqueues its parse);
-- partial uploads (concatenation) are complete when completed_at is set,
-- their object at key waiting for the final upload. Rows past expires_at
-- are swept: their multipart uploads aborted, their objects deleted.
CREATE TABLE uploads (
    id            uuid        PRIMARY KEY,
    owner         text        NOT NULL,
    key           text        NOT NULL UNIQUE,
    s3_upload_id  text,
    size          bigint      CHECK (size >= 0),       -- NULL: deferred length
    "offset"      bigint      NOT NULL DEFAULT 0 CHECK ("offset" >= 0),
    parts         jsonb       NOT NULL DEFAULT '[]',
    tail          bytea       NOT NULL DEFAULT '',
    hash_state    bytea,
    filename      text        NOT NULL DEFAULT '',
    metadata      jsonb       NOT NULL DEFAULT '{}',
    partial       boolean     NOT NULL DEFAULT false,
    partial_ids   uuid[],
    document_id   uuid,
    completed_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    CHECK (size IS NULL OR "offset" <= size)
);
CREATE INDEX uploads_expires_idx ON uploads (expires_at);

-- Direct uploads (Uppy's @uppy/aws-s3 and the like): the browser sends the
-- bytes straight to an S3 multipart upload at key, a key Folio chose under
-- the owner's prefix; Folio presigns only the multipart requests for that
-- key and for the one multipart upload made on it (s3_upload_id, recorded
-- when first seen). The object becomes a document only at finalize, after
-- its size, its first bytes and the quota are checked. Rows past
-- expires_at are swept with their objects.
CREATE TABLE direct_uploads (
    id            uuid        PRIMARY KEY,
    owner         text        NOT NULL,
    key           text        NOT NULL UNIQUE,
    s3_upload_id  text,
    size          bigint      NOT NULL CHECK (size > 0),
    filename      text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX direct_uploads_owner_idx ON direct_uploads (owner);
CREATE INDEX direct_uploads_expires_idx ON direct_uploads (expires_at);

-- A direct upload's bytes never pass through Folio before its parse: the
-- worker computes the SHA-256 while it reads the file for parsing.
ALTER TABLE documents ALTER COLUMN sha256 DROP NOT NULL;

-- +goose Down
ALTER TABLE documents ALTER COLUMN sha256 SET NOT NULL;
DROP TABLE direct_uploads;
DROP TABLE uploads;
