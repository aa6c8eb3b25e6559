// Package pdftest builds small PDF files for tests: well-formed ones with
// known text, and hostile ones.
package pdftest

import (
	"bytes"
	"fmt"
	"strings"
)

// Build writes a PDF whose objects are objs (object i+1 is objs[i], without
// "obj"/"endobj"), with a correct xref table and a trailer naming object 1
// as the catalog. extraTrailer is added to the trailer dictionary.
func Build(objs []string, extraTrailer string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, extraTrailer, xref)
	return b.Bytes()
}

// Stream is a stream object with dict entries extra and the given data.
func Stream(extra string, data []byte) string {
	return fmt.Sprintf("<< /Length %d %s >>\nstream\n%s\nendstream", len(data), extra, data)
}

// Flate is a zlib stream that inflates to n zero bytes, built directly: a
// single dynamic-Huffman block whose matches (length 258, distance 1) cost
// two bits each, so 1 GiB fits in about 1 MB and costs nothing to make.
func Flate(n int64) []byte {
	w := &bitWriter{}
	w.out = append(w.out, 0x78, 0x01) // zlib header: deflate, 32K window
	w.bits(1, 1)                      // BFINAL
	w.bits(2, 2)                      // BTYPE: dynamic Huffman
	w.bits(29, 5)                     // HLIT: 286 literal/length codes
	w.bits(0, 5)                      // HDIST: 1 distance code
	w.bits(14, 4)                     // HCLEN: 18 code-length codes
	// Code-length code lengths in the order 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1:
	// symbol 18 gets 1 bit, symbols 1 and 2 get 2 bits.
	for _, l := range []uint32{0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2} {
		w.bits(l, 3)
	}
	// Canonical codes of the code-length alphabet: 18 → 0, 1 → 10, 2 → 11.
	cl1, cl2 := func() { w.code(0b10, 2) }, func() { w.code(0b11, 2) }
	zeros := func(k uint32) { w.code(0, 1); w.bits(k-11, 7) } // symbol 18: 11..138 zeros
	// Literal/length lengths: 0 → 2, 1..255 → 0, 256 → 2, 257..284 → 0, 285 → 1.
	cl2()
	zeros(138)
	zeros(117)
	cl2()
	zeros(28)
	cl1()
	cl1() // the one distance code (distance 1): 1 bit
	// Data: one literal zero (code 10), then matches (length code 285 = 0,
	// distance code 0 = 0), then the rest as literals, then end of block (11).
	if n > 0 {
		w.code(0b10, 2)
		rest := n - 1
		for ; rest >= 258 && w.n != 0; rest -= 258 {
			w.bits(0, 2)
		}
		for ; rest >= 4*258; rest -= 4 * 258 { // byte-aligned: four matches a zero byte
			w.out = append(w.out, 0)
		}
		for ; rest >= 258; rest -= 258 {
			w.bits(0, 2)
		}
		for ; rest > 0; rest-- {
			w.code(0b10, 2)
		}
	}
	w.code(0b11, 2)
	w.flush()
	// Adler-32 of n zeros: a stays 1, b is n mod 65521.
	b := uint32(n % 65521)
	return append(w.out, byte(b>>8), byte(b), 0, 1)
}

// bitWriter packs bits least significant first, as deflate does.
type bitWriter struct {
	out []byte
	acc uint32
	n   uint
}

func (w *bitWriter) bits(v uint32, count uint) {
	w.acc |= v << w.n
	w.n += count
	for w.n >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

// code writes a Huffman code, most significant bit first.
func (w *bitWriter) code(c uint32, length uint) {
	for i := int(length) - 1; i >= 0; i-- {
		w.bits((c>>uint(i))&1, 1)
	}
}

func (w *bitWriter) flush() {
	if w.n > 0 {
		w.out = append(w.out, byte(w.acc))
		w.acc, w.n = 0, 0
	}
}

// TextPages builds a document with one page per entry of pages, each page
// showing its lines in Helvetica, top to bottom.
func TextPages(pages ...[]string) []byte {
	n := len(pages)
	// 1 catalog, 2 pages, 3 font, then (page, content) pairs.
	kids := make([]string, n)
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 4+2*i)
	}
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
	}
	for i, lines := range pages {
		var c strings.Builder
		c.WriteString("BT /F1 12 Tf 72 720 Td 14 TL\n")
		for _, l := range lines {
			fmt.Fprintf(&c, "(%s) Tj T*\n", escape(l))
		}
		c.WriteString("ET")
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 5+2*i),
			Stream("", []byte(c.String())))
	}
	return Build(objs, "")
}

// escape writes s as a PDF string's content in WinAnsiEncoding: Latin-1
// letters (ä, ß, é) as octal escapes, anything else outside it as "?".
func escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\' || r == '(' || r == ')':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x80:
			b.WriteRune(r)
		case r >= 0xa0 && r <= 0xff:
			fmt.Fprintf(&b, "\\%03o", r)
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

