package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Crash recovery. River rescues a job stuck in `running` only after
// RescueStuckJobsAfter (an hour by default, and it must exceed the longest
// job). A worker killed with -9, OOM-killed or lost with its node would
// leave its parses waiting that long. So every worker process heartbeats,
// and every worker hands back the running jobs of clients that stopped
// heartbeating: a crashed worker's parse runs again within about
// DeadAfter + RescueInterval, and a healthy long parse is never touched.
const (
	HeartbeatInterval = 3 * time.Second
	// DeadAfter is how long a client may be quiet before its running jobs
	// are handed back. Well above HeartbeatInterval: a busy database must
	// not make a live worker look dead (that would run a job twice).
	DeadAfter      = 15 * time.Second
	RescueInterval = 5 * time.Second
)

// Liveness heartbeats for one River client and rescues the jobs of dead
// ones.
type Liveness struct {
	Pool     *pgxpool.Pool
	ClientID string
	Logger   *slog.Logger
	// Claims, when set, are published with each heartbeat (nil: this
	// worker claims every job it runs).
	Claims *Claims
}

// Run heartbeats and rescues until ctx ends, then removes its heartbeat
// (a drained worker has handed its jobs back already). Its owner runs it
// with startstop; it returns nil.
func (l *Liveness) Run(ctx context.Context) error {
	beat := time.NewTicker(HeartbeatInterval)
	defer beat.Stop()
	rescue := time.NewTicker(RescueInterval)
	defer rescue.Stop()
	if err := l.Heartbeat(ctx); err != nil {
		l.Logger.Warn("heartbeat", "err", err)
	}
	// Jobs canceled while no worker ran: as far back as River keeps them.
	l.endCanceled(ctx, canceledRetention)
	for {
		select {
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, _ = l.Pool.Exec(cctx, `DELETE FROM worker_heartbeats WHERE client_id = $1`, l.ClientID)
			cancel()
			return nil
		case <-beat.C:
			if err := l.Heartbeat(ctx); err != nil {
				l.Logger.Warn("heartbeat", "err", err)
			}
		case <-rescue.C:
			n, err := Rescue(ctx, l.Pool, DeadAfter)
			if err != nil {
				l.Logger.Warn("rescuing lost jobs", "err", err)
			} else if n > 0 {
				l.Logger.Info("handed back running jobs whose worker died or no longer works them", "jobs", n)
			}
			l.endCanceled(ctx, CanceledWindow)
		}
	}
}

// Heartbeat records that the client is alive, and the jobs it claims.
func (l *Liveness) Heartbeat(ctx context.Context) error {
	var claimed []int64 // NULL without Claims
	if l.Claims != nil {
		claimed = l.Claims.IDs()
	}
	_, err := l.Pool.Exec(ctx, `INSERT INTO worker_heartbeats (client_id, last_seen, claimed) VALUES ($1, now(), $2)
		ON CONFLICT (client_id) DO UPDATE SET last_seen = now(), claimed = EXCLUDED.claimed`, l.ClientID, claimed)
	return err
}

// canceledRetention is how long River keeps cancelled jobs (its
// CancelledJobRetentionPeriod's default, which Folio keeps).
const canceledRetention = 24 * time.Hour

func (l *Liveness) endCanceled(ctx context.Context, within time.Duration) {
	n, err := EndCanceled(ctx, l.Pool, within)
	if err != nil && ctx.Err() == nil {
		l.Logger.Warn("ending documents whose jobs were canceled", "err", err)
	} else if n > 0 {
		l.Logger.Info("documents whose parse an operator canceled are failed (canceled)", "documents", n)
	}
}
