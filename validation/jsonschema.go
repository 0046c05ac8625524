package validation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// TypeJSONSchema is the built-in JSON Schema validator's type.
const TypeJSONSchema = "jsonschema"

// MaxSchemaBytes bounds a JSON Schema validator's parameters: every
// collection's schema together. A manifest is fetched from peers, so its
// size, and the work of compiling it, must be bounded.
const MaxSchemaBytes = 64 << 10

// maxSchemaDepth bounds the nesting of a schema.
const maxSchemaDepth = 32

// maxPattern bounds one "pattern" keyword's length. Go's regexp runs in
// time linear in the input, but compiling a pattern is not free.
const maxPattern = 1024

// maxReported bounds the rule violations one error lists.
const maxReported = 3

// draft2020 is the only $schema a schema may name.
const draft2020 = "https://json-schema.org/draft/2020-12/schema"

// Keywords by how they are judged (see the package documentation).
var (
	annotations = set("$schema", "$comment", "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly")
	perValue    = set("type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
		"minLength", "maxLength", "pattern", "format", "uniqueItems")
	localOnly = set("required", "minItems", "maxItems", "minProperties", "maxProperties")
	// counterBound are per-value, but a counter's sum of concurrent
	// contributions escapes them: a counter's contributions are judged
	// by type only.
	counterBound = set("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "enum", "const")
)

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// JSONSchema is the built-in validator: one JSON Schema (draft 2020-12) per
// collection, restricted to merge-safe keywords (see the package
// documentation). Collections without a schema take any document.
type JSONSchema struct {
	colls map[string]*collSchema
}

var _ Validator = (*JSONSchema)(nil)

// JSONSchemaParams are the JSON Schema validator's manifest parameters.
type JSONSchemaParams struct {
	// Schemas maps a collection name to its schema (a JSON object, or true
	// or false).
	Schemas map[string]json.RawMessage `json:"schemas"`
}

type collSchema struct {
	full *jsonschema.Schema // every rule: local documents
	safe any                // the schema less local-only keywords: remote changes
	// subs holds the compiled merge-safe schema at each JSON pointer into
	// safe that names a schema; counters the same less range keywords.
	subs     map[string]*jsonschema.Schema
	counters map[string]*jsonschema.Schema
}

// NewJSONSchema builds the validator from its manifest parameters
// (JSONSchemaParams). Errors wrap ErrBadSchema and name the collection,
// the keyword and where it stands.
func NewJSONSchema(params json.RawMessage) (*JSONSchema, error) {
	if len(params) > MaxSchemaBytes {
		return nil, fmt.Errorf("%w: %d bytes of schemas (at most %d)", ErrBadSchema, len(params), MaxSchemaBytes)
	}
	var p JSONSchemaParams
	dec := json.NewDecoder(bytes.NewReader(params))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: params: %v", ErrBadSchema, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: params: trailing data", ErrBadSchema)
	}
	v := &JSONSchema{colls: make(map[string]*collSchema, len(p.Schemas))}
	names := make([]string, 0, len(p.Schemas))
	for name := range p.Schemas {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		cs, err := compileCollection(name, p.Schemas[name])
		if err != nil {
			return nil, err
		}
		v.colls[name] = cs
	}
	return v, nil
}

// Type returns TypeJSONSchema.
func (*JSONSchema) Type() string { return TypeJSONSchema }

