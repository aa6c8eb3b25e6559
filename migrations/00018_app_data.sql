-- +goose NO TRANSACTION
-- +goose Up
-- (No transaction: the indexes are built without blocking writes; every
-- statement may run again after a failure part-way.)
-- The application's data on a document (docs/webhooks.md): its own id for
-- it and a flat map of strings, set at upload or by PATCH, filtering the
-- list. Neither is read by Folio.
ALTER TABLE documents
    ADD COLUMN IF NOT EXISTS external_id text CHECK (octet_length(external_id) <= 255),
    ADD COLUMN IF NOT EXISTS metadata    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object');
-- ?external_id= (an owner's, newest first) and ?metadata.KEY=VALUE (@>).
CREATE INDEX CONCURRENTLY IF NOT EXISTS documents_owner_external_id
    ON documents (owner, external_id, created_at DESC, id DESC) WHERE external_id IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS documents_metadata ON documents USING gin (metadata jsonb_path_ops);

-- A direct upload's, until it is finalized (tus uploads keep theirs in
-- their metadata).
ALTER TABLE direct_uploads
    ADD COLUMN IF NOT EXISTS external_id text,
    ADD COLUMN IF NOT EXISTS metadata    jsonb;

-- +goose Down
ALTER TABLE direct_uploads DROP COLUMN IF EXISTS metadata, DROP COLUMN IF EXISTS external_id;
DROP INDEX CONCURRENTLY IF EXISTS documents_metadata;
DROP INDEX CONCURRENTLY IF EXISTS documents_owner_external_id;
ALTER TABLE documents DROP COLUMN IF EXISTS metadata, DROP COLUMN IF EXISTS external_id;
