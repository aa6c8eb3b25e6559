package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/foliohq/folio/storage"
)

// LedgerPrefix is where the erasure ledger lives in the bucket. A restore
// never rolls it back, and no sweep deletes under it.
const LedgerPrefix = "ledger/erasures/"

// Erasure is one deleted document, recorded before the deletion commits.
type Erasure struct {
	DocumentID uuid.UUID `json:"document_id"`
	Owner      string    `json:"owner"`
	At         time.Time `json:"at"`
	// By is who deleted it: "owner", or an operator's name.
	By string `json:"by"`
}

// Ledger records deletions in the bucket, outside the database a restore
// brings back to an earlier time, and lists them for the restore to apply
// again.
type Ledger struct {
	Store *storage.Store
}

// Record writes e (its At set to now when zero). Write it before the
// deletion's transaction: a deletion that then fails leaves an entry a
// restore applies to a document its owner asked to delete, never a
// deletion a restore could undo.
func (l Ledger) Record(ctx context.Context, e Erasure) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = e.At.UTC()
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	// Names sort by time: a listing is the ledger in order.
	key := LedgerPrefix + e.At.Format("20060102T150405.000000000Z") + "-" + e.DocumentID.String() + ".json"
	if err := l.Store.PutBytes(ctx, key, body, storage.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("error recording the erasure of %s: %w", e.DocumentID, err)
	}
	return nil
}

// Each calls fn with every erasure recorded, oldest first.
func (l Ledger) Each(ctx context.Context, fn func(Erasure) error) error {
	return l.Store.EachObject(ctx, LedgerPrefix, func(objs []storage.ObjectInfo) error {
		for _, o := range objs {
			if !strings.HasSuffix(o.Key, ".json") {
				continue
			}
			e, err := l.read(ctx, o.Key)
			if err != nil {
				return err
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
}

func (l Ledger) read(ctx context.Context, key string) (Erasure, error) {
	var e Erasure
	obj, err := l.Store.Get(ctx, key)
	if err != nil {
		return e, err
	}
	defer obj.Close()
	body, err := io.ReadAll(io.LimitReader(obj, 64<<10))
	if err != nil {
		return e, fmt.Errorf("error reading %s: %w", key, err)
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return e, fmt.Errorf("erasure ledger entry %s: %w", key, err)
	}
	return e, nil
}
