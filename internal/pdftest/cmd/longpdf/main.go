// Command longpdf writes a long text PDF (pdftest.LongDocument) to stdout:
// the large document the browser end-to-end test reloads the page on while
// it parses.
//
//	go run ./internal/pdftest/cmd/longpdf -pages 3000 > long.pdf
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/foliohq/folio/internal/pdftest"
)

func main() {
	pages := flag.Int("pages", 2000, "number of pages")
	lines := flag.Int("lines", 60, "lines of text per page")
	title := flag.String("title", "Long document", "text at the top of each page")
	flag.Parse()
	if *pages < 1 || *lines < 0 {
		fmt.Fprintln(os.Stderr, "longpdf: -pages must be at least 1 and -lines not negative")
		os.Exit(2)
	}
	if _, err := os.Stdout.Write(pdftest.LongDocument(*title, *pages, *lines)); err != nil {
		fmt.Fprintln(os.Stderr, "longpdf:", err)
		os.Exit(1)
	}
}
