package pdf

import (
	"unicode"

	"github.com/foliohq/folio/internal/parsed"
)

// Result is what Inspect learns of a document as a whole. Page text is
// delivered page by page through Options.Page, not kept here.
type Result struct {
	Version     string        `json:"version"`
	PageCount   int           `json:"page_count"`
	Tagged      bool          `json:"tagged"`
	Linearized  bool          `json:"linearized"`
	Encryption  *Encryption   `json:"encryption,omitempty"`
	Metadata    Metadata      `json:"metadata"`
	Outline     []OutlineItem `json:"outline,omitempty"`
	Fonts       []FontInfo    `json:"fonts,omitempty"`
	Attachments []Attachment  `json:"attachments,omitempty"`
	FormFields  int           `json:"form_fields"`
	Signatures  bool          `json:"signatures"`
	Security    SecurityFlags `json:"security_flags"`
	Warnings    []string      `json:"warnings,omitempty"`
}

// The shapes of a parse's results live in the leaf internal/parsed, so that the
// packages which store and serve them do not link this one.
type (
	// Encryption is parsed.Encryption.
	Encryption = parsed.Encryption
	// Metadata is parsed.Metadata.
	Metadata = parsed.Metadata
	// XMP is parsed.XMP.
	XMP = parsed.XMP
	// OutlineItem is parsed.OutlineItem.
	OutlineItem = parsed.OutlineItem
	// FontInfo is parsed.FontInfo.
	FontInfo = parsed.FontInfo
	// Attachment is parsed.Attachment.
	Attachment = parsed.Attachment
	// SecurityFlags is parsed.SecurityFlags.
	SecurityFlags = parsed.SecurityFlags
)

// Page is one page's layout and text.
type Page struct {
	Number   int     `json:"number"`
	Width    float64 `json:"width"`
	Height   float64 `json:"height"`
	Rotation int     `json:"rotation"`
	Text     string  `json:"text"`
	// ImageCoverage is the share of the page's area that images cover
	// (their areas summed, at most 1): a scanned page is close to 1.
	ImageCoverage float64 `json:"image_coverage,omitempty"`
}

// ocrTextBelow is how few letters and digits a page's text may hold and
// still count as having none: a scan with a stamped page number, or a
// producer's watermark.
const ocrTextBelow = 20

// ocrCoverage is how much of a page images must cover for its missing
// text to be worth reading from them.
const ocrCoverage = 0.25

// NeedsOCR says whether the page's text can only come from reading its
// images: it has (nearly) no text of its own, and images cover a good
// part of it.
func (p Page) NeedsOCR() bool {
	if p.ImageCoverage < ocrCoverage {
		return false
	}
	n := 0
	for _, r := range p.Text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if n++; n >= ocrTextBelow {
				return false
			}
		}
	}
	return true
}

// Error is a document Inspect cannot read: Code is a stable reason
// (not_pdf, malformed, encrypted, too_many_pages), Message plain words.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }
