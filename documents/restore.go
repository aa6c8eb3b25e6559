package documents

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/foliohq/folio/internal/pg"
)

// Erase deletes any owner's document as Delete does (its parse canceled,
// document.deleted announced, the row and its pages gone, in one
// transaction): how a restore re-applies a deletion made after the time
// it restored to. ErrNotFound: it is not there (the usual case).
func Erase(ctx context.Context, pool pg.TxDB, q Queue, id uuid.UUID) (*Document, error) {
	var doc *Document
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		if doc, err = scan(tx.QueryRow(ctx, `SELECT `+columns+` FROM documents WHERE id = $1 FOR UPDATE`, id)); err != nil {
			return err
		}
		return deleteTx(ctx, tx, q, doc)
	})
	if err != nil {
		return nil, err
	}
	return doc, nil
}

// ForgetImages deletes the page image rows whose object is not among
// stored (their image is drawn again when asked for, as if never drawn),
// and returns how many. A restore calls it when the bucket may have lost
// objects the database names.
func ForgetImages(ctx context.Context, db pg.DBTX, stored map[string]bool) (int, error) {
	forgotten := 0
	after := ""
	for {
		rows, err := db.Query(ctx, `SELECT s3_key FROM page_images WHERE s3_key IS NOT NULL AND s3_key COLLATE "C" > $1
			ORDER BY s3_key COLLATE "C" LIMIT 1000`, after)
		if err != nil {
			return forgotten, fmt.Errorf("error listing page images: %w", err)
		}
		keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return forgotten, fmt.Errorf("error listing page images: %w", err)
		}
		if len(keys) == 0 {
			return forgotten, nil
		}
		var missing []string
		for _, k := range keys {
			if !stored[k] {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			tag, err := db.Exec(ctx, `DELETE FROM page_images WHERE s3_key = ANY($1)`, missing)
			if err != nil {
				return forgotten, fmt.Errorf("error forgetting page images: %w", err)
			}
			forgotten += int(tag.RowsAffected())
		}
		after = keys[len(keys)-1]
	}
}

// MissingOriginals returns the documents (up to limit) whose original is
// not among stored.
func MissingOriginals(ctx context.Context, db pg.DBTX, stored map[string]bool, limit int) ([]Owned, error) {
	var missing []Owned
	after := uuid.UUID{}
	for {
		docs, err := listWhere(ctx, db, `id > $2 ORDER BY id LIMIT $1`, 1000, after)
		if err != nil || len(docs) == 0 {
			return missing, err
		}
		for _, d := range docs {
			if !stored[d.S3Key] && len(missing) < limit {
				missing = append(missing, Owned{Document: d, Owner: d.Owner})
			}
		}
		after = docs[len(docs)-1].ID
	}
}

// StoredKeys returns the key of every object the database names: each
// document's original and each page image.
func StoredKeys(ctx context.Context, db pg.DBTX) (map[string]bool, error) {
	rows, err := db.Query(ctx, `SELECT s3_key FROM documents UNION ALL SELECT s3_key FROM page_images WHERE s3_key IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("error listing stored objects: %w", err)
	}
	keys := map[string]bool{}
	var key string
	_, err = pgx.ForEachRow(rows, []any{&key}, func() error {
		keys[key] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("error listing stored objects: %w", err)
	}
	return keys, nil
}
