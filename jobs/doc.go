// Package jobs holds Folio's River job kinds, their workers, and the River
// client configuration that cmd/worker (and `folio dev`) run.
//
// Job kinds so far:
//
//   - sweep_uploads: a periodic job that aborts S3 multipart uploads under
//     Folio's prefix older than FOLIO_UPLOAD_MAX_AGE, the parts of uploads
//     whose process died before it could abort them. It makes the bucket's
//     lifecycle rule a second line of defence, not the only one.
package jobs
