package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/foliohq/folio/internal/pg"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Channel is the NOTIFY channel.
const Channel = "folio_events"

// Event is one entry of a document's log.
type Event struct {
	// Pos is the event's place in the whole log (commit order): the hub's,
	// never shown to clients, whose positions would reveal other owners'
	// activity.
	Pos int64 `json:"-"`
	// OwnerPos is its place in its owner's log: gap-free, in commit order,
	// from OwnerPosBase + 1. Clients see it as "pos".
	OwnerPos   int64           `json:"pos"`
	DocumentID uuid.UUID       `json:"document_id"`
	Owner      string          `json:"-"`
	Seq        int             `json:"seq"`
	Type       string          `json:"type"`
	Data       json.RawMessage `json:"data"`
	CreatedAt  time.Time       `json:"created_at"`
	// Coalesced marks a progress event sent in place of the progress
	// events of its document just before it, which a slow stream skipped
	// (its seq follows a gap of progress events only).
	Coalesced bool `json:"coalesced,omitempty"`

	// frame caches the JSON of an event read from the log: the hub hands
	// one event to thousands of streams, which encode it once.
	frame *frame
}

type frame struct {
	once sync.Once
	b    []byte
	err  error
}

// coalesced is a copy of e marked Coalesced, with its own encoding.
func (e *Event) coalesced() *Event {
	if e.Coalesced {
		return e
	}
	c := *e
	c.Coalesced, c.frame = true, &frame{}
	return &c
}

// JSON is the event's JSON encoding, computed once per event read.
func (e *Event) JSON() ([]byte, error) {
	if e.frame == nil {
		return json.Marshal(e)
	}
	e.frame.once.Do(func() { e.frame.b, e.frame.err = json.Marshal(e) })
	return e.frame.b, e.frame.err
}

// Append writes one event of a document in tx. The caller numbers it: seq
// is the document's next one, taken under the document row's lock
// (documents does this for every transition). Append takes no other lock
// and sends no NOTIFY: the event gets its positions from Sequence once its
// transaction has committed, so writers of different documents never wait
// for one another. The returned event has no positions yet (Pos and
// OwnerPos are 0).
func Append(ctx context.Context, tx pg.DBTX, documentID uuid.UUID, owner string, seq int, data Payload) (*Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("error encoding event data: %w", err)
	}
	e := &Event{DocumentID: documentID, Owner: owner, Seq: seq, Type: data.EventType(), Data: raw}
	err = tx.QueryRow(ctx, `INSERT INTO document_events (document_id, owner, seq, type, data)
		VALUES ($1, $2, $3, $4, $5) RETURNING created_at`, documentID, owner, seq, e.Type, raw).Scan(&e.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("error writing event: %w", err)
	}
	return e, nil
}

// SequenceBatch bounds the events one Sequence transaction numbers.
const SequenceBatch = 5000

// SequenceLock is the advisory lock a sequencing transaction tries first,
// so that hubs polling at once do not queue on the clock row for nothing
// (the clock row's lock is what makes sequencing correct).
const SequenceLock = "folio.events.sequence"

