package documents

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/pg"
)

const columns = `id, owner, filename, status, size_bytes, coalesce(sha256, ''), s3_key, page_count, pages_done, summary,
	failure_code, failure_message, created_at, updated_at, coalesce(parse_stage, ''), event_seq,
	ocr_status, coalesce(ocr_pages, 0), ocr_pages_done, pages_rendered, coalesce(ocr_languages, ''),
	scan_result, coalesce(scan_signature, ''), coalesce(scan_signatures, ''), scanned_at,
	coalesce(external_id, ''), metadata`

func scan(row pgx.Row) (*Document, error) {
	var (
		d           Document
		code, msg   *string
		summaryJSON []byte
		ocr         *string
		ocrState    OCRState
		scanResult  *string
		scanState   ScanState
		scannedAt   *time.Time
	)
	err := row.Scan(&d.ID, &d.Owner, &d.Filename, &d.Status, &d.SizeBytes, &d.SHA256, &d.S3Key,
		&d.PageCount, &d.PagesDone, &summaryJSON, &code, &msg, &d.CreatedAt, &d.UpdatedAt, &d.Stage, &d.EventSeq,
		&ocr, &ocrState.PagesTotal, &ocrState.PagesDone, &d.PagesRendered, &d.OCRLanguages,
		&scanResult, &scanState.Found, &scanState.Signatures, &scannedAt, &d.ExternalID, &d.Metadata)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if code != nil {
		d.Failure = &Failure{Code: *code, Message: deref(msg)}
	}
	if ocr != nil {
		ocrState.Status = *ocr
		d.OCR = &ocrState
	}
	if scanResult != nil && scannedAt != nil {
		scanState.Result, scanState.ScannedAt = *scanResult, *scannedAt
		d.Scan = &scanState
	}
	if len(d.Metadata) == 0 {
		d.Metadata = nil
	}
	if summaryJSON != nil {
		d.Summary = json.RawMessage(summaryJSON)
	}
	return &d, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// insert stores a new document, setting its timestamps.
func insert(ctx context.Context, db pg.DBTX, d *Document) error {
	row := db.QueryRow(ctx, `INSERT INTO documents (id, owner, filename, status, size_bytes, sha256, s3_key, ocr_languages,
			external_id, metadata)
		VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), $7, NULLIF($8, ''), NULLIF($9, ''), $10) RETURNING created_at, updated_at`,
		d.ID, d.Owner, d.Filename, d.Status, d.SizeBytes, d.SHA256, d.S3Key, d.OCRLanguages, d.ExternalID, d.encodedMetadata())
	if err := row.Scan(&d.CreatedAt, &d.UpdatedAt); err != nil {
		return fmt.Errorf("error inserting document: %w", err)
	}
	return nil
}

// Get returns the owner's document id, or ErrNotFound.
func Get(ctx context.Context, db pg.DBTX, owner string, id uuid.UUID) (*Document, error) {
	d, err := scan(db.QueryRow(ctx, `SELECT `+columns+` FROM documents WHERE owner = $1 AND id = $2`, owner, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("error getting document: %w", err)
	}
	return d, err
}

// getForUpdate is Get, locking the row until the transaction ends.
func getForUpdate(ctx context.Context, tx pgx.Tx, owner string, id uuid.UUID) (*Document, error) {
	d, err := scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM documents WHERE owner = $1 AND id = $2 FOR UPDATE`, owner, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("error getting document: %w", err)
	}
	return d, err
}

// Cursor is a position in an owner's newest-first listing.
type Cursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// String encodes the cursor for a URL.
func (c Cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + c.ID.String()))
}

// ErrBadCursor is returned for a cursor that List did not make.
var ErrBadCursor = errors.New("invalid cursor")

// ParseCursor decodes a cursor made by Cursor.String.
func ParseCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	ts, id, ok := strings.Cut(string(b), "|")
	if !ok {
		return Cursor{}, ErrBadCursor
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	return Cursor{CreatedAt: t, ID: u}, nil
}

// List returns up to limit of the owner's documents, newest first, after
// the cursor (nil: from the newest), and the cursor of the next page (nil
// on the last page).
func List(ctx context.Context, db pg.DBTX, owner string, after *Cursor, limit int) ([]*Document, *Cursor, error) {
	return ListWhere(ctx, db, owner, ListOptions{After: after, Limit: limit})
}

// Statuses are every status a document may have.
var Statuses = []Status{StatusScanning, StatusQueued, StatusParsing, StatusDone, StatusFailed, StatusCanceled, StatusQuarantined}

// ListOptions choose a listing's documents and page: those with Status
// ("": any) and the application data in Filter, Limit of them after After
// (nil: from the newest).
type ListOptions struct {
	Status Status
	Filter Filter
	After  *Cursor
	Limit  int
}

// ListWhere is List of the owner's documents that o selects. The filters
// are indexed: external_id by (owner, external_id), metadata by a GIN
// index on it (containment, @>).
func ListWhere(ctx context.Context, db pg.DBTX, owner string, o ListOptions) ([]*Document, *Cursor, error) {
	limit, after := o.Limit, o.After
	args := []any{owner, limit + 1, string(o.Status)}
	where := "owner = $1 AND ($3 = '' OR status = $3)"
	if o.Filter.ExternalID != "" {
		args = append(args, o.Filter.ExternalID)
		where += fmt.Sprintf(" AND external_id = $%d", len(args))
	}
	if len(o.Filter.Metadata) > 0 {
		args = append(args, o.Filter.encodedMetadata())
		where += fmt.Sprintf(" AND metadata @> $%d::jsonb", len(args))
	}
	if after != nil {
		args = append(args, after.CreatedAt, after.ID)
		where += fmt.Sprintf(" AND (created_at, id) < ($%d, $%d)", len(args)-1, len(args))
	}
	rows, err := db.Query(ctx, `SELECT `+columns+` FROM documents WHERE `+where+
		` ORDER BY created_at DESC, id DESC LIMIT $2`, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("error listing documents: %w", err)
	}
	defer rows.Close()
	docs := []*Document{}
	for rows.Next() {
		d, err := scan(rows)
		if err != nil {
			return nil, nil, fmt.Errorf("error listing documents: %w", err)
		}
		docs = append(docs, d)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("error listing documents: %w", err)
	}
	if len(docs) <= limit {
		return docs, nil, nil
	}
	docs = docs[:limit]
	last := docs[limit-1]
	return docs, &Cursor{CreatedAt: last.CreatedAt, ID: last.ID}, nil
}

// FirstWithSHA256 returns the id of the owner's oldest document with these
// bytes, other than except, or nil.
func FirstWithSHA256(ctx context.Context, db pg.DBTX, owner, sha256 string, except uuid.UUID) (*uuid.UUID, error) {
	if sha256 == "" {
		return nil, nil // not known yet (a direct upload's, before its parse)
	}
	var id uuid.UUID
	err := db.QueryRow(ctx, `SELECT id FROM documents WHERE owner = $1 AND sha256 = $2 AND id <> $3
		ORDER BY created_at, id LIMIT 1`, owner, sha256, except).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("error looking for duplicates: %w", err)
	}
	return &id, nil
}

// lockOwner serialises, until tx ends, the transactions that check an
// owner's quota and add to it (Create). A delete only frees room, so it
// does not take the lock: a commit racing it sees the usage before or
// after it, and either is safe.
func lockOwner(ctx context.Context, tx pgx.Tx, owner string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('folio.owner:' || $1, 0))`, owner); err != nil {
		return fmt.Errorf("error locking owner: %w", err)
	}
	return nil
}

// UsageBytes is the total size of the owner's documents.
func UsageBytes(ctx context.Context, db pg.DBTX, owner string) (int64, error) {
	var n int64
	if err := db.QueryRow(ctx, `SELECT coalesce(sum(size_bytes), 0) FROM documents WHERE owner = $1`, owner).Scan(&n); err != nil {
		return 0, fmt.Errorf("error summing usage: %w", err)
	}
	return n, nil
}

// ReferencedKeys returns which of keys some document's original may be
// stored under. Besides exact matches it counts the keys that rows holding
// dot segments resolve to: originals of the owners "." and ".." were
// written, before OwnerSegment, under keys like "originals/./<id>", which
// S3 servers and HTTP clients collapse to "originals/<id>". An object any
// row may reference is never reported missing, so never swept.
func ReferencedKeys(ctx context.Context, db pg.DBTX, keys []string) (map[string]bool, error) {
	rows, err := db.Query(ctx, `SELECT s3_key FROM documents WHERE s3_key = ANY($1)
		UNION ALL SELECT s3_key FROM documents WHERE s3_key ~ '(^|/)\.\.?(/|$)'`, keys)
	if err != nil {
		return nil, fmt.Errorf("error checking objects: %w", err)
	}
	known, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("error checking objects: %w", err)
	}
	referenced := make(map[string]bool, len(known))
	for _, k := range known {
		referenced[k] = true
		referenced[strings.TrimPrefix(path.Clean("/"+k), "/")] = true
	}
	return referenced, nil
}

