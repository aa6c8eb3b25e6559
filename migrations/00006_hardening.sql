-- +goose Up
-- Originals of the owners "." and ".." were once stored under keys with dot
-- segments ("originals/./<id>"), which S3 servers and HTTP clients
-- collapse. The sweeper looks such rows up on every run
-- (documents.ReferencedKeys) so as never to delete what they point at;
-- this keeps that look-up off a scan of the whole table.
CREATE INDEX documents_dot_segment_keys_idx ON documents (s3_key) WHERE s3_key ~ '(^|/)\.\.?(/|$)';

-- A stream opened with a ticket ends when the token that asked for the
-- ticket expires. (NULL: a ticket issued before this column existed.)
ALTER TABLE event_tickets ADD COLUMN credential_expires_at timestamptz;

-- Fixed-window counters per owner and action (reparse, ticket, upload),
-- shared by every API instance. upload_windows stays while API processes
-- of the previous release may still count uploads there; a later
-- migration drops it.
CREATE TABLE rate_windows (
    owner        text        NOT NULL,
    action       text        NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer     NOT NULL,
    PRIMARY KEY (owner, action, window_start)
);

-- Positions per owner. The global pos stays the hub's (it reads the whole
-- log in commit order), but a client sees only owner_pos: gap-free in its
-- owner's log, so it reveals nothing of other owners' activity. It is
-- handed out by a trigger, so that writers of the previous release (still
-- running during a rolling deploy) number their events too, from a clock
-- row per owner that stays locked until the writer commits: owner_pos
-- order is commit order within an owner. Owner positions start at 2^52,
-- above every global pos a client may still hold from before, so the API
-- can tell an old cursor (and translate it) from a new one; 2^53 is where
-- JavaScript numbers stop being exact.
CREATE TABLE owner_event_clocks (
    owner text   PRIMARY KEY,
    pos   bigint NOT NULL
);
ALTER TABLE document_events ADD COLUMN owner_pos bigint;
UPDATE document_events e SET owner_pos = n.op
FROM (SELECT pos, 4503599627370496 + row_number() OVER (PARTITION BY owner ORDER BY pos) AS op FROM document_events) n
WHERE e.pos = n.pos;
INSERT INTO owner_event_clocks (owner, pos) SELECT owner, max(owner_pos) FROM document_events GROUP BY owner;

-- +goose StatementBegin
CREATE FUNCTION folio_owner_pos() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO owner_event_clocks AS c (owner, pos) VALUES (NEW.owner, 4503599627370497)
    ON CONFLICT (owner) DO UPDATE SET pos = c.pos + 1
    RETURNING c.pos INTO NEW.owner_pos;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER document_events_owner_pos BEFORE INSERT ON document_events
    FOR EACH ROW EXECUTE FUNCTION folio_owner_pos();
ALTER TABLE document_events ALTER COLUMN owner_pos SET NOT NULL;
CREATE UNIQUE INDEX document_events_owner_owner_pos_idx ON document_events (owner, owner_pos);

-- For each owner, the largest owner_pos the pruner has deleted: a stream
-- that resumes after a smaller one has lost events (replay_truncated); one
-- resuming after it, or an owner with nothing pruned, has not.
CREATE TABLE event_prune_marks (
    owner     text   PRIMARY KEY,
    owner_pos bigint NOT NULL
);

-- +goose Down
DROP TABLE event_prune_marks;
DROP INDEX document_events_owner_owner_pos_idx;
DROP TRIGGER document_events_owner_pos ON document_events;
DROP FUNCTION folio_owner_pos();
ALTER TABLE document_events DROP COLUMN owner_pos;
DROP TABLE owner_event_clocks;
DROP TABLE rate_windows;
ALTER TABLE event_tickets DROP COLUMN credential_expires_at;
DROP INDEX documents_dot_segment_keys_idx;
