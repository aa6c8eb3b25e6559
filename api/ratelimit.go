package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/foliohq/folio/internal/ratelimit"
)

// limit counts one action of owner against limit per window, and returns
// the problem to answer when it is over (nil: go ahead; limit 0: no limit).
func (s *Server) limit(ctx context.Context, owner, action string, limit int, window time.Duration, what string) *Problem {
	if limit <= 0 {
		return nil
	}
	retry, err := ratelimit.Allow(ctx, s.Pool, owner, action, limit, window)
	if err != nil {
		s.Logger.Error("rate limit", "action", action, "err", err)
		return errDatabase
	}
	if retry == 0 {
		return nil
	}
	p := problem(http.StatusTooManyRequests, "rate_limited",
		fmt.Sprintf("At most %d %s per %s; try again later.", limit, what, window))
	p.retryAfter = retry
	return p
}
