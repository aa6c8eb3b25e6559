package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/pdf"
)

// parsed uploads a document for owner and stores a parse result for it as
// the parse worker would (the worker itself is tested in jobs).
func (b *testBundle) parsed(t *testing.T, owner string, texts ...string) documents.Document {
	t.Helper()
	ctx := context.Background()
	doc := decode[documents.Document](t, b.uploadRaw(t, owner, "book.pdf", pdfBytes(t, 1000)))
	gen := int64(42)
	_, _, err := documents.StartParse(ctx, b.db.Pool, doc.ID, gen, 1)
	require.NoError(t, err)
	var rows []documents.PageRow
	for i, text := range texts {
		rows = append(rows, documents.PageRow{Number: i + 1, Width: 612, Height: 792, Text: text})
	}
	require.NoError(t, documents.SavePages(ctx, b.db.Pool, doc.ID, gen, rows, len(rows), true))
	outline := []pdf.OutlineItem{{Title: "Chapter 1", Page: 1, Children: []pdf.OutlineItem{{Title: "1.1 Start", Page: 2}}}}
	ok, err := documents.FinishParse(ctx, b.db.Pool, doc.ID, gen, len(texts), documents.Summary{Version: "1.7"}, outline, nil)
	require.NoError(t, err)
	require.True(t, ok)
	return doc
}

func TestPagesTextOutline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := b.parsed(t, "alice", "first page", "second page", "third <b>page</b>")
	base := "/v1/documents/" + doc.ID.String()

	resp := b.do(t, http.MethodGet, base+"/pages?from=2&limit=1", "alice", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	list := decode[struct {
		Pages    []documents.PageRow `json:"pages"`
		NextFrom int                 `json:"next_from"`
	}](t, resp)
	require.Len(t, list.Pages, 1)
	require.Equal(t, 2, list.Pages[0].Number)
	require.Equal(t, "second page", list.Pages[0].Text)
	require.InDelta(t, 612, list.Pages[0].Width, 0.01)
	require.Equal(t, 3, list.NextFrom)

	resp = b.do(t, http.MethodGet, base+"/text", "alice", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "first page\fsecond page\fthird <b>page</b>", string(body))

	resp = b.do(t, http.MethodGet, base+"/outline", "alice", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	outline := decode[struct{ Outline []pdf.OutlineItem }](t, resp)
	require.Equal(t, "Chapter 1", outline.Outline[0].Title)
	require.Equal(t, 2, outline.Outline[0].Children[0].Page)

	got := decode[documents.Document](t, b.do(t, http.MethodGet, base, "alice", nil, nil))
	require.Equal(t, documents.StatusDone, got.Status)
	require.Equal(t, 3, *got.PageCount)
	var summary documents.Summary
	require.NoError(t, json.Unmarshal(got.Summary, &summary))
	require.Equal(t, "1.7", summary.Version)

	for _, path := range []string{"/pages", "/text", "/outline"} {
		requireProblem(t, b.do(t, http.MethodGet, base+path, "bob", nil, nil), http.StatusNotFound, "not_found")
	}
	requireProblem(t, b.do(t, http.MethodGet, base+"/pages?limit=0", "alice", nil, nil), http.StatusBadRequest, "bad_range")

	queued := decode[documents.Document](t, b.uploadRaw(t, "alice", "q.pdf", pdfBytes(t, 100)))
	requireProblem(t, b.do(t, http.MethodGet, "/v1/documents/"+queued.ID.String()+"/text", "alice", nil, nil), http.StatusConflict, "not_parsed")
}

func TestSearch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := b.parsed(t, "alice", "nothing to see", "the quick brown fox jumps over the lazy dog", "fish & chips, 2<3 fox")
	b.parsed(t, "bob", "a fox of bob's")

	resp := b.do(t, http.MethodGet, "/v1/search?q=fox", "alice", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	res := decode[struct {
		Hits []documents.Hit `json:"hits"`
	}](t, resp)
	require.Len(t, res.Hits, 2, "alice's pages only")
	pagesHit := map[int]string{}
	for _, h := range res.Hits {
		require.Equal(t, doc.ID, h.DocumentID)
		require.Equal(t, "book.pdf", h.Filename)
		pagesHit[h.Page] = h.Snippet
	}
	require.Contains(t, pagesHit[2], "<mark>fox</mark>")
	require.Contains(t, pagesHit[3], "fish &amp; chips, 2&lt;3", "page text is escaped, never markup")

	phrase := decode[struct {
		Hits []documents.Hit `json:"hits"`
	}](t, b.do(t, http.MethodGet, `/v1/search?q="lazy+dog"`, "alice", nil, nil))
	require.Len(t, phrase.Hits, 1)
	require.Equal(t, 2, phrase.Hits[0].Page)

	none := decode[struct {
		Hits []documents.Hit `json:"hits"`
	}](t, b.do(t, http.MethodGet, "/v1/search?q=unicorn", "alice", nil, nil))
	require.Empty(t, none.Hits)
	requireProblem(t, b.do(t, http.MethodGet, "/v1/search?q=", "alice", nil, nil), http.StatusBadRequest, "bad_query")
}
