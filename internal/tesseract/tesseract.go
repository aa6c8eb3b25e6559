// Package tesseract knows what the local Tesseract can read: the languages
// it has data for, and whether it has its orientation data. The API uses
// it to say which OCR languages uploads may choose, without linking the
// worker's sandbox.
package tesseract

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// Languages lists the languages the tesseract at path has data for, and
// whether it has the orientation and script data (osd, not a language).
func Languages(path string) (langs []string, osd bool, err error) {
	out, err := exec.Command(path, "--list-langs").CombinedOutput() //nolint:noctx // a quick local query
	if err != nil {
		return nil, false, fmt.Errorf("tesseract --list-langs: %w", err)
	}
	langs, osd = parseList(string(out))
	return langs, osd, nil
}

// parseList reads --list-langs: a line that says where, then a code a line.
func parseList(out string) (langs []string, osd bool) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines[min(1, len(lines)):] {
		switch l = strings.TrimSpace(l); l {
		case "":
		case "osd":
			osd = true
		default:
			langs = append(langs, l)
		}
	}
	return langs, osd
}

// Missing returns the first of Tesseract's languages (joined by "+") that
// is not among installed, and false; or "", true.
func Missing(languages string, installed []string) (string, bool) {
	for _, l := range strings.Split(languages, "+") {
		if !slices.Contains(installed, l) {
			return l, false
		}
	}
	return "", true
}

// Package is the Debian package that has a language's data.
func Package(lang string) string { return "tesseract-ocr-" + strings.ReplaceAll(lang, "_", "-") }
