// Package legacyevents is the event write path of the design before the
// sequencer (events.Append until migration 00008): the event_clock row
// locked until commit, the owner clock row by trigger, one NOTIFY per
// event. Writers of that release keep running during a rolling deploy, so
// tests show they still work against the new schema; benchmarks compare
// it with the current design in the same run. Remove it with the contract
// step that drops the trigger.
package legacyevents

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/google/uuid"

	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/pg"
)

// Append writes one event of a document in tx the way the previous release
// did, and returns the positions it got back (on the current schema the
// owner position is a placeholder until the sequencer numbers the event).
func Append(ctx context.Context, tx pg.DBTX, documentID uuid.UUID, owner string, seq int, data events.Payload) (pos, ownerPos int64, err error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return 0, 0, err
	}
	if err := tx.QueryRow(ctx, `UPDATE event_clock SET pos = pos + 1 RETURNING pos`).Scan(&pos); err != nil {
		return 0, 0, fmt.Errorf("error taking event position: %w", err)
	}
	err = tx.QueryRow(ctx, `INSERT INTO document_events (pos, document_id, owner, seq, type, data)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING owner_pos`, pos, documentID, owner, seq, data.EventType(), raw).Scan(&ownerPos)
	if err != nil {
		return 0, 0, fmt.Errorf("error writing event: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, events.Channel, strconv.FormatInt(pos, 10)); err != nil {
		return 0, 0, fmt.Errorf("error announcing event: %w", err)
	}
	return pos, ownerPos, nil
}
