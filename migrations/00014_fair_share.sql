-- +goose NO TRANSACTION
-- +goose Up
-- Fair share counts an owner's jobs not finished in a queue when it
-- inserts one (its priority comes from that backlog: jobargs.Backlog).
-- Jobs carry their owner in args->>'owner'. River's own indexes do not
-- cover that; this one does, for the jobs not finished only (few, whatever
-- River keeps of finished ones). Built without blocking job writes.
CREATE INDEX CONCURRENTLY IF NOT EXISTS river_job_folio_owner ON river_job (queue, (args->>'owner'))
    WHERE state IN ('available', 'pending', 'retryable', 'running', 'scheduled');

-- A parse cut into slices (it gives its slot back while other owners
-- wait) spends one time budget, FOLIO_PARSE_TIMEOUT, across its runs:
-- what the runs of its generation used so far.
ALTER TABLE documents ADD COLUMN IF NOT EXISTS parse_ms bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE documents DROP COLUMN IF EXISTS parse_ms;
DROP INDEX CONCURRENTLY IF EXISTS river_job_folio_owner;
