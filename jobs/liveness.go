package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/foliohq/folio/events"
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
}

// Run heartbeats and rescues until ctx ends, then removes its heartbeat
// (a drained worker has handed its jobs back already).
func (l *Liveness) Run(ctx context.Context) {
	beat := time.NewTicker(HeartbeatInterval)
	defer beat.Stop()
	rescue := time.NewTicker(RescueInterval)
	defer rescue.Stop()
	if err := l.Heartbeat(ctx); err != nil {
		l.Logger.Warn("heartbeat", "err", err)
	}
	for {
		select {
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, _ = l.Pool.Exec(cctx, `DELETE FROM worker_heartbeats WHERE client_id = $1`, l.ClientID)
			cancel()
			return
		case <-beat.C:
			if err := l.Heartbeat(ctx); err != nil {
				l.Logger.Warn("heartbeat", "err", err)
			}
		case <-rescue.C:
			n, err := Rescue(ctx, l.Pool, DeadAfter)
			if err != nil {
				l.Logger.Warn("rescuing jobs of dead workers", "err", err)
			} else if n > 0 {
				l.Logger.Info("handed back the running jobs of dead workers", "jobs", n)
			}
		}
	}
}

// Heartbeat records that the client is alive.
func (l *Liveness) Heartbeat(ctx context.Context) error {
	_, err := l.Pool.Exec(ctx, `INSERT INTO worker_heartbeats (client_id, last_seen) VALUES ($1, now())
		ON CONFLICT (client_id) DO UPDATE SET last_seen = now()`, l.ClientID)
	return err
}

// Rescue hands back to the queue every running job whose client has not
// heartbeated for deadAfter (or never did); a parse job's document is
// requeued too (parse.requeued, worker_lost). Safe to run from every
// worker at once.
func Rescue(ctx context.Context, pool *pgxpool.Pool, deadAfter time.Duration) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			UPDATE river_job j SET state = 'available', scheduled_at = now(),
				errors = array_append(coalesce(j.errors, '{}'), jsonb_build_object(
					'at', now(), 'attempt', j.attempt, 'error', 'worker lost: no heartbeat from ' || j.attempted_by[array_length(j.attempted_by, 1)], 'trace', ''))
			WHERE j.id IN (
				SELECT j2.id FROM river_job j2
				WHERE j2.state = 'running'
				AND NOT EXISTS (SELECT 1 FROM worker_heartbeats h
					WHERE h.client_id = j2.attempted_by[array_length(j2.attempted_by, 1)]
					AND h.last_seen > now() - make_interval(secs => $1))
				FOR UPDATE SKIP LOCKED)
			RETURNING j.id, coalesce(j.args->>'document_id', '')`, deadAfter.Seconds())
		if err != nil {
			return fmt.Errorf("error rescuing jobs: %w", err)
		}
		type rescued struct {
			job int64
			doc string
		}
		var list []rescued
		for rows.Next() {
			var r rescued
			if err := rows.Scan(&r.job, &r.doc); err != nil {
				rows.Close()
				return err
			}
			list = append(list, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range list {
			if r.doc == "" {
				continue // not a parse job: back in the queue is all it needs
			}
			tag, err := tx.Exec(ctx, `UPDATE documents SET status = 'queued', parse_stage = NULL, updated_at = now()
				WHERE id = $1 AND parse_generation = $2 AND status = 'parsing'`, r.doc, r.job)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 1 {
				if _, err := events.Append(ctx, tx, uuidMust(r.doc), events.ParseRequeued, map[string]any{"why": "worker_lost"}); err != nil {
					return err
				}
			}
		}
		n = len(list)
		_, err = tx.Exec(ctx, `DELETE FROM worker_heartbeats WHERE last_seen < now() - interval '1 hour'`)
		return err
	})
	return n, err
}

func uuidMust(s string) uuid.UUID { return uuid.MustParse(s) }
