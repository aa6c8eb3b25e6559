// Package documents owns a document's life: the Document model, its
// states, its tables (documents, pages, page_images), and every transition
// between states.
//
// A document changes state only through a function of this package. Each
// one takes the lock it needs, writes the row(s), enqueues or cancels River
// jobs in the same transaction, and appends the event that announces the
// change (events.Append, numbered here from the document row):
//
//	Create, CreateTx    upload committed          → queued    (document.queued)
//	Reparse             asked again               → queued    (document.queued, reparse)
//	Delete              deleted, jobs cancelled   → gone      (document.canceled, document.deleted)
//	StartParse          a worker took the job     → parsing   (parse.started)
//	SetPageCount        the parser counted pages  (parse.progress)
//	SavePages           pages extracted           (parse.progress, throttled)
//	SetSHA256           a direct upload's hash, computed by its parse
//	FinishParse         parsed                    → done      (parse.progress, document.done); thumbnails and OCR enqueued
//	FailParse           unreadable or given up    → failed    (document.failed)
//	RequeueParse        a retry or a drain        → queued    (parse.requeued)
//	YieldParse          its fair-share slice ended → queued   (parse.requeued, fair_share)
//	RequeueLost         its worker died           → queued    (parse.requeued, worker_lost)
//	FailCanceledParses  an operator canceled its job → failed (document.failed, canceled)
//	SaveImage, SetPagesRendered   page images (thumbnails, on demand)
//	StartOCR … SaveOCRPages, YieldOCR, RequeueOCR, FinishOCR, FailOCR,
//	FailCanceledOCR     OCR of scanned pages, page by page
//
// Reads: Get, List, Search, Pages, EachPageText, Outline, Image, Snapshot,
// UsageBytes (an owner's quota), ParseSpent (a document's fair-share
// budget). Keys: OriginalKey (under OriginalsPrefix), ImageKey and
// DerivedPrefix, each under the owner's OwnerSegment.
//
// The API decodes requests and calls these; the workers in jobs orchestrate
// S3 and the sandbox and call these. Neither writes these tables itself
// (internal/layering checks it). Every query is scoped by owner where a
// caller names one: a document of another owner is indistinguishable from
// one that does not exist.
package documents
