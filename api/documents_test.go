package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/backup"
	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/jobs/jobargs"
	"github.com/foliohq/folio/storage"
)

func TestAuthRequired(t *testing.T) {
	t.Parallel()
	b := setup(t)
	expired, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject: "alice", ExpiresAt: jwt.NewNumericDate(time.Now().Add(-time.Hour)),
	}).SignedString([]byte(testSecret))
	require.NoError(t, err)
	wrongKey, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject: "alice", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}).SignedString([]byte(strings.Repeat("k", 40)))
	require.NoError(t, err)

	for name, header := range map[string]string{
		"missing":      "",
		"not bearer":   "Basic YWxpY2U6cGFzcw==",
		"garbage":      "Bearer not-a-jwt",
		"expired":      "Bearer " + expired,
		"wrong secret": "Bearer " + wrongKey,
	} {
		for _, route := range []struct{ method, path string }{
			{http.MethodPost, "/v1/documents"}, {http.MethodGet, "/v1/documents"},
			{http.MethodGet, "/v1/documents/0193a0e0-0000-7000-8000-000000000000"},
		} {
			h := map[string]string{"Content-Type": "application/pdf"}
			if header != "" {
				h["Authorization"] = header
			}
			resp := b.do(t, route.method, route.path, "", strings.NewReader("%PDF-1.4"), h)
			requireProblem(t, resp, http.StatusUnauthorized, "unauthorized")
			require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer", name)
		}
	}
	b.requireNothingStored(t)
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/v1/openapi.json", "", nil, nil).StatusCode, "the API description is public")
}

// TestOwnersAreIsolated: another owner's document does not exist, for every
// verb (404, never 403: no existence leak).
func TestOwnersAreIsolated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := decode[documents.Document](t, b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 500)))
	path := "/v1/documents/" + doc.ID.String()

	requireProblem(t, b.do(t, http.MethodGet, path, "bob", nil, nil), http.StatusNotFound, "not_found")
	requireProblem(t, b.do(t, http.MethodGet, path+"/content", "bob", nil, nil), http.StatusNotFound, "not_found")
	requireProblem(t, b.do(t, http.MethodPost, path+"/reparse", "bob", nil, nil), http.StatusNotFound, "not_found")
	requireProblem(t, b.do(t, http.MethodDelete, path, "bob", nil, nil), http.StatusNotFound, "not_found")
	list := decode[struct{ Documents []documents.Document }](t, b.do(t, http.MethodGet, "/v1/documents", "bob", nil, nil))
	require.Empty(t, list.Documents)

	resp := b.do(t, http.MethodGet, path, "alice", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "still there for its owner")
	require.Equal(t, doc.ID, decode[documents.Document](t, resp).ID)
	requireProblem(t, b.do(t, http.MethodGet, "/v1/documents/not-a-uuid", "alice", nil, nil), http.StatusNotFound, "not_found")
}

func TestGetDocumentJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := decode[documents.Document](t, b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 500)))

	resp := b.do(t, http.MethodGet, "/v1/documents/"+doc.ID.String(), "alice", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var flat map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&flat))
	for _, k := range []string{"id", "filename", "status", "size_bytes", "sha256", "created_at", "updated_at", "pages_done", "page_count"} {
		require.Contains(t, flat, k)
	}
	require.NotContains(t, flat, "owner")
	require.NotContains(t, flat, "s3_key")
	require.Nil(t, flat["page_count"], "unknown until parsed")
}

func TestListPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var ids []string
	for range 5 {
		ids = append(ids, decode[documents.Document](t, b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 100))).ID.String())
	}
	slices.Reverse(ids) // newest first

	var seen []string
	cursor := ""
	for page := 0; ; page++ {
		require.Less(t, page, 5)
		resp := b.do(t, http.MethodGet, "/v1/documents?limit=2&cursor="+cursor, "alice", nil, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		list := decode[struct {
			Documents  []documents.Document `json:"documents"`
			NextCursor string               `json:"next_cursor"`
		}](t, resp)
		for _, d := range list.Documents {
			seen = append(seen, d.ID.String())
		}
		if list.NextCursor == "" {
			break
		}
		cursor = list.NextCursor
	}
	require.Equal(t, ids, seen)

	requireProblem(t, b.do(t, http.MethodGet, "/v1/documents?cursor=bogus", "alice", nil, nil), http.StatusBadRequest, "bad_cursor")
	requireProblem(t, b.do(t, http.MethodGet, "/v1/documents?limit=1000", "alice", nil, nil), http.StatusBadRequest, "bad_limit")
}

