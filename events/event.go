package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Event types.
const (
	DocumentQueued   = "document.queued"
	ParseStarted     = "parse.started"
	ParseProgress    = "parse.progress"
	ParseRequeued    = "parse.requeued"
	DocumentDone     = "document.done"
	DocumentFailed   = "document.failed"
	DocumentCanceled = "document.canceled"
	DocumentDeleted  = "document.deleted"
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

// Tx is what Append needs of a transaction.
type Tx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ErrNoDocument is returned by Append when the document row is gone (it
// holds the seq).
var ErrNoDocument = errors.New("events: no such document")

// Append writes one event for a document, in tx, and announces it on
// commit. The document row must still exist (for document.deleted, append
// before deleting it).
func Append(ctx context.Context, tx Tx, documentID uuid.UUID, typ string, data any) (*Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("error encoding event data: %w", err)
	}
	if data == nil {
		raw = []byte("{}")
	}
	e := &Event{DocumentID: documentID, Type: typ, Data: raw}
	err = tx.QueryRow(ctx, `UPDATE documents SET event_seq = event_seq + 1 WHERE id = $1 RETURNING event_seq, owner`,
		documentID).Scan(&e.Seq, &e.Owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNoDocument
	}
	if err != nil {
		return nil, fmt.Errorf("error numbering event: %w", err)
	}
	// The clock row stays locked until commit: pos order is commit order.
	if err := tx.QueryRow(ctx, `UPDATE event_clock SET pos = pos + 1 RETURNING pos`).Scan(&e.Pos); err != nil {
		return nil, fmt.Errorf("error taking event position: %w", err)
	}
	err = tx.QueryRow(ctx, `INSERT INTO document_events (pos, document_id, owner, seq, type, data)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`, e.Pos, documentID, e.Owner, e.Seq, typ, raw).Scan(&e.CreatedAt)
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

// Querier is what reads need.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// After returns up to limit events with pos > after, in order.
func After(ctx context.Context, db Querier, after int64, limit int) ([]Event, error) {
	rows, err := db.Query(ctx, `SELECT `+eventColumns+` FROM document_events WHERE pos > $1 ORDER BY pos LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("error reading events: %w", err)
	}
	return scanEvents(rows)
}

// DocumentAfter returns a document's events with seq > after, in order.
func DocumentAfter(ctx context.Context, db Querier, documentID uuid.UUID, after, limit int) ([]Event, error) {
	rows, err := db.Query(ctx, `SELECT `+eventColumns+` FROM document_events WHERE document_id = $1 AND seq > $2
		ORDER BY seq LIMIT $3`, documentID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("error reading events: %w", err)
	}
	return scanEvents(rows)
}

// OwnerAfter returns an owner's events with pos > after, in order.
func OwnerAfter(ctx context.Context, db Querier, owner string, after int64, limit int) ([]Event, error) {
	rows, err := db.Query(ctx, `SELECT `+eventColumns+` FROM document_events WHERE owner = $1 AND pos > $2
		ORDER BY pos LIMIT $3`, owner, after, limit)
	if err != nil {
		return nil, fmt.Errorf("error reading events: %w", err)
	}
	return scanEvents(rows)
}

// Head is the pos of the newest event (0 when there is none).
func Head(ctx context.Context, db Querier) (int64, error) {
	var pos int64
	err := db.QueryRow(ctx, `SELECT pos FROM event_clock`).Scan(&pos)
	return pos, err
}

// Prune deletes events older than before, and reports how many.
func Prune(ctx context.Context, db Tx, before time.Time) (int64, error) {
	tag, err := db.Exec(ctx, `DELETE FROM document_events WHERE created_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("error pruning events: %w", err)
	}
	return tag.RowsAffected(), nil
}
