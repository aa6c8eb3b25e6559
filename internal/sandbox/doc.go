// Package sandbox runs the work that reads users' files in child
// processes, so that a hostile file can take down only the child: the
// parse (child.go, pdfcpu and Folio's text extraction), page images
// (render.go for the parent's side, render_proc.go for the warm children's
// pool, render_child.go for PDFium in WebAssembly) and OCR (ocr.go,
// Tesseract on pages the render child draws).
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
// A parse child reports on stdout, one JSON object per line: the page
// count, each page as it is extracted, then the result or a reasoned
// failure. Render and OCR children get the same limits, each their own
// CPU priority (the owner's fair-share nice value), and answer per page:
// an image or text, or the reason there is none.
package sandbox
