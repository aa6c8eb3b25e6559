package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/foliohq/folio/cmd/internal/app"
	"github.com/foliohq/folio/webhooks"
)

const webhooksUsage = `usage: folio webhooks <subcommand>
  add URL [--types T,T] [--owners O,O] [--description D]   prints the endpoint's id and its whsec_ secret
  list [--json]
  update ID [--url U] [--types T,T] [--owners O,O] [--description D]   (--types "" or --owners "": all)
  rotate-secret ID [--keep 24h]        a new secret; the old one signs beside it for --keep
  disable ID | enable ID [--skip-backlog] | remove ID
  deliveries ID [--status pending|delivered|dead] [--since 24h] [--limit N] [--json]
  replay DELIVERY_ID...                deliver these again (same webhook-id)
  replay --endpoint ID --since 24h [--until T] [--dead]   every delivery of an endpoint in a range
`

// webhooksCmd: folio webhooks add|list|update|rotate-secret|disable|enable|remove|deliveries|replay.
func webhooksCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, webhooksUsage)
		return app.ExitUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("folio webhooks "+sub, flag.ContinueOnError)
	types := fs.String("types", "", "add, update: event types, comma-separated (none: all of "+strings.Join(webhooks.Types, ", ")+")")
	owners := fs.String("owners", "", "add, update: only these owners' documents, comma-separated (none: every owner's)")
	description := fs.String("description", "", "add, update: a note for operators")
	url := fs.String("url", "", "update: the new URL")
	keep := fs.Duration("keep", 0, "rotate-secret: how long the old secret signs beside the new one (0: FOLIO_WEBHOOK_ROTATION_OVERLAP)")
	skip := fs.Bool("skip-backlog", false, "enable: do not send what happened while the endpoint was disabled")
	status := fs.String("status", "", "deliveries: pending, delivered or dead")
	since := fs.String("since", "", "deliveries, replay: a time (RFC 3339) or a duration ago (24h)")
	until := fs.String("until", "", "replay: a time (RFC 3339) or a duration ago (default: now)")
	limit := fs.Int("limit", 100, "deliveries: at most this many, newest first")
	endpoint := fs.String("endpoint", "", "replay: the endpoint whose deliveries in --since..--until go again")
	dead := fs.Bool("dead", false, "replay --endpoint: only dead-lettered deliveries")
	return withOps("folio webhooks", fs, args, stdout, stderr, func(env *opsEnv, rest []string) error {
		ctx, db := env.ctx, env.pool
		guard := &webhooks.Guard{Allow: env.cfg.WebhookAllowNets}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		input := func() webhooks.Input {
			var in webhooks.Input
			if set["url"] {
				in.URL = url
			}
			if set["description"] {
				in.Description = description
			}
			if set["types"] {
				in.EventTypes = ptr(splitList(*types))
			}
			if set["owners"] {
				in.Owners = ptr(splitList(*owners))
			}
			return in
		}
		id := func() (uuid.UUID, error) {
			if len(rest) != 1 {
				return uuid.Nil, usageError("name one endpoint: folio webhooks " + sub + " ID (folio webhooks list shows them)")
			}
			id, err := uuid.Parse(rest[0])
			if err != nil {
				return uuid.Nil, usageError(fmt.Sprintf("%q is not an endpoint id", rest[0]))
			}
			return id, nil
		}
		var ep *webhooks.Endpoint
		var err error
		var i uuid.UUID // the endpoint the subcommand names
		switch sub {
		case "update", "rotate-secret", "disable", "enable", "remove", "deliveries":
			if i, err = id(); err != nil {
				return err
			}
		}
		switch sub {
		case "add":
			if len(rest) != 1 {
				return usageError("folio webhooks add URL [--types T,T] [--owners O,O] [--description D]")
			}
			in := input()
			in.URL = &rest[0]
			if ep, err = webhooks.Add(ctx, db, guard, in); err != nil {
				return err
			}
			if env.json {
				return env.printJSON(ep)
			}
			fmt.Fprintf(env.stdout, "endpoint %s\nsecret   %s\n", ep.ID, ep.Secret)
			fmt.Fprintln(env.stdout, "(the secret is shown this once: give it to the receiver, which verifies every delivery with it)")
			return nil
		case "list":
			eps, err := webhooks.List(ctx, db)
			if err != nil {
				return err
			}
			if env.json {
				return env.printJSON(eps)
			}
			tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tURL\tTYPES\tOWNERS\tSTATE")
			for _, e := range eps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.ID, e.URL, orAll(e.EventTypes), orAll(e.Owners), endpointState(e))
			}
			return tw.Flush()
		case "update":
			ep, err = webhooks.Update(ctx, db, guard, i, input())
		case "rotate-secret":
			k := env.cfg.WebhookRotationOverlap
			if set["keep"] {
				k = *keep
			}
			if ep, err = webhooks.RotateSecret(ctx, db, i, k); err != nil {
				return err
			}
			if env.json {
				return env.printJSON(ep)
			}
			fmt.Fprintf(env.stdout, "endpoint %s\nsecret   %s\n", ep.ID, ep.Secret)
			fmt.Fprintf(env.stdout, "(the old secret signs beside it until %s)\n", ep.PreviousExpiresAt.Format(time.RFC3339))
			return nil
		case "disable", "enable", "remove":
			switch sub {
			case "disable":
				ep, err = webhooks.Disable(ctx, db, i, webhooks.DisabledByOperator)
			case "enable":
				ep, err = webhooks.Enable(ctx, db, i, *skip)
			default:
				if err = webhooks.Remove(ctx, db, i); err == nil {
					fmt.Fprintf(env.stdout, "endpoint %s removed with its deliveries\n", i)
				}
				return err
			}
		case "deliveries":
			f := webhooks.DeliveryFilter{Endpoint: i, Status: *status, Limit: *limit}
			if f.Status != "" && f.Status != "pending" && f.Status != "delivered" && f.Status != "dead" {
				return usageError("--status is pending, delivered or dead")
			}
			if f.Since, err = whenFlag("since", *since, time.Time{}); err != nil {
				return err
			}
			if _, err = webhooks.Get(ctx, db, i); err != nil {
				return err
			}
			ds, err := webhooks.Deliveries(ctx, db, f)
			if err != nil {
				return err
			}
			if env.json {
				return env.printJSON(ds)
			}
			tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DELIVERY\tWEBHOOK-ID\tTYPE\tSTATUS\tATTEMPTS\tLAST\tEVENT AT")
			for _, d := range ds {
				last := "-"
				if d.LastStatus != nil {
					last = strconv.Itoa(*d.LastStatus)
				} else if d.LastError != "" {
					last = d.LastError
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.MessageID, d.Type, d.Status, d.Attempts, last, d.EventAt.Format(time.RFC3339))
			}
			return tw.Flush()
		case "replay":
			return env.replay(rest, *endpoint, *since, *until, *dead)
		default:
			return usageError("unknown subcommand " + sub + "\n" + webhooksUsage)
		}
		if err != nil {
			return err
		}
		if env.json {
			return env.printJSON(ep)
		}
		fmt.Fprintf(env.stdout, "endpoint %s: %s\n", ep.ID, endpointState(ep))
		return nil
	})
}