// Collections lists, sorted, the collections that have a schema.
func (v *JSONSchema) Collections() []string {
	out := make([]string, 0, len(v.colls))
	for name := range v.colls {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Validate judges a whole document against its collection's schema, every
// keyword included. The _id field is the engine's and is not judged.
func (v *JSONSchema) Validate(coll string, doc map[string]any) error {
	return v.colls[coll].validate(coll, doc)
}

// ValidateChange judges one change by the merge-safe rules of the schema
// at its path.
func (v *JSONSchema) ValidateChange(c Change) error {
	return v.colls[c.Collection].validateChange(c)
}

// validate judges a whole document of coll; a nil schema takes anything.
func (cs *collSchema) validate(coll string, doc map[string]any) error {
	if cs == nil {
		return nil
	}
	inst := make(map[string]any, len(doc))
	for k, x := range doc {
		if k != "_id" {
			inst[k] = x
		}
	}
	return judged(coll, nil, cs.full.Validate(inst))
}

// validateChange judges one change; a nil schema takes anything.
func (cs *collSchema) validateChange(c Change) error {
	if cs == nil || len(c.Path) == 0 || (len(c.Path) == 1 && c.Path[0] == "_id") {
		return nil
	}
	ptr, node, err := cs.at(c.Path)
	if err != nil {
		return fmt.Errorf("%w: collection %q: at %s: %w", ErrInvalid, c.Collection, pointer(c.Path), err)
	}
	if node == nil {
		return nil // no rule reaches this path
	}
	switch c.Kind {
	case Set:
		return judged(c.Collection, c.Path, cs.subs[ptr].Validate(c.Value))
	case Element:
		m, ok := node.(map[string]any)
		if !ok {
			return nil
		}
		if _, ok := m["items"]; !ok {
			if t, ok := m["type"]; ok && !admits(t, "array") {
				return fmt.Errorf("%w: collection %q: at %s: type: a set where the schema wants %v", ErrInvalid, c.Collection, pointer(c.Path), t)
			}
			return nil
		}
		return judged(c.Collection, append(c.Path[:len(c.Path):len(c.Path)], "-"), cs.subs[ptr+"/items"].Validate(c.Value))
	case Increment:
		return judged(c.Collection, c.Path, cs.counters[ptr].Validate(c.Value))
	}
	return fmt.Errorf("%w: collection %q: at %s: unknown change kind %d", ErrInvalid, c.Collection, pointer(c.Path), c.Kind)
}

// admits tells whether a "type" keyword's value admits the JSON type name.
func admits(t any, name string) bool {
	switch x := t.(type) {
	case string:
		return x == name
	case []any:
		for _, e := range x {
			if e == name {
				return true
			}
		}
	}
	return false
}

// at walks the merge-safe schema along path and returns the JSON pointer
// of the schema that judges the value there, and that schema; a nil node
// when no rule reaches the path. A path the schema forbids
// (additionalProperties false) is an error.
func (cs *collSchema) at(path []string) (string, any, error) {
	node := cs.safe
	ptr := ""
	for _, part := range path {
		if b, ok := node.(bool); ok {
			if !b {
				return "", nil, errors.New("the schema allows nothing here")
			}
			return "", nil, nil
		}
		m, ok := node.(map[string]any)
		if !ok {
			return "", nil, nil
		}
		if props, ok := m["properties"].(map[string]any); ok {
			if child, ok := props[part]; ok {
				node, ptr = child, ptr+"/properties/"+escapePointer(part)
				continue
			}
		}
		if _, err := strconv.ParseUint(part, 10, 32); err == nil {
			if items, ok := m["items"]; ok {
				node, ptr = items, ptr+"/items"
				continue
			}
		}
		ap, ok := m["additionalProperties"]
		if !ok {
			return "", nil, nil
		}
		if b, ok := ap.(bool); ok && !b {
			return "", nil, fmt.Errorf("additionalProperties: field %q is not allowed", part)
		}
		node, ptr = ap, ptr+"/additionalProperties"
	}
	if b, ok := node.(bool); ok && !b {
		return "", nil, errors.New("the schema allows nothing here")
	}
	return ptr, node, nil
}

func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// compileCollection checks a collection's schema for merge safety and
// compiles it whole, and its merge-safe form at every schema inside it.
func compileCollection(name string, raw json.RawMessage) (*collSchema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: collection %q: %v", ErrBadSchema, name, err)
	}
	if err := checkKeywords(doc, "", 0); err != nil {
		return nil, fmt.Errorf("%w: collection %q: %w", ErrBadSchema, name, err)
	}
	base := "file:///lattice/" + url.PathEscape(name) + "/"
	full, err := compile(base+"full.json", doc, []string{""})
	if err != nil {
		return nil, fmt.Errorf("%w: collection %q: %v", ErrBadSchema, name, err)
	}
	cs := &collSchema{full: full[""], safe: strip(doc, localOnly)}
	var ptrs []string
	pointers(cs.safe, "", &ptrs)
	if cs.subs, err = compile(base+"safe.json", cs.safe, ptrs); err != nil {
		return nil, fmt.Errorf("%w: collection %q: %v", ErrBadSchema, name, err)
	}
	if cs.counters, err = compile(base+"counter.json", strip(cs.safe, counterBound), ptrs); err != nil {
		return nil, fmt.Errorf("%w: collection %q: %v", ErrBadSchema, name, err)
	}
	return cs, nil
}

// compile compiles doc, added as the resource at loc, at each pointer.
// Nothing is loaded: a schema refers to nothing outside itself.
func compile(loc string, doc any, ptrs []string) (map[string]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(noLoader{})
	if err := c.AddResource(loc, doc); err != nil {
		return nil, err
	}
	out := make(map[string]*jsonschema.Schema, len(ptrs))
	for _, p := range ptrs {
		s, err := c.Compile(loc + "#" + p)
		if err != nil {
			return nil, err
		}
		out[p] = s
	}
	return out, nil
}

// noLoader refuses to load anything.
type noLoader struct{}

func (noLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("%w: a schema may not load %q", ErrBadSchema, u)
}

// checkKeywords refuses keywords that are not merge-safe, a $schema other
// than draft 2020-12, overlong patterns and deep nesting.
func checkKeywords(node any, where string, depth int) error {
	if depth > maxSchemaDepth {
		return fmt.Errorf("nested deeper than %d at %q", maxSchemaDepth, where)
	}
	switch x := node.(type) {
	case bool:
		return nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			at := where + "/" + escapePointer(k)
			switch {
			case k == "$schema":
				if where != "" || x[k] != draft2020 {
					return fmt.Errorf("$schema at %q: only %q, at the top", at, draft2020)
				}
			case k == "pattern":
				if s, ok := x[k].(string); ok && len(s) > maxPattern {
					return fmt.Errorf("pattern at %q: %d bytes (at most %d)", at, len(s), maxPattern)
				}
			case annotations[k] || perValue[k] || localOnly[k]:
			case k == "properties":
				props, ok := x[k].(map[string]any)
				if !ok {
					return fmt.Errorf("properties at %q: not an object", at)
				}
				names := make([]string, 0, len(props))
				for n := range props {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					if err := checkKeywords(props[n], at+"/"+escapePointer(n), depth+1); err != nil {
						return err
					}
				}
			case k == "items" || k == "additionalProperties":
				if err := checkKeywords(x[k], at, depth+1); err != nil {
					return err
				}
			default:
				return fmt.Errorf("keyword %q at %q is not merge-safe: documents merge field by field, and it relates fields to each other or branches on them (see package validation)", k, at)
			}
		}
		return nil
	}
	return fmt.Errorf("schema at %q: %T, not an object or a boolean", where, node)
}

