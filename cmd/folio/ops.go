package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/foliohq/folio/backup"
	"github.com/foliohq/folio/cmd/internal/app"
	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/config"
	"github.com/foliohq/folio/jobs"
	"github.com/foliohq/folio/storage"
)

// opsEnv is what the operator commands share: the database, and an
// insert-only River client on it.
type opsEnv struct {
	ctx    context.Context
	pool   *pgxpool.Pool
	river  *river.Client[pgx.Tx]
	stdout io.Writer
	json   bool
	// scan: uploads are scanned (FOLIO_SCAN=clamd): a reparse of a
	// document never scanned scans it first.
	scan bool
	cfg  *config.Config
}

// store opens the bucket (FOLIO_S3_BUCKET and the AWS settings).
func (env *opsEnv) store() (*storage.Store, error) {
	client, err := storage.NewClient(env.ctx, storage.ClientOptions{PathStyle: env.cfg.S3PathStyle})
	if err != nil {
		return nil, err
	}
	return storage.New(client, env.cfg.S3Bucket, storage.Options{}), nil
}

// withOps parses flags, connects to DATABASE_URL and runs fn.
func withOps(name string, fs *flag.FlagSet, args []string, stdout, stderr io.Writer, fn func(env *opsEnv, args []string) error) int {
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	fs.SetOutput(stderr)
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return app.ExitUsage
	}
	cfg, err := config.Load()
	if err == nil {
		err = cfg.RequireDatabase()
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return app.ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return app.ExitFailed
	}
	defer pool.Close()
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: app.DiscardLogger()})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return app.ExitFailed
	}
	env := &opsEnv{ctx: ctx, pool: pool, river: client, stdout: stdout, json: *asJSON, scan: cfg.Scan == "clamd", cfg: cfg}
	if err := fn(env, rest); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		var u usageError
		if errors.As(err, &u) {
			return app.ExitUsage
		}
		return app.ExitFailed
	}
	return app.ExitOK
}

