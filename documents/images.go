package documents

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"

	"github.com/foliohq/folio/internal/pg"
	"github.com/foliohq/folio/internal/tracing"
	"github.com/foliohq/folio/jobs/jobargs"
)

// PageImage is a page drawn at a width: an image stored at S3Key, or the
// reason there is none (Failure).
type PageImage struct {
	DocumentID uuid.UUID
	Page       int
	Width      int
	Height     int
	Renderer   string
	// Turn is the clockwise quarter turn the page was drawn with (the
	// page's OCR rotation: a scan fed sideways comes out upright).
	Turn      int
	S3Key     string
	SizeBytes int
	Failure   *Failure
	CreatedAt time.Time
}

// ImageKey is where the image of page n at width, drawn turned clockwise
// by turn, is stored: under the document's derived prefix, named by the
// renderer that drew it (and the turn, when there is one: a turned image
// never takes an unturned one's key, which a cache may hold).
func ImageKey(owner string, id uuid.UUID, renderer string, page, width, turn int) string {
	if turn != 0 {
		return fmt.Sprintf("%s%s/p%d-w%d-t%d.jpg", DerivedPrefix(owner, id), renderer, page, width, turn)
	}
	return fmt.Sprintf("%s%s/p%d-w%d.jpg", DerivedPrefix(owner, id), renderer, page, width)
}

// PageTurns returns the pages of the document's current parse that OCR
// read turned (a scan fed sideways or upside down): page number to the
// clockwise turn its images are drawn with.
func PageTurns(ctx context.Context, db pg.DBTX, id uuid.UUID) (map[int]int, error) {
	rows, err := db.Query(ctx, `SELECT p.page_number, p.ocr_rotation FROM pages p JOIN documents d ON d.id = p.document_id
		WHERE p.document_id = $1 AND p.generation = d.parse_generation AND p.ocr_rotation <> 0`, id)
	if err != nil {
		return nil, fmt.Errorf("error reading page turns: %w", err)
	}
	turns := map[int]int{}
	for rows.Next() {
		var n int
		var turn int16
		if err := rows.Scan(&n, &turn); err != nil {
			rows.Close()
			return nil, fmt.Errorf("error reading page turns: %w", err)
		}
		turns[n] = int(turn)
	}
	return turns, rows.Err()
}

// DerivedPrefix is the prefix of every object made from a document (its
// page images); deleting the document deletes them.
func DerivedPrefix(owner string, id uuid.UUID) string {
	return DerivedRoot + OwnerSegment(owner) + "/" + id.String() + "/"
}

// ThumbnailWidth is the width of the image every page gets in its parse
// (jobargs.ThumbnailWidth, which the render jobs use).
const ThumbnailWidth = jobargs.ThumbnailWidth

// DerivedRoot is where objects made from documents live in the bucket.
const DerivedRoot = "derived/"

// RenderedPages returns the pages of the document that renderer has drawn
// at width already (or failed on).
func RenderedPages(ctx context.Context, db pg.DBTX, id uuid.UUID, width int, renderer string) (map[int]bool, error) {
	rows, err := db.Query(ctx, `SELECT page_number FROM page_images
		WHERE document_id = $1 AND width = $2 AND renderer = $3`, id, width, renderer)
	if err != nil {
		return nil, fmt.Errorf("error listing page images: %w", err)
	}
	nums, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("error listing page images: %w", err)
	}
	done := make(map[int]bool, len(nums))
	for _, n := range nums {
		done[int(n)] = true
	}
	return done, nil
}

// SaveImage records a page image (or why there is none); a row by another
// renderer is replaced, and replaced is its object's key (the caller
// deletes it). A document deleted meanwhile is not an error: nothing is
// recorded.
func SaveImage(ctx context.Context, db pg.DBTX, img PageImage) (replaced string, err error) {
	var key, code, msg *string
	var height, size *int
	if img.Failure != nil {
		code, msg = &img.Failure.Code, &img.Failure.Message
	} else {
		key, height, size = &img.S3Key, &img.Height, &img.SizeBytes
	}
	// One round trip (a parse saves a row per page): old is read from the
	// statement's snapshot, before its own update. Two writers replacing
	// one row at once could both see no old row; only a renderer upgrade
	// replaces rows at all.
	var old *string
	err = db.QueryRow(ctx, `WITH old AS (SELECT s3_key FROM page_images
			WHERE document_id = $1 AND page_number = $2 AND width = $3)
		INSERT INTO page_images (document_id, page_number, width, renderer, s3_key, height, size_bytes, failure_code, failure_message, turn)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 WHERE EXISTS (SELECT 1 FROM documents WHERE id = $1)
		ON CONFLICT (document_id, page_number, width) DO UPDATE
		SET renderer = EXCLUDED.renderer, s3_key = EXCLUDED.s3_key, height = EXCLUDED.height, size_bytes = EXCLUDED.size_bytes,
			failure_code = EXCLUDED.failure_code, failure_message = EXCLUDED.failure_message, turn = EXCLUDED.turn, created_at = now()
		RETURNING (SELECT s3_key FROM old)`,
		img.DocumentID, img.Page, img.Width, img.Renderer, key, height, size, code, msg, img.Turn).Scan(&old)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil // the document is gone
	}
	if err == nil && old != nil && *old != img.S3Key {
		replaced = *old
	}
	var pgErr interface{ SQLState() string }
	switch {
	case errors.As(err, &pgErr) && pgErr.SQLState() == "23503":
		return "", nil // the document is gone
	case err != nil:
		return "", fmt.Errorf("error saving page image: %w", err)
	}
	return replaced, nil
}