func TestContentRedirectsToPresignedURL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := pdfBytes(t, 2000)
	doc := decode[documents.Document](t, b.uploadRaw(t, "alice", "Résumé%20final.pdf", body))

	resp := b.do(t, http.MethodGet, "/v1/documents/"+doc.ID.String()+"/content", "alice", nil, nil)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc := resp.Header.Get("Location")
	require.Contains(t, loc, "X-Amz-Signature=")
	require.Contains(t, loc, "X-Amz-Expires=60")

	dl, err := http.Get(loc) //nolint:gosec // the URL is the one the API made
	require.NoError(t, err)
	defer dl.Body.Close()
	require.Equal(t, http.StatusOK, dl.StatusCode)
	got, err := io.ReadAll(dl.Body)
	require.NoError(t, err)
	require.Equal(t, body, got)
	require.Contains(t, dl.Header.Get("Content-Disposition"), "attachment")
	require.Contains(t, dl.Header.Get("Content-Disposition"), "R%C3%A9sum%C3%A9%20final.pdf", "the original name, RFC 5987-encoded")
}

func TestReparse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	doc := decode[documents.Document](t, b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 100)))
	path := "/v1/documents/" + doc.ID.String() + "/reparse"

	requireProblem(t, b.do(t, http.MethodPost, path, "alice", nil, nil), http.StatusConflict, "parse_in_progress")

	// The first parse fails the way a worker fails it: the document
	// failed, its job cancelled.
	list, err := b.river.JobList(ctx, river.NewJobListParams().Kinds(jobargs.KindParse))
	require.NoError(t, err)
	require.Len(t, list.Jobs, 1)
	gen := list.Jobs[0].ID
	_, _, err = documents.StartParse(ctx, b.db.Pool, doc.ID, gen, 1)
	require.NoError(t, err)
	require.NoError(t, documents.FailParse(ctx, b.db.Pool, doc.ID, gen, "malformed", "x"))
	_, err = b.river.JobCancel(ctx, gen)
	require.NoError(t, err)

	resp := b.do(t, http.MethodPost, path, "alice", nil, nil)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	got := decode[documents.Document](t, resp)
	require.Equal(t, documents.StatusQueued, got.Status)
	require.Nil(t, got.Failure)
	require.Equal(t, 2, b.count(t, "SELECT count(*) FROM river_job WHERE kind = 'parse'"))
	requireProblem(t, b.do(t, http.MethodPost, path, "alice", nil, nil), http.StatusConflict, "parse_in_progress")
}

func TestDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	doc := decode[documents.Document](t, b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 100)))
	key := b.s3Key(t, doc.ID.String())
	path := "/v1/documents/" + doc.ID.String()

	require.Equal(t, http.StatusNoContent, b.do(t, http.MethodDelete, path, "alice", nil, nil).StatusCode)
	require.Zero(t, b.count(t, "SELECT count(*) FROM documents"))
	require.Equal(t, 1, b.count(t, "SELECT count(*) FROM river_job WHERE kind = 'parse' AND state = 'cancelled'"), "its queued parse is cancelled")
	_, err := b.bucket.Store.Get(ctx, key)
	require.ErrorIs(t, err, storage.ErrNotFound)

	requireProblem(t, b.do(t, http.MethodDelete, path, "alice", nil, nil), http.StatusNotFound, "not_found")
	requireProblem(t, b.do(t, http.MethodGet, path, "alice", nil, nil), http.StatusNotFound, "not_found")

	// The erasure went to the ledger first (once: the second delete found
	// nothing): a restore to an earlier time deletes it again.
	var erased []backup.Erasure
	require.NoError(t, backup.Ledger{Store: b.bucket.Store}.Each(ctx, func(e backup.Erasure) error {
		erased = append(erased, e)
		return nil
	}))
	require.Len(t, erased, 1)
	require.Equal(t, doc.ID, erased[0].DocumentID)
	require.Equal(t, "alice", erased[0].Owner)
	require.Equal(t, "owner", erased[0].By)
}

