-- +goose Up
-- A parse "generation" is one parse job: its retried attempts share it, a
-- reparse starts a new one. Pages carry the generation that wrote them, so
-- a late writer of an older generation can never mix its pages in.
ALTER TABLE documents
    ADD COLUMN parse_generation bigint,
    ADD COLUMN parse_stage      text,
    ADD COLUMN outline          jsonb;

CREATE TABLE pages (
    document_id uuid    NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    page_number integer NOT NULL CHECK (page_number >= 1),
    generation  bigint  NOT NULL,
    width       real    NOT NULL,
    height      real    NOT NULL,
    rotation    integer NOT NULL DEFAULT 0,
    text        text    NOT NULL,
    -- 'simple': no stemming or stop words, the same for every language.
    tsv         tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED,
    PRIMARY KEY (document_id, page_number)
);

CREATE INDEX pages_tsv_idx ON pages USING gin (tsv);

-- +goose Down
DROP TABLE pages;
ALTER TABLE documents DROP COLUMN outline, DROP COLUMN parse_stage, DROP COLUMN parse_generation;
