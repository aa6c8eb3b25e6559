package sandbox_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/foliohq/folio/internal/pdftest"
	"github.com/foliohq/folio/internal/sandbox"
	"github.com/foliohq/folio/pdf"
)

// BenchmarkRun is one small document through the sandbox (the cost of a
// child: start, limits, pipes, report), next to BenchmarkInspect in-process.
func BenchmarkRun(b *testing.B) {
	data := pdftest.TextPages([]string{"a page of text"}, []string{"another page"})
	r := runner()
	for b.Loop() {
		if _, err := r.Run(context.Background(), bytes.NewReader(data), 1, sandbox.Handler{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkInspect(b *testing.B) {
	data := pdftest.TextPages([]string{"a page of text"}, []string{"another page"})
	for b.Loop() {
		if _, err := pdf.Inspect(data, pdf.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
