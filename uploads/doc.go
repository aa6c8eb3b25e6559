// Package uploads keeps the uploads that arrive over more than one request.
//
// Resumable (tus, and the IETF drafts tusd speaks) uploads: a tusd data store and
// locker whose state lives in Postgres and whose bytes go straight into
// S3 multipart uploads, so that any API process can take the next request
// of any upload and none of them writes to its disk.
//
// An upload's bytes are cut into parts of the store's part size, uploaded
// with at most PartsInFlight in flight per request: memory per request is
// (PartsInFlight + 1) × PartSize whatever the file's size. The bytes after
// the last whole part (the tail, shorter than a part) are kept in the
// upload's row and joined to the next request's bytes. Every part stored
// is recorded with the offset and the SHA-256 state at its end, so a
// process killed mid-request loses at most the parts in flight.
//
// When the last byte arrives the object is completed and, in one
// transaction, the document is recorded, its parse enqueued and the
// upload marked with the document's id (documents.CreateTx). A process that
// dies on the way leaves what the next request of the upload, on any
// process, finishes (GetUpload under the lock; recovery_test.go takes it
// through each failure).
//
// Concatenation (concat.go): partial uploads of the same owner, each used
// once, streamed in order into a final upload.
//
// Direct uploads (direct.go): the client sends parts straight to S3 with
// presigned requests, each signed for its length; Finalize checks the parts
// and commits like the rest.
//
// Admission (admission.go): the rate, size and quota rules of every upload
// path, pending bytes included.
//
// The sweeps of expired uploads are in uploads/expire, so that the worker
// which runs them does not link tusd.
package uploads
