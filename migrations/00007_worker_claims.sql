-- +goose Up
-- The jobs each worker claims (working, or finished a moment ago), written
-- with its heartbeat: a running job its live worker does not claim lost its
-- outcome and is handed back (jobs/riverdb.go). NULL: a worker of an earlier
-- release, which claims everything it runs.
ALTER TABLE worker_heartbeats ADD COLUMN claimed bigint[];

-- +goose Down
ALTER TABLE worker_heartbeats DROP COLUMN claimed;