// parseInterleaved parses flags wherever they are among the arguments
// (folio webhooks add URL --types ...), and returns the others in order.
// After "--", everything is an argument.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		before := len(args)
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(rest) < before && args[before-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// usageError is a mistake in the command line.
type usageError string

func (u usageError) Error() string { return string(u) }

func (env *opsEnv) printJSON(v any) error {
	enc := json.NewEncoder(env.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// queuesCmd: folio queues [pause|resume NAME].
func queuesCmd(args []string, stdout, stderr io.Writer) int {
	sub := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("folio queues "+sub, flag.ContinueOnError)
	return withOps("folio queues", fs, args, stdout, stderr, func(env *opsEnv, rest []string) error {
		switch sub {
		case "list":
			return env.queues()
		case "pause", "resume":
			if len(rest) != 1 {
				return usageError("name one queue: folio queues " + sub + " NAME (folio queues lists them)")
			}
			var err error
			if sub == "pause" {
				err = env.river.QueuePause(env.ctx, rest[0], nil)
			} else {
				err = env.river.QueueResume(env.ctx, rest[0], nil)
			}
			if errors.Is(err, rivertype.ErrNotFound) {
				return fmt.Errorf("no queue %q (folio queues lists them)", rest[0])
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "queue %s %sd: workers %s its jobs within seconds\n", rest[0], sub,
				map[string]string{"pause": "stop starting", "resume": "start"}[sub])
			return nil
		}
		return usageError("unknown subcommand " + sub + ": folio queues [pause|resume NAME]")
	})
}

// queueRow is one queue as `folio queues` shows it.
type queueRow struct {
	jobs.QueueStat
	Paused bool `json:"paused"`
}

func (env *opsEnv) queues() error {
	stats, err := jobs.QueueStats(env.ctx, env.pool)
	if err != nil {
		return err
	}
	byName := map[string]*queueRow{}
	var rows []*queueRow
	for _, s := range stats {
		r := &queueRow{QueueStat: s}
		byName[s.Queue] = r
		rows = append(rows, r)
	}
	list, err := env.river.QueueList(env.ctx, river.NewQueueListParams().First(1000))
	if err != nil {
		return err
	}
	for _, q := range list.Queues {
		r, ok := byName[q.Name]
		if !ok {
			r = &queueRow{QueueStat: jobs.QueueStat{Queue: q.Name}}
			rows = append(rows, r)
		}
		r.Paused = q.PausedAt != nil
	}
	if env.json {
		return env.printJSON(rows)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUE\tAVAILABLE\tRUNNING\tRETRYABLE\tSCHEDULED\tOLDEST WAITING\tPAUSED")
	for _, r := range rows {
		oldest := "-"
		if r.OldestAvailable > 0 {
			oldest = r.OldestAvailable.Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%v\n", r.Queue, r.Available, r.Running, r.Retryable, r.Scheduled, oldest, r.Paused)
	}
	return tw.Flush()
}

// jobsCmd: folio jobs list|retry|cancel.
func jobsCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "usage: folio jobs list [--state S] [--since D] [--kind K] [--queue Q] [--limit N] | retry ID... | cancel ID...")
		return app.ExitUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("folio jobs "+sub, flag.ContinueOnError)
	state := fs.String("state", "failed", "list: a River state (available, running, retryable, scheduled, completed, cancelled, discarded, pending) or failed (retryable, discarded, cancelled)")
	since := fs.Duration("since", 0, "list: only jobs whose last change (finished, attempted or created) is this recent (0: any)")
	kind := fs.String("kind", "", "list: only this kind (parse, sweep_uploads, prune_events)")
	queue := fs.String("queue", "", "list: only this queue")
	limit := fs.Int("limit", 100, "list: at most this many, newest first")
	return withOps("folio jobs", fs, args, stdout, stderr, func(env *opsEnv, rest []string) error {
		switch sub {
		case "list":
			states, err := jobStates(*state)
			if err != nil {
				return err
			}
			params := river.NewJobListParams().States(states...).First(*limit).OrderBy(river.JobListOrderByID, river.SortOrderDesc)
			if *kind != "" {
				params = params.Kinds(*kind)
			}
			if *queue != "" {
				params = params.Queues(*queue)
			}
			if *since > 0 {
				params = params.Where("coalesce(finalized_at, attempted_at, created_at) >= @since",
					river.NamedArgs{"since": time.Now().Add(-*since)})
			}
			res, err := env.river.JobList(env.ctx, params)
			if err != nil {
				return err
			}
			return env.printJobs(res.Jobs)
		case "retry", "cancel":
			if len(rest) == 0 {
				return usageError("name the jobs: folio jobs " + sub + " ID...")
			}
			var done []*rivertype.JobRow
			for _, a := range rest {
				id, err := strconv.ParseInt(a, 10, 64)
				if err != nil {
					return usageError(fmt.Sprintf("%q is not a job id", a))
				}
				var row *rivertype.JobRow
				if sub == "retry" {
					row, err = env.river.JobRetry(env.ctx, id)
				} else {
					// Through jobs: a canceled parse fails its document
					// (canceled), which its owner can reparse.
					row, err = jobs.Cancel(env.ctx, env.pool, env.river, id)
				}
				if errors.Is(err, rivertype.ErrNotFound) {
					return fmt.Errorf("no job %d", id)
				}
				if err != nil {
					return fmt.Errorf("job %d: %w", id, err)
				}
				done = append(done, row)
			}
			return env.printJobs(done)
		}
		return usageError("unknown subcommand " + sub + ": folio jobs list|retry|cancel")
	})
}

func jobStates(s string) ([]rivertype.JobState, error) {
	if s == "failed" {
		return []rivertype.JobState{rivertype.JobStateRetryable, rivertype.JobStateDiscarded, rivertype.JobStateCancelled}, nil
	}
	for _, st := range rivertype.JobStates() {
		if string(st) == s {
			return []rivertype.JobState{st}, nil
		}
	}
	return nil, usageError(fmt.Sprintf("--state %q is not a job state (available, running, retryable, scheduled, completed, cancelled, discarded, pending, failed)", s))
}

// jobRow is one job as `folio jobs` shows it.
type jobRow struct {
	ID        int64           `json:"id"`
	Kind      string          `json:"kind"`
	Queue     string          `json:"queue"`
	State     string          `json:"state"`
	Attempt   int             `json:"attempt"`
	Max       int             `json:"max_attempts"`
	CreatedAt time.Time       `json:"created_at"`
	Error     string          `json:"last_error,omitempty"`
	Args      json.RawMessage `json:"args"`
}

func (env *opsEnv) printJobs(list []*rivertype.JobRow) error {
	rows := make([]jobRow, 0, len(list))
	for _, j := range list {
		r := jobRow{ID: j.ID, Kind: j.Kind, Queue: j.Queue, State: string(j.State), Attempt: j.Attempt, Max: j.MaxAttempts,
			CreatedAt: j.CreatedAt, Args: j.EncodedArgs}
		if n := len(j.Errors); n > 0 {
			r.Error = j.Errors[n-1].Error
		}
		rows = append(rows, r)
	}
	if env.json {
		return env.printJSON(rows)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tQUEUE\tSTATE\tATTEMPT\tCREATED\tARGS\tLAST ERROR")
	for _, r := range rows {
		e := r.Error
		if len(e) > 80 {
			e = e[:77] + "..."
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", r.ID, r.Kind, r.Queue, r.State, r.Attempt, r.Max,
			r.CreatedAt.UTC().Format(time.RFC3339), r.Args, e)
	}
	return tw.Flush()
}

// documentsCmd: folio documents reparse --failed [--since D] [--code C] [--dry-run].
func documentsCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "quarantine" {
		return quarantineCmd(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "reparse" {
		fmt.Fprintln(stderr, "usage: folio documents reparse --failed [--since 24h] [--code CODE] [--limit N] [--dry-run] [--json]")
		return app.ExitUsage
	}
	fs := flag.NewFlagSet("folio documents reparse", flag.ContinueOnError)
	failed := fs.Bool("failed", false, "reparse failed documents (required: the only selection there is)")
	since := fs.Duration("since", 24*time.Hour, "only documents that failed this recently")
	code := fs.String("code", "", "only documents failed with this reason code (internal, malformed, …); empty: any")
	limit := fs.Int("limit", 1000, "at most this many")
	dryRun := fs.Bool("dry-run", false, "list and count what would be reparsed; change nothing")
	return withOps("folio documents reparse", fs, args[1:], stdout, stderr, func(env *opsEnv, _ []string) error {
		if !*failed {
			return usageError("say which documents: --failed")
		}
		refs, err := documents.Failed(env.ctx, env.pool, time.Now().Add(-*since), *code, *limit)
		if err != nil {
			return err
		}
		type outcome struct {
			documents.Ref
			Outcome string `json:"outcome"`
		}
		out := make([]outcome, 0, len(refs))
		counts := map[string]int{}
		for _, ref := range refs {
			o := outcome{Ref: ref, Outcome: "would reparse"}
			if !*dryRun {
				_, err := documents.ReparseWith(env.ctx, env.pool, env.river, ref.Owner, ref.ID, documents.ReparseOptions{Scan: env.scan})
				switch {
				case err == nil:
					o.Outcome = "reparse queued"
				case errors.Is(err, documents.ErrParseRunning), errors.Is(err, documents.ErrNotFound):
					o.Outcome = "skipped: " + err.Error()
				default:
					return fmt.Errorf("document %s: %w", ref.ID, err)
				}
			}
			counts[o.Outcome]++
			out = append(out, o)
		}
		if env.json {
			return env.printJSON(map[string]any{"documents": out, "counts": counts, "dry_run": *dryRun})
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DOCUMENT\tOWNER\tFAILURE\tOUTCOME")
		for _, o := range out {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.ID, o.Owner, o.Code, o.Outcome)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "%d document(s)", len(out))
		for k, n := range counts {
			fmt.Fprintf(env.stdout, "; %d %s", n, k)
		}
		fmt.Fprintln(env.stdout)
		return nil
	})
}

const quarantineUsage = `usage: folio documents quarantine list [--limit N] [--json]
       folio documents quarantine release|rescan|delete --by NAME [--note TEXT] ID...`

// quarantineCmd: folio documents quarantine list|release|rescan|delete.
func quarantineCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, quarantineUsage)
		return app.ExitUsage
	}
	action := args[0]
	fs := flag.NewFlagSet("folio documents quarantine "+action, flag.ContinueOnError)
	switch action {
	case "list":
		limit := fs.Int("limit", 1000, "at most this many")
		return withOps(fs.Name(), fs, args[1:], stdout, stderr, func(env *opsEnv, _ []string) error {
			docs, err := documents.Quarantined(env.ctx, env.pool, *limit)
			if err != nil {
				return err
			}
			if env.json {
				return env.printJSON(map[string]any{"documents": docs})
			}
			tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DOCUMENT\tOWNER\tFOUND\tSIGNATURES\tSINCE\tFILENAME")
			for _, d := range docs {
				found, sigs := "", ""
				if d.Scan != nil {
					found, sigs = d.Scan.Found, d.Scan.Signatures
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Owner, found, sigs, d.UpdatedAt.UTC().Format(time.RFC3339), d.Filename)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "%d quarantined document(s)\n", len(docs))
			return nil
		})
	case "release", "rescan", "delete":
		by := fs.String("by", "", "who does this (the audit line's actor; required)")
		note := fs.String("note", "", "why (kept in the audit line of a release)")
		return withOps(fs.Name(), fs, args[1:], stdout, stderr, func(env *opsEnv, ids []string) error {
			if *by == "" || len(ids) == 0 {
				return usageError("say who you are (--by NAME) and which documents (IDs)\n" + quarantineUsage)
			}
			for _, s := range ids {
				id, err := uuid.Parse(s)
				if err != nil {
					return usageError(fmt.Sprintf("%q is not a document id", s))
				}
				outcome, err := quarantineAction(env, action, id, *by, *note)
				if err != nil {
					return fmt.Errorf("document %s: %w", id, err)
				}
				if env.json {
					if err := env.printJSON(map[string]string{"id": id.String(), "outcome": outcome}); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(env.stdout, "%s\t%s\n", id, outcome)
			}
			return nil
		})
	}
	fmt.Fprintf(stderr, "folio documents quarantine: unknown action %q\n%s\n", action, quarantineUsage)
	return app.ExitUsage
}

func quarantineAction(env *opsEnv, action string, id uuid.UUID, by, note string) (string, error) {
	switch action {
	case "release":
		if _, err := documents.Release(env.ctx, env.pool, env.river, id, by, note); err != nil {
			return "", err
		}
		return "released: its parse is queued", nil
	case "rescan":
		if err := documents.QueueRescan(env.ctx, env.pool, env.river, id, by); err != nil {
			return "", err
		}
		return "rescan queued", nil
	default:
		// The erasure goes to the ledger first: a restore applies it again.
		doc, err := documents.Original(env.ctx, env.pool, id)
		if err != nil {
			return "", err
		}
		if doc.Status != documents.StatusQuarantined {
			return "", documents.ErrNotQuarantined
		}
		store, err := env.store()
		if err != nil {
			return "", err
		}
		err = backup.Ledger{Store: store}.Record(env.ctx, backup.Erasure{DocumentID: id, Owner: doc.Owner, By: by})
		if err != nil {
			return "", err
		}
		if doc, err = documents.DeleteQuarantined(env.ctx, env.pool, env.river, id, by); err != nil {
			return "", err
		}
		return "deleted (its original is swept from " + doc.S3Key + ")", nil
	}
}
