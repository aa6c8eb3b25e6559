package client

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// spec is api/openapi.json, the one source of the wire format: the server
// is tested against it (api's schema tests), the TypeScript client's types
// are generated from it, and this test holds the Go client's types to it.
type spec struct {
	Components struct {
		Schemas map[string]*schema `json:"schemas"`
	} `json:"components"`
}

type schema struct {
	Ref        string             `json:"$ref"`
	Type       any                `json:"type"` // a name or a list of names
	Const      any                `json:"const"`
	Enum       []any              `json:"enum"` // strings, or numbers
	Properties map[string]*schema `json:"properties"`
	Items      *schema            `json:"items"`
	// AdditionalProperties: an object's values (a map in Go), or false.
	AdditionalProperties json.RawMessage `json:"additionalProperties"`
	AllOf                []*schema       `json:"allOf"`
	OneOf                []*schema       `json:"oneOf"`
}

func loadSpec(t *testing.T) *spec {
	t.Helper()
	b, err := os.ReadFile("../api/openapi.json")
	require.NoError(t, err)
	var s spec
	require.NoError(t, json.Unmarshal(b, &s))
	return &s
}

func (s *spec) resolve(sc *schema) *schema {
	for sc != nil && sc.Ref != "" {
		sc = s.Components.Schemas[strings.TrimPrefix(sc.Ref, "#/components/schemas/")]
	}
	return sc
}

// properties merges the properties of a schema and of its allOf parts.
func (s *spec) properties(sc *schema) map[string]*schema {
	sc = s.resolve(sc)
	props := map[string]*schema{}
	if sc == nil {
		return props
	}
	for _, part := range sc.AllOf {
		for k, v := range s.properties(part) {
			props[k] = v
		}
	}
	for k, v := range sc.Properties {
		props[k] = v
	}
	return props
}

// event finds the data schema of the event of this type.
func (s *spec) event(typ string) *schema {
	for _, variant := range s.Components.Schemas["Event"].OneOf {
		props := s.properties(variant)
		if t := props["type"]; t != nil && t.Const == typ {
			return props["data"]
		}
	}
	return nil
}

func (sc *schema) types() []string {
	switch v := sc.Type.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

var (
	rawType  = reflect.TypeFor[json.RawMessage]()
	uuidType = reflect.TypeFor[uuid.UUID]()
	timeType = reflect.TypeFor[time.Time]()
)

// compare lists where the Go type disagrees with the schema: a JSON field
// the schema does not have, or of another type. The Go types may leave
// fields out (the client reads what it needs), never have others.
func (s *spec) compare(typ reflect.Type, props map[string]*schema, where string) []string {
	var out []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		sc := props[name]
		if sc == nil {
			out = append(out, fmt.Sprintf("%s.%s: api/openapi.json has no property %q in %s", typ.Name(), f.Name, name, where))
			continue
		}
		out = append(out, s.compareValue(f.Type, s.resolve(sc), fmt.Sprintf("%s.%s (%q in %s)", typ.Name(), f.Name, name, where))...)
	}
	return out
}

