// Package parsed holds the shapes of what a parse learns of a PDF
// (metadata, outline, fonts, attachments, security flags): a leaf with no
// dependencies, so that packages which store or serve these results (the
// documents repository, the API) do not link the PDF parser.
package parsed

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
