package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/internal/pg"
)

// Types are the event types webhooks carry; an endpoint subscribes to
// some or (none named) all of them. Progress events are for people
// watching a stream, not for an application's backend.
var Types = []string{
	events.DocumentQueued, events.ScanDone, events.DocumentQuarantined, events.ParseStarted, events.ParseRequeued,
	events.DocumentDone, events.DocumentFailed, events.DocumentCanceled, events.DocumentDeleted,
	events.OCRDone, events.DocumentUpdated,
}

// Endpoint is where an application's backend hears of documents.
type Endpoint struct {
	ID          uuid.UUID `json:"id"`
	URL         string    `json:"url"`
	Description string    `json:"description,omitempty"`
	// EventTypes: the types sent (empty: all of Types).
	EventTypes []string `json:"event_types"`
	// Owners: only these owners' documents (empty: every owner's).
	Owners []string `json:"owners"`
	// Secret signs every message; PreviousSecret too until
	// PreviousExpiresAt, after a rotation. Shown once, when made.
	Secret            string     `json:"secret,omitempty"`
	PreviousSecret    string     `json:"-"`
	PreviousExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	// Cursor is the pos of the last event the fan-out handed it.
	Cursor         int64      `json:"-"`
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
	FailingSince   *time.Time `json:"failing_since,omitempty"`
	PausedUntil    *time.Time `json:"paused_until,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// Why an endpoint was disabled.
const (
	DisabledByOperator = "operator"
	DisabledGone       = "gone"    // it answered 410 Gone
	DisabledFailing    = "failing" // every attempt failed for FOLIO_WEBHOOK_DISABLE_AFTER
)

// Wants reports whether the endpoint is sent an event of this type and
// owner.
func (e *Endpoint) Wants(typ, owner string) bool {
	if len(e.EventTypes) == 0 {
		if !slices.Contains(Types, typ) {
			return false
		}
	} else if !slices.Contains(e.EventTypes, typ) {
		return false
	}
	return len(e.Owners) == 0 || slices.Contains(e.Owners, owner)
}

// secrets are the secrets that sign now.
func (e *Endpoint) secrets(now time.Time) []string {
	s := []string{e.Secret}
	if e.PreviousSecret != "" && e.PreviousExpiresAt != nil && now.Before(*e.PreviousExpiresAt) {
		s = append(s, e.PreviousSecret)
	}
	return s
}

// Errors of endpoint management.
var (
	ErrNotFound = errors.New("no such webhook endpoint")
)

// InputError is an endpoint setting that is not acceptable.
type InputError struct{ Reason string }

func (e *InputError) Error() string { return e.Reason }

// Input is what an operator says of an endpoint (nil: unchanged, on an
// update).
type Input struct {
	URL         *string
	Description *string
	EventTypes  *[]string
	Owners      *[]string
}

// check validates the input and, through guard, the URL's address (a
// *RefusedError).
func (in Input) check(ctx context.Context, guard *Guard) error {
	if in.URL != nil {
		if err := CheckURL(ctx, guard, *in.URL); err != nil {
			return err
		}
	}
	if in.EventTypes != nil {
		for _, t := range *in.EventTypes {
			if !slices.Contains(Types, t) {
				return &InputError{Reason: fmt.Sprintf("event type %q is not one webhooks carry: %s", t, strings.Join(Types, ", "))}
			}
		}
	}
	if in.Owners != nil {
		for _, o := range *in.Owners {
			if o == "" || len(o) > 255 {
				return &InputError{Reason: "an owner is 1 to 255 bytes"}
			}
		}
	}
	if in.Description != nil && len(*in.Description) > 1000 {
		return &InputError{Reason: "the description is at most 1000 bytes"}
	}
	return nil
}

// CheckURL refuses a URL that is not absolute http(s), is longer than 2
// KiB, carries a fragment, or whose host is (or resolves to) an address
// guard refuses.
func CheckURL(ctx context.Context, guard *Guard, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return &InputError{Reason: fmt.Sprintf("%q is not an absolute http or https URL", raw)}
	}
	if len(raw) > 2048 {
		return &InputError{Reason: "the URL is longer than 2048 bytes"}
	}
	if u.Fragment != "" {
		return &InputError{Reason: "the URL has a fragment (#...), which is never sent"}
	}
	if _, err := guard.Addrs(ctx, u.Hostname()); err != nil {
		var refused *RefusedError
		if errors.As(err, &refused) {
			return err
		}
		return &InputError{Reason: fmt.Sprintf("the host %s cannot be resolved: %v", u.Hostname(), err)}
	}
	return nil
}

const endpointColumns = `id, url, description, event_types, owners, secret, coalesce(previous_secret, ''), previous_expires_at,
	cursor, disabled_at, coalesce(disabled_reason, ''), failing_since, paused_until, created_at, updated_at`

func scanEndpoint(row pgx.Row) (*Endpoint, error) {
	var e Endpoint
	err := row.Scan(&e.ID, &e.URL, &e.Description, &e.EventTypes, &e.Owners, &e.Secret, &e.PreviousSecret, &e.PreviousExpiresAt,
		&e.Cursor, &e.DisabledAt, &e.DisabledReason, &e.FailingSince, &e.PausedUntil, &e.CreatedAt, &e.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &e, err
}

// queryEndpoints returns the endpoints a query of endpointColumns finds.
func queryEndpoints(ctx context.Context, db pg.DBTX, sql string, args ...any) ([]*Endpoint, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Endpoint, error) { return scanEndpoint(r) })
}

// change runs an UPDATE … RETURNING endpointColumns of one endpoint
// (ErrNotFound: none); the secret is left out unless keepSecret.
func change(ctx context.Context, db pg.DBTX, what string, keepSecret bool, sql string, args ...any) (*Endpoint, error) {
	e, err := scanEndpoint(db.QueryRow(ctx, sql, args...))
	if errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("error %s a webhook endpoint: %w", what, err)
	}
	if !keepSecret {
		e.Secret = ""
	}
	return e, nil
}

// Add registers an endpoint with a new secret (returned in it: shown
// once). It hears of events from now on: its cursor starts at the log's
// head.
func Add(ctx context.Context, db pg.DBTX, guard *Guard, in Input) (*Endpoint, error) {
	if in.URL == nil {
		return nil, &InputError{Reason: "an endpoint needs a URL"}
	}
	if err := in.check(ctx, guard); err != nil {
		return nil, err
	}
	head, err := events.Head(ctx, db)
	if err != nil {
		return nil, err
	}
	e, err := scanEndpoint(db.QueryRow(ctx, `INSERT INTO webhook_endpoints (id, url, description, event_types, owners, secret, cursor)
		VALUES ($1, $2, coalesce($3, ''), coalesce($4, '{}'::text[]), coalesce($5, '{}'::text[]), $6, $7) RETURNING `+endpointColumns,
		uuid.Must(uuid.NewV7()), *in.URL, in.Description, in.EventTypes, in.Owners, NewSecret(), head))
	if err != nil {
		return nil, fmt.Errorf("error adding a webhook endpoint: %w", err)
	}
	return e, nil
}

// Get returns an endpoint, secret included.
func Get(ctx context.Context, db pg.DBTX, id uuid.UUID) (*Endpoint, error) {
	return scanEndpoint(db.QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = $1`, id))
}

