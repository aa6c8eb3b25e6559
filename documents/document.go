package documents

import (
	"encoding/json"
	"errors"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/foliohq/folio/pdf/pdftype"
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

// Errors of the lifecycle and the repository. The API maps each to one
// problem (api/problem.go); anything else is the database failing.
var (
	// ErrNotFound: no such document, or another owner's.
	ErrNotFound = errors.New("document not found")
	// ErrQuotaExceeded: the owner's documents would exceed their quota.
	ErrQuotaExceeded = errors.New("the owner's quota would be exceeded")
	// ErrParseRunning: a parse of the document is queued or running
	// already (matched by a *ParseRunningError).
	ErrParseRunning = errors.New("a parse of the document is queued or running")
)

// ParseRunningError is ErrParseRunning with the document's status.
type ParseRunningError struct {
	Status Status
}

func (e *ParseRunningError) Error() string {
	return "a parse of the document is already " + string(e.Status)
}

// Is makes errors.Is(err, ErrParseRunning) true.
func (e *ParseRunningError) Is(target error) bool { return target == ErrParseRunning }

// OriginalKey is the S3 key of a document's original: Folio's, never the
// client's file name. The owner is escaped, so no subject can reach outside
// its own prefix.
func OriginalKey(owner string, id uuid.UUID) string {
	return "originals/" + url.PathEscape(owner) + "/" + id.String()
}

// Summary is what a done document shows of its parse (Document.Summary
// holds it encoded, as stored).
type Summary struct {
	Version       string                `json:"version"`
	Tagged        bool                  `json:"tagged"`
	Linearized    bool                  `json:"linearized"`
	Encryption    *pdftype.Encryption   `json:"encryption,omitempty"`
	Metadata      pdftype.Metadata      `json:"metadata"`
	SecurityFlags pdftype.SecurityFlags `json:"security_flags"`
	FormFields    int                   `json:"form_fields"`
	Signatures    bool                  `json:"signatures"`
	Fonts         []pdftype.FontInfo    `json:"fonts"`
	Attachments   []pdftype.Attachment  `json:"attachments"`
	OutlineItems  int                   `json:"outline_items"`
	Warnings      []string              `json:"warnings,omitempty"`
}
