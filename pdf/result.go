package pdf

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

// Encryption describes a file that was encrypted (and opened without a user
// password).
type Encryption struct {
	Version     int      `json:"version"`
	Revision    int      `json:"revision"`
	KeyBits     int      `json:"key_bits"`
	Permissions []string `json:"permissions"`
}

// Metadata is the document information dictionary and the key XMP fields.
// Dates are RFC 3339 when they parse, empty otherwise.
type Metadata struct {
	Title        string `json:"title,omitempty"`
	Author       string `json:"author,omitempty"`
	Subject      string `json:"subject,omitempty"`
	Keywords     string `json:"keywords,omitempty"`
	Creator      string `json:"creator,omitempty"`
	Producer     string `json:"producer,omitempty"`
	CreationDate string `json:"creation_date,omitempty"`
	ModDate      string `json:"mod_date,omitempty"`
	XMP          *XMP   `json:"xmp,omitempty"`
}

// XMP holds the key fields of the document's XMP packet.
type XMP struct {
	Title       string   `json:"dc_title,omitempty"`
	Creator     []string `json:"dc_creator,omitempty"`
	Description string   `json:"dc_description,omitempty"`
	CreateDate  string   `json:"xmp_create_date,omitempty"`
	Producer    string   `json:"pdf_producer,omitempty"`
}

// OutlineItem is one bookmark. Page is 1-based; 0 when its target is not a
// page of this document.
type OutlineItem struct {
	Title    string        `json:"title"`
	Page     int           `json:"page,omitempty"`
	Children []OutlineItem `json:"children,omitempty"`
}

// FontInfo is one font used by the pages' text.
type FontInfo struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Embedded bool   `json:"embedded"`
}

// Attachment is one embedded file.
type Attachment struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// SecurityFlags report active content. They are flags, not failures.
type SecurityFlags struct {
	JavaScript        bool `json:"javascript"`
	OpenAction        bool `json:"open_action"`
	Launch            bool `json:"launch"`
	AdditionalActions bool `json:"additional_actions"`
	EmbeddedFiles     bool `json:"embedded_files"`
	URIs              int  `json:"uri_count"`
}

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
