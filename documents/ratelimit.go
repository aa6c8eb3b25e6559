package documents

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/foliohq/folio/internal/pg"
)

// AllowUpload counts an upload attempt against the owner's fixed window of
// length window and returns how long to wait when more than limit have
// been counted in it (0: go ahead). The counters live in Postgres, so every
// API instance enforces one limit.
func AllowUpload(ctx context.Context, db pg.DBTX, owner string, limit int, window time.Duration) (time.Duration, error) {
	secs := window.Seconds()
	var (
		count     int
		remaining float64
	)
	err := db.QueryRow(ctx, `
		INSERT INTO upload_windows (owner, window_start, uploads)
		VALUES ($1, to_timestamp(floor(extract(epoch FROM clock_timestamp()) / $2) * $2), 1)
		ON CONFLICT (owner, window_start) DO UPDATE SET uploads = upload_windows.uploads + 1
		RETURNING uploads, extract(epoch FROM window_start + make_interval(secs => $2) - clock_timestamp())::float8`,
		owner, secs).Scan(&count, &remaining)
	if err != nil {
		return 0, fmt.Errorf("error counting uploads: %w", err)
	}
	if count == 1 {
		// A new window: drop this owner's old ones.
		if _, err := db.Exec(ctx, `DELETE FROM upload_windows WHERE owner = $1
			AND window_start < clock_timestamp() - make_interval(secs => $2)`, owner, secs); err != nil {
			return 0, fmt.Errorf("error pruning upload windows: %w", err)
		}
	}
	if count <= limit {
		return 0, nil
	}
	return time.Duration(math.Max(remaining, 1) * float64(time.Second)), nil
}
