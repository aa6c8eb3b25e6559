package pdf

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// texLigatures are glyph names for ligatures, spelled out: search and word
// counts want "fi", not U+FB01.
var texLigatures = map[string]string{
	"ff": "ff", "fi": "fi", "fl": "fl", "ffi": "ffi", "ffl": "ffl",
	"f_f": "ff", "f_i": "fi", "f_l": "fl", "f_f_i": "ffi", "f_f_l": "ffl",
	"st": "st", "s_t": "st", "IJ": "IJ", "ij": "ij",
	// TeX font glyph names with no Unicode of their own.
	"dotlessi": "ı", "dotlessj": "ȷ", "suppress": "", "visiblespace": "␣",
}

// ligatureRunes spells out presentation-form ligatures in decoded text.
var ligatureRunes = map[rune]string{
	0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi", 0xFB04: "ffl", 0xFB05: "st", 0xFB06: "st",
}

// glyphUnicode maps a glyph name to text by the Adobe Glyph List rules:
// ligature names, the list itself, uniXXXX[XXXX…] and uXXXX[XX], and names
// with a suffix (a.sc, one.oldstyle) or joined by underscores.
func glyphUnicode(gn string) string {
	if s, ok := texLigatures[gn]; ok {
		return s
	}
	if s, ok := glyphList[gn]; ok {
		return s
	}
	if i := strings.IndexByte(gn, '.'); i > 0 {
		return glyphUnicode(gn[:i])
	}
	if strings.Contains(gn, "_") {
		var b strings.Builder
		for _, part := range strings.Split(gn, "_") {
			b.WriteString(glyphUnicode(part))
		}
		return b.String()
	}
	if rest, ok := strings.CutPrefix(gn, "uni"); ok && len(rest) >= 4 && len(rest)%4 == 0 {
		var b strings.Builder
		for i := 0; i < len(rest); i += 4 {
			v, err := strconv.ParseUint(rest[i:i+4], 16, 32)
			if err != nil || (v >= 0xD800 && v <= 0xDFFF) {
				return ""
			}
			b.WriteRune(rune(v))
		}
		return b.String()
	}
	if rest, ok := strings.CutPrefix(gn, "u"); ok && len(rest) >= 4 && len(rest) <= 6 {
		if v, err := strconv.ParseUint(rest, 16, 32); err == nil && utf8.ValidRune(rune(v)) {
			return string(rune(v))
		}
	}
	return ""
}

// knownGlyph is glyphUnicode, and whether the name meant anything.
func knownGlyph(gn string) (string, bool) {
	if _, ok := texLigatures[gn]; ok {
		return texLigatures[gn], true
	}
	u := glyphUnicode(gn)
	return u, u != "" || gn == "space"
}

// pdfDocEncoding is PDFDocEncoding where it differs from Latin-1.
var pdfDocEncoding = func() [256]rune {
	var t [256]rune
	for i := range t {
		t[i] = rune(i)
	}
	diff := map[int]rune{
		0x18: 0x02D8, 0x19: 0x02C7, 0x1A: 0x02C6, 0x1B: 0x02D9, 0x1C: 0x02DD, 0x1D: 0x02DB, 0x1E: 0x02DA, 0x1F: 0x02DC,
		0x80: 0x2022, 0x81: 0x2020, 0x82: 0x2021, 0x83: 0x2026, 0x84: 0x2014, 0x85: 0x2013, 0x86: 0x0192, 0x87: 0x2044,
		0x88: 0x2039, 0x89: 0x203A, 0x8A: 0x2212, 0x8B: 0x2030, 0x8C: 0x201E, 0x8D: 0x201C, 0x8E: 0x201D, 0x8F: 0x2018,
		0x90: 0x2019, 0x91: 0x201A, 0x92: 0x2122, 0x93: 0xFB01, 0x94: 0xFB02, 0x95: 0x0141, 0x96: 0x0152, 0x97: 0x0160,
		0x98: 0x0178, 0x99: 0x017D, 0x9A: 0x0131, 0x9B: 0x0142, 0x9C: 0x0153, 0x9D: 0x0161, 0x9E: 0x017E, 0x9F: 0,
		0xA0: 0x20AC, 0xAD: 0,
	}
	for k, v := range diff {
		t[k] = v
	}
	return t
}()

// baseEncoding returns code → text for a named base encoding, and whether
// the name is known.
func baseEncoding(enc string) ([256]string, bool) {
	var t [256]string
	switch enc {
	case "WinAnsiEncoding":
		fill(&t, winAnsiEncoding[:])
	case "MacRomanEncoding":
		fill(&t, macRomanEncoding[:])
	case "PDFDocEncoding":
		fill(&t, pdfDocEncoding[:])
	case "StandardEncoding":
		for i, gn := range standardEncoding {
			if gn != "" {
				t[i] = glyphUnicode(gn)
			}
		}
	case "MacExpertEncoding":
		// Expert glyphs (small caps, old-style figures): their base letters
		// are what text wants; take the code as Latin-1.
		fill(&t, pdfDocEncoding[:])
	default:
		return t, false
	}
	return t, true
}

func fill(t *[256]string, runes []rune) {
	for i, r := range runes {
		if r != 0 {
			t[i] = string(r)
		}
	}
}

// expandLigatures spells out presentation-form ligatures.
func expandLigatures(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r >= 0xFB00 && r <= 0xFB06 }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if lig, ok := ligatureRunes[r]; ok {
			b.WriteString(lig)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// decodeTextString decodes a PDF text string: UTF-16BE or UTF-8 with a
// byte order mark, PDFDocEncoding otherwise.
func decodeTextString(b []byte) string {
	switch {
	case len(b) >= 2 && b[0] == 0xFE && b[1] == 0xFF:
		return string(utf16.Decode(utf16Units(b[2:])))
	case len(b) >= 2 && b[0] == 0xFF && b[1] == 0xFE: // UTF-16LE: wrong, but seen
		le := make([]byte, len(b)-2)
		for i := 2; i+1 < len(b); i += 2 {
			le[i-2], le[i-1] = b[i+1], b[i]
		}
		return string(utf16.Decode(utf16Units(le)))
	case len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF:
		return strings.ToValidUTF8(string(b[3:]), "")
	}
	var sb strings.Builder
	for _, c := range b {
		if r := pdfDocEncoding[c]; r != 0 {
			sb.WriteRune(r)
		}
	}
	return sb.String()
}
