package validation_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/validation"
	"github.com/latticedb/lattice/validation/validationtest"
)

const todoSchema = `{"schemas": {"todos": {
	"type": "object",
	"properties": {
		"title": {"type": "string", "minLength": 1, "maxLength": 1000},
		"isDone": {"type": "boolean"},
		"votes": {"type": "integer", "minimum": 0, "maximum": 10},
		"tags": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 3},
		"due": {"type": "string", "format": "date"},
		"meta": {"type": "object", "properties": {"color": {"enum": ["red", "blue"]}}, "additionalProperties": false}
	},
	"required": ["title"],
	"additionalProperties": false
}}}`

func newTodo(t *testing.T) *validation.JSONSchema {
	t.Helper()
	v, err := validation.NewJSONSchema(json.RawMessage(todoSchema))
	require.NoError(t, err)
	return v
}

func TestJSONSchemaConformance(t *testing.T) {
	long := strings.Repeat("x", 1001)
	validationtest.Run(t, validationtest.Suite{
		Validator: newTodo(t),
		Valid: []validationtest.Sample{
			{Collection: "todos", Doc: map[string]any{"_id": "a", "title": "milk", "isDone": false}},
			{Collection: "todos", Doc: map[string]any{"_id": int64(7), "title": "eggs", "votes": int64(3), "tags": []any{"shop"}, "due": "2026-12-24", "meta": map[string]any{"color": "red"}}},
			{Collection: "notes", Doc: map[string]any{"_id": "n", "anything": []any{int64(1), "x"}}},
		},
		Invalid: []validationtest.Sample{
			{Collection: "todos", Doc: map[string]any{"_id": "a", "title": long}},
			{Collection: "todos", Doc: map[string]any{"_id": "a", "isDone": true}},
			{Collection: "todos", Doc: map[string]any{"_id": "a", "title": "x", "extra": int64(1)}},
			{Collection: "todos", Doc: map[string]any{"_id": "a", "title": "x", "tags": []any{"a", "b", "c", "d"}}},
			{Collection: "todos", Doc: map[string]any{"_id": "a", "title": "x", "due": "someday"}},
		},
		InvalidChanges: []validation.Change{
			{Collection: "todos", Path: []string{"title"}, Kind: validation.Set, Value: long},
			{Collection: "todos", Path: []string{"extra"}, Kind: validation.Set, Value: int64(1)},
			{Collection: "todos", Path: []string{"meta", "size"}, Kind: validation.Set, Value: int64(1)},
			{Collection: "todos", Path: []string{"meta", "color"}, Kind: validation.Set, Value: "green"},
			{Collection: "todos", Path: []string{"tags"}, Kind: validation.Element, Value: int64(5)},
			{Collection: "todos", Path: []string{"title"}, Kind: validation.Increment, Value: int64(1)},
			{Collection: "todos", Path: []string{"isDone"}, Kind: validation.Element, Value: "x"},
		},
	})
}

// TestErrorsNameThePlaceAndTheRule: a refusal says where and which rule.
func TestErrorsNameThePlaceAndTheRule(t *testing.T) {
	v := newTodo(t)
	err := v.Validate("todos", map[string]any{"_id": "a", "title": strings.Repeat("x", 1200)})
	require.ErrorIs(t, err, validation.ErrInvalid)
	require.ErrorContains(t, err, `collection "todos": at /title: maxLength:`)
	require.ErrorContains(t, err, "want 1,000")

	err = v.Validate("todos", map[string]any{"_id": "a"})
	require.ErrorContains(t, err, "required")
	require.ErrorContains(t, err, "title")

	err = v.ValidateChange(validation.Change{Collection: "todos", Path: []string{"tags"}, Kind: validation.Element, Value: strings.Repeat("t", 30)})
	require.ErrorIs(t, err, validation.ErrInvalid)
	require.ErrorContains(t, err, "at /tags/-: maxLength:")

	err = v.ValidateChange(validation.Change{Collection: "todos", Path: []string{"owner"}, Kind: validation.Set, Value: "x"})
	require.ErrorContains(t, err, `additionalProperties: field "owner" is not allowed`)
}

// TestMergeSafety: rules over a whole document judge local writes only; a
// change of a remote delta meets the per-value rules. A counter's sum can
// leave a range, so a contribution is judged by type only.
func TestMergeSafety(t *testing.T) {
	v := newTodo(t)
	// required: a remote change never carries the whole document.
	require.NoError(t, v.ValidateChange(validation.Change{Collection: "todos", Path: []string{"isDone"}, Kind: validation.Set, Value: true}))
	// maxItems: concurrent adds may pass it; each element is still judged.
	require.NoError(t, v.ValidateChange(validation.Change{Collection: "todos", Path: []string{"tags"}, Kind: validation.Element, Value: "fourth"}))
	// A counter contribution beyond the range, of the right type.
	require.NoError(t, v.ValidateChange(validation.Change{Collection: "todos", Path: []string{"votes"}, Kind: validation.Increment, Value: int64(50)}))
	require.ErrorIs(t, v.ValidateChange(validation.Change{Collection: "todos", Path: []string{"votes"}, Kind: validation.Increment, Value: 0.5}), validation.ErrInvalid)
	// A set value is judged with its range.
	require.ErrorIs(t, v.ValidateChange(validation.Change{Collection: "todos", Path: []string{"votes"}, Kind: validation.Set, Value: int64(50)}), validation.ErrInvalid)
	// _id is the engine's.
	require.NoError(t, v.Validate("todos", map[string]any{"_id": []any{"odd"}, "title": "x"}))
}

