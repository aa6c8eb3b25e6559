// Package uploads keeps resumable (tus) uploads: a tusd data store and
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
// upload marked with the document's id (documents.CreateTx).
package uploads
