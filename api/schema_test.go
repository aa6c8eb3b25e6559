package api_test

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/api"
	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/events"
	"github.com/foliohq/folio/jobs"
	"github.com/foliohq/folio/pdf"
)

// TestOpenAPISchemasMatchGoTypes keeps the described shapes equal to what
// the server encodes: the same property names, and required exactly where
// the Go field is always present (no omitempty). The browser client's
// types are generated from these schemas (web/client/src/openapi.ts), so a
// server change that breaks the client fails here or in the client's tests.
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("openapi.json")
	require.NoError(t, err)
	var spec struct {
		Components struct {
			Schemas map[string]struct {
				Required   []string                   `json:"required"`
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(raw, &spec))

	for name, v := range map[string]any{
		"Problem":     api.Problem{},
		"Document":    documents.Document{},
		"Page":        documents.PageRow{},
		"Summary":     jobs.Summary{},
		"Metadata":    pdf.Metadata{},
		"OutlineItem": pdf.OutlineItem{},
		"EventBase":   events.Event{},
	} {
		schema, ok := spec.Components.Schemas[name]
		require.True(t, ok, "schema %s is described", name)
		var props, required []string
		for f := range reflect.TypeOf(v).Fields() {
			tag := f.Tag.Get("json")
			if !f.IsExported() || tag == "-" {
				continue
			}
			field, opts, _ := strings.Cut(tag, ",")
			props = append(props, field)
			if !strings.Contains(opts, "omitempty") {
				required = append(required, field)
			}
		}
		described := make([]string, 0, len(schema.Properties))
		for p := range schema.Properties {
			described = append(described, p)
		}
		slices.Sort(props)
		slices.Sort(described)
		slices.Sort(required)
		slices.Sort(schema.Required)
		require.Equal(t, props, described, "%s: properties", name)
		require.Equal(t, required, schema.Required, "%s: required", name)
	}
}
