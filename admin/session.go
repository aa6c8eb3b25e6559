package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/foliohq/folio/internal/pg"
)

// Sessions of admins signed in from a browser (the table admin_sessions).
// The cookie holds 32 random bytes; the table their SHA-256.

func sessionHash(sid string) []byte {
	h := sha256.Sum256([]byte(sid))
	return h[:]
}

// openSession records a new session of subject until expires and returns
// its id.
func openSession(ctx context.Context, db pg.DBTX, subject string, expires time.Time) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	sid := base64.RawURLEncoding.EncodeToString(b)
	if _, err := db.Exec(ctx, `INSERT INTO admin_sessions (id_hash, subject, expires_at) VALUES ($1, $2, $3)`,
		sessionHash(sid), subject, expires); err != nil {
		return "", fmt.Errorf("error recording an admin session: %w", err)
	}
	// Sign-ins are rare: expired sessions go with them.
	if _, err := db.Exec(ctx, `DELETE FROM admin_sessions WHERE expires_at < now()`); err != nil {
		return "", fmt.Errorf("error deleting expired admin sessions: %w", err)
	}
	return sid, nil
}

// sessionOpen reports whether sid is a session that has not expired or
// been closed.
func sessionOpen(ctx context.Context, db pg.DBTX, sid string) (bool, error) {
	if len(sid) != 43 { // 32 bytes in unpadded base64url
		return false, nil
	}
	var ok bool
	if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM admin_sessions WHERE id_hash = $1 AND expires_at > now())`,
		sessionHash(sid)).Scan(&ok); err != nil {
		return false, fmt.Errorf("error reading an admin session: %w", err)
	}
	return ok, nil
}

// closeSession ends a session (signing out).
func closeSession(ctx context.Context, db pg.DBTX, sid string) error {
	if _, err := db.Exec(ctx, `DELETE FROM admin_sessions WHERE id_hash = $1`, sessionHash(sid)); err != nil {
		return fmt.Errorf("error closing an admin session: %w", err)
	}
	return nil
}
