package telemetry_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/internal/telemetry"
)

// TestMadeUpMethodsAddNoSeries: anyone can send any method; the metrics
// must not grow a series per made-up one (the API and the worker both
// serve through Instrument).
func TestMadeUpMethodsAddNoSeries(t *testing.T) {
	t.Parallel()
	m := telemetry.NewMetrics()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {})
	srv := httptest.NewServer(m.Instrument(mux))
	defer srv.Close()

	series := func() int {
		families, err := m.Registry.Gather()
		require.NoError(t, err)
		for _, f := range families {
			if f.GetName() == "folio_http_requests_total" {
				return len(f.GetMetric())
			}
		}
		return 0
	}
	for i := range 50 {
		req, err := http.NewRequest(fmt.Sprintf("M%d", i), srv.URL+"/healthz", nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	require.Equal(t, 1, series(), "every made-up method is one label value")
	resp, err := http.Get(srv.URL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 2, series(), "GET is its own")
	require.Equal(t, "other", telemetry.MethodLabel("M123"))
	require.Equal(t, http.MethodDelete, telemetry.MethodLabel(http.MethodDelete))
}
