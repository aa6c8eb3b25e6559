-- +goose Up
-- The base backups of this database that pgBackRest reported (`folio
-- backup`, `folio dev --backup`): what backup freshness is exported from
-- (folio_backup_last_success_timestamp_seconds). A restored database holds
-- the backups taken before the time it was restored to.
CREATE TABLE IF NOT EXISTS backup_runs (
    label       text PRIMARY KEY,
    stanza      text NOT NULL,
    type        text NOT NULL CHECK (type IN ('full', 'diff', 'incr')),
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    db_bytes    bigint NOT NULL,
    repo_bytes  bigint NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE IF EXISTS backup_runs;
