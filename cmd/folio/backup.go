package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/foliohq/folio/backup"
	"github.com/foliohq/folio/internal/pgbackrest"
	"github.com/foliohq/folio/storage"
)

// backupCmd: folio backup [run --type T | record]. pgBackRest reads its
// own settings (PGBACKREST_* variables, its configuration file); --config
// and --stanza are passed on.
func backupCmd(args []string, stdout, stderr io.Writer) int {
	sub := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("folio backup "+sub, flag.ContinueOnError)
	typ := fs.String("type", "incr", "base backup type: full, diff or incr (pgBackRest makes the first one full)")
	conf := fs.String("config", "", "pgBackRest's configuration file (default: its own, or PGBACKREST_CONFIG)")
	stanza := fs.String("stanza", "", "pgBackRest stanza (default: PGBACKREST_STANZA)")
	return withOps("folio backup", fs, args, stdout, stderr, func(env *opsEnv, rest []string) error {
		if len(rest) > 0 {
			return usageError("folio backup takes no arguments: folio backup [run --type full|diff|incr | record]")
		}
		bin, err := exec.LookPath("pgbackrest")
		if err != nil {
			return errors.New("pgbackrest is not installed (Debian: apt-get install pgbackrest)")
		}
		var common []string
		if *conf != "" {
			common = append(common, "--config="+*conf)
		}
		if *stanza != "" {
			common = append(common, "--stanza="+*stanza)
		}
		switch sub {
		case "run":
			switch *typ {
			case "full", "diff", "incr":
			default:
				return usageError("--type is full, diff or incr")
			}
			if _, err := pgbackrest.Run(env.ctx, bin, nil, append(common, "--type="+*typ, "backup")...); err != nil {
				return err
			}
		case "record":
		default:
			return usageError("folio backup run|record")
		}
		out, err := pgbackrest.Run(env.ctx, bin, nil, append(common, "--output=json", "info")...)
		if err != nil {
			return err
		}
		backups, err := pgbackrest.ParseInfo(out)
		if err != nil {
			return err
		}
		added, err := backup.Record(env.ctx, env.pool, backups)
		if err != nil {
			return err
		}
		if env.json {
			return env.printJSON(map[string]any{"backups": len(backups), "recorded": added})
		}
		if len(backups) > 0 {
			last := backups[len(backups)-1]
			fmt.Fprintf(env.stdout, "newest backup %s (%s) finished %s; %d new of %d recorded\n",
				last.Label, last.Type, last.Stop.Format(time.RFC3339), added, len(backups))
		} else {
			fmt.Fprintln(env.stdout, "the repository holds no backup yet")
		}
		return nil
	})
}

// restoreCmd: folio restore. Run after PostgreSQL was restored to an
// earlier time, before the API and the workers start.
func restoreCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("folio restore", flag.ContinueOnError)
	return withOps("folio restore", fs, args, stdout, stderr, func(env *opsEnv, rest []string) error {
		if len(rest) > 0 {
			return usageError("folio restore takes no arguments (run it after PostgreSQL was restored, before Folio starts)")
		}
		store, err := env.store()
		if err != nil {
			return err
		}
		rep, err := backup.Restorer{Pool: env.pool, Store: store, Queue: env.river}.Restore(env.ctx)
		if env.json {
			if perr := env.printJSON(rep); perr != nil {
				return perr
			}
		} else {
			printRestore(env.stdout, rep)
		}
		if errors.Is(err, storage.ErrNotVersioned) {
			return errors.New("the bucket's versioning is off: objects deleted since cannot be brought back (FOLIO_S3_VERSIONING, docs/operations.md)")
		}
		return err
	})
}

func printRestore(w io.Writer, rep backup.Report) {
	fmt.Fprintf(w, "erasures applied again: %d\n", len(rep.Erased))
	o := rep.Objects
	fmt.Fprintf(w, "objects the database names: %d, %d brought back (deleted since), %d with no version\n", o.Named, o.Revived, o.Missing)
	fmt.Fprintf(w, "objects it does not name, deleted: %d originals, %d page images\n", rep.OrphansDeleted, rep.DerivedDeleted)
	fmt.Fprintf(w, "page images to draw again: %d\n", rep.ImagesForgotten)
	fmt.Fprintf(w, "unfinished uploads whose bytes are gone, expired: %d\n", rep.UploadsExpired)
	fmt.Fprintf(w, "documents without their original: %d\n", len(rep.MissingOriginals))
	for _, d := range rep.MissingOriginals {
		fmt.Fprintf(w, "  %s (owner %s): %s\n", d.ID, d.Owner, d.S3Key)
	}
}