// List returns every endpoint, oldest first, without secrets.
func List(ctx context.Context, db pg.DBTX) ([]*Endpoint, error) {
	out, err := queryEndpoints(ctx, db, `SELECT `+endpointColumns+` FROM webhook_endpoints ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("error listing webhook endpoints: %w", err)
	}
	for _, e := range out {
		e.Secret = ""
	}
	if out == nil {
		out = []*Endpoint{}
	}
	return out, nil
}

// Update changes an endpoint's settings (a nil field is left).
func Update(ctx context.Context, db pg.DBTX, guard *Guard, id uuid.UUID, in Input) (*Endpoint, error) {
	if err := in.check(ctx, guard); err != nil {
		return nil, err
	}
	return change(ctx, db, "updating", false, `UPDATE webhook_endpoints SET url = coalesce($2, url),
		description = coalesce($3, description), event_types = coalesce($4, event_types), owners = coalesce($5, owners),
		updated_at = now() WHERE id = $1 RETURNING `+endpointColumns, id, in.URL, in.Description, in.EventTypes, in.Owners)
}

// RotateSecret gives the endpoint a new secret (returned in it) and keeps
// the current one signing beside it for keep: receivers have that long
// to take the new one.
func RotateSecret(ctx context.Context, db pg.DBTX, id uuid.UUID, keep time.Duration) (*Endpoint, error) {
	return change(ctx, db, "rotating the secret of", true, `UPDATE webhook_endpoints SET previous_secret = secret,
		previous_expires_at = now() + make_interval(secs => $3), secret = $2, updated_at = now()
		WHERE id = $1 RETURNING `+endpointColumns, id, NewSecret(), keep.Seconds())
}

// Disable stops deliveries to an endpoint (its cursor stays: enabling it
// delivers what happened meanwhile).
func Disable(ctx context.Context, db pg.DBTX, id uuid.UUID, reason string) (*Endpoint, error) {
	return change(ctx, db, "disabling", false, `UPDATE webhook_endpoints SET disabled_at = coalesce(disabled_at, now()),
		disabled_reason = $2, updated_at = now() WHERE id = $1 RETURNING `+endpointColumns, id, reason)
}

// Enable starts deliveries again, from where the endpoint was (or, with
// skipBacklog, from the log's head: what happened while it was disabled
// is not sent).
func Enable(ctx context.Context, db pg.DBTX, id uuid.UUID, skipBacklog bool) (*Endpoint, error) {
	head := int64(-1)
	if skipBacklog {
		var err error
		if head, err = events.Head(ctx, db); err != nil {
			return nil, err
		}
	}
	return change(ctx, db, "enabling", false, `UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL,
		failing_since = NULL, paused_until = NULL, cursor = CASE WHEN $2 >= 0 THEN greatest(cursor, $2) ELSE cursor END,
		updated_at = now() WHERE id = $1 RETURNING `+endpointColumns, id, head)
}

// Remove deletes an endpoint and its deliveries.
func Remove(ctx context.Context, db pg.DBTX, id uuid.UUID) error {
	tag, err := db.Exec(ctx, `DELETE FROM webhook_endpoints WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("error removing a webhook endpoint: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}