// Snapshot is the owner's newest documents (up to limit) and the head of
// the owner's event log (an owner position), read in one consistent view:
// the documents reflect exactly the events up to that position, and those
// committed but not sequenced yet (events.Sequence), which pending lists:
// the last such seq of each document concerned.
func Snapshot(ctx context.Context, pool *pgxpool.Pool, owner string, limit int) (docs []*Document, pos int64, pending map[uuid.UUID]int, err error) {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, 0, nil, fmt.Errorf("error reading a snapshot: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	if pos, err = events.OwnerHead(ctx, tx, owner); err != nil {
		return nil, 0, nil, fmt.Errorf("error reading a snapshot: %w", err)
	}
	if pending, err = events.Unsequenced(ctx, tx, owner); err != nil {
		return nil, 0, nil, fmt.Errorf("error reading a snapshot: %w", err)
	}
	if docs, _, err = List(ctx, tx, owner, nil, limit); err != nil {
		return nil, 0, nil, err
	}
	return docs, pos, pending, tx.Commit(ctx)
}

// Ref names a document across owners (for operators).
type Ref struct {
	Owner string    `json:"owner"`
	ID    uuid.UUID `json:"id"`
	Code  string    `json:"failure_code"`
}

// Failed lists the failed documents of every owner that changed since
// since, oldest first, with failure code code (empty: any), up to limit.
func Failed(ctx context.Context, db pg.DBTX, since time.Time, code string, limit int) ([]Ref, error) {
	rows, err := db.Query(ctx, `SELECT owner, id, coalesce(failure_code, '') FROM documents
		WHERE status = 'failed' AND updated_at >= $1 AND ($2 = '' OR failure_code = $2)
		ORDER BY updated_at, id LIMIT $3`, since, code, limit)
	if err != nil {
		return nil, fmt.Errorf("error listing failed documents: %w", err)
	}
	refs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Ref, error) {
		var r Ref
		return r, row.Scan(&r.Owner, &r.ID, &r.Code)
	})
	if err != nil {
		return nil, fmt.Errorf("error listing failed documents: %w", err)
	}
	return refs, nil
}

// SetSHA256 records the SHA-256 of a document whose bytes Folio had not
// seen before its parse (a direct upload's), if it has none yet.
func SetSHA256(ctx context.Context, pool *pgxpool.Pool, id uuid.UUID, sum string) error {
	_, err := pool.Exec(ctx, `UPDATE documents SET sha256 = $2 WHERE id = $1 AND sha256 IS NULL`, id, sum)
	if err != nil {
		return fmt.Errorf("error recording a document's SHA-256: %w", err)
	}
	return nil
}