func (s *spec) compareValue(t reflect.Type, sc *schema, where string) []string {
	if t == rawType || sc == nil {
		return nil // any JSON
	}
	types := sc.types()
	is := func(want string) []string {
		if len(types) == 0 && sc.Const != nil {
			return nil
		}
		if len(types) == 0 && len(sc.AllOf)+len(sc.OneOf) > 0 && want == "object" {
			return nil
		}
		if !slices.Contains(types, want) {
			return []string{fmt.Sprintf("%s: Go %s, the schema says %v", where, t, types)}
		}
		return nil
	}
	switch {
	case t == uuidType || t == timeType:
		return is("string")
	case t.Kind() == reflect.Pointer:
		return s.compareValue(t.Elem(), sc, where)
	}
	switch t.Kind() {
	case reflect.String:
		return is("string")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return is("integer")
	case reflect.Float32, reflect.Float64:
		if slices.Contains(types, "integer") {
			return nil
		}
		return is("number")
	case reflect.Bool:
		return is("boolean")
	case reflect.Slice:
		if bad := is("array"); bad != nil {
			return bad
		}
		return s.compareValue(t.Elem(), s.resolve(sc.Items), where+"[]")
	case reflect.Struct:
		if bad := is("object"); bad != nil {
			return bad
		}
		return s.compare(t, s.properties(sc), where)
	case reflect.Map:
		if bad := is("object"); bad != nil {
			return bad
		}
		var values *schema
		if t.Key().Kind() != reflect.String || json.Unmarshal(sc.AdditionalProperties, &values) != nil || values == nil {
			return []string{fmt.Sprintf("%s: Go %s, the schema is no map of string keys (additionalProperties)", where, t)}
		}
		return s.compareValue(t.Elem(), s.resolve(values), where+"{}")
	}
	return []string{fmt.Sprintf("%s: Go %s has no JSON counterpart here", where, t)}
}

// TestWireTypes holds every type the Go client decodes from the API to the
// OpenAPI document: a property renamed, removed or retyped on the server's
// side fails here.
func TestWireTypes(t *testing.T) {
	s := loadSpec(t)
	schemas := s.Components.Schemas
	snapshot := s.properties(&schema{AllOf: []*schema{schemas["EventBase"], schemas["DocumentSnapshot"], schemas["DocumentsSnapshot"]}})
	cases := []struct {
		typ   reflect.Type
		props map[string]*schema
		where string
	}{
		{reflect.TypeFor[Document](), s.properties(schemas["Document"]), "Document"},
		{reflect.TypeFor[Failure](), s.properties(s.properties(schemas["Document"])["failure"]), "Document.failure"},
		{reflect.TypeFor[Problem](), s.properties(schemas["Problem"]), "Problem"},
		{reflect.TypeFor[Message](), snapshot, "EventBase, DocumentSnapshot and DocumentsSnapshot"},
		{reflect.TypeFor[Progress](), s.properties(s.event("parse.progress")), "the parse.progress event's data"},
	}
	for _, c := range cases {
		require.NotEmpty(t, c.props, "api/openapi.json has no %s", c.where)
		assert.Empty(t, s.compare(c.typ, c.props, c.where))
	}

	// The statuses and event types the client's Terminal methods name
	// are the API's.
	status := s.properties(schemas["Document"])["status"]
	require.NotNil(t, status)
	for _, st := range []string{"done", "failed", "canceled"} {
		require.Contains(t, status.Enum, st)
		require.True(t, (&Document{Status: st}).Terminal())
	}
	for _, typ := range []string{"document.done", "document.failed", "document.canceled", "document.deleted"} {
		require.NotNil(t, s.event(typ), "the client ends a stream on %s: the API has no such event", typ)
		require.True(t, (&Message{Type: typ}).Terminal())
	}
}

// TestWireTypesDrift shows what the test above catches.
func TestWireTypesDrift(t *testing.T) {
	s := loadSpec(t)
	type renamed struct {
		PagesDone int `json:"pages_completed"`
	}
	type retyped struct {
		PageCount *string `json:"page_count"`
	}
	type nested struct {
		Failure *struct {
			Why string `json:"why"`
		} `json:"failure"`
	}
	props := s.properties(s.Components.Schemas["Document"])
	require.Equal(t, []string{`renamed.PagesDone: api/openapi.json has no property "pages_completed" in Document`},
		s.compare(reflect.TypeFor[renamed](), props, "Document"))
	require.Equal(t, []string{`retyped.PageCount ("page_count" in Document): Go string, the schema says [integer null]`},
		s.compare(reflect.TypeFor[retyped](), props, "Document"))
	require.Equal(t, []string{`.Why: api/openapi.json has no property "why" in nested.Failure ("failure" in Document)`},
		s.compare(reflect.TypeFor[nested](), props, "Document"))
}
