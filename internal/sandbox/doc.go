// Package sandbox runs PDF inspection in a child process, so that a hostile
// file can take down only the child.
//
// Why a child: pdfcpu's API takes no context (a River timeout cannot stop
// it), and crafted streams drive it to a fatal "out of memory" that recover
// cannot catch. The child is the calling binary itself, re-executed in a
// hidden mode (every Folio binary that parses calls Main first thing). It
// gets:
//
//   - the PDF on stdin, and nothing else: an empty environment (no
//     credentials), no network where the kernel lets us make it a network
//     namespace of its own;
//   - a memory cap (RLIMIT_AS, plus a Go soft limit below it), a CPU-time
//     limit (RLIMIT_CPU) and a wall-clock limit enforced by the parent;
//   - its own process group, killed whole when the job's context ends, and
//     a parent-death signal.
//
// It reports on stdout, one JSON object per line: the page count, each
// page as it is extracted, then the result or a reasoned failure.
package sandbox
