// Package ratelimit counts what each owner asks for in fixed windows kept
// in Postgres (the table rate_windows, which it owns), so that every API
// instance enforces one limit.
package ratelimit

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/foliohq/folio/internal/pg"
)

// Actions that are limited.
const (
	Upload  = "upload"
	Reparse = "reparse"
	Ticket  = "ticket"
)

// Allow counts one action of owner against its fixed window of length
// window and returns how long to wait when more than limit have been
// counted in it (0: go ahead).
func Allow(ctx context.Context, db pg.DBTX, owner, action string, limit int, window time.Duration) (time.Duration, error) {
	secs := window.Seconds()
	var (
		hits      int
		remaining float64
	)
	err := db.QueryRow(ctx, `
		INSERT INTO rate_windows (owner, action, window_start, hits)
		VALUES ($1, $2, to_timestamp(floor(extract(epoch FROM clock_timestamp()) / $3) * $3), 1)
		ON CONFLICT (owner, action, window_start) DO UPDATE SET hits = rate_windows.hits + 1
		RETURNING hits, extract(epoch FROM window_start + make_interval(secs => $3) - clock_timestamp())::float8`,
		owner, action, secs).Scan(&hits, &remaining)
	if err != nil {
		return 0, fmt.Errorf("error counting %s: %w", action, err)
	}
	if hits == 1 {
		// A new window: drop this owner's old ones for the action.
		if _, err := db.Exec(ctx, `DELETE FROM rate_windows WHERE owner = $1 AND action = $2
			AND window_start < clock_timestamp() - make_interval(secs => $3)`, owner, action, secs); err != nil {
			return 0, fmt.Errorf("error pruning %s windows: %w", action, err)
		}
	}
	if hits <= limit {
		return 0, nil
	}
	return time.Duration(math.Max(remaining, 1) * float64(time.Second)), nil
}
