// Package jobargs holds the arguments of Folio's River jobs that more than
// one layer needs: documents enqueues and cancels parse jobs, jobs works
// them. A leaf (River's types only), so that the API binary links neither
// the parser nor the sandbox.
package jobargs

import (
	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// QueueParse is the queue parse jobs run in, apart from maintenance jobs so
// that a backlog of uploads never delays the sweeper (and the other way
// round).
const QueueParse = "parse"

// ParseMaxAttempts bounds retries of transient failures of one parse.
const ParseMaxAttempts = 5

// ParseArgs are the arguments of the parse job of one document.
type ParseArgs struct {
	DocumentID uuid.UUID `json:"document_id" river:"unique"`
	// Owner is the document's owner: fair share counts jobs by it.
	Owner string `json:"owner,omitempty"`
}

// KindParse is the parse job's kind.
const KindParse = "parse"

// Kind is the job kind.
func (ParseArgs) Kind() string { return KindParse }

// ActiveParseStates are the states of a parse job that has not finished:
// one in these states makes another for the same document a duplicate.
var ActiveParseStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled,
}

// InsertOpts make parse jobs unique per document while one is waiting or
// running; a finished one does not block a reparse.
func (ParseArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueParse,
		MaxAttempts: ParseMaxAttempts,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: ActiveParseStates},
	}
}

// QueueOCR is the queue OCR jobs run in, with its own concurrency: a long
// OCR never holds up other documents' parses.
const QueueOCR = "ocr"

// KindOCR is the OCR job's kind.
const KindOCR = "ocr"

// OCRArgs are the arguments of the OCR job of one parse generation of a
// document: it reads the pages that generation stored as needing OCR.
type OCRArgs struct {
	DocumentID uuid.UUID `json:"document_id" river:"unique"`
	Generation int64     `json:"generation" river:"unique"`
	Owner      string    `json:"owner,omitempty"`
}

// Kind is the job kind.
func (OCRArgs) Kind() string { return KindOCR }

// InsertOpts put OCR jobs on their queue, one per document and
// generation.
func (OCRArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueOCR,
		MaxAttempts: ParseMaxAttempts,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: ActiveParseStates},
	}
}

// QueueRender is the queue of on-demand page renders (sizes other than the
// thumbnail every page gets during its parse): short jobs that someone is
// waiting for, apart from parses.
const QueueRender = "render"

// KindRender is the render job's kind.
const KindRender = "render"

// ThumbnailWidth is the width in pixels of the image every page gets
// during its parse.
const ThumbnailWidth = 256

// RenderWidths are the widths a page image may be asked for.
var RenderWidths = []int{ThumbnailWidth, 512, 1024, 2048}

// RenderArgs are the arguments of the render job of one page image.
type RenderArgs struct {
	DocumentID uuid.UUID `json:"document_id" river:"unique"`
	Page       int       `json:"page" river:"unique"`
	Width      int       `json:"width" river:"unique"`
	Owner      string    `json:"owner,omitempty"`
}

// Kind is the job kind.
func (RenderArgs) Kind() string { return KindRender }

// InsertOpts make concurrent requests for one image one job, across API
// processes; a few attempts only: someone is waiting.
func (RenderArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueRender,
		MaxAttempts: 3,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: ActiveParseStates},
	}
}

// QueueScan is the queue of malware scans: uploads' scans (priority by the
// owner's backlog, as parses) and, behind them, the background rescans of
// recent documents when the signatures change.
const QueueScan = "scan"

// KindScan is the scan job's kind.
const KindScan = "scan"

// ScanArgs are the arguments of the malware scan of one document: the
// upload's (the document is scanning), or an operator's rescan (Rescan).
type ScanArgs struct {
	DocumentID uuid.UUID `json:"document_id" river:"unique"`
	Owner      string    `json:"owner,omitempty"`
	// Rescan: asked by an operator, of a document in any state.
	Rescan bool `json:"rescan,omitempty"`
	// Actor is who asked for a rescan (the audit line's).
	Actor string `json:"actor,omitempty"`
}

// Kind is the job kind.
func (ScanArgs) Kind() string { return KindScan }

// InsertOpts make a document's scans one job while one waits or runs. A
// scan waits while the scanner does not answer (snoozed, which spends no
// attempt: it never gives up on a document for that); the attempts are
// for everything else (S3 failing), as a parse's.
func (ScanArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueScan,
		MaxAttempts: ParseMaxAttempts,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: ActiveParseStates},
	}
}

// KindRescan is the background rescan's kind.
const KindRescan = "rescan"

// RescanPriority puts background rescans behind every upload's scan.
const RescanPriority = 4

// RescanArgs are one batch of the background rescan of recent documents
// with signature database Signatures: those created since Since, after
// the document After (in id order); each batch queues the next.
type RescanArgs struct {
	Signatures string    `json:"signatures" river:"unique"`
	After      uuid.UUID `json:"after" river:"unique"`
	Since      int64     `json:"since"` // Unix seconds
}

// Kind is the job kind.
func (RescanArgs) Kind() string { return KindRescan }

// InsertOpts put rescans on the scan queue, behind uploads' scans.
func (RescanArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueScan,
		Priority:    RescanPriority,
		MaxAttempts: 25,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: ActiveParseStates},
	}
}