// strip copies a schema without the keywords in drop.
func strip(node any, drop map[string]bool) any {
	m, ok := node.(map[string]any)
	if !ok {
		return node
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch {
		case drop[k]:
		case k == "properties":
			props, _ := v.(map[string]any)
			cp := make(map[string]any, len(props))
			for n, s := range props {
				cp[n] = strip(s, drop)
			}
			out[k] = cp
		case k == "items" || k == "additionalProperties":
			out[k] = strip(v, drop)
		default:
			out[k] = v
		}
	}
	return out
}

// pointers lists the JSON pointers of every schema inside node.
func pointers(node any, where string, out *[]string) {
	*out = append(*out, where)
	m, ok := node.(map[string]any)
	if !ok {
		return
	}
	if props, ok := m["properties"].(map[string]any); ok {
		for n, s := range props {
			pointers(s, where+"/properties/"+escapePointer(n), out)
		}
	}
	for _, k := range []string{"items", "additionalProperties"} {
		if s, ok := m[k]; ok {
			pointers(s, where+"/"+k, out)
		}
	}
}

// printer renders the library's messages; language.Und keeps numbers
// plain (no digit grouping).
var printer = message.NewPrinter(language.Und)

// judged turns a schema's verdict into an error wrapping ErrInvalid that
// names where (a JSON pointer into the document) and which rule.
func judged(coll string, base []string, err error) error {
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("%w: collection %q: %v", ErrInvalid, coll, err)
	}
	var leaves []*jsonschema.ValidationError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			leaves = append(leaves, e)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	var parts []string
	for i, l := range leaves {
		if i == maxReported {
			parts = append(parts, fmt.Sprintf("and %d more", len(leaves)-i))
			break
		}
		where := pointer(append(append([]string(nil), base...), l.InstanceLocation...))
		if where == "" {
			where = "/"
		}
		rule := strings.Join(l.ErrorKind.KeywordPath(), "/")
		msg := l.ErrorKind.LocalizedString(printer)
		if !strings.HasPrefix(msg, rule+":") {
			msg = rule + ": " + msg
		}
		parts = append(parts, fmt.Sprintf("at %s: %s", where, msg))
	}
	return fmt.Errorf("%w: collection %q: %s", ErrInvalid, coll, strings.Join(parts, "; "))
}