func TestCORS(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp := b.do(t, http.MethodOptions, "/v1/documents", "", nil, map[string]string{
		"Origin": "http://app.example", "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "authorization,content-type",
	})
	require.Equal(t, "http://app.example", resp.Header.Get("Access-Control-Allow-Origin"))

	resp = b.uploadRaw(t, "alice", "a.pdf", pdfBytes(t, 100))
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	resp = b.do(t, http.MethodGet, "/v1/documents", "alice", nil, map[string]string{"Origin": "http://app.example"})
	require.Equal(t, "http://app.example", resp.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, resp.Header.Get("Access-Control-Expose-Headers"), "Location")

	resp = b.do(t, http.MethodGet, "/v1/documents", "alice", nil, map[string]string{"Origin": "http://evil.example"})
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
}

// TestOpenAPIMatchesRoutes keeps the API description honest: every route
// the router serves is described, and nothing else is.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp := b.do(t, http.MethodGet, "/v1/openapi.json", "", nil, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var spec struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&spec))
	require.Equal(t, "3.1.0", spec.OpenAPI)

	var described []string
	for path, ops := range spec.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			described = append(described, strings.ToUpper(method)+" "+path)
		}
	}
	routes := b.server.Routes()
	slices.Sort(described)
	slices.Sort(routes)
	require.Equal(t, routes, described)
}

func TestUnknownRoutesAreProblems(t *testing.T) {
	t.Parallel()
	b := setup(t)
	requireProblem(t, b.do(t, http.MethodGet, "/v2/nothing", "alice", nil, nil), http.StatusNotFound, "no_such_endpoint")
	resp := b.do(t, http.MethodPatch, "/v1/documents", "alice", nil, nil)
	requireProblem(t, resp, http.StatusMethodNotAllowed, "method_not_allowed")
	require.Equal(t, "GET, POST, PUT", resp.Header.Get("Allow"))
}

// TestUploadWithPUT is what `curl -T paper.pdf URL` does.
func TestUploadWithPUT(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := pdfBytes(t, 1000)
	resp := b.do(t, http.MethodPut, "/v1/documents?filename=paper.pdf", "alice", bytesReader(body),
		map[string]string{"Content-Type": "application/pdf"})
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, sha(body), decode[documents.Document](t, resp).SHA256)
}

// TestDotOwnersStayInTheirPrefix: the subjects "." and ".." (which dev
// tokens hand out) once got keys with dot segments that servers collapse:
// their originals landed outside their prefix, were swept as orphans, and
// their download links broke in browsers. Now every owner's originals sit
// under one safe segment of its own, and downloads work.
func TestDotOwnersStayInTheirPrefix(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, owner := range []string{".", "..", "a/../b", "%2e%2e"} {
		body := pdfBytes(t, 500)
		doc := decode[documents.Document](t, b.uploadRaw(t, owner, "a.pdf", body))
		key := b.s3Key(t, doc.ID.String())
		require.Equal(t, documents.OriginalKey(owner, doc.ID), key)
		require.NotRegexp(t, `(^|/)\.\.?(/|$)`, key, "owner %q: no dot segment", owner)
		require.Equal(t, body, b.object(t, key), "owner %q: stored where the row says", owner)

		resp := b.do(t, http.MethodGet, "/v1/documents/"+doc.ID.String()+"/content", owner, nil, nil)
		require.Equal(t, http.StatusFound, resp.StatusCode)
		loc, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		require.Equal(t, path.Clean(loc.Path), loc.Path, "owner %q: a browser fetches the link as signed", owner)
		dl, err := http.Get(loc.String()) //nolint:gosec // the URL is the one the API made
		require.NoError(t, err)
		got, err := io.ReadAll(dl.Body)
		dl.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, dl.StatusCode, "owner %q", owner)
		require.Equal(t, body, got)
	}
}
