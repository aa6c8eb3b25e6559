package events

import (
	"context"
	"encoding/json"
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

	// frame caches the JSON of an event read from the log: the hub hands
	// one event to thousands of streams, which encode it once.
	frame *frame
}

type frame struct {
	once sync.Once
	b    []byte
	err  error
}

// JSON is the event's JSON encoding, computed once per event read.
func (e *Event) JSON() ([]byte, error) {
	if e.frame == nil {
		return json.Marshal(e)
	}
	e.frame.once.Do(func() { e.frame.b, e.frame.err = json.Marshal(e) })
	return e.frame.b, e.frame.err
}

// Append writes one event of a document in tx, and announces it on
// commit. The caller numbers it: seq is the document's next one, taken
// under the document row's lock (documents does this for every transition).
func Append(ctx context.Context, tx pg.DBTX, documentID uuid.UUID, owner string, seq int, data Payload) (*Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("error encoding event data: %w", err)
	}
	e := &Event{DocumentID: documentID, Owner: owner, Seq: seq, Type: data.EventType(), Data: raw}
	// The clock row stays locked until commit: pos order is commit order.
	if err := tx.QueryRow(ctx, `UPDATE event_clock SET pos = pos + 1 RETURNING pos`).Scan(&e.Pos); err != nil {
		return nil, fmt.Errorf("error taking event position: %w", err)
	}
	// A trigger numbers the event in its owner's log (owner_event_clocks).
	err = tx.QueryRow(ctx, `INSERT INTO document_events (pos, document_id, owner, seq, type, data)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING owner_pos, created_at`, e.Pos, documentID, owner, seq, e.Type, raw).
		Scan(&e.OwnerPos, &e.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("error writing event: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, strconv.FormatInt(e.Pos, 10)); err != nil {
		return nil, fmt.Errorf("error announcing event: %w", err)
	}
	return e, nil
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

// DocumentAfter returns a document's events with seq > after, in order.
func DocumentAfter(ctx context.Context, db pg.DBTX, documentID uuid.UUID, after, limit int) ([]Event, error) {
	rows, err := db.Query(ctx, `SELECT `+eventColumns+` FROM document_events WHERE document_id = $1 AND seq > $2
		ORDER BY seq LIMIT $3`, documentID, after, limit)
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
		WITH d AS (DELETE FROM document_events WHERE created_at < $1 RETURNING owner, owner_pos),
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
