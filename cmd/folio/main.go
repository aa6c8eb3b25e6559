// Command folio is Folio's operator and developer tool.
//
//	folio dev                 run the whole stack on this machine (make run)
//	folio token --sub NAME    print a development token for NAME
//	folio inspect FILE        parse a local PDF here and print the result
//	folio upload FILE...      upload PDFs (--watch: follow them to done)
//	folio watch ID...         follow documents' parses live
//	folio migrate [up]        apply pending migrations (River's, then Folio's)
//	folio migrate status      list migrations and whether each is applied
//	folio migrate down --to N undo Folio's migrations above version N
//	folio queues              queue depth, running, oldest waiting, paused
//	folio queues pause NAME   stop workers starting the queue's jobs (resume NAME)
//	folio jobs list           jobs by state (--state failed --since 1h)
//	folio jobs retry ID...    run jobs again (cancel ID...: cancel them)
//	folio documents reparse   reparse failed documents in bulk (--dry-run)
//	folio backup [run|record] take a base backup with pgBackRest, record it
//	folio restore             make the bucket agree with a database restored to an earlier time
//	folio webhooks add URL    send signed webhooks to an application's backend (list, update, rotate-secret, ...)
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/foliohq/folio/cmd/internal/app"
	"github.com/foliohq/folio/internal/sandbox"
)

const usage = `usage: folio <command> [flags]

commands:
  dev                   run Postgres, S3 (versitygw), the API and the worker on this machine
  token --sub NAME      print a token for NAME signed with the dev secret (--ttl 1h)
  upload [--watch] FILE... upload PDFs to a running API; --watch follows each to done (exit 0 only if all are)
  watch ID...           follow documents' parses live
  inspect [--text] FILE parse a local PDF in this process and print the summary (and the text)
  migrate [up]          apply pending migrations (River's, then Folio's); safe to run concurrently
  migrate status        list migrations and whether each is applied
  migrate down --to N   undo Folio's migrations above version N (River's tables are kept)
  queues [--json]       each queue's jobs available, running, retryable, scheduled, oldest waiting, paused
  queues pause|resume NAME  stop (or start again) workers starting the queue's jobs
  jobs list [--state failed] [--since 1h] [--kind K] [--queue Q] [--json]
  jobs retry|cancel ID...   run jobs again, or cancel them
  documents reparse --failed [--since 24h] [--code CODE] [--dry-run] [--json]
                        reparse failed documents in bulk (a count first with --dry-run)
  documents quarantine list [--json]   quarantined documents of every owner, and what was found
  documents quarantine release|rescan|delete --by NAME [--note TEXT] ID...
                        release (parse it after all), scan again, or delete quarantined documents (audited)
  backup [run] [--type full|diff|incr]  take a base backup with pgBackRest and record it (backup freshness)
  backup record         record the backups pgBackRest's repository holds (after a backup run elsewhere)
  restore               after PostgreSQL was restored to an earlier time, before Folio starts: apply the
                        erasure ledger again, bring back the objects the database names, sweep the rest
                        (docs/operations.md)
  webhooks add URL [--types T,T] [--owners O,O]   a webhook endpoint: prints its id and whsec_ secret
  webhooks list|update|rotate-secret|disable|enable|remove|deliveries|replay   (folio webhooks for more; docs/webhooks.md)

Configuration comes from the environment; see README.md.
`

func main() {
	sandbox.Main() // folio dev's worker re-executes this binary to parse
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return app.ExitUsage
	}
	switch args[0] {
	case "dev":
		return dev(args[1:], stdout, stderr)
	case "upload":
		return upload(args[1:], stdout, stderr)
	case "watch":
		return watchCmd(args[1:], stdout, stderr)
	case "inspect":
		return inspect(args[1:], stdout, stderr)
	case "token":
		return token(args[1:], stdout, stderr)
	case "migrate":
		return migrate(args[1:], stdout, stderr)
	case "queues":
		return queuesCmd(args[1:], stdout, stderr)
	case "jobs":
		return jobsCmd(args[1:], stdout, stderr)
	case "documents":
		return documentsCmd(args[1:], stdout, stderr)
	case "backup":
		return backupCmd(args[1:], stdout, stderr)
	case "restore":
		return restoreCmd(args[1:], stdout, stderr)
	case "webhooks":
		return webhooksCmd(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return app.ExitOK
	}
	fmt.Fprintf(stderr, "folio: unknown command %q\n\n%s", args[0], usage)
	return app.ExitUsage
}
