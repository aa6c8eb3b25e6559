package pdf_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"

	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/pdf"
)

func inspect(t *testing.T, data []byte) (*pdf.Result, []pdf.Page) {
	t.Helper()
	var pages []pdf.Page
	res, err := pdf.Inspect(data, pdf.Options{Page: func(p pdf.Page) error { pages = append(pages, p); return nil }})
	require.NoError(t, err)
	return res, pages
}

func page(content string, extra ...string) []byte {
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Rotate 90 /Resources << /Font << /F1 5 0 R /F2 6 0 R /T0 7 0 R >> >> /Contents 4 0 R >>",
		pdftest.Stream("", []byte(content)),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding << /BaseEncoding /WinAnsiEncoding /Differences [65 /fi /uni00E9 /f_f_l /a.sc] >> >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman >>",
		"<< /Type /Font /Subtype /Type0 /BaseFont /Foo /Encoding /Identity-H /DescendantFonts [8 0 R] /ToUnicode 9 0 R >>",
		"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Foo /DW 500 /W [1 [600 600] 3 4 250] >>",
	}
	cmap, _ := os.ReadFile("testdata/tounicode.cmap")
	objs = append(objs, pdftest.Stream("", cmap))
	return pdftest.Build(append(objs, extra...), "")
}

func TestEncodingsAndGlyphNames(t *testing.T) {
	t.Parallel()
	_, pages := inspect(t, page("BT /F1 12 Tf 72 700 Td (ABCD \\231) Tj ET"))
	require.Equal(t, "fiéffla ™", pages[0].Text, "Differences through the glyph list, ligatures spelled out, WinAnsi for the rest")
	require.Equal(t, 90, pages[0].Rotation)
}

func TestType0WithToUnicode(t *testing.T) {
	t.Parallel()
	_, pages := inspect(t, page("BT /T0 10 Tf 72 700 Td <002400250026000300300031> Tj ET"))
	require.Equal(t, "ABC ab", pages[0].Text)
}

func TestWordsAndLines(t *testing.T) {
	t.Parallel()
	content := `BT /F2 10 Tf 72 700 Td [(Kerned)-20(word)] TJ ( next) Tj 3 Ts (sup) Tj 0 Ts
		0 -14 Td [(Gap)-400(by)-400(TJ)] TJ
		1 0 0 1 72 600 Tm 3 Tc (spaced) Tj ET`
	_, pages := inspect(t, page(content))
	lines := strings.Split(pages[0].Text, "\n")
	require.Equal(t, "Kernedword nextsup", lines[0], "small kerning joins, spaces and big gaps split; a superscript stays on its line, in its word")
	require.Equal(t, "Gap by TJ", lines[1])
	require.Equal(t, "s p a c e d", lines[2], "character spacing wide enough to be seen as gaps")
}

func TestRightToLeftLines(t *testing.T) {
	t.Parallel()
	// Hebrew drawn in visual order (as producers do): shalom, olam.
	cmap := `1 begincodespacerange <00> <FF> endcodespacerange
		6 beginbfchar <01> <05E9> <02> <05DC> <03> <05D5> <04> <05DD> <05> <05E2> <06> <0020> endbfchar`
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /H 5 0 R >> >> /Contents 4 0 R >>",
		pdftest.Stream("", []byte("BT /H 12 Tf 72 700 Td <040203050604030201> Tj ET")),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Hebrew /FirstChar 1 /Widths [500 500 500 500 500 250] /ToUnicode 6 0 R >>",
		pdftest.Stream("", []byte(cmap)),
	}
	_, pages := inspect(t, pdftest.Build(objs, ""))
	require.Equal(t, "שלום עולם", pages[0].Text)
}

