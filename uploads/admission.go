package uploads

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/pg"
	"github.com/foliohq/folio/internal/ratelimit"
)

// Admission is the one rule every upload path applies (one request, tus,
// direct to S3) before it stores a byte: the owner's upload rate, the
// size, and the room left in the owner's quota, which counts the
// documents and what unfinished uploads hold or declared. The API maps
// each of its errors to one problem.
type Admission struct {
	// MaxSize is the largest upload (FOLIO_MAX_UPLOAD_BYTES).
	MaxSize int64
	// Quota is an owner's byte quota (FOLIO_OWNER_QUOTA_BYTES).
	Quota int64
	// Scan: new documents are scanned for malware before their parse
	// (FOLIO_SCAN=clamd).
	Scan bool
	// RateLimit uploads per RateWindow per owner; 0: no limit.
	RateLimit  int
	RateWindow time.Duration
}

// Intake is how a document committed under these rules is taken in.
func (a *Admission) Intake() documents.Intake {
	return documents.Intake{QuotaBytes: a.Quota, Scan: a.Scan}
}

// Admission's errors.
var (
	// ErrTooLarge: the upload is (or declared) more than MaxSize.
	ErrTooLarge = errors.New("uploads: larger than the upload limit")
	// ErrOverQuota: the upload does not fit the room left in the quota.
	ErrOverQuota = errors.New("uploads: over the owner's quota")
)

// RateLimitedError is the owner having started too many uploads in the window.
type RateLimitedError struct {
	Limit      int
	Window     time.Duration
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("uploads: more than %d uploads per %s", e.Limit, e.Window)
}

// Admit counts one upload of owner against the rate limit and checks its
// size (negative: not known yet) against the limit and the room left in
// the quota, which it returns. rate false skips the count (a request that
// goes on with an upload already admitted).
func (a *Admission) Admit(ctx context.Context, db pg.DBTX, owner string, size int64, rate bool) (room int64, err error) {
	if size > a.MaxSize {
		return 0, ErrTooLarge
	}
	if rate && a.RateLimit > 0 {
		wait, err := ratelimit.Allow(ctx, db, owner, ratelimit.Upload, a.RateLimit, a.RateWindow)
		if err != nil {
			return 0, err
		}
		if wait > 0 {
			return 0, &RateLimitedError{Limit: a.RateLimit, Window: a.RateWindow, RetryAfter: wait}
		}
	}
	room, err = a.Room(ctx, db, owner)
	if err != nil {
		return 0, err
	}
	if room <= 0 || size > room {
		return room, ErrOverQuota
	}
	return room, nil
}

// Room is what owner may still store: the quota less the documents and
// what unfinished uploads hold or declared.
func (a *Admission) Room(ctx context.Context, db pg.DBTX, owner string) (int64, error) {
	usage, err := documents.UsageBytes(ctx, db, owner)
	if err != nil {
		return 0, err
	}
	pending, err := PendingBytes(ctx, db, owner)
	if err != nil {
		return 0, err
	}
	return a.Quota - usage - pending, nil
}
