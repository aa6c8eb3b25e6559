package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// TestUploadResumableRetriesCreation: an upload's creation that meets a
// 503 (the database away: nothing was kept) is made again, like the
// requests after it; one that meets a 4xx is not. A narrow fake of the
// tus server for the error path (internal/e2e's TestFaults runs the
// client against the real API through real faults).
func TestUploadResumableRetriesCreation(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		status     int
		wantPosts  int32
		wantUpload bool
	}{
		{"503 then 201", http.StatusServiceUnavailable, 2, true},
		{"400 is final", http.StatusBadRequest, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			id := uuid.New()
			body := []byte("%PDF-1.7\nhello")
			var posts atomic.Int32
			var got bytes.Buffer
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == http.MethodPost && r.URL.Path == "/v1/uploads":
					if posts.Add(1) == 1 {
						w.Header().Set("Content-Type", "application/problem+json")
						w.WriteHeader(c.status)
						_ = json.NewEncoder(w).Encode(map[string]any{"status": c.status, "code": "database_unavailable", "detail": "away"})
						return
					}
					w.Header().Set("Location", "/v1/uploads/"+id.String())
					w.WriteHeader(http.StatusCreated)
				case r.Method == http.MethodPatch:
					_, _ = io.Copy(&got, r.Body)
					w.Header().Set("Upload-Offset", strconv.Itoa(got.Len()))
					w.Header().Set("Folio-Document-Id", id.String())
					w.WriteHeader(http.StatusNoContent)
				case r.Method == http.MethodGet:
					_ = json.NewEncoder(w).Encode(Document{ID: id, Status: "queued", SizeBytes: int64(got.Len())})
				default:
					http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusTeapot)
				}
			}))
			defer srv.Close()
			doc, err := New("tok", srv.URL).UploadResumable(context.Background(), "a.pdf", bytes.NewReader(body), int64(len(body)), UploadOptions{})
			require.Equal(t, c.wantPosts, posts.Load())
			if !c.wantUpload {
				var p *Problem
				require.ErrorAs(t, err, &p)
				require.Equal(t, c.status, p.Status)
				return
			}
			require.NoError(t, err)
			require.Equal(t, id, doc.ID)
			require.Equal(t, body, got.Bytes())
		})
	}
}
