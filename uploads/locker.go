package uploads

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tus/tusd/v2/pkg/handler"
)

// releaseChannel is where a request waiting for an upload's lock asks the
// process holding it (any API process) to let go.
const releaseChannel = "folio_upload_release"

// lockPoll is how often a waiting request tries the lock again.
const lockPoll = 50 * time.Millisecond

// Locker is tusd's locker on Postgres session advisory locks: a lock
// holds one connection of Pool for as long as its request runs, and goes
// with that connection if the process dies. A request that finds an
// upload locked asks the holder to let go — directly on this process,
// by NOTIFY on the others (Run listens) — as tusd's own lockers do: a
// client that lost its connection and resumes must not wait for the
// server to notice. The holder stops at once, keeping what it stored,
// and its client is answered 400; the newcomer gets the lock. Asked
// twice, nobody waits past tusd's AcquireLockTimeout: 423 then.
type Locker struct {
	Pool   *pgxpool.Pool // a pool of its own: one connection per request holding a lock
	Logger *slog.Logger

	mu   sync.Mutex
	held map[string]*holder // upload id → the request holding it
}

// holder is the request holding an upload's lock. A request that reads a
// body is asked to let go only once it streams (armed): tusd sets up the
// body it would close after it took the lock, and asking before that
// would race with it. A request asked before is told when it arms; one
// that never does (HEAD, DELETE) ends soon and lets go then.
type holder struct {
	release func()
	armed   bool
	pending bool
}

// NewLock returns the lock of one upload.
func (l *Locker) NewLock(id string) (handler.Lock, error) {
	return &lock{l: l, id: id}, nil
}

type lock struct {
	l    *Locker
	id   string
	conn *pgxpool.Conn
}

func lockKey(id string) int64 {
	h := fnv.New64a()
	h.Write([]byte("folio-upload:" + id))
	return int64(h.Sum64()) //nolint:gosec // a hash: wrapping is fine
}

// Lock takes the lock, asking its holder to let go, until ctx ends
// (ErrFileLocked then).
func (k *lock) Lock(ctx context.Context, requestRelease func()) error {
	conn, err := k.l.Pool.Acquire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return handler.ErrFileLocked
		}
		return fmt.Errorf("error acquiring a lock connection: %w", err)
	}
	asked := false
	for {
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, lockKey(k.id)).Scan(&ok); err != nil {
			conn.Release()
			if ctx.Err() != nil {
				return handler.ErrFileLocked
			}
			return fmt.Errorf("error taking an upload's lock: %w", err)
		}
		if ok {
			k.conn = conn
			k.l.mu.Lock()
			if k.l.held == nil {
				k.l.held = map[string]*holder{}
			}
			k.l.held[k.id] = &holder{release: requestRelease}
			k.l.mu.Unlock()
			requestOf(ctx).arm = func() { k.l.arm(k.id) }
			return nil
		}
		if !asked {
			asked = true
			if !k.l.release(k.id) {
				_, _ = conn.Exec(ctx, `SELECT pg_notify($1, $2)`, releaseChannel, k.id)
			}
		}
		select {
		case <-ctx.Done():
			conn.Release()
			return handler.ErrFileLocked
		case <-time.After(lockPoll):
		}
	}
}

// release asks this process's holder of id to let go (now, or when it
// arms); false: none here.
func (l *Locker) release(id string) bool {
	l.mu.Lock()
	h := l.held[id]
	if h == nil {
		l.mu.Unlock()
		return false
	}
	if !h.armed {
		h.pending = true
		l.mu.Unlock()
		return true
	}
	fn := h.release
	l.mu.Unlock()
	fn()
	return true
}

// arm marks id's holder as streaming its body, and passes on a release
// asked for before.
func (l *Locker) arm(id string) {
	l.mu.Lock()
	h := l.held[id]
	var fn func()
	if h != nil {
		h.armed = true
		if h.pending {
			fn = h.release
		}
	}
	l.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// Unlock lets go.
func (k *lock) Unlock() error {
	k.l.mu.Lock()
	delete(k.l.held, k.id)
	k.l.mu.Unlock()
	conn := k.conn
	k.conn = nil
	if conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, lockKey(k.id)); err != nil {
		// The session may still hold it: close the connection, which
		// ends the session and its locks.
		_ = conn.Hijack().Close(ctx)
		return fmt.Errorf("error releasing an upload's lock: %w", err)
	}
	conn.Release()
	return nil
}

// Run listens for release requests from other processes until ctx ends.
func (l *Locker) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := l.listen(ctx); err != nil && ctx.Err() == nil && l.Logger != nil {
			l.Logger.Warn("upload locks: listening again", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

func (l *Locker) listen(ctx context.Context) error {
	conn, err := l.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A LISTENing session must not go back to the pool.
	c := conn.Hijack()
	defer c.Close(context.Background()) //nolint:errcheck // closing is all that is left
	if _, err := c.Exec(ctx, `LISTEN `+pgx.Identifier{releaseChannel}.Sanitize()); err != nil {
		return err
	}
	for {
		n, err := c.WaitForNotification(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
		l.release(n.Payload)
	}
}