// Hostile files, generated: each is a way a file can attack a parser.
// Sizes are as named (the 400 MiB streams take a few seconds to make).
func Hostile() map[string][]byte {
	page := func(contents string) []string {
		return []string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents " + contents + " >>",
		}
	}
	bomb := append(page("4 0 R"), Stream("/Filter /FlateDecode", Flate(1<<30)))

	many := page("[4 0 R 5 0 R 6 0 R 7 0 R 8 0 R 9 0 R 10 0 R 11 0 R]")
	big := Flate(400 << 20)
	for range 8 {
		many = append(many, Stream("/Filter /FlateDecode", big))
	}
	nested := append(page("4 0 R"), "<< /Deep "+strings.Repeat("[", 50_000)+strings.Repeat("]", 50_000)+" >>")
	selfLength := append(page("4 0 R"), "<< /Length 4 0 R >>\nstream\nBT ET\nendstream")
	full := TextPages([]string{"some text that goes on"})

	return map[string][]byte{
		"zero bytes":                        nil,
		"PNG bytes":                         []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
		"truncated":                         full[:len(full)/2],
		"flate bomb 1 GiB":                  Build(bomb, ""),
		"eight 400 MiB streams on one page": Build(many, ""),
		"50k nested arrays":                 Build(nested, ""),
		"page tree cycle": Build([]string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
		}, ""),
		"Count 2^31": Build([]string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 2147483648 >>",
			"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
		}, ""),
		"Length refers to itself": Build(selfLength, ""),
		"xref Prev loop":          prevLoop(),
		"JavaScript and Launch": Build([]string{
			"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R /Names << /JavaScript << /Names [(a) 4 0 R] >> >> >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Annots [5 0 R] /AA << /O 6 0 R >> >>",
			"<< /S /JavaScript /JS (app.alert\\(1\\)) >>",
			"<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /A << /S /Launch /F (calc.exe) >> >>",
			"<< /S /URI /URI (https://example.com) >>",
		}, ""),
	}
}

// HostileOutcomes are the outcomes each hostile file may end with: "done"
// or a failure code.
var HostileOutcomes = map[string][]string{
	"zero bytes": {"not_pdf"},
	"PNG bytes":  {"not_pdf"},
	"truncated":  {"done", "malformed"},
	// The decode limit (an eighth of the memory cap) drops such a stream and
	// the page is kept; what inflating up to that limit holds at once
	// depends on the collector's timing, so the memory cap may stop it first;
	// on a busy machine (the niced child gets a fraction of a CPU) the
	// parse's time limit may stop it before either.
	"flate bomb 1 GiB":                  {"done", "memory_limit", "time_limit"},
	"eight 400 MiB streams on one page": {"done", "memory_limit", "time_limit"},
	"50k nested arrays":                 {"done", "malformed"},
	"page tree cycle":                   {"malformed"},
	"Count 2^31":                        {"done"},
	"Length refers to itself":           {"malformed"},
	"xref Prev loop":                    {"malformed"},
	"JavaScript and Launch":             {"done"},
}

// prevLoop has an xref section whose /Prev points at itself.
func prevLoop() []byte {
	base := Build([]string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [] /Count 0 >>",
	}, "")
	i := bytes.LastIndex(base, []byte("startxref\n"))
	var off int
	_, _ = fmt.Sscanf(string(base[i+len("startxref\n"):]), "%d", &off)
	return bytes.Replace(base, []byte("/Root 1 0 R "), []byte(fmt.Sprintf("/Root 1 0 R /Prev %d ", off)), 1)
}

// LongDocument is n pages, each headed "<title> page <i>" and filled with
// lines of text: a document whose parse takes long enough to be
// interrupted.
func LongDocument(title string, n, linesPerPage int) []byte {
	line := strings.Repeat("a line of text that fills a long page, ", 3)
	pages := make([][]string, n)
	for i := range pages {
		p := make([]string, 0, linesPerPage+1)
		p = append(p, fmt.Sprintf("%s page %d", title, i+1))
		for range linesPerPage {
			p = append(p, line)
		}
		pages[i] = p
	}
	return TextPages(pages...)
}

// Carrying builds a valid one-page document showing line that carries
// payload as the content of an uncompressed stream: an attached file
// (/EmbeddedFiles) named name. With the EICAR test file as payload it is
// what a malware scanner must catch inside a PDF.
func Carrying(line, name string, payload []byte) []byte {
	content := fmt.Sprintf("BT /F1 12 Tf 72 720 Td (%s) Tj ET", escape(line))
	return Build([]string{
		fmt.Sprintf("<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(%s) 6 0 R] >> >> >>", escape(name)),
		"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
		Stream("", []byte(content)),
		fmt.Sprintf("<< /Type /Filespec /F (%s) /UF (%s) /EF << /F 7 0 R >> >>", escape(name), escape(name)),
		Stream("/Type /EmbeddedFile", payload),
	}, "")
}
