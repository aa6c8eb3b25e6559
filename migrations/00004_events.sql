-- +goose Up
-- The document event log. pos is global, gap-free and in commit order: it
-- comes from a single counter row whose lock every event writer holds until
-- it commits, so no event can become visible before one with a smaller pos.
-- seq is gap-free per document, from the document row (locked the same way).
CREATE TABLE event_clock (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    pos bigint  NOT NULL
);
INSERT INTO event_clock (pos) VALUES (0);

CREATE TABLE document_events (
    pos         bigint      PRIMARY KEY,
    document_id uuid        NOT NULL,
    owner       text        NOT NULL,
    seq         integer     NOT NULL,
    type        text        NOT NULL,
    data        jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (document_id, seq)
);
CREATE INDEX document_events_owner_pos_idx ON document_events (owner, pos);
CREATE INDEX document_events_created_idx ON document_events (created_at);

ALTER TABLE documents ADD COLUMN event_seq integer NOT NULL DEFAULT 0;

-- Single-use tickets for browsers, which cannot set headers on WebSocket or
-- EventSource. Only the SHA-256 of a ticket is stored.
CREATE TABLE event_tickets (
    ticket_sha256 bytea       PRIMARY KEY,
    owner         text        NOT NULL,
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz
);

-- +goose Down
DROP TABLE event_tickets;
ALTER TABLE documents DROP COLUMN event_seq;
DROP TABLE document_events;
DROP TABLE event_clock;