func TestMetadataOutlineAndFlags(t *testing.T) {
	t.Parallel()
	xmp := `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
		<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:pdf="http://ns.adobe.com/pdf/1.3/" pdf:Producer="TeX">
		<dc:title><rdf:Alt><rdf:li xml:lang="x-default">A Title</rdf:li></rdf:Alt></dc:title>
		<dc:creator><rdf:Seq><rdf:li>Ada</rdf:li><rdf:li>Grace</rdf:li></rdf:Seq></dc:creator>
		<xmp:CreateDate>2024-05-06T07:08:09+02:00</xmp:CreateDate></rdf:Description></rdf:RDF></x:xmpmeta>`
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R /Outlines 5 0 R /Metadata 8 0 R /MarkInfo << /Marked true >> /Names << /EmbeddedFiles << /Names [(data.csv) 9 0 R] >> >> >>",
		"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots [11 0 R] >>",
		"<< /Type /Outlines /First 6 0 R /Last 6 0 R /Count 2 >>",
		"<< /Title (Chapter \\(one\\)) /Dest [3 0 R /Fit] /First 7 0 R /Last 7 0 R /Parent 5 0 R >>",
		"<< /Title <FEFF00C900740065> /A << /S /GoTo /D [4 0 R /XYZ 0 0 0] >> /Parent 6 0 R >>",
		pdftest.Stream("/Type /Metadata /Subtype /XML", []byte(xmp)),
		"<< /Type /Filespec /F (data.csv) /UF (data.csv) /EF << /F 10 0 R >> >>",
		pdftest.Stream("/Type /EmbeddedFile /Params << /Size 5 >>", []byte("a,b,c")),
		"<< /Type /Annot /Subtype /Link /Rect [0 0 1 1] /A << /S /URI /URI (https://example.com) >> >>",
		"<< /Title (Paper) /Author (Ada) /CreationDate (D:20240506070809+02'00') /ModDate (D:2024) /Producer (pdfTeX) >>",
	}
	res, pages := inspect(t, pdftest.Build(objs, "/Info 12 0 R"))
	require.Equal(t, 2, res.PageCount)
	require.InDelta(t, 595, pages[1].Width, 0.01)
	require.True(t, res.Tagged)
	require.Equal(t, "Paper", res.Metadata.Title)
	require.Equal(t, "Ada", res.Metadata.Author)
	require.Equal(t, "2024-05-06T07:08:09+02:00", res.Metadata.CreationDate)
	require.Equal(t, "2024-01-01T00:00:00Z", res.Metadata.ModDate)
	require.NotNil(t, res.Metadata.XMP)
	require.Equal(t, "A Title", res.Metadata.XMP.Title)
	require.Equal(t, []string{"Ada", "Grace"}, res.Metadata.XMP.Creator)
	require.Equal(t, "2024-05-06T07:08:09+02:00", res.Metadata.XMP.CreateDate)
	require.Equal(t, "TeX", res.Metadata.XMP.Producer)
	require.Equal(t, []pdf.OutlineItem{{Title: "Chapter (one)", Page: 1, Children: []pdf.OutlineItem{{Title: "Éte", Page: 2}}}}, res.Outline)
	require.Equal(t, []pdf.Attachment{{Name: "data.csv", Size: 5}}, res.Attachments)
	require.True(t, res.Security.EmbeddedFiles)
	require.Equal(t, 1, res.Security.URIs)
	require.False(t, res.Security.JavaScript)
}

func TestNotPDF(t *testing.T) {
	t.Parallel()
	_, err := pdf.Inspect([]byte("GIF89a"), pdf.Options{})
	var perr *pdf.Error
	require.ErrorAs(t, err, &perr)
	require.Equal(t, "not_pdf", perr.Code)
}

func TestJunkBeforeHeader(t *testing.T) {
	t.Parallel()
	data := append([]byte("junk from a mail gateway\r\n"), pdftest.TextPages([]string{"still readable"})...)
	_, pages := inspect(t, data)
	require.Equal(t, "still readable", pages[0].Text)
}

// twoColumns draws a two-column page line by line across the page (left
// line, right line, …), with a full-width title above.
func twoColumns(interleaved bool) []byte {
	var c strings.Builder
	c.WriteString("BT /F2 14 Tf 1 0 0 1 72 740 Tm (A Title Across Both Columns And The Gutter Between) Tj ET\n")
	left := []string{"left one", "left two", "left three", "left four", "left five", "left six"}
	right := []string{"right one", "right two", "right three", "right four", "right five", "right six"}
	line := func(x float64, i int, s string) {
		fmt.Fprintf(&c, "BT /F2 10 Tf 1 0 0 1 %.0f %d Tm (%s) Tj ET\n", x, 700-14*i, s)
	}
	if interleaved {
		for i := range left {
			line(72, i, left[i])
			line(320, i, right[i])
		}
	} else {
		for i := range left {
			line(72, i, left[i])
		}
		for i := range right {
			line(320, i, right[i])
		}
	}
	return page(c.String())
}

func TestTwoColumnsReadInOrder(t *testing.T) {
	t.Parallel()
	want := "A Title Across Both Columns And The Gutter Between\nleft one\nleft two\nleft three\nleft four\nleft five\nleft six\n" +
		"right one\nright two\nright three\nright four\nright five\nright six"
	for _, interleaved := range []bool{false, true} {
		_, pages := inspect(t, twoColumns(interleaved))
		require.Equal(t, want, pages[0].Text, "interleaved=%v", interleaved)
	}
}

// cidFont is a one-page PDF showing content with a Type 0 font that has no
// ToUnicode: only its encoding CMap and its CIDSystemInfo say what it
// shows.
func cidFont(encoding, ordering, content string, extra ...string) []byte {
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /C0 5 0 R >> >> /Contents 4 0 R >>",
		pdftest.Stream("", []byte(content)),
		"<< /Type /Font /Subtype /Type0 /BaseFont /Ryumin-Light /Encoding " + encoding + " /DescendantFonts [6 0 R] >>",
		"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /Ryumin-Light /CIDSystemInfo << /Registry (Adobe) /Ordering (" +
			ordering + ") /Supplement 2 >> /DW 1000 >>",
	}
	return pdftest.Build(append(objs, extra...), "")
}

func encode(t *testing.T, e encoding.Encoding, s string) string {
	t.Helper()
	b, err := e.NewEncoder().Bytes([]byte(s))
	require.NoError(t, err)
	return fmt.Sprintf("<%x>", b)
}

func utf16Hex(s string) string {
	var b strings.Builder
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04x", u)
	}
	return "<" + b.String() + ">"
}

// TestCIDFontsWithoutToUnicode reads CJK text through Adobe's predefined
// CMaps and character collections, each case's bytes made by an encoder
// that is not Folio's (golang.org/x/text).
func TestCIDFontsWithoutToUnicode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, encoding, ordering, shown, want string
		extra                                 []string
	}{
		{"Shift-JIS, 90ms-RKSJ-H", "/90ms-RKSJ-H", "Japan1", encode(t, japanese.ShiftJIS, "PDFの日本語テキスト"), "PDFの日本語テキスト", nil},
		{"vertical, 90ms-RKSJ-V", "/90ms-RKSJ-V", "Japan1", encode(t, japanese.ShiftJIS, "縦書き"), "縦書き", nil},
		{"EUC-JP, EUC-H", "/EUC-H", "Japan1", encode(t, japanese.EUCJP, "東京"), "東京", nil},
		{"Big5, ETen-B5-H", "/ETen-B5-H", "CNS1", encode(t, traditionalchinese.Big5, "繁體中文年報"), "繁體中文年報", nil},
		{"GBK, GBK-EUC-H", "/GBK-EUC-H", "GB1", encode(t, simplifiedchinese.GBK, "简体中文"), "简体中文", nil},
		{"EUC-KR, KSC-EUC-H", "/KSC-EUC-H", "Korea1", encode(t, korean.EUCKR, "한국어"), "한국어", nil},
		{"UCS-2, UniGB-UCS2-H", "/UniGB-UCS2-H", "GB1", utf16Hex("中文"), "中文", nil},
		{"UTF-16, UniAKR-UTF16-H", "/UniAKR-UTF16-H", "KR", utf16Hex("한글"), "한글", nil},
		// Identity-H: the codes are CIDs of the collection (中 4559, 文 3795 in Adobe-GB1).
		{"Identity-H, Adobe-GB1", "/Identity-H", "GB1", "<11cf0ed3>", "中文", nil},
		{"embedded CMap using UniKS-UCS2-H", "7 0 R", "Korea1", utf16Hex("서울"), "서울",
			[]string{pdftest.Stream("", []byte("/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"+
				"/CMapName /Folio-Test def /UniKS-UCS2-H usecmap\nendcmap CMapName currentdict /CMap defineresource pop end end"))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, pages := inspect(t, cidFont(tc.encoding, tc.ordering, "BT /C0 12 Tf 72 700 Td "+tc.shown+" Tj ET", tc.extra...))
			require.Equal(t, tc.want, pages[0].Text)
		})
	}
}