// Sequence gives every committed event that has none its global pos and
// its owner_pos, in the order it finds them committed, and announces the
// new head with one NOTIFY per batch. It returns how many it numbered.
//
// Positions stay gap-free and in commit order, as readers need: one
// sequencing transaction (or writer of the previous release) at a time
// holds the event_clock row until it commits. Within a batch, events go in
// insert order (id), which keeps each document's seq order: its next event
// was inserted after its previous one committed. An event whose transaction
// has not committed is invisible here and numbered by a later call, after
// everything numbered before it.
func Sequence(ctx context.Context, conn Beginner) (int, error) {
	var pending bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM document_events WHERE pos IS NULL)`).Scan(&pending); err != nil {
		return 0, fmt.Errorf("error looking for events to sequence: %w", err)
	}
	total := 0
	for pending {
		n := 0
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var err error
			n, err = sequenceBatch(ctx, tx)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("error sequencing events: %w", err)
		}
		total += n
		pending = n == SequenceBatch
	}
	return total, nil
}

// sequenceBatch numbers up to SequenceBatch events in tx, if it gets the
// sequencing advisory lock (else another process is at it, and its NOTIFY
// wakes the others). Each step is a statement of its own with plain
// arrays, so that every plan is an index lookup whatever the table's
// statistics say; the statements go in three pipelined round trips, which
// is what delivery waits for on a loaded machine.
func sequenceBatch(ctx context.Context, tx pgx.Tx) (int, error) {
	// The lock, then the batch: the second statement's snapshot, taken after
	// the clock row's lock, sees what the previous holder numbered.
	var batch pgx.Batch
	var base *int64
	batch.Queue(`SELECT pos FROM event_clock WHERE pg_try_advisory_xact_lock(hashtextextended($1, 0)) FOR UPDATE`, SequenceLock).
		QueryRow(func(row pgx.Row) error {
			err := row.Scan(&base)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil // not ours to do
			}
			return err
		})
	var (
		ids    []int64
		owners []string
	)
	counts := map[string]int64{}
	batch.Queue(`SELECT id, owner FROM document_events
		WHERE pos IS NULL AND (SELECT pg_try_advisory_xact_lock(hashtextextended($2, 0))) ORDER BY id LIMIT $1`, SequenceBatch, SequenceLock).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var id int64
				var owner string
				if err := rows.Scan(&id, &owner); err != nil {
					return err
				}
				ids, owners = append(ids, id), append(owners, owner)
				counts[owner]++
			}
			return rows.Err()
		})
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil || base == nil || len(ids) == 0 {
		return 0, err
	}

	// Each owner's clock moves by its count; the returned value is its
	// last position in this batch.
	names, adds := make([]string, 0, len(counts)), make([]int64, 0, len(counts))
	for o, c := range counts {
		names, adds = append(names, o), append(adds, c)
	}
	rows, err := tx.Query(ctx, `INSERT INTO owner_event_clocks AS c (owner, pos)
		SELECT o, $3::bigint + k FROM unnest($1::text[], $2::bigint[]) AS v(o, k)
		ON CONFLICT (owner) DO UPDATE SET pos = c.pos + (EXCLUDED.pos - $3::bigint)
		RETURNING c.owner, c.pos`, names, adds, OwnerPosBase)
	if err != nil {
		return 0, err
	}
	next := make(map[string]int64, len(counts)) // each owner's next position
	for rows.Next() {
		var o string
		var last int64
		if err := rows.Scan(&o, &last); err != nil {
			rows.Close()
			return 0, err
		}
		next[o] = last - counts[o] + 1
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}

	pos, ownerPos := make([]int64, len(ids)), make([]int64, len(ids))
	for i, o := range owners {
		pos[i] = *base + int64(i) + 1
		ownerPos[i] = next[o]
		next[o]++
	}
	head := pos[len(pos)-1]
	batch = pgx.Batch{}
	batch.Queue(`UPDATE document_events e SET pos = v.pos, owner_pos = v.owner_pos
		FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS v(id, pos, owner_pos) WHERE e.id = v.id`, ids, pos, ownerPos)
	batch.Queue(`UPDATE event_clock SET pos = $1`, head)
	batch.Queue(`SELECT pg_notify($1, $2)`, Channel, strconv.FormatInt(head, 10))
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return 0, err
	}
	return len(ids), nil
}

// Beginner is a connection or pool that starts transactions.
type Beginner interface {
	pg.DBTX
	Begin(ctx context.Context) (pgx.Tx, error)
}

const eventColumns = `pos, owner_pos, document_id, owner, seq, type, data, created_at`

func scanEvents(rows pgx.Rows) ([]Event, error) {
	defer rows.Close()
	var out []Event
	for rows.Next() {
		e := Event{frame: &frame{}}
		if err := rows.Scan(&e.Pos, &e.OwnerPos, &e.DocumentID, &e.Owner, &e.Seq, &e.Type, &e.Data, &e.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// After returns up to limit events with pos > after, in order.
func After(ctx context.Context, db pg.DBTX, after int64, limit int) ([]Event, error) {
	rows, err := db.Query(ctx, `SELECT `+eventColumns+` FROM document_events WHERE pos > $1 ORDER BY pos LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("error reading events: %w", err)
	}
	return scanEvents(rows)
}

// DocumentAfter returns a document's sequenced events with seq > after, in
// order. (Sequence numbers a document's events in seq order, so those it
// has not reached yet are the newest.)
func DocumentAfter(ctx context.Context, db pg.DBTX, documentID uuid.UUID, after, limit int) ([]Event, error) {
	rows, err := db.Query(ctx, `SELECT `+eventColumns+` FROM document_events WHERE document_id = $1 AND seq > $2
		AND pos IS NOT NULL ORDER BY seq LIMIT $3`, documentID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("error reading events: %w", err)
	}
	return scanEvents(rows)
}

// OwnerAfter returns an owner's events with owner_pos > after, in order.
func OwnerAfter(ctx context.Context, db pg.DBTX, owner string, after int64, limit int) ([]Event, error) {
	rows, err := db.Query(ctx, `SELECT `+eventColumns+` FROM document_events WHERE owner = $1 AND owner_pos > $2
		ORDER BY owner_pos LIMIT $3`, owner, after, limit)
	if err != nil {
		return nil, fmt.Errorf("error reading events: %w", err)
	}
	return scanEvents(rows)
}

// Unsequenced is, for each of owner's documents with committed events that
// have no position yet, the last such seq (usually nothing: Sequence runs
// every PollInterval).
func Unsequenced(ctx context.Context, db pg.DBTX, owner string) (map[uuid.UUID]int, error) {
	rows, err := db.Query(ctx, `SELECT document_id, max(seq) FROM document_events WHERE pos IS NULL AND owner = $1
		GROUP BY document_id`, owner)
	if err != nil {
		return nil, fmt.Errorf("error reading unsequenced events: %w", err)
	}
	defer rows.Close()
	out := map[uuid.UUID]int{}
	for rows.Next() {
		var id uuid.UUID
		var seq int
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, fmt.Errorf("error reading unsequenced events: %w", err)
		}
		out[id] = seq
	}
	if len(out) == 0 {
		return nil, rows.Err()
	}
	return out, rows.Err()
}

