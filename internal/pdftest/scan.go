package pdftest

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // DecodeConfig of the pages
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Scanned wraps JPEG images, one per page, as an image-only PDF (what a
// scanner makes): each page the size of its image at dpi, the image
// drawn over all of it, no text.
func Scanned(dpi int, jpegs ...[]byte) ([]byte, error) {
	n := len(jpegs)
	kids := make([]string, n)
	for i := range jpegs {
		kids[i] = fmt.Sprintf("%d 0 R", 3+3*i)
	}
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n),
	}
	for i, img := range jpegs {
		cfg, format, err := image.DecodeConfig(bytes.NewReader(img))
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", i+1, err)
		}
		if format != "jpeg" {
			return nil, fmt.Errorf("page %d is %s, not a JPEG", i+1, format)
		}
		cs := "/DeviceRGB"
		switch cfg.ColorModel {
		case color.GrayModel:
			cs = "/DeviceGray"
		case color.CMYKModel:
			cs = "/DeviceCMYK"
		}
		w, h := float64(cfg.Width)*72/float64(dpi), float64(cfg.Height)*72/float64(dpi)
		content := fmt.Sprintf("q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q", w, h)
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>",
				w, h, 5+3*i, 4+3*i),
			Stream("", []byte(content)),
			Stream(fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s /BitsPerComponent 8 /Filter /DCTDecode",
				cfg.Width, cfg.Height, cs), img))
	}
	return Build(objs, ""), nil
}

// ScanWithPoppler renders pages of a PDF with pdftoppm (poppler-utils) to
// grey JPEGs at dpi, as they would print (no annotations), and wraps them
// with Scanned: a scan of the document, for OCR tests. pages are 1-based;
// empty means all.
func ScanWithPoppler(ctx context.Context, pdf []byte, dpi int, pages ...int) ([]byte, error) {
	jpegs, err := PageJPEGs(ctx, pdf, dpi, pages...)
	if err != nil {
		return nil, err
	}
	return Scanned(dpi, jpegs...)
}

// PageJPEGs renders pages of a PDF with pdftoppm (poppler-utils) to grey
// JPEGs at dpi, without annotations. pages are 1-based; empty means all.
func PageJPEGs(ctx context.Context, pdf []byte, dpi int, pages ...int) ([][]byte, error) {
	dir, err := os.MkdirTemp("", "folio-scan-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		return nil, err
	}
	if len(pages) == 0 {
		out, err := exec.CommandContext(ctx, "pdfinfo", in).Output()
		if err != nil {
			return nil, fmt.Errorf("pdfinfo: %w", err)
		}
		var count int
		for _, line := range strings.Split(string(out), "\n") {
			if rest, ok := strings.CutPrefix(line, "Pages:"); ok {
				_, _ = fmt.Sscan(strings.TrimSpace(rest), &count)
			}
		}
		for p := 1; p <= count; p++ {
			pages = append(pages, p)
		}
	}
	var jpegs [][]byte
	for _, p := range pages {
		base := filepath.Join(dir, fmt.Sprintf("p%d", p))
		// Without annotations: link borders and the like do not print.
		cmd := exec.CommandContext(ctx, "pdftoppm", "-r", fmt.Sprint(dpi), "-gray", "-jpeg", "-jpegopt", "quality=85", "-hide-annotations",
			"-singlefile", "-f", fmt.Sprint(p), "-l", fmt.Sprint(p), in, base)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("pdftoppm page %d: %w: %s", p, err, out)
		}
		img, err := os.ReadFile(base + ".jpg")
		if err != nil {
			return nil, err
		}
		jpegs = append(jpegs, img)
	}
	return jpegs, nil
}
