package events

import "encoding/json"

// Payload is the data of one event variant; EventType names the variant.
// Each type here is one variant of the OpenAPI document's Event schema
// (api/openapi.json), and a test keeps the two equal.
type Payload interface {
	EventType() string
}

// Event types.
const (
	DocumentQueued   = "document.queued"
	ParseStarted     = "parse.started"
	ParseProgress    = "parse.progress"
	ParseRequeued    = "parse.requeued"
	DocumentDone     = "document.done"
	DocumentFailed   = "document.failed"
	DocumentCanceled = "document.canceled"
	DocumentDeleted  = "document.deleted"
	OCRProgress      = "ocr.progress"
	OCRDone          = "ocr.done"
	ScanDone         = "scan.done"
	// DocumentQuarantined: malware found; the document is not served.
	DocumentQuarantined = "document.quarantined"
	// DocumentUpdated: the application changed its data on the document.
	DocumentUpdated = "document.updated"
)

// DocumentQueuedData is the data of document.queued: uploaded (Filename,
// SizeBytes), or queued again by a reparse (Reparse).
type DocumentQueuedData struct {
	Filename  string `json:"filename,omitempty"`
	SizeBytes int64  `json:"size_bytes,omitempty"`
	Reparse   bool   `json:"reparse,omitempty"`
	// Scanning: the upload is scanned for malware first (the document is
	// scanning; scan.done or document.quarantined follows).
	Scanning bool `json:"scanning,omitempty"`
	// Released: an operator released the quarantined document (its parse
	// is queued).
	Released bool `json:"released,omitempty"`
	// ExternalID and Metadata are the application's data on the document
	// (on an upload's document.queued only).
	ExternalID string            `json:"external_id,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
}

// DocumentUpdatedData is the data of document.updated: the application
// changed its data on the document (PATCH /v1/documents/{id}); the
// values are the new ones (absent: none).
type DocumentUpdatedData struct {
	ExternalID string            `json:"external_id,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
}

// ScanDoneData is the data of scan.done: the document's malware scan
// passed (Result clean, or too_large: longer than the scanner reads, let
// through by the deployment's setting) with signature database
// Signatures; its parse is queued.
type ScanDoneData struct {
	Result     string `json:"result"`
	Signatures string `json:"signatures,omitempty"`
}

// DocumentQuarantinedData is the data of document.quarantined: the
// scanner found Signature in the document (Rescan: in a rescan, after it
// was parsed). It is never parsed nor served until an operator releases it.
type DocumentQuarantinedData struct {
	Signature  string `json:"signature"`
	Signatures string `json:"signatures,omitempty"`
	Rescan     bool   `json:"rescan,omitempty"`
}

// ParseStartedData is the data of parse.started: a worker started, or
// resumed, a parse.
type ParseStartedData struct {
	Attempt      int `json:"attempt"`
	ResumeAtPage int `json:"resume_at_page"`
}

// ParseProgressData is the data of parse.progress: pages extracted so far
// in Stage.
type ParseProgressData struct {
	Stage      string `json:"stage"`
	PagesDone  int    `json:"pages_done"`
	PagesTotal int    `json:"pages_total"`
}

// Why a parse went back to the queue.
const (
	RequeuedRetry      = "retry"       // a transient failure; River retries
	RequeuedDraining   = "draining"    // its worker is stopping
	RequeuedWorkerLost = "worker_lost" // its worker stopped heartbeating
	RequeuedFairShare  = "fair_share"  // it gave its slot to another owner's work for a while
)

// ParseRequeuedData is the data of parse.requeued: the parse went back to
// the queue, and why.
type ParseRequeuedData struct {
	Why     string `json:"why"`
	Attempt int    `json:"attempt,omitempty"`
}

// DocumentDoneData is the data of document.done: the parse finished;
// Summary is the document's summary.
type DocumentDoneData struct {
	PageCount int             `json:"page_count"`
	Summary   json.RawMessage `json:"summary"`
	// OCR says what happens to pages that only images fill: "pending" (an
	// OCR job will read them: ocr.progress and ocr.done follow), or
	// "unavailable" (no OCR engine: they stay without text). Absent when
	// every page has text. OCRPages is how many such pages there are.
	OCR      string `json:"ocr,omitempty"`
	OCRPages int    `json:"ocr_pages,omitempty"`
}

// OCRProgressData is the data of ocr.progress: pages of the document read
// by OCR so far (sent when the OCR starts or resumes, then as pages are
// read).
type OCRProgressData struct {
	PagesDone  int `json:"pages_done"`
	PagesTotal int `json:"pages_total"`
}

// OCRDoneData is the data of ocr.done: the OCR of the document ended;
// PagesRead pages have text from it (their mean word confidence, 0 to 100,
// is Confidence), PagesFailed could not be read (each page says why).
type OCRDoneData struct {
	PagesRead   int     `json:"pages_read"`
	PagesFailed int     `json:"pages_failed"`
	Confidence  float64 `json:"confidence"`
}

// DocumentFailedData is the data of document.failed: the document cannot
// be parsed, with a stable reason code and plain words.
type DocumentFailedData struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// DocumentCanceledData is the data of document.canceled: a queued or
// running parse was cancelled (the document is being deleted). It carries
// no fields.
type DocumentCanceledData struct{}

// DocumentDeletedData is the data of document.deleted: the document is
// gone; the last event of its log. It carries the application's data the
// document had (what a webhook sent after the row is gone says).
type DocumentDeletedData struct {
	ExternalID string            `json:"external_id,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
}

// EventType names the variant.
func (DocumentQueuedData) EventType() string { return DocumentQueued }

// EventType names the variant.
func (ParseStartedData) EventType() string { return ParseStarted }

// EventType names the variant.
func (ParseProgressData) EventType() string { return ParseProgress }

// EventType names the variant.
func (ParseRequeuedData) EventType() string { return ParseRequeued }

// EventType names the variant.
func (DocumentDoneData) EventType() string { return DocumentDone }

// EventType names the variant.
func (DocumentFailedData) EventType() string { return DocumentFailed }

// EventType names the variant.
func (DocumentCanceledData) EventType() string { return DocumentCanceled }

// EventType names the variant.
func (DocumentDeletedData) EventType() string { return DocumentDeleted }

// EventType names the variant.
func (DocumentUpdatedData) EventType() string { return DocumentUpdated }

// EventType names the variant.
func (OCRProgressData) EventType() string { return OCRProgress }

// EventType names the variant.
func (OCRDoneData) EventType() string { return OCRDone }

// EventType names the variant.
func (ScanDoneData) EventType() string { return ScanDone }

// EventType names the variant.
func (DocumentQuarantinedData) EventType() string { return DocumentQuarantined }

// Payloads is one value of every variant, for tests that check them against
// the API's description.
func Payloads() []Payload {
	return []Payload{
		DocumentQueuedData{}, ParseStartedData{}, ParseProgressData{}, ParseRequeuedData{},
		DocumentDoneData{}, DocumentFailedData{}, DocumentCanceledData{}, DocumentDeletedData{},
		OCRProgressData{}, OCRDoneData{}, ScanDoneData{}, DocumentQuarantinedData{}, DocumentUpdatedData{},
	}
}
