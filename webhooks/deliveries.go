package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/foliohq/folio/internal/pg"
)

// Delivery is one message to one endpoint, through its attempts.
type Delivery struct {
	ID            int64           `json:"id"`
	EndpointID    uuid.UUID       `json:"endpoint_id"`
	MessageID     string          `json:"message_id"`
	Type          string          `json:"type"`
	DocumentID    uuid.UUID       `json:"document_id"`
	Owner         string          `json:"owner"`
	Status        string          `json:"status"` // pending, delivered, dead
	Attempts      int             `json:"attempts"`
	EventAt       time.Time       `json:"event_at"`
	NextAttemptAt *time.Time      `json:"next_attempt_at,omitempty"`
	LastAttemptAt *time.Time      `json:"last_attempt_at,omitempty"`
	LastStatus    *int            `json:"last_status,omitempty"`
	LastError     string          `json:"last_error,omitempty"`
	DeliveredAt   *time.Time      `json:"delivered_at,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	Payload       json.RawMessage `json:"payload,omitempty"`
}

// DeliveryFilter selects deliveries: an endpoint's (uuid.Nil: any), with
// Status ("": any), whose event happened in [Since, Until) (zero: open),
// newest first, at most Limit.
type DeliveryFilter struct {
	Endpoint     uuid.UUID
	Status       string
	Since, Until time.Time
	Limit        int
	WithPayload  bool
}

// ErrNoDelivery is the answer for a delivery that does not exist.
var ErrNoDelivery = errors.New("no such webhook delivery")

const deliveryColumns = `id, endpoint_id, message_id, type, document_id, owner, status, attempts, event_at,
	CASE WHEN status = 'pending' THEN next_attempt_at END, last_attempt_at, last_status, coalesce(last_error, ''), delivered_at, created_at`

func scanDelivery(row pgx.Row, payload bool) (*Delivery, error) {
	var d Delivery
	dest := []any{&d.ID, &d.EndpointID, &d.MessageID, &d.Type, &d.DocumentID, &d.Owner, &d.Status, &d.Attempts, &d.EventAt,
		&d.NextAttemptAt, &d.LastAttemptAt, &d.LastStatus, &d.LastError, &d.DeliveredAt, &d.CreatedAt}
	if payload {
		dest = append(dest, &d.Payload)
	}
	err := row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNoDelivery
	}
	return &d, err
}

// Deliveries lists the deliveries f selects.
func Deliveries(ctx context.Context, db pg.DBTX, f DeliveryFilter) ([]*Delivery, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	cols := deliveryColumns
	if f.WithPayload {
		cols += ", payload"
	}
	rows, err := db.Query(ctx, `SELECT `+cols+` FROM webhook_deliveries
		WHERE ($1 = '00000000-0000-0000-0000-000000000000'::uuid OR endpoint_id = $1) AND ($2 = '' OR status = $2)
		AND ($3::timestamptz IS NULL OR event_at >= $3) AND ($4::timestamptz IS NULL OR event_at < $4)
		ORDER BY event_at DESC, id DESC LIMIT $5`, f.Endpoint, f.Status, nullTime(f.Since), nullTime(f.Until), f.Limit)
	if err != nil {
		return nil, fmt.Errorf("error listing webhook deliveries: %w", err)
	}
	defer rows.Close()
	out := []*Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows, f.WithPayload)
		if err != nil {
			return nil, fmt.Errorf("error listing webhook deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Replay sends a delivery again (delivered or dead alike), as a new
// series of attempts with the same webhook-id.
func Replay(ctx context.Context, db pg.DBTX, id int64) (*Delivery, error) {
	d, err := scanDelivery(db.QueryRow(ctx, `UPDATE webhook_deliveries SET status = 'pending', attempts = 0,
		next_attempt_at = now(), leased_until = NULL, delivered_at = NULL WHERE id = $1 RETURNING `+deliveryColumns, id), false)
	if err != nil && !errors.Is(err, ErrNoDelivery) {
		return nil, fmt.Errorf("error replaying a webhook delivery: %w", err)
	}
	return d, err
}

// ReplayRange sends again every delivery of an endpoint whose event
// happened in [since, until) and which is not pending (those are on their
// way); onlyDead: the dead ones only. It returns how many.
func ReplayRange(ctx context.Context, db pg.DBTX, endpoint uuid.UUID, since, until time.Time, onlyDead bool) (int64, error) {
	tag, err := db.Exec(ctx, `UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(),
		leased_until = NULL, delivered_at = NULL
		WHERE endpoint_id = $1 AND event_at >= $2 AND event_at < $3 AND status <> 'pending' AND (NOT $4 OR status = 'dead')`,
		endpoint, since, until, onlyDead)
	if err != nil {
		return 0, fmt.Errorf("error replaying webhook deliveries: %w", err)
	}
	return tag.RowsAffected(), nil
}