// OwnerPosBase is where owner positions start (2^52): above any global
// pos a client held before owner positions existed, below 2^53, where
// JavaScript numbers stop being exact.
const OwnerPosBase int64 = 1 << 52

// OwnerHead is the owner_pos of the owner's newest event (OwnerPosBase
// when there is none).
func OwnerHead(ctx context.Context, db pg.DBTX, owner string) (int64, error) {
	var pos int64
	err := db.QueryRow(ctx, `SELECT coalesce((SELECT pos FROM owner_event_clocks WHERE owner = $1), $2)`, owner, OwnerPosBase).Scan(&pos)
	if err != nil {
		return 0, fmt.Errorf("error reading the owner's log head: %w", err)
	}
	return pos, nil
}

// OwnerPosAt translates a global pos that a client held before owner
// positions existed into the owner position it stands for: that of the
// owner's last event at or before it, else just before the owner's first
// event after it. found is false when the owner has no event left to say.
func OwnerPosAt(ctx context.Context, db pg.DBTX, owner string, pos int64) (op int64, found bool, err error) {
	var p *int64
	err = db.QueryRow(ctx, `SELECT coalesce(
			(SELECT max(owner_pos) FROM document_events WHERE owner = $1 AND pos <= $2),
			(SELECT min(owner_pos) - 1 FROM document_events WHERE owner = $1 AND pos > $2))`, owner, pos).Scan(&p)
	if err != nil {
		return 0, false, fmt.Errorf("error translating a resume point: %w", err)
	}
	if p == nil {
		return 0, false, nil
	}
	return *p, true, nil
}

// Head is the pos of the newest event (0 when there is none).
func Head(ctx context.Context, db pg.DBTX) (int64, error) {
	var pos int64
	err := db.QueryRow(ctx, `SELECT pos FROM event_clock`).Scan(&pos)
	return pos, err
}

// Prune deletes events older than before, and reports how many. For each
// owner it keeps the largest owner_pos it deleted (PruneMark): what tells a
// stream resuming from before it that it lost events.
func Prune(ctx context.Context, db pg.DBTX, before time.Time) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, `
		WITH d AS (DELETE FROM document_events WHERE created_at < $1 AND pos IS NOT NULL RETURNING owner, owner_pos),
		m AS (INSERT INTO event_prune_marks (owner, owner_pos) SELECT owner, max(owner_pos) FROM d GROUP BY owner
			ON CONFLICT (owner) DO UPDATE SET owner_pos = greatest(event_prune_marks.owner_pos, EXCLUDED.owner_pos) RETURNING 1)
		SELECT count(*) FROM d`, before).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("error pruning events: %w", err)
	}
	return n, nil
}

// PruneMark is the largest owner_pos of owner's events that Prune deleted
// (0: none). A stream of the owner resuming after a smaller one lost
// events.
func PruneMark(ctx context.Context, db pg.DBTX, owner string) (int64, error) {
	var pos int64
	err := db.QueryRow(ctx, `SELECT coalesce((SELECT owner_pos FROM event_prune_marks WHERE owner = $1), 0)`, owner).Scan(&pos)
	if err != nil {
		return 0, fmt.Errorf("error reading the prune mark: %w", err)
	}
	return pos, nil
}

// OldestSeq is the seq of a document's oldest event still in the log (0:
// none).
func OldestSeq(ctx context.Context, db pg.DBTX, documentID uuid.UUID) (int, error) {
	var oldest *int
	if err := db.QueryRow(ctx, `SELECT min(seq) FROM document_events WHERE document_id = $1`, documentID).Scan(&oldest); err != nil {
		return 0, fmt.Errorf("error reading the log's start: %w", err)
	}
	if oldest == nil {
		return 0, nil
	}
	return *oldest, nil
}

// LastOfType returns, for each of documentIDs with an event of type typ
// still in the log, the data of its last one.
func LastOfType(ctx context.Context, db pg.DBTX, documentIDs []uuid.UUID, typ string) (map[uuid.UUID]json.RawMessage, error) {
	rows, err := db.Query(ctx, `SELECT DISTINCT ON (document_id) document_id, data FROM document_events
		WHERE document_id = ANY($1) AND type = $2 ORDER BY document_id, seq DESC`, documentIDs, typ)
	if err != nil {
		return nil, fmt.Errorf("error reading events: %w", err)
	}
	defer rows.Close()
	out := map[uuid.UUID]json.RawMessage{}
	for rows.Next() {
		var id uuid.UUID
		var data json.RawMessage
		if err := rows.Scan(&id, &data); err != nil {
			return nil, fmt.Errorf("error reading events: %w", err)
		}
		out[id] = data
	}
	return out, rows.Err()
}
