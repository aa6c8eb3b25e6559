package events

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/foliohq/folio/internal/pg"
)

// ErrTicketInvalid is a stream ticket that is unknown, used or expired.
var ErrTicketInvalid = errors.New("ticket unknown, used or expired")

// ticketKeep is how long a spent or expired ticket's row is kept.
const ticketKeep = time.Hour

// IssueTicket makes a single-use stream ticket for owner, valid for ttl,
// asked for with credentials that expire at credentialExpires (zero:
// unknown): a stream opened with the ticket ends then. Only the ticket's
// SHA-256 is stored.
func IssueTicket(ctx context.Context, db pg.DBTX, owner string, ttl time.Duration, credentialExpires time.Time) (ticket string, expires time.Time, err error) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	ticket = base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(ticket))
	var credExp *time.Time
	if !credentialExpires.IsZero() {
		credExp = &credentialExpires
	}
	err = db.QueryRow(ctx, `INSERT INTO event_tickets (ticket_sha256, owner, expires_at, credential_expires_at)
		VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3), $4) RETURNING expires_at`,
		sum[:], owner, ttl.Seconds(), credExp).Scan(&expires)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("error issuing ticket: %w", err)
	}
	return ticket, expires.UTC(), nil
}

// RedeemTicket spends a ticket and returns its owner and when the
// credentials it was issued for expire (zero: unknown), or
// ErrTicketInvalid.
func RedeemTicket(ctx context.Context, db pg.DBTX, ticket string) (string, time.Time, error) {
	sum := sha256.Sum256([]byte(ticket))
	var (
		owner   string
		credExp *time.Time
	)
	err := db.QueryRow(ctx, `UPDATE event_tickets SET used_at = now()
		WHERE ticket_sha256 = $1 AND used_at IS NULL AND expires_at > now()
		RETURNING owner, credential_expires_at`, sum[:]).Scan(&owner, &credExp)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, ErrTicketInvalid
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("error redeeming ticket: %w", err)
	}
	if credExp == nil {
		return owner, time.Time{}, nil
	}
	return owner, *credExp, nil
}

// PruneTickets deletes tickets that expired over an hour ago, and reports
// how many.
func PruneTickets(ctx context.Context, db pg.DBTX) (int64, error) {
	tag, err := db.Exec(ctx, `DELETE FROM event_tickets WHERE expires_at < now() - make_interval(secs => $1)`, ticketKeep.Seconds())
	if err != nil {
		return 0, fmt.Errorf("error pruning tickets: %w", err)
	}
	return tag.RowsAffected(), nil
}
