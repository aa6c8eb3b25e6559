// Package jobs holds Folio's River workers and the River client
// configuration that cmd/worker (and `folio dev`) run. Workers orchestrate
// S3, the sandbox and River; every change to a document's state is a call
// to package documents. Job arguments that other layers enqueue live in the
// leaf jobs/jobargs.
//
// Job kinds:
//
//   - parse (queue "parse"): stream a document's original from S3 into the
//     sandboxed parser, store its pages as they come, draw each page's
//     thumbnail (a render child), end it done or failed (documents.StartParse
//     … FinishParse / FailParse). One per upload or reparse; its job id is
//     the parse generation.
//   - ocr (queue "ocr"): read the scanned pages of a parsed document, page
//     by page (a render child draws each at 300 dpi, a Tesseract child
//     reads it), resumable across drains and crashes.
//   - render (queue "render"): one page image on demand (a width the parse
//     does not draw, or a thumbnail asked for before the parse got to it).
//   - sweep_uploads (periodic, queue "default"): abort S3 multipart uploads
//     under documents.OriginalsPrefix older than FOLIO_UPLOAD_MAX_AGE,
//     delete objects there that no document references, and sweep expired
//     resumable and direct uploads (uploads/expire). The bucket's lifecycle
//     rule is a second line of defence, not the only one.
//   - prune_events (periodic, queue "default"): delete events older than
//     FOLIO_EVENT_RETENTION and long-expired stream tickets.
//
// Fair share (fair.go): an owner alone may use every slot of the parse,
// OCR and render queues; once another owner waits, a running job yields at
// the end of its slice (FOLIO_FAIR_SLICE), owners with fewer unfinished
// jobs go first, and the children of an owner with a backlog run at a
// lower CPU priority.
//
// Besides jobs, every worker process runs Liveness: it heartbeats, and
// hands back the running jobs of workers that stopped heartbeating (Rescue
// in riverdb.go, where jobs queries River's tables directly).
package jobs
