package layering

// Rules are the house's import rules (../shared/STYLE.md, the package map
// in docs/architecture.md). Each says why, in the words a violation prints.
var Rules = []ImportRule{
	{
		Name: "worker-binary",
		From: []string{"cmd/worker"},
		Forbid: []string{"api/...", "admin/...", "uploads", "cmd/internal/apiserver",
			"riverqueue.com/riverui/...", "github.com/tus/tusd/...", "github.com/coder/websocket/...", "nhooyr.io/websocket/..."},
		Why: "the worker runs jobs; the API, the admin surface, River UI, tusd and websockets belong to the API binary",
	},
	{
		Name: "api-binary",
		From: []string{"cmd/api"},
		Forbid: []string{"pdf/...", "internal/sandbox/...", "jobs", "cmd/internal/worker",
			"github.com/pdfcpu/...", "github.com/klippa-app/go-pdfium/...", "github.com/tetratelabs/wazero/..."},
		Why: "the API serves requests; parsing and rendering run in the worker's sandbox",
	},
	{
		Name:   "api-layer",
		From:   []string{"api/...", "admin/..."},
		Forbid: []string{"pdf/...", "jobs", "internal/sandbox/...", "cmd/..."},
		Why:    "api decodes, calls documents, events, uploads and storage, and encodes; it knows no parser and no job internals",
	},
	{
		Name: "domain-layer",
		From: []string{"documents/...", "uploads/...", "events/...", "storage/...", "auth/...",
			"migrations/...", "jobs/jobargs/...", "pdf/...", "backup/...", "webhooks/..."},
		Forbid: []string{"api/...", "admin/...", "jobs", "cmd/...", "internal/sandbox/..."},
		Why:    "the domain packages are called by api and jobs, never the other way",
	},
	{
		Name: "lower-layer",
		From: []string{"events/...", "storage/...", "auth/...", "migrations/...", "jobs/jobargs/...",
			"pdf/...", "internal/parsed/..."},
		Forbid: []string{"documents/...", "uploads/..."},
		Why:    "events, storage, auth, the job arguments and the parser sit below documents and uploads",
	},
	{
		Name:   "parser-layer",
		From:   []string{"documents/...", "uploads/...", "events/...", "storage/..."},
		Forbid: []string{"pdf/...", "github.com/pdfcpu/...", "github.com/klippa-app/go-pdfium/...", "github.com/tetratelabs/wazero/..."},
		Why:    "a parse's results are stored through the leaf internal/parsed, so that storing them does not link the parser",
	},
	{
		Name:   "internal-leaves",
		From:   []string{"internal/..."},
		Except: []string{"internal/e2e", "internal/layering"},
		Forbid: []string{"api/...", "admin/...", "jobs", "documents/...", "uploads/...", "cmd/..."},
		Why:    "internal packages are the plumbing below the domain; they import none of it",
	},
	{
		Name:   "client-standalone",
		From:   []string{"client/..."},
		Forbid: []string{"..."},
		Allow:  []string{"client/..."},
		Why:    "the Go client is used by other people's programs: it links no server package",
	},
	{
		Name:   "commands-on-top",
		From:   []string{"..."},
		Except: []string{"cmd/..."},
		Forbid: []string{"cmd/..."},
		Why:    "nothing imports a command's wiring; it composes the rest",
	},
}

// Owners maps every table to the packages that hold its SQL (STYLE.md:
// one home for each table's SQL; everyone else calls that package).
var Owners = map[string][]string{
	"documents":   {"documents"},
	"pages":       {"documents"},
	"page_images": {"documents"},
	// The malware scan's audit and the signature versions scanners saw.
	"scan_audit":      {"documents"},
	"scan_signatures": {"documents"},
	// The base backups recorded (backup freshness).
	"backup_runs":        {"backup"},
	"webhook_endpoints":  {"webhooks"},
	"webhook_deliveries": {"webhooks"},
	// The previous event write path writes the log until the contract
	// step (docs/architecture.md).
	"document_events":    {"events", "internal/legacyevents"},
	"event_clock":        {"events", "internal/legacyevents"},
	"owner_event_clocks": {"events"},
	"event_prune_marks":  {"events"},
	"event_tickets":      {"events"},
	"uploads":            {"uploads/..."},
	"direct_uploads":     {"uploads/..."},
	"admin_sessions":     {"admin"},
	"rate_windows":       {"internal/ratelimit"},
	"worker_heartbeats":  {"jobs"},
	// The first upload limiter's table: nothing reads it since 00006.
	"upload_windows": {},
	// River's tables: jobs (riverdb.go, pinned to River's schema by a
	// test) and the backlog count of the job arguments.
	"river_job":          {"jobs/..."},
	"river_queue":        {"jobs/..."},
	"river_leader":       {"jobs/..."},
	"river_client":       {"jobs/..."},
	"river_client_queue": {"jobs/..."},
	"river_migration":    {"migrations"},
}

// RiverTables are River's own tables (its migrations create them, not
// ours): listed so that SQL naming them is checked too.
var RiverTables = []string{"river_job", "river_queue", "river_leader", "river_client", "river_client_queue", "river_migration"}
