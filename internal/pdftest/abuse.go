package pdftest

import (
	"bytes"
	"fmt"
	"image"
	"strings"
)

// NestedForms is a small PDF whose one page draws a form XObject that
// draws fanout copies of the next, depth levels deep, the last showing a
// word: fanout^depth words from a few kilobytes (a parse that takes as
// long as its limit allows: the noisy-neighbour suite's slow file).
func NestedForms(depth, fanout int) []byte { return NestedFormsShowing(depth, fanout, "w") }

// NestedFormsShowing is NestedForms whose last form shows word.
func NestedFormsShowing(depth, fanout int, word string) []byte {
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /F 6 0 R >> /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		Stream("", []byte("q /F Do Q")),
	}
	// Forms 6 .. 6+depth-1: each draws the next fanout times; the last
	// shows a word.
	for i := range depth {
		res, body := "/Font << /F1 4 0 R >>", "BT /F1 1 Tf 0 0 Td ("+escape(word)+") Tj ET"
		if i < depth-1 {
			res += fmt.Sprintf(" /XObject << /F %d 0 R >>", 7+i)
			body = strings.Repeat("q 1 0 0 1 0.01 0 cm /F Do Q ", fanout)
		}
		objs = append(objs, Stream(fmt.Sprintf("/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << %s >>", res), []byte(body)))
	}
	return Build(objs, "")
}

// RepeatedScan is an image-only PDF of n pages that all draw one JPEG (a
// scan a few kilobytes long with as many pages as one likes: each needs
// OCR).
func RepeatedScan(jpeg []byte, dpi, n int) ([]byte, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(jpeg))
	if err != nil {
		return nil, err
	}
	if format != "jpeg" {
		return nil, fmt.Errorf("a %s, not a JPEG", format)
	}
	w, h := float64(cfg.Width)*72/float64(dpi), float64(cfg.Height)*72/float64(dpi)
	kids := make([]string, n)
	for i := range n {
		kids[i] = fmt.Sprintf("%d 0 R", 5+i)
	}
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n),
		Stream(fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode",
			cfg.Width, cfg.Height), jpeg),
		Stream("", []byte(fmt.Sprintf("q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q", w, h))),
	}
	for range n {
		objs = append(objs, fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /XObject << /Im0 3 0 R >> >> /Contents 4 0 R >>", w, h))
	}
	return Build(objs, ""), nil
}
