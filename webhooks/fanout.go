package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/events"
)

// Message is the body of a webhook (Standard Webhooks' shape: type,
// timestamp, data). It is thin: ids, the status, the application's data
// and links; the receiver asks the API for more.
type Message struct {
	Type string `json:"type"`
	// Timestamp is when the event happened (its transaction).
	Timestamp time.Time   `json:"timestamp"`
	Data      MessageData `json:"data"`
}

// MessageData is a message's data.
type MessageData struct {
	DocumentID uuid.UUID `json:"document_id"`
	Owner      string    `json:"owner"`
	// Seq is the event's number in the document's log.
	Seq int `json:"seq"`
	// Status is the document's after the event ("deleted" once gone).
	Status     string            `json:"status"`
	ExternalID string            `json:"external_id,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	// FailureCode is a failed document's reason code.
	FailureCode string `json:"failure_code,omitempty"`
	Links       Links  `json:"links"`
}

// Links are where the API says more: absolute with FOLIO_PUBLIC_URL,
// else paths.
type Links struct {
	Document string `json:"document"`
	Events   string `json:"events"`
}

// MessageID is the webhook-id of an event's messages: the same for every
// endpoint, attempt and replay (receivers de-duplicate on it).
func MessageID(documentID uuid.UUID, seq int) string {
	return "msg_" + strings.ReplaceAll(documentID.String(), "-", "") + "_" + strconv.Itoa(seq)
}

// FanoutLock is the advisory lock of the fan-out: one process at a time
// hands the log's events to the endpoints.
const FanoutLock = "folio.webhooks.fanout"

// FanoutBatch bounds the events one fan-out transaction reads.
const FanoutBatch = 1000

// Fanout hands every event past the endpoints' cursors to the endpoints
// that want it: one delivery row per endpoint and event, and the cursors
// moved, in one transaction, so that no event is handed twice or skipped.
// It reads only sequenced events (committed, in commit order), so a change
// whose transaction rolled back never has a delivery. It returns how many
// deliveries it made; 0 and nil also when another process holds the lock.
func Fanout(ctx context.Context, db events.Beginner, linkBase string) (int, error) {
	total := 0
	for {
		n, more, err := fanoutBatch(ctx, db, linkBase)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

func fanoutBatch(ctx context.Context, db events.Beginner, linkBase string) (made int, more bool, err error) {
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var mine bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))`, FanoutLock).Scan(&mine); err != nil || !mine {
			return err
		}
		eps, err := queryEndpoints(ctx, tx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE disabled_at IS NULL ORDER BY id FOR UPDATE`)
		if err != nil || len(eps) == 0 {
			return err
		}
		from := eps[0].Cursor
		for _, e := range eps {
			from = min(from, e.Cursor)
		}
		evs, err := events.After(ctx, tx, from, FanoutBatch)
		if err != nil || len(evs) == 0 {
			return err
		}
		more = len(evs) == FanoutBatch
		last := evs[len(evs)-1].Pos

		// The events some endpoint wants, and what is known of their documents.
		var ids []uuid.UUID
		wanted := make([]bool, len(evs))
		for i, ev := range evs {
			for _, e := range eps {
				if ev.Pos > e.Cursor && e.Wants(ev.Type, ev.Owner) {
					wanted[i] = true
				}
			}
			if wanted[i] && !slices.Contains(ids, ev.DocumentID) {
				ids = append(ids, ev.DocumentID)
			}
		}
		var bodies [][]byte
		if len(ids) > 0 {
			if bodies, err = messages(ctx, tx, evs, wanted, ids, linkBase); err != nil {
				return err
			}
		}
		var (
			epIDs, docIDs      []uuid.UUID
			msgIDs, types, own []string
			payloads           [][]byte
			at                 []time.Time
		)
		for i, ev := range evs {
			if !wanted[i] {
				continue
			}
			for _, e := range eps {
				if ev.Pos > e.Cursor && e.Wants(ev.Type, ev.Owner) {
					epIDs, docIDs = append(epIDs, e.ID), append(docIDs, ev.DocumentID)
					msgIDs, types, own = append(msgIDs, MessageID(ev.DocumentID, ev.Seq)), append(types, ev.Type), append(own, ev.Owner)
					payloads, at = append(payloads, bodies[i]), append(at, ev.CreatedAt)
				}
			}
		}
		if len(epIDs) > 0 {
			tag, err := tx.Exec(ctx, `INSERT INTO webhook_deliveries (endpoint_id, message_id, type, document_id, owner, payload, event_at)
				SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::jsonb[], $7::timestamptz[])
				ON CONFLICT (endpoint_id, message_id) DO NOTHING`, epIDs, msgIDs, types, docIDs, own, payloads, at)
			if err != nil {
				return fmt.Errorf("error recording deliveries: %w", err)
			}
			made = int(tag.RowsAffected())
		}
		epList := make([]uuid.UUID, len(eps))
		for i, e := range eps {
			epList[i] = e.ID
		}
		_, err = tx.Exec(ctx, `UPDATE webhook_endpoints SET cursor = greatest(cursor, $2) WHERE id = ANY($1)`, epList, last)
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("error handing events to webhooks: %w", err)
	}
	return made, more, nil
}

// messages encodes the message of each wanted event (nil for the others).
func messages(ctx context.Context, tx pgx.Tx, evs []events.Event, wanted []bool, ids []uuid.UUID, linkBase string) ([][]byte, error) {
	briefs, err := documents.Briefs(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	var gone []uuid.UUID
	for _, id := range ids {
		if _, ok := briefs[id]; !ok {
			gone = append(gone, id)
		}
	}
	// A document deleted since: its document.deleted says what it had.
	deleted := map[uuid.UUID]json.RawMessage{}
	if len(gone) > 0 {
		if deleted, err = events.LastOfType(ctx, tx, gone, events.DocumentDeleted); err != nil {
			return nil, err
		}
	}
	out := make([][]byte, len(evs))
	for i, ev := range evs {
		if !wanted[i] {
			continue
		}
		base := strings.TrimSuffix(linkBase, "/") + "/v1/documents/" + ev.DocumentID.String()
		d := MessageData{DocumentID: ev.DocumentID, Owner: ev.Owner, Seq: ev.Seq, Links: Links{Document: base, Events: base + "/events"}}
		b, ok := briefs[ev.DocumentID]
		if ok {
			d.Status, d.ExternalID, d.Metadata = string(b.Status), b.ExternalID, b.Metadata
		} else {
			d.Status = "deleted"
			var app documents.AppData
			if raw, ok := deleted[ev.DocumentID]; ok {
				_ = json.Unmarshal(raw, &app) // Folio's own encoding
			}
			d.ExternalID, d.Metadata = app.ExternalID, app.Metadata
		}
		if err := statusOf(&d, ev); err != nil {
			return nil, err
		}
		body, err := json.Marshal(Message{Type: ev.Type, Timestamp: ev.CreatedAt.UTC(), Data: d})
		if err != nil {
			return nil, err
		}
		out[i] = body
	}
	return out, nil
}

// statusOf sets the status the event left the document in (the row may
// have moved on since), and a failure's code.
func statusOf(d *MessageData, ev events.Event) error {
	switch ev.Type {
	case events.DocumentDone:
		d.Status = string(documents.StatusDone)
	case events.DocumentFailed:
		var f events.DocumentFailedData
		if err := json.Unmarshal(ev.Data, &f); err != nil {
			return err
		}
		d.Status, d.FailureCode = string(documents.StatusFailed), f.Code
	case events.DocumentCanceled:
		d.Status = string(documents.StatusCanceled)
	case events.DocumentDeleted:
		d.Status = "deleted"
	case events.DocumentQuarantined:
		d.Status = string(documents.StatusQuarantined)
	case events.DocumentQueued:
		var q events.DocumentQueuedData
		if err := json.Unmarshal(ev.Data, &q); err != nil {
			return err
		}
		d.Status = string(documents.StatusQueued)
		if q.Scanning {
			d.Status = string(documents.StatusScanning)
		}
	case events.ScanDone, events.ParseRequeued:
		d.Status = string(documents.StatusQueued)
	case events.ParseStarted:
		d.Status = string(documents.StatusParsing)
	}
	return nil
}
