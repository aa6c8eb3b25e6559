package documents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"

	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/pg"
	"github.com/foliohq/folio/internal/tracing"
)

// The application's data on a document (AppData): its limits.
const (
	// MaxExternalID is the longest external_id, in bytes.
	MaxExternalID = 255
	// MaxMetadataBytes bounds the metadata's JSON encoding.
	MaxMetadataBytes = 4 << 10
	// MaxMetadataKeys bounds the number of metadata keys.
	MaxMetadataKeys = 64
	// MaxMetadataKey is the longest metadata key, in bytes.
	MaxMetadataKey = 64
	// MetadataPrefix is how a metadata key is spelt as a query parameter
	// or form field (metadata.order=8812), in uploads and list filters.
	MetadataPrefix = "metadata."
)

// AppData is what the application says of a document, never read by
// Folio: its own id for it (ExternalID, "" for none) and a flat map of
// strings (Metadata). Both are returned on the document, in its events'
// document.queued and document.updated and in webhooks, and filter the
// list.
type AppData struct {
	ExternalID string            `json:"external_id,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
}

// AppDataError is application data that breaks a rule: Code is
// bad_external_id or bad_metadata, Detail says which rule.
type AppDataError struct {
	Code   string
	Detail string
}

func (e *AppDataError) Error() string { return e.Detail }

func badMetadata(format string, a ...any) error {
	return &AppDataError{Code: "bad_metadata", Detail: fmt.Sprintf(format, a...)}
}

// Check reports the first rule a breaks (an *AppDataError), or nil:
// external_id at most 255 bytes of UTF-8 without control characters;
// metadata at most 64 keys, each 1 to 64 bytes of letters, digits, "_",
// "-" and ".", values UTF-8 without control characters (but tab and
// newline), the whole at most 4 KiB as JSON.
func (a AppData) Check() error {
	if len(a.ExternalID) > MaxExternalID {
		return &AppDataError{Code: "bad_external_id", Detail: fmt.Sprintf("external_id is %d bytes long; at most %d.", len(a.ExternalID), MaxExternalID)}
	}
	if !printable(a.ExternalID, false) {
		return &AppDataError{Code: "bad_external_id", Detail: "external_id must be UTF-8 text without control characters."}
	}
	if len(a.Metadata) > MaxMetadataKeys {
		return badMetadata("metadata has %d keys; at most %d.", len(a.Metadata), MaxMetadataKeys)
	}
	for _, k := range slices.Sorted(maps.Keys(a.Metadata)) {
		if !validKey(k) {
			return badMetadata("metadata key %q: keys are 1 to %d of the characters A-Z a-z 0-9 _ - .", k, MaxMetadataKey)
		}
		if !printable(a.Metadata[k], true) {
			return badMetadata("metadata %q: values must be UTF-8 text without control characters.", k)
		}
	}
	if n := a.metadataSize(); n > MaxMetadataBytes {
		return badMetadata("metadata is %d bytes as JSON; at most %d.", n, MaxMetadataBytes)
	}
	return nil
}

func (a AppData) metadataSize() int {
	if len(a.Metadata) == 0 {
		return 0
	}
	b, _ := json.Marshal(a.Metadata)
	return len(b)
}

func validKey(k string) bool {
	if k == "" || len(k) > MaxMetadataKey {
		return false
	}
	for _, c := range []byte(k) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

func printable(s string, multiline bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == 0x7f {
			return false
		}
		if r < 0x20 && (!multiline || r != '\t' && r != '\n' && r != '\r') {
			return false
		}
	}
	return true
}

// AppDataFromForm reads external_id and metadata.KEY=VALUE from query
// parameters or form fields (get returns a name's values), and checks
// them. A key given twice is an error: which value would win is not
// obvious.
func AppDataFromForm(names []string, get func(name string) []string) (AppData, error) {
	var a AppData
	for _, name := range names {
		vs := get(name)
		switch {
		case name == "external_id":
			if len(vs) > 1 {
				return AppData{}, &AppDataError{Code: "bad_external_id", Detail: "external_id is given more than once."}
			}
			a.ExternalID = vs[0]
		case strings.HasPrefix(name, MetadataPrefix):
			k := strings.TrimPrefix(name, MetadataPrefix)
			if len(vs) > 1 {
				return AppData{}, badMetadata("metadata %q is given more than once.", k)
			}
			if a.Metadata == nil {
				a.Metadata = map[string]string{}
			}
			if len(a.Metadata) >= MaxMetadataKeys { // before holding more
				return AppData{}, badMetadata("metadata has more than %d keys.", MaxMetadataKeys)
			}
			a.Metadata[k] = vs[0]
		}
	}
	return a, a.Check()
}

// Filter is a list's selection by application data: the documents whose
// external_id is ExternalID (unless ""), and whose metadata holds every
// key of Metadata with its value.
type Filter = AppData

// encodedMetadata is a's metadata as stored (never NULL).
func (a AppData) encodedMetadata() []byte {
	if len(a.Metadata) == 0 {
		return []byte("{}")
	}
	b, _ := json.Marshal(a.Metadata)
	return b
}

// AppDataPatch changes a document's application data the way a JSON
// merge patch (RFC 7396) does: ExternalID nil leaves it, "" removes it;
// each Metadata key set to nil is removed, any other is set; a nil
// Metadata leaves it, ClearMetadata removes every key first.
type AppDataPatch struct {
	ExternalID    *string
	Metadata      map[string]*string
	ClearMetadata bool
}

// apply is a with p applied.
func (p AppDataPatch) apply(a AppData) AppData {
	out := AppData{ExternalID: a.ExternalID, Metadata: maps.Clone(a.Metadata)}
	if p.ExternalID != nil {
		out.ExternalID = *p.ExternalID
	}
	if p.ClearMetadata {
		out.Metadata = nil
	}
	for k, v := range p.Metadata {
		if v == nil {
			delete(out.Metadata, k)
			continue
		}
		if out.Metadata == nil {
			out.Metadata = map[string]string{}
		}
		out.Metadata[k] = *v
	}
	if len(out.Metadata) == 0 {
		out.Metadata = nil
	}
	return out
}

// UpdateAppData applies p to the owner's document and announces the
// result (document.updated), in one transaction, and returns the document
// as it is now. ErrNotFound; an *AppDataError when the result breaks a
// rule (nothing changes). A patch that changes nothing writes no event.
func UpdateAppData(ctx context.Context, pool pg.TxDB, owner string, id uuid.UUID, p AppDataPatch) (_ *Document, err error) {
	ctx, span := tracing.Start(ctx, "documents.UpdateAppData", attribute.String("folio.document.id", id.String()))
	defer tracing.End(span, &err)
	var doc *Document
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		if doc, err = getForUpdate(ctx, tx, owner, id); err != nil {
			return err
		}
		next := p.apply(doc.AppData)
		if err := next.Check(); err != nil {
			return err
		}
		if next.ExternalID == doc.ExternalID && maps.Equal(next.Metadata, doc.Metadata) {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE documents SET external_id = NULLIF($2, ''), metadata = $3, updated_at = now() WHERE id = $1`,
			id, next.ExternalID, next.encodedMetadata()); err != nil {
			return fmt.Errorf("error updating document: %w", err)
		}
		if err := appendEvent(ctx, tx, id, events.DocumentUpdatedData{ExternalID: next.ExternalID, Metadata: next.Metadata}); err != nil {
			return err
		}
		doc, err = getForUpdate(ctx, tx, owner, id)
		return err
	})
	var bad *AppDataError
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.As(err, &bad) {
		return nil, fmt.Errorf("error updating document: %w", err)
	}
	return doc, err
}

// Brief is what a webhook says of a document besides its event: its
// status and the application's data, as they are now.
type Brief struct {
	Status Status
	AppData
}

// Briefs returns the Brief of each of ids that still exists (any owner's).
func Briefs(ctx context.Context, db pg.DBTX, ids []uuid.UUID) (map[uuid.UUID]Brief, error) {
	rows, err := db.Query(ctx, `SELECT id, status, coalesce(external_id, ''), metadata FROM documents WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("error reading documents: %w", err)
	}
	defer rows.Close()
	out := make(map[uuid.UUID]Brief, len(ids))
	for rows.Next() {
		var id uuid.UUID
		var b Brief
		if err := rows.Scan(&id, &b.Status, &b.ExternalID, &b.Metadata); err != nil {
			return nil, fmt.Errorf("error reading documents: %w", err)
		}
		if len(b.Metadata) == 0 {
			b.Metadata = nil
		}
		out[id] = b
	}
	return out, rows.Err()
}
