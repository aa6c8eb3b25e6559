package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/foliohq/folio/events"
)

// eventSchemas are the `data` schemas of api/openapi.json's Event, by type:
// what the browser client's generated types say each event carries.
type eventSchemas map[string]dataSchema

type dataSchema struct {
	Type       any                        `json:"type"` // "object" or "null"
	Required   []string                   `json:"required"`
	Properties map[string]json.RawMessage `json:"properties"`
}

func loadEventSchemas(t *testing.T) eventSchemas {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "api", "openapi.json"))
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
								Data dataSchema `json:"data"`
							} `json:"properties"`
						} `json:"allOf"`
					} `json:"oneOf"`
				} `json:"Event"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(raw, &spec))
	out := eventSchemas{}
	for _, v := range spec.Components.Schemas.Event.OneOf {
		for _, part := range v.AllOf {
			if c := part.Properties.Type.Const; c != "" {
				out[c] = part.Properties.Data
			}
		}
	}
	require.Len(t, out, len(events.Payloads()), "every event type is described")
	return out
}

// requireDescribed checks one event's data against its described schema:
// every key is a described property of the right JSON type, and every
// required one is there.
func (s eventSchemas) requireDescribed(t *testing.T, typ string, data json.RawMessage) {
	t.Helper()
	schema, ok := s[typ]
	require.True(t, ok, "event type %q is described in api/openapi.json", typ)
	if schema.Type == "null" {
		require.Contains(t, []string{"", "null"}, strings.TrimSpace(string(data)), "%s carries no data", typ)
		return
	}
	var got map[string]any
	require.NoError(t, json.Unmarshal(data, &got), "%s: data is an object: %s", typ, data)
	for _, k := range schema.Required {
		require.Contains(t, got, k, "%s: data has %q (%s)", typ, k, data)
	}
	for k, v := range got {
		prop, ok := schema.Properties[k]
		require.True(t, ok, "%s: data.%s is described in api/openapi.json", typ, k)
		var p struct {
			Type string `json:"type"`
			Ref  string `json:"$ref"`
		}
		require.NoError(t, json.Unmarshal(prop, &p))
		switch p.Type {
		case "integer":
			f, isNum := v.(float64)
			require.True(t, isNum && f == float64(int64(f)), "%s: data.%s is an integer, not %v", typ, k, v)
		case "number":
			require.IsType(t, float64(0), v, "%s: data.%s is a number", typ, k)
		case "string":
			require.IsType(t, "", v, "%s: data.%s", typ, k)
		case "boolean":
			require.IsType(t, true, v, "%s: data.%s", typ, k)
		default:
			require.NotEmpty(t, p.Ref, "%s: data.%s has a type or a $ref", typ, k)
			require.IsType(t, map[string]any{}, v, "%s: data.%s is an object", typ, k)
		}
	}
}
