-- +goose Up
-- Each worker process's River client says it is alive every few seconds; a
-- running job whose client has gone quiet is handed back to the queue
-- (River alone waits RescueStuckJobsAfter, an hour, for that).
CREATE TABLE worker_heartbeats (
    client_id text        PRIMARY KEY,
    last_seen timestamptz NOT NULL
);

-- +goose Down
DROP TABLE worker_heartbeats;
