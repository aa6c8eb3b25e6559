package documents

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/google/uuid"

	"github.com/foliohq/folio/internal/pg"
)

// Pages returns up to limit pages of a document from page from on.
func Pages(ctx context.Context, db pg.DBTX, id uuid.UUID, from, limit int) ([]PageRow, error) {
	rows, err := db.Query(ctx, `SELECT p.page_number, p.width, p.height, p.rotation, p.text, p.source, p.ocr_confidence,
			coalesce(p.ocr_failure, ''), p.ocr_rotation, p.ocr_rotation_confidence, p.ocr_skew,
			i.width, i.height, i.failure_code, i.failure_message
		FROM pages p LEFT JOIN page_images i ON i.document_id = p.document_id AND i.page_number = p.page_number AND i.width = $4
		WHERE p.document_id = $1 AND p.page_number >= $2 ORDER BY p.page_number LIMIT $3`, id, from, limit, ThumbnailWidth)
	if err != nil {
		return nil, fmt.Errorf("error reading pages: %w", err)
	}
	defer rows.Close()
	out := []PageRow{}
	for rows.Next() {
		var (
			p    PageRow
			w, h float32
			conf *float32
			turn *int32
			tc   *float32
			skew *float32
			tw   *int
			th   *int
			code *string
			msg  *string
		)
		if err := rows.Scan(&p.Number, &w, &h, &p.Rotation, &p.Text, &p.Source, &conf, &p.OCRFailure, &turn, &tc, &skew, &tw, &th, &code, &msg); err != nil {
			return nil, fmt.Errorf("error reading pages: %w", err)
		}
		if tw != nil {
			p.Thumbnail = &Thumbnail{Width: *tw, Height: deref(th)}
			if code != nil {
				p.Thumbnail.Failure = &Failure{Code: *code, Message: deref(msg)}
			}
		}
		p.Width, p.Height = float64(w), float64(h)
		p.OCRConfidence, p.OCRRotationConfidence = tenths(conf), tenths(tc)
		if turn != nil {
			n := int(*turn)
			p.OCRRotation = &n
		}
		if skew != nil {
			s := math.Round(float64(*skew)*100) / 100
			p.OCRSkew = &s
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// tenths rounds a real column to one decimal; nil stays nil.
func tenths(v *float32) *float64 {
	if v == nil {
		return nil
	}
	c := math.Round(float64(*v)*10) / 10
	return &c
}

// EachPageText calls fn with each page's text in order, without holding
// the whole document in memory.
func EachPageText(ctx context.Context, db pg.DBTX, id uuid.UUID, fn func(number int, text string) error) error {
	rows, err := db.Query(ctx, `SELECT page_number, text FROM pages WHERE document_id = $1 ORDER BY page_number`, id)
	if err != nil {
		return fmt.Errorf("error reading text: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			n    int
			text string
		)
		if err := rows.Scan(&n, &text); err != nil {
			return fmt.Errorf("error reading text: %w", err)
		}
		if err := fn(n, text); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Outline returns the stored outline (JSON array) of a done document.
func Outline(ctx context.Context, db pg.DBTX, id uuid.UUID) (json.RawMessage, error) {
	var raw []byte
	if err := db.QueryRow(ctx, `SELECT outline FROM documents WHERE id = $1`, id).Scan(&raw); err != nil {
		return nil, fmt.Errorf("error reading outline: %w", err)
	}
	if raw == nil {
		return json.RawMessage("[]"), nil
	}
	return raw, nil
}

// Hit is one search result: a page of a document that matches.
type Hit struct {
	DocumentID uuid.UUID `json:"document_id"`
	Filename   string    `json:"filename"`
	Page       int       `json:"page"`
	Snippet    string    `json:"snippet"`
	Rank       float32   `json:"rank"`
}

// Snippet markers: control characters no page text keeps (the extractor
// drops control characters), replaced by the API after escaping.
const (
	MarkStart = "\x02"
	MarkStop  = "\x03"
)

// searchSQL is Search's query: $1 owner, $2 web-search query (through
// searchQuery), $3 limit.
const searchSQL = `
		WITH q AS (SELECT websearch_to_tsquery('simple', $2) AS query)
		SELECT d.id, d.filename, p.page_number,
			ts_headline('simple', folio_search_text(p.text), q.query, 'StartSel=` + MarkStart + `, StopSel=` + MarkStop + `, MaxWords=30, MinWords=10, MaxFragments=1'),
			ts_rank(to_tsvector('simple', folio_search_text(p.text)), q.query) AS rank
		FROM q, pages p JOIN documents d ON d.id = p.document_id
		WHERE d.owner = $1 AND d.status = 'done' AND p.generation = d.parse_generation
			AND to_tsvector('simple', folio_search_text(p.text)) @@ q.query -- pages_search_idx
		ORDER BY rank DESC, d.created_at DESC, p.page_number
		LIMIT $3`

// Search finds the owner's pages matching q (web-search syntax: words,
// "phrases", -exclusions, or), best first. Han, kana and Hangul are
// indexed character by character: a CJK word of the query matches where
// its characters follow each other (migration 00010).
func Search(ctx context.Context, db pg.DBTX, owner, q string, limit int) ([]Hit, error) {
	rows, err := db.Query(ctx, searchSQL, owner, searchQuery(q), limit)
	if err != nil {
		return nil, fmt.Errorf("error searching: %w", err)
	}
	defer rows.Close()
	hits := []Hit{}
	for rows.Next() {
		var h Hit
		if err := rows.Scan(&h.DocumentID, &h.Filename, &h.Page, &h.Snippet, &h.Rank); err != nil {
			return nil, fmt.Errorf("error searching: %w", err)
		}
		h.Snippet = unspaceSnippet(h.Snippet)
		hits = append(hits, h)
	}
	return hits, rows.Err()
}
