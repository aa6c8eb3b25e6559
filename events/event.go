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
	Pos        int64           `json:"pos"`
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
	err = tx.QueryRow(ctx, `INSERT INTO document_events (pos, document_id, owner, seq, type, data)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`, e.Pos, documentID, owner, seq, e.Type, raw).Scan(&e.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("error writing event: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, strconv.FormatInt(e.Pos, 10)); err != nil {
		return nil, fmt.Errorf("error announcing event: %w", err)
	}
	return e, nil
}

const eventColumns = `pos, document_id, owner, seq, type, data, created_at`

func scanEvents(rows pgx.Rows) ([]Event, error) {
	defer rows.Close()
	var out []Event
	for rows.Next() {
		e := Event{frame: &frame{}}
		if err := rows.Scan(&e.Pos, &e.DocumentID, &e.Owner, &e.Seq, &e.Type, &e.Data, &e.CreatedAt); err != nil {
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

// OwnerAfter returns an owner's events with pos > after, in order.
func OwnerAfter(ctx context.Context, db pg.DBTX, owner string, after int64, limit int) ([]Event, error) {
	rows, err := db.Query(ctx, `SELECT `+eventColumns+` FROM document_events WHERE owner = $1 AND pos > $2
		ORDER BY pos LIMIT $3`, owner, after, limit)
	if err != nil {
		return nil, fmt.Errorf("error reading events: %w", err)
	}
	return scanEvents(rows)
}

// Head is the pos of the newest event (0 when there is none).
func Head(ctx context.Context, db pg.DBTX) (int64, error) {
	var pos int64
	err := db.QueryRow(ctx, `SELECT pos FROM event_clock`).Scan(&pos)
	return pos, err
}

// Prune deletes events older than before, and reports how many.
func Prune(ctx context.Context, db pg.DBTX, before time.Time) (int64, error) {
	tag, err := db.Exec(ctx, `DELETE FROM document_events WHERE created_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("error pruning events: %w", err)
	}
	return tag.RowsAffected(), nil
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

// OldestPos is the pos of an owner's oldest event still in the log (0:
// none).
func OldestPos(ctx context.Context, db pg.DBTX, owner string) (int64, error) {
	var oldest *int64
	if err := db.QueryRow(ctx, `SELECT min(pos) FROM document_events WHERE owner = $1`, owner).Scan(&oldest); err != nil {
		return 0, fmt.Errorf("error reading the log's start: %w", err)
	}
	if oldest == nil {
		return 0, nil
	}
	return *oldest, nil
}
