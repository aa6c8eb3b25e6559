// Package jobs holds Folio's River workers and the River client
// configuration that cmd/worker (and `folio dev`) run. Workers orchestrate
// S3, the sandbox and River; every change to a document's state is a call
// to package documents. Job arguments that other layers enqueue live in the
// leaf jobs/jobargs.
//
// Job kinds:
//
//   - parse (queue "parse"): stream a document's original from S3 into the
//     sandboxed parser, store its pages as they come, end it done or failed
//     (documents.StartParse … FinishParse / FailParse). One per upload or
//     reparse; its job id is the parse generation.
//   - sweep_uploads (periodic, queue "default"): abort S3 multipart uploads
//     under originals/ older than FOLIO_UPLOAD_MAX_AGE (the parts of uploads
//     whose process died before it could abort them), and delete objects
//     there that no document references. The bucket's lifecycle rule is a
//     second line of defence, not the only one.
//   - prune_events (periodic, queue "default"): delete events older than
//     FOLIO_EVENT_RETENTION and long-expired stream tickets.
//
// Besides jobs, every worker process runs Liveness: it heartbeats, and
// hands back the running jobs of workers that stopped heartbeating
// (Rescue in riverdb.go, the one file that queries River's tables directly).
package jobs
