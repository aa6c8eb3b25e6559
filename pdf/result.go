package pdf

import "github.com/foliohq/folio/pdf/pdftype"

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

// The shapes of a parse's results live in the leaf pdftype, so that the
// packages which store and serve them do not link this one.
type (
	// Encryption is pdftype.Encryption.
	Encryption = pdftype.Encryption
	// Metadata is pdftype.Metadata.
	Metadata = pdftype.Metadata
	// XMP is pdftype.XMP.
	XMP = pdftype.XMP
	// OutlineItem is pdftype.OutlineItem.
	OutlineItem = pdftype.OutlineItem
	// FontInfo is pdftype.FontInfo.
	FontInfo = pdftype.FontInfo
	// Attachment is pdftype.Attachment.
	Attachment = pdftype.Attachment
	// SecurityFlags is pdftype.SecurityFlags.
	SecurityFlags = pdftype.SecurityFlags
)

// Page is one page's layout and text.
type Page struct {
	Number   int     `json:"number"`
	Width    float64 `json:"width"`
	Height   float64 `json:"height"`
	Rotation int     `json:"rotation"`
	Text     string  `json:"text"`
}

// Error is a document Inspect cannot read: Code is a stable reason
// (not_pdf, malformed, encrypted, too_many_pages), Message plain words.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }
