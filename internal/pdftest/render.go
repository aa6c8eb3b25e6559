package pdftest

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"math"
	"strings"
)

// RenderPage is one page of HostilePages: what it is, and the words it
// shows (every page has text, so the document parses whatever the
// renderer makes of it).
type RenderPage struct {
	Name string
	Text string
}

// HostilePages is a document whose pages attack a renderer, between two
// ordinary pages: a huge page (14,400 × 14,400 pt, the largest a PDF
// page may be without UserUnit), a strip 14,400 pt tall and 100 pt wide,
// a page of pathOpsMillions million path operators, and a page whose one
// image inflates to imageGiB GiB of pixels. Each page shows its text;
// pages lists them in order.
func HostilePages(pathOpsMillions int, imageGiB int) (data []byte, pages []RenderPage) {
	pages = []RenderPage{
		{"ordinary first", "An ordinary first page"},
		{"huge", "A huge page"},
		{"strip", "A tall strip"},
		{"path operators", "Millions of path operators"},
		{"image bomb", "An image of gigabytes"},
		{"ordinary last", "An ordinary last page"},
	}
	// 1 catalog, 2 pages, 3 font, 4 path content, 5 image, then (page, content) pairs.
	var paths bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&paths, zlib.BestSpeed)
	line := []byte("10 10 m 90 700 l 500 20 l h S\n")
	for range pathOpsMillions * 1_000_000 / 4 {
		_, _ = zw.Write(line)
	}
	_ = zw.Close()
	// An RGB image side × side: side² × 3 bytes of zeros, inflated.
	side := int(math.Ceil(math.Sqrt(float64(int64(imageGiB)<<30) / 3)))
	pixels := int64(side) * int64(side) * 3
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"", // the page tree, below
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
		Stream("/Filter /FlateDecode", paths.Bytes()),
		Stream(fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /FlateDecode", side, side), Flate(pixels)),
	}
	kids := make([]string, len(pages))
	for i, p := range pages {
		page, text := 6+2*i, 7+2*i
		kids[i] = fmt.Sprintf("%d 0 R", page)
		box, contents, xobjects := "0 0 612 792", fmt.Sprintf("%d 0 R", text), ""
		show := fmt.Sprintf("BT /F1 12 Tf 72 72 Td (%s) Tj ET\n", escape(p.Text))
		switch p.Name {
		case "huge":
			box = "0 0 14400 14400"
		case "strip":
			box = "0 0 100 14400"
			show = fmt.Sprintf("BT /F1 12 Tf 0 1 -1 0 50 72 Tm (%s) Tj ET\n", escape(p.Text))
		case "path operators":
			contents = fmt.Sprintf("[%d 0 R 4 0 R]", text) // text first: extraction stops after 5M operators
		case "image bomb":
			show += "q 36 0 0 36 540 720 cm /Im1 Do Q\n"
			xobjects = " /XObject << /Im1 5 0 R >>"
		}
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [%s] /Contents %s /Resources << /Font << /F1 3 0 R >>%s >> >>", box, contents, xobjects),
			Stream("", []byte(show)))
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(pages))
	return Build(objs, ""), pages
}
