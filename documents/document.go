package documents

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/foliohq/folio/internal/parsed"
)

// Status is where a document is in its life.
type Status string

// A document is stored and queued in one transaction, so the first status a
// row has is queued, or scanning where uploads are scanned for malware
// first (then queued, or quarantined: never parsed nor served).
const (
	StatusScanning    Status = "scanning"
	StatusQuarantined Status = "quarantined"
	StatusQueued      Status = "queued"
	StatusParsing     Status = "parsing"
	StatusDone        Status = "done"
	StatusFailed      Status = "failed"
	StatusCanceled    Status = "canceled"
)

// Busy reports whether a scan or a parse is queued or running.
func (s Status) Busy() bool { return s == StatusScanning || s == StatusQueued || s == StatusParsing }

// Failure says why a document failed, as a stable code and plain words.
type Failure struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Document is one uploaded file and what is known of it. Its JSON form is
// what the API returns everywhere a document appears.
type Document struct {
	ID        uuid.UUID `json:"id"`
	Owner     string    `json:"-"`
	Filename  string    `json:"filename"`
	Status    Status    `json:"status"`
	SizeBytes int64     `json:"size_bytes"`
	// SHA256 is the hex SHA-256 of the original; "" until the worker has
	// read a direct upload's bytes (its parse computes it).
	SHA256    string `json:"sha256"`
	S3Key     string `json:"-"`
	PageCount *int   `json:"page_count"`
	PagesDone int    `json:"pages_done"`
	Stage     string `json:"stage,omitempty"` // while parsing: reading, extracting, rendering
	// PagesRendered is how many pages have their thumbnail (or the reason
	// they have none) from this parse.
	PagesRendered int             `json:"pages_rendered"`
	Summary       json.RawMessage `json:"summary,omitempty"`
	Failure       *Failure        `json:"failure,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	DuplicateOf   *uuid.UUID      `json:"duplicate_of,omitempty"`
	// OCR is the OCR of the pages only images fill, nil when every page
	// has text.
	OCR *OCRState `json:"ocr,omitempty"`
	// OCRLanguages are the languages OCR reads the document's scanned
	// pages with, in Tesseract's spelling joined by "+" ("deu+eng"):
	// chosen at upload or reparse, else the deployment's default (empty
	// here: the worker's FOLIO_OCR_LANGUAGES).
	OCRLanguages string `json:"ocr_languages,omitempty"`
	// Scan is the document's last malware scan; nil when it was never
	// scanned (uploaded where scanning is off, or scanning now).
	Scan *ScanState `json:"scan,omitempty"`
	// AppData is the application's: external_id and metadata.
	AppData
	// EventSeq is the seq of the document's last event, read with the rest
	// of the row: the state above reflects exactly the events up to it.
	EventSeq int `json:"-"`
}

// ScanState is a document's last malware scan: its Result (clean;
// too_large: longer than the scanner reads, passed by the deployment's
// choice; found: quarantined; released: found, then released by an
// operator), what was Found, the scanner's signature database version
// (Signatures) and when.
type ScanState struct {
	Result     string    `json:"result"`
	Found      string    `json:"found,omitempty"`
	Signatures string    `json:"signatures,omitempty"`
	ScannedAt  time.Time `json:"scanned_at"`
}

// OCRState is a document's OCR: Status is pending, running, done or
// unavailable (no OCR engine; such pages stay without text).
type OCRState struct {
	Status     string `json:"status"`
	PagesTotal int    `json:"pages_total"`
	PagesDone  int    `json:"pages_done"`
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
	// ErrQuarantined: the document is quarantined (malware was found in
	// it): it is not parsed, and its content is not served.
	ErrQuarantined = errors.New("the document is quarantined")
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

// OriginalsPrefix is where the originals live in the bucket (the sweeper
// lists it for multipart uploads and objects no document references).
const OriginalsPrefix = "originals/"

// OriginalKey is the S3 key of a document's original: Folio's, never the
// client's file name, under a prefix of its owner's (OwnerSegment).
func OriginalKey(owner string, id uuid.UUID) string {
	return OriginalsPrefix + OwnerSegment(owner) + "/" + id.String()
}

// maxPlainOwner is the longest owner whose segment is its own encoding:
// "o" and 254 characters of base64, 255 bytes, what S3 servers that keep
// objects as files allow a segment (versitygw's posix backend, MinIO;
// NAME_MAX). Beyond it, a hash.
const maxPlainOwner = 190

// OwnerSegment maps an owner (a token's subject: any string at all) to one
// S3 key segment of at most 255 bytes: "o" + the owner in unpadded
// base64url, or, for owners longer than 190 bytes, "h" + the hex SHA-256
// of the owner. The segment
// uses only [A-Za-z0-9_-], is never empty, "." or ".." (which HTTP clients
// and servers collapse, so that "originals/../x" would land outside the
// prefix), and never contains "/" or "%"; distinct owners get distinct
// segments (the first letter keeps the two forms apart; within the hash
// form, as far as SHA-256 is collision-free).
func OwnerSegment(owner string) string {
	if len(owner) > maxPlainOwner {
		sum := sha256.Sum256([]byte(owner))
		return "h" + hex.EncodeToString(sum[:])
	}
	return "o" + base64.RawURLEncoding.EncodeToString([]byte(owner))
}

// Summary is what a done document shows of its parse (Document.Summary
// holds it encoded, as stored).
type Summary struct {
	Version       string               `json:"version"`
	Tagged        bool                 `json:"tagged"`
	Linearized    bool                 `json:"linearized"`
	Encryption    *parsed.Encryption   `json:"encryption,omitempty"`
	Metadata      parsed.Metadata      `json:"metadata"`
	SecurityFlags parsed.SecurityFlags `json:"security_flags"`
	FormFields    int                  `json:"form_fields"`
	Signatures    bool                 `json:"signatures"`
	Fonts         []parsed.FontInfo    `json:"fonts"`
	Attachments   []parsed.Attachment  `json:"attachments"`
	OutlineItems  int                  `json:"outline_items"`
	Warnings      []string             `json:"warnings,omitempty"`
}

// SniffLen is how far into a file the PDF signature is looked for: real
// files carry a little junk before %PDF- (readers allow 1024 bytes).
const SniffLen = 1024

// LooksLikePDF reports whether the file's first bytes (up to SniffLen of
// them are looked at) carry the %PDF- signature. Every upload path checks
// it before a file becomes a document.
func LooksLikePDF(head []byte) bool {
	return bytes.Contains(head[:min(len(head), SniffLen)], []byte("%PDF-"))
}
