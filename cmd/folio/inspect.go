package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/foliohq/folio/cmd/internal/app"
	"github.com/foliohq/folio/pdf"
)

// inspect runs the parser in this process on a local file and prints what
// the worker would store: the summary as JSON, and with --text each page.
// It is a developer's tool: the worker always parses in the sandbox.
func inspect(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("folio inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	text := fs.Bool("text", false, "print each page's text after the summary")
	if err := fs.Parse(args); err != nil {
		return app.ExitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: folio inspect [--text] FILE.pdf")
		return app.ExitUsage
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "folio inspect: %v\n", err)
		return app.ExitFailed
	}
	var pages []pdf.Page
	res, err := pdf.Inspect(data, pdf.Options{Page: func(p pdf.Page) error {
		if *text {
			pages = append(pages, p)
		}
		return nil
	}})
	if err != nil {
		var perr *pdf.Error
		if errors.As(err, &perr) {
			fmt.Fprintf(stderr, "folio inspect: %s: %s\n", perr.Code, perr.Message)
		} else {
			fmt.Fprintf(stderr, "folio inspect: %v\n", err)
		}
		return app.ExitFailed
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(res)
	for _, p := range pages {
		fmt.Fprintf(stdout, "\f--- page %d (%.0f×%.0f pt, rotated %d)\n%s\n", p.Number, p.Width, p.Height, p.Rotation, p.Text)
	}
	return app.ExitOK
}