// TestRefusedSchemas: keywords that relate fields, other drafts, loads and
// oversized schemas are refused at creation, by name.
func TestRefusedSchemas(t *testing.T) {
	for _, c := range []struct{ params, want string }{
		{`{"schemas": {"t": {"oneOf": [{"required": ["a"]}, {"required": ["b"]}]}}}`, `keyword "oneOf" at "/oneOf" is not merge-safe`},
		{`{"schemas": {"t": {"properties": {"a": {"dependentRequired": {"a": ["b"]}}}}}}`, `keyword "dependentRequired" at "/properties/a/dependentRequired"`},
		{`{"schemas": {"t": {"$ref": "file:///etc/passwd"}}}`, `keyword "$ref"`},
		{`{"schemas": {"t": {"$schema": "http://json-schema.org/draft-07/schema#"}}}`, `$schema at "/$schema"`},
		{`{"schemas": {"t": {"properties": {"a": {"pattern": "` + strings.Repeat("a", 2000) + `"}}}}}`, `pattern at "/properties/a/pattern": 2000 bytes`},
		{`{"schemas": {"t": {"type": 5}}}`, `collection "t"`},
		{`{"schemas": {"t": 3}}`, `not an object or a boolean`},
		{`{"schema": {}}`, `unknown field "schema"`},
		{`{"schemas": {}} {}`, `trailing data`},
		{`{"schemas": {"t": {"title": "` + strings.Repeat("a", validation.MaxSchemaBytes) + `"}}}`, `bytes of schemas`},
	} {
		_, err := validation.NewJSONSchema(json.RawMessage(c.params))
		require.ErrorIs(t, err, validation.ErrBadSchema, c.params[:min(len(c.params), 80)])
		require.ErrorContains(t, err, c.want)
	}
	deep := strings.Repeat(`{"items": `, 40) + `{}` + strings.Repeat(`}`, 40)
	_, err := validation.NewJSONSchema(json.RawMessage(`{"schemas": {"t": ` + deep + `}}`))
	require.ErrorContains(t, err, "nested deeper than")
}

func TestOpenAcceptsEverything(t *testing.T) {
	validationtest.Run(t, validationtest.Suite{
		Validator: validation.Open{},
		Valid:     []validationtest.Sample{{Collection: "c", Doc: map[string]any{"_id": "x", "a": nil}}},
	})
}

func FuzzNewJSONSchema(f *testing.F) {
	f.Add([]byte(todoSchema), []byte(`{"title": "milk", "tags": ["a"]}`))
	f.Add([]byte(`{"schemas": {"c": true}}`), []byte(`{}`))
	f.Add([]byte(`{"schemas": {"c": {"items": {"items": false}}}}`), []byte(`{"a": [[1]]}`))
	f.Fuzz(func(t *testing.T, params, doc []byte) {
		v, err := validation.NewJSONSchema(params)
		if err != nil {
			if !errors.Is(err, validation.ErrBadSchema) {
				t.Fatalf("error does not wrap ErrBadSchema: %v", err)
			}
			// A bad schema names its place: the collection (and within
			// it the keyword), or the parameters as a whole.
			if msg := err.Error(); !strings.Contains(msg, "collection \"") && !strings.Contains(msg, "params") && !strings.Contains(msg, "bytes of schemas") {
				t.Fatalf("the error names no place: %v", err)
			}
			return
		}
		var d map[string]any
		if json.Unmarshal(doc, &d) != nil {
			return
		}
		for _, coll := range append(v.Collections(), "other") {
			err := v.Validate(coll, d)
			if err != nil && !errors.Is(err, validation.ErrInvalid) {
				t.Fatalf("Validate: %v", err)
			}
			// Every refusal names its place: a JSON pointer into the document.
			if err != nil && !strings.Contains(err.Error(), "at /") {
				t.Fatalf("Validate: the refusal names no place: %v", err)
			}
			for k, x := range d {
				for _, kind := range []validation.ChangeKind{validation.Set, validation.Element, validation.Increment} {
					err := v.ValidateChange(validation.Change{Collection: coll, Path: []string{k, "0"}, Kind: kind, Value: x})
					if err != nil && (!errors.Is(err, validation.ErrInvalid) || !strings.Contains(err.Error(), "at /")) {
						t.Fatalf("ValidateChange: not a refusal naming its place: %v", err)
					}
				}
			}
		}
	})
}

// BenchmarkValidateTodo is the validator's share of a typical InsertOne.
func BenchmarkValidateTodo(b *testing.B) {
	v, err := validation.NewJSONSchema(json.RawMessage(todoSchema))
	if err != nil {
		b.Fatal(err)
	}
	doc := map[string]any{"_id": "x", "title": "buy item number 42", "isDone": false, "votes": int64(3), "tags": []any{"home", "shop"}}
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Validate("todos", doc); err != nil {
			b.Fatal(err)
		}
	}
}