// replay sends deliveries again: the ones named, or an endpoint's in a
// time range.
func (env *opsEnv) replay(ids []string, endpoint, since, until string, onlyDead bool) error {
	if endpoint == "" {
		if len(ids) == 0 {
			return usageError("name deliveries (folio webhooks deliveries ID lists them), or --endpoint ID --since D")
		}
		for _, s := range ids {
			id, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return usageError(fmt.Sprintf("%q is not a delivery id", s))
			}
			d, err := webhooks.Replay(env.ctx, env.pool, id)
			if err != nil {
				return fmt.Errorf("delivery %d: %w", id, err)
			}
			fmt.Fprintf(env.stdout, "delivery %d (%s) goes again\n", d.ID, d.MessageID)
		}
		return nil
	}
	if len(ids) > 0 {
		return usageError("either delivery ids or --endpoint, not both")
	}
	id, err := uuid.Parse(endpoint)
	if err != nil {
		return usageError(fmt.Sprintf("%q is not an endpoint id", endpoint))
	}
	if since == "" {
		return usageError("replay --endpoint needs --since (a time or a duration ago)")
	}
	from, err := whenFlag("since", since, time.Time{})
	if err != nil {
		return err
	}
	to, err := whenFlag("until", until, time.Now().Add(time.Minute))
	if err != nil {
		return err
	}
	if _, err := webhooks.Get(env.ctx, env.pool, id); err != nil {
		return err
	}
	n, err := webhooks.ReplayRange(env.ctx, env.pool, id, from, to, onlyDead)
	if err != nil {
		return err
	}
	if env.json {
		return env.printJSON(map[string]int64{"replayed": n})
	}
	fmt.Fprintf(env.stdout, "%d deliveries go again\n", n)
	return nil
}

// whenFlag reads a time flag: RFC 3339, or a duration ago ("" gives def).
func whenFlag(name, v string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, usageError(fmt.Sprintf("--%s is an RFC 3339 time (2026-12-02T10:00:00Z) or a duration ago (24h), not %q", name, v))
	}
	return t, nil
}

func endpointState(e *webhooks.Endpoint) string {
	switch {
	case e.DisabledAt != nil:
		return "disabled (" + e.DisabledReason + ")"
	case e.PausedUntil != nil && e.PausedUntil.After(time.Now()):
		return "paused until " + e.PausedUntil.Format(time.RFC3339)
	case e.FailingSince != nil:
		return "failing since " + e.FailingSince.Format(time.RFC3339)
	}
	return "enabled"
}

func splitList(s string) []string {
	out := []string{}
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func orAll(l []string) string {
	if len(l) == 0 {
		return "all"
	}
	return strings.Join(l, ",")
}

func ptr[T any](v T) *T { return &v }
