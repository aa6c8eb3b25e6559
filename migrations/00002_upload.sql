-- +goose Up
-- Progress and results of parsing, shown with the document from the start.
ALTER TABLE documents
    ADD COLUMN page_count integer CHECK (page_count >= 0),
    ADD COLUMN pages_done integer NOT NULL DEFAULT 0 CHECK (pages_done >= 0),
    ADD COLUMN summary    jsonb;

-- Per-owner upload rate limit: fixed windows, shared by every API instance.
CREATE TABLE upload_windows (
    owner        text        NOT NULL,
    window_start timestamptz NOT NULL,
    uploads      integer     NOT NULL,
    PRIMARY KEY (owner, window_start)
);

-- +goose Down
DROP TABLE upload_windows;
ALTER TABLE documents DROP COLUMN summary, DROP COLUMN pages_done, DROP COLUMN page_count;
