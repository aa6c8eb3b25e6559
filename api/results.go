package api

import (
	"bufio"
	"html"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/foliohq/folio/documents"
)

// requireDone answers 409 for a document whose parse has not finished
// (403 for a quarantined one).
func requireDone(w http.ResponseWriter, doc *documents.Document) bool {
	if doc.Status == documents.StatusDone {
		return true
	}
	if p := unscanned(doc); p != nil {
		writeProblem(w, p)
		return false
	}
	writeProblem(w, problem(http.StatusConflict, "not_parsed", "The document is "+string(doc.Status)+"; its results are there once it is done."))
	return false
}

// unscanned is the problem of reading anything of a document that is
// quarantined (403 quarantined) or not scanned yet (409 scan_pending); nil
// for any other.
func unscanned(doc *documents.Document) *Problem {
	switch doc.Status {
	case documents.StatusQuarantined:
		detail := "Malware was found in this document"
		if doc.Scan != nil && doc.Scan.Found != "" {
			detail += " (" + doc.Scan.Found + ")"
		}
		return problem(http.StatusForbidden, "quarantined", detail+": it is quarantined, and neither it nor anything read from it is served. An operator may release it.")
	case documents.StatusScanning:
		return problem(http.StatusConflict, "scan_pending", "The document is being scanned for malware; it is served once the scan has passed.")
	}
	return nil
}

// intParam reads a positive integer query parameter.
func intParam(r *http.Request, key string, def, lo, hi int) (int, bool) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, false
	}
	return n, true
}

// pageList is one page of GET /v1/documents/{id}/pages.
type pageList struct {
	Pages    []documents.PageRow `json:"pages"`
	NextFrom int                 `json:"next_from,omitempty"`
}

// pages handles GET /v1/documents/{id}/pages?from=&limit=.
func (s *Server) pages(w http.ResponseWriter, r *http.Request) {
	doc, ok := s.loadDocument(w, r)
	if !ok || !requireDone(w, doc) {
		return
	}
	from, ok1 := intParam(r, "from", 1, 1, 1<<30)
	limit, ok2 := intParam(r, "limit", 20, 1, 100)
	if !ok1 || !ok2 {
		writeProblem(w, problem(http.StatusBadRequest, "bad_range", "from must be a page number (1 or more) and limit 1 to 100."))
		return
	}
	rows, err := documents.Pages(r.Context(), s.Pool, doc.ID, from, limit)
	if err != nil {
		s.writeError(w, err)
		return
	}
	list := pageList{Pages: rows}
	if len(rows) == limit && doc.PageCount != nil && rows[len(rows)-1].Number < *doc.PageCount {
		list.NextFrom = rows[len(rows)-1].Number + 1
	}
	writeJSON(w, http.StatusOK, list)
}

// text handles GET /v1/documents/{id}/text: every page's text, a form feed
// between pages, streamed.
func (s *Server) text(w http.ResponseWriter, r *http.Request) {
	doc, ok := s.loadDocument(w, r)
	if !ok || !requireDone(w, doc) {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	bw := bufio.NewWriterSize(w, 64<<10)
	err := documents.EachPageText(r.Context(), s.Pool, doc.ID, func(n int, text string) error {
		if n > 1 {
			if err := bw.WriteByte('\f'); err != nil {
				return err
			}
		}
		_, err := bw.WriteString(text)
		return err
	})
	if err != nil {
		// Headers are out: all that can be done is to stop.
		s.Logger.Error("streaming text", "document_id", doc.ID, "err", err)
		return
	}
	_ = bw.Flush()
}

// outline handles GET /v1/documents/{id}/outline.
func (s *Server) outline(w http.ResponseWriter, r *http.Request) {
	doc, ok := s.loadDocument(w, r)
	if !ok || !requireDone(w, doc) {
		return
	}
	raw, err := documents.Outline(r.Context(), s.Pool, doc.ID)
	if err != nil {
		s.writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(`{"outline":`))
	_, _ = w.Write(raw)
	_, _ = w.Write([]byte("}\n"))
}

// searchResult is GET /v1/search's answer.
type searchResult struct {
	Query string          `json:"query"`
	Hits  []documents.Hit `json:"hits"`
}

// search handles GET /v1/search?q=&limit=: full-text search over the
// caller's documents. Snippets are HTML-escaped text with the matches in
// <mark>…</mark>.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" || utf8.RuneCountInString(q) > 500 {
		writeProblem(w, problem(http.StatusBadRequest, "bad_query", "q must be 1 to 500 characters."))
		return
	}
	if !validText(q) {
		writeProblem(w, problem(http.StatusBadRequest, "bad_query", "q must be UTF-8 text without NUL characters."))
		return
	}
	limit, ok := intParam(r, "limit", 20, 1, 100)
	if !ok {
		writeProblem(w, problem(http.StatusBadRequest, "bad_limit", "limit must be a whole number from 1 to 100."))
		return
	}
	hits, err := documents.Search(r.Context(), s.Pool, ownerOf(r.Context()), q, limit)
	if err != nil {
		s.writeError(w, err)
		return
	}
	for i := range hits {
		hits[i].Snippet = markSnippet(hits[i].Snippet)
	}
	writeJSON(w, http.StatusOK, searchResult{Query: q, Hits: hits})
}

// validText reports whether s can reach Postgres as text: valid UTF-8 and
// no NUL (which text columns and parameters refuse).
func validText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

var markReplacer = strings.NewReplacer(documents.MarkStart, "<mark>", documents.MarkStop, "</mark>")

// markSnippet escapes a snippet for HTML and turns the match markers into
// <mark> elements: the page text itself can never inject markup.
func markSnippet(s string) string {
	return markReplacer.Replace(html.EscapeString(s))
}
