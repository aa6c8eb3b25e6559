// Package documents owns a document's life: the Document model, its
// states, its tables (documents, pages, upload_windows), and every
// transition between states.
//
// A document changes state only through a function of this package. Each
// one takes the lock it needs, writes the row(s), enqueues or cancels River
// jobs in the same transaction, and appends the event that announces the
// change (events.Append, numbered here from the document row):
//
//	Create        upload committed          → queued    (document.queued)
//	Reparse       asked again               → queued    (document.queued, reparse)
//	Delete        deleted, parse cancelled  → gone      (document.canceled, document.deleted)
//	StartParse    a worker took the job     → parsing   (parse.started)
//	SetPageCount  the parser counted pages  (parse.progress)
//	SavePages     pages extracted           (parse.progress, throttled)
//	FinishParse   parsed                    → done      (parse.progress, document.done)
//	FailParse     unreadable or given up    → failed    (document.failed)
//	RequeueParse  a retry or a drain        → queued    (parse.requeued)
//	RequeueLost   its worker died           → queued    (parse.requeued, worker_lost)
//
// The API decodes requests and calls these; the workers in jobs orchestrate
// S3 and the sandbox and call these. Neither writes these tables itself.
// Every query is scoped by owner where a caller names one: a document of
// another owner is indistinguishable from one that does not exist.
package documents
