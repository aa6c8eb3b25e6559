// Command scanpdf writes a scan of a PDF to stdout (pdftest.ScanWithPoppler:
// its pages rendered to grey JPEGs, wrapped as an image-only PDF, as a
// scanner makes one): the scanned document the browser end-to-end test
// uploads for OCR. Needs pdftoppm (poppler-utils).
//
//	go run ./internal/pdftest/cmd/scanpdf -dpi 300 Walden.pdf > scan.pdf
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/foliohq/folio/internal/pdftest"
)

func main() {
	dpi := flag.Int("dpi", 300, "scan resolution")
	flag.Parse()
	if flag.NArg() != 1 || *dpi < 50 || *dpi > 1200 {
		fmt.Fprintln(os.Stderr, "usage: scanpdf [-dpi 300] FILE.pdf > scan.pdf (dpi 50 to 1200)")
		os.Exit(2)
	}
	data, err := os.ReadFile(flag.Arg(0))
	if err == nil {
		data, err = pdftest.ScanWithPoppler(context.Background(), data, *dpi)
	}
	if err == nil {
		_, err = os.Stdout.Write(data)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scanpdf:", err)
		os.Exit(1)
	}
}
