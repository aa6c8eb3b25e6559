package api

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// OCRLanguages are the languages a document's scanned pages may be read
// with: the deployment's default, and the ones an upload may choose
// (every worker has their Tesseract data).
type OCRLanguages struct {
	Default   string   // Tesseract's spelling joined by "+": "eng"
	Available []string // "eng", "deu", …
}

// maxOCRLanguages bounds how many languages one document asks for:
// Tesseract slows with each, and a handful covers any real page.
const maxOCRLanguages = 5

var ocrLanguageCode = regexp.MustCompile(`^[a-z][a-z0-9_]{1,31}$`)

// ocrLanguages checks the languages an upload or reparse asks for (""
// when it asks for none: the default) and returns what the document is
// read with, or a 400 that names the available ones.
func (s *Server) ocrLanguages(asked string) (string, *Problem) {
	if asked == "" {
		return s.OCR.Default, nil
	}
	bad := func(detail string) (string, *Problem) {
		return "", problem(http.StatusBadRequest, "bad_ocr_languages", detail+
			fmt.Sprintf(" Available: %s (join several with \"+\", e.g. \"deu+eng\").", strings.Join(s.OCR.Available, ", ")))
	}
	langs := strings.Split(asked, "+")
	if len(langs) > maxOCRLanguages {
		return bad(fmt.Sprintf("ocr_languages names %d languages; at most %d.", len(langs), maxOCRLanguages))
	}
	for i, l := range langs {
		if !ocrLanguageCode.MatchString(l) {
			return bad(fmt.Sprintf("ocr_languages %q is not Tesseract language codes joined by \"+\".", asked[:min(len(asked), 64)]))
		}
		if !slices.Contains(s.OCR.Available, l) {
			return bad(fmt.Sprintf("OCR language %q is not installed here.", l))
		}
		if slices.Contains(langs[:i], l) {
			return bad(fmt.Sprintf("OCR language %q is named twice.", l))
		}
	}
	return asked, nil
}
