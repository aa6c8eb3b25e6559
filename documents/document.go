package documents

import (
	"encoding/json"
	"errors"
	"net/url"
	"time"

	"github.com/google/uuid"
)

// Status is where a document is in its life.
type Status string

// A document is stored and queued in one transaction, so the first status a
// row has is queued.
const (
	StatusQueued   Status = "queued"
	StatusParsing  Status = "parsing"
	StatusDone     Status = "done"
	StatusFailed   Status = "failed"
	StatusCanceled Status = "canceled"
)

// Busy reports whether a parse is queued or running.
func (s Status) Busy() bool { return s == StatusQueued || s == StatusParsing }

// Failure says why a document failed, as a stable code and plain words.
type Failure struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Document is one uploaded file and what is known of it. Its JSON form is
// what the API returns everywhere a document appears.
type Document struct {
	ID          uuid.UUID       `json:"id"`
	Owner       string          `json:"-"`
	Filename    string          `json:"filename"`
	Status      Status          `json:"status"`
	SizeBytes   int64           `json:"size_bytes"`
	SHA256      string          `json:"sha256"`
	S3Key       string          `json:"-"`
	PageCount   *int            `json:"page_count"`
	PagesDone   int             `json:"pages_done"`
	Stage       string          `json:"stage,omitempty"` // while parsing: reading, extracting
	Summary     json.RawMessage `json:"summary,omitempty"`
	Failure     *Failure        `json:"failure,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	DuplicateOf *uuid.UUID      `json:"duplicate_of,omitempty"`
	// EventSeq is the seq of the document's last event, read with the rest
	// of the row: the state above reflects exactly the events up to it.
	EventSeq int `json:"-"`
}

// Errors of the repository.
var (
	ErrNotFound = errors.New("document not found")
	ErrBusy     = errors.New("document is being parsed")
)

// OriginalKey is the S3 key of a document's original: Folio's, never the
// client's file name. The owner is escaped, so no subject can reach outside
// its own prefix.
func OriginalKey(owner string, id uuid.UUID) string {
	return "originals/" + url.PathEscape(owner) + "/" + id.String()
}