func TestSymbolAndDingbats(t *testing.T) {
	t.Parallel()
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /S 5 0 R /Z 6 0 R /M 7 0 R >> >> /Contents 4 0 R >>",
		pdftest.Stream("", []byte("BT /S 12 Tf 72 700 Td (abg \\245 D) Tj /Z 12 Tf 0 -20 Td (3 4 \\250) Tj /M 12 Tf 0 -20 Td (pi) Tj ET")),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Symbol >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /ZapfDingbats >>",
		"<< /Type /Font /Subtype /TrueType /BaseFont /ABCDEF+SymbolMT,Bold /FirstChar 32 /LastChar 126 >>",
	}
	_, pages := inspect(t, pdftest.Build(objs, ""))
	require.Equal(t, "αβγ ∞ Δ\n✓ ✔ ♣\nπι", pages[0].Text, "the fonts' built-in encodings, also for a subset of a clone")
}

func TestAnnotationsWithoutAppearance(t *testing.T) {
	t.Parallel()
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots [4 0 R 5 0 R 6 0 R 7 0 R] >>",
		"<< /Type /Annot /Subtype /FreeText /Rect [100 600 400 700] /DA (/Helv 14 Tf 0 g) /Contents (Reviewed by Ana\\rsecond line) >>",
		"<< /Type /Annot /Subtype /Line /Rect [0 0 300 300] /L [50 50 250 250] /Cap true /Contents (Diagonal) >>",
		"<< /Type /Annot /Subtype /Square /Rect [0 0 50 50] /Contents (a note in a pop-up) >>",
		"<< /Type /Annot /Subtype /Line /Rect [0 0 300 300] /L [50 400 250 400] /Contents (no caption) >>",
	}
	_, pages := inspect(t, pdftest.Build(objs, ""))
	text := pages[0].Text
	require.Contains(t, text, "Reviewed by Ana\nsecond line", "a FreeText's contents, line by line")
	require.Contains(t, text, "Diagonal", "a Line's caption")
	require.NotContains(t, text, "pop-up", "other markup shows its contents in a pop-up only")
	require.NotContains(t, text, "caption", "a Line without /Cap shows no caption")
}

// TestPageTextIsBounded: a page that draws a word millions of times
// through nested form XObjects (a few kilobytes of file) yields at most
// MaxPageText of text, with a warning: storing and indexing it costs
// what a real page does.
func TestPageTextIsBounded(t *testing.T) {
	t.Parallel()
	res, pages := inspect(t, pdftest.NestedFormsShowing(5, 10, strings.Repeat("w", 128)))
	require.Len(t, pages, 1)
	require.LessOrEqual(t, len(pages[0].Text), pdf.MaxPageText)
	require.Greater(t, len(pages[0].Text), pdf.MaxPageText/2)
	require.Contains(t, strings.Join(res.Warnings, "\n"), "page 1: its text was cut")
}