// SetPagesRendered records how many pages of generation gen have their
// thumbnail, with a progress event (stage rendering) when announce is set.
func SetPagesRendered(ctx context.Context, pool pg.TxDB, id uuid.UUID, gen int64, rendered, total int, announce bool) (err error) {
	ctx, span := tracing.Start(ctx, "documents.SetPagesRendered", attribute.String("folio.document.id", id.String()),
		attribute.Int64("folio.parse.generation", gen), attribute.Int("folio.pages_rendered", rendered))
	defer tracing.End(span, &err)
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE documents SET pages_rendered = $3, parse_stage = $4, updated_at = now()
			WHERE id = $1 AND parse_generation = $2 AND status = 'parsing'`, id, gen, rendered, StageRendering)
		if err != nil {
			return fmt.Errorf("error saving rendering progress: %w", err)
		}
		if tag.RowsAffected() == 0 || !announce {
			return nil
		}
		return appendEvent(ctx, tx, id, progress(StageRendering, rendered, total))
	})
}

// Image returns the owner's document and its page's image at width: img
// is nil when that image has not been rendered (nor failed) yet.
// ErrNotFound: no such document for this owner.
func Image(ctx context.Context, db pg.DBTX, owner string, id uuid.UUID, page, width int) (doc *Document, img *PageImage, err error) {
	if doc, err = Get(ctx, db, owner, id); err != nil {
		return nil, nil, err
	}
	img, err = ImageOf(ctx, db, id, page, width)
	if err != nil {
		return nil, nil, err
	}
	return doc, img, nil
}

// ImageOf is the image of page at width of a document whose owner the
// caller has checked already; nil when there is none (yet).
func ImageOf(ctx context.Context, db pg.DBTX, id uuid.UUID, page, width int) (*PageImage, error) {
	var (
		i         PageImage
		key, code *string
		msg       *string
		height    *int
		size      *int
	)
	err := db.QueryRow(ctx, `SELECT renderer, s3_key, height, size_bytes, failure_code, failure_message, created_at, turn
		FROM page_images WHERE document_id = $1 AND page_number = $2 AND width = $3`, id, page, width).
		Scan(&i.Renderer, &key, &height, &size, &code, &msg, &i.CreatedAt, &i.Turn)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("error getting page image: %w", err)
	}
	i.DocumentID, i.Page, i.Width = id, page, width
	if code != nil {
		i.Failure = &Failure{Code: *code, Message: deref(msg)}
	} else {
		i.S3Key, i.Height, i.SizeBytes = deref(key), deref(height), deref(size)
	}
	return &i, nil
}

// Original returns any owner's document by id, for workers.
// ErrNotFound: it is gone.
func Original(ctx context.Context, db pg.DBTX, id uuid.UUID) (*Document, error) {
	d, err := scan(db.QueryRow(ctx, `SELECT `+columns+` FROM documents WHERE id = $1`, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("error getting document: %w", err)
	}
	return d, err
}

// DerivedDocument is the document id in a key under DerivedRoot.
func DerivedDocument(key string) (uuid.UUID, bool) {
	parts := strings.SplitN(strings.TrimPrefix(key, DerivedRoot), "/", 3)
	if len(parts) < 3 || !strings.HasPrefix(key, DerivedRoot) {
		return uuid.UUID{}, false
	}
	id, err := uuid.Parse(parts[1])
	return id, err == nil
}

// ExistingDocuments returns which of ids are documents still.
func ExistingDocuments(ctx context.Context, db pg.DBTX, ids []uuid.UUID) (map[uuid.UUID]bool, error) {
	rows, err := db.Query(ctx, `SELECT id FROM documents WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("error checking documents: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("error checking documents: %w", err)
	}
	out := make(map[uuid.UUID]bool, len(found))
	for _, id := range found {
		out[id] = true
	}
	return out, nil
}
