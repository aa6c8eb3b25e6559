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
	"github.com/foliohq/folio/internal/parsed"
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
			Schemas map[string]schemaProps `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(raw, &spec))

	for name, v := range map[string]any{
		"Problem":     api.Problem{},
		"Document":    documents.Document{},
		"Page":        documents.PageRow{},
		"Summary":     documents.Summary{},
		"Metadata":    parsed.Metadata{},
		"OutlineItem": parsed.OutlineItem{},
		"EventBase":   events.Event{},
	} {
		schema, ok := spec.Components.Schemas[name]
		require.True(t, ok, "schema %s is described", name)
		requireSameShape(t, name, schema, v)
	}
}

type schemaProps struct {
	Required   []string                   `json:"required"`
	Properties map[string]json.RawMessage `json:"properties"`
}

// requireSameShape checks that schema has exactly v's JSON properties, and
// requires exactly those the Go type always encodes (no omitempty).
func requireSameShape(t *testing.T, name string, schema schemaProps, v any) {
	t.Helper()
	props, required := []string{}, []string{}
	for _, f := range reflect.VisibleFields(reflect.TypeOf(v)) {
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" || f.Anonymous && tag == "" {
			continue // an embedded struct's fields are the object's own
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
	want := append([]string{}, schema.Required...)
	slices.Sort(props)
	slices.Sort(described)
	slices.Sort(required)
	slices.Sort(want)
	require.Equal(t, props, described, "%s: properties", name)
	require.Equal(t, required, want, "%s: required", name)
}

// TestEventPayloadsMatchTheirSchemas: every event variant the OpenAPI
// document describes has a Go payload type of the same shape, and every
// payload type is described.
func TestEventPayloadsMatchTheirSchemas(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("openapi.json")
	require.NoError(t, err)
	var spec struct {
		Components struct {
			Schemas struct {
				Event struct {
					OneOf []struct {
						AllOf []struct {
							Properties struct {
								Type struct {
									Const string `json:"const"`
								} `json:"type"`
								Data *schemaProps `json:"data"`
							} `json:"properties"`
						} `json:"allOf"`
					} `json:"oneOf"`
				} `json:"Event"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(raw, &spec))
	described := map[string]schemaProps{}
	for _, variant := range spec.Components.Schemas.Event.OneOf {
		for _, part := range variant.AllOf {
			if c := part.Properties.Type.Const; c != "" {
				require.NotNil(t, part.Properties.Data, "%s: data is described", c)
				described[c] = *part.Properties.Data
			}
		}
	}
	payloads := events.Payloads()
	require.Len(t, described, len(payloads), "one described variant per payload type")
	for _, p := range payloads {
		schema, ok := described[p.EventType()]
		require.True(t, ok, "%s is described", p.EventType())
		requireSameShape(t, p.EventType(), schema, p)
	}
}
