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

// IssueTicket makes a single-use stream ticket for owner, valid for ttl.
// Only the ticket's SHA-256 is stored.
func IssueTicket(ctx context.Context, db pg.DBTX, owner string, ttl time.Duration) (ticket string, expires time.Time, err error) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	ticket = base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(ticket))
	err = db.QueryRow(ctx, `INSERT INTO event_tickets (ticket_sha256, owner, expires_at)
		VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3)) RETURNING expires_at`,
		sum[:], owner, ttl.Seconds()).Scan(&expires)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("error issuing ticket: %w", err)
	}
	return ticket, expires.UTC(), nil
}

// RedeemTicket spends a ticket and returns its owner, or ErrTicketInvalid.
func RedeemTicket(ctx context.Context, db pg.DBTX, ticket string) (string, error) {
	sum := sha256.Sum256([]byte(ticket))
	var owner string
	err := db.QueryRow(ctx, `UPDATE event_tickets SET used_at = now()
		WHERE ticket_sha256 = $1 AND used_at IS NULL AND expires_at > now() RETURNING owner`, sum[:]).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrTicketInvalid
	}
	if err != nil {
		return "", fmt.Errorf("error redeeming ticket: %w", err)
	}
	return owner, nil
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
