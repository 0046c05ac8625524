package value

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// TimeFormat is the layout of the strings Normalize makes from time.Time
// values and $currentDate stores: RFC 3339 in UTC with exactly nine
// fractional digits, such as "2024-05-06T07:08:09.120000000Z". Unlike
// time.RFC3339Nano it has a fixed width, so byte-wise string order (that
// of Compare, filters and indexes) is chronological order for years
// 0000-9999. time.Parse(time.RFC3339, s) reads it back.
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// MaxDepth is the deepest nesting of objects and arrays accepted in a
// document or value; a document itself is one level.
const MaxDepth = 100

// Normalize converts a Go value into canonical form, deep-copying it.
// Canonical values are nil, bool, int64, float64, string, []any and
// map[string]any.
//
// Any signed or unsigned integer type becomes int64 (an unsigned value above
// math.MaxInt64 is an error); float32 and float64 become float64 and keep
// their kind even when integral; json.Number becomes int64 when it parses as
// an integer that fits, float64 otherwise; time.Time becomes a string in
// UTC formatted with TimeFormat. Slices and arrays of any element type become
// []any and maps with string keys become map[string]any, recursively; named
// types with these underlying kinds are accepted too, and pointers are
// followed (nil becomes null), as encoding/json does.
//
// Errors wrap ErrInvalidValue and name the path of the offending value: NaN
// and infinities, strings or keys that are not valid UTF-8, nesting deeper
// than MaxDepth, and unsupported types such as structs, channels, functions
// and []byte (convert structs through encoding/json first).
func Normalize(v any) (any, error) {
	return normalize(v, "", 0)
}

// JoinPath appends key to the dot path prefix.
func JoinPath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func normalize(v any, path string, depth int) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case bool:
		return x, nil
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case float64:
		return checkFloat(x, path)
	case string:
		if !utf8.ValidString(x) {
			return nil, fmt.Errorf("%w: string is not valid UTF-8 at %q", ErrInvalidValue, path)
		}
		return x, nil
	case json.Number:
		return normalizeNumber(x, path)
	case time.Time:
		return x.UTC().Format(TimeFormat), nil
	case []any:
		if depth+1 > MaxDepth {
			return nil, errTooDeep(path)
		}
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e, JoinPath(path, strconv.Itoa(i)), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		if depth+1 > MaxDepth {
			return nil, errTooDeep(path)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if !utf8.ValidString(k) {
				return nil, fmt.Errorf("%w: key %q is not valid UTF-8 at %q", ErrInvalidValue, k, path)
			}
			n, err := normalize(e, JoinPath(path, k), depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	}
	return normalizeReflect(reflect.ValueOf(v), path, depth)
}

func errTooDeep(path string) error {
	return fmt.Errorf("%w: nesting deeper than %d levels at %q", ErrInvalidValue, MaxDepth, path)
}

func checkFloat(f float64, path string) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%w: %v is not a finite number at %q", ErrInvalidValue, f, path)
	}
	return f, nil
}

func normalizeNumber(n json.Number, path string) (any, error) {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i, nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, fmt.Errorf("%w: bad number %q at %q", ErrInvalidValue, string(n), path)
	}
	return checkFloat(f, path)
}

func normalizeReflect(rv reflect.Value, path string, depth int) (any, error) {
	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return nil, fmt.Errorf("%w: %d overflows int64 at %q", ErrInvalidValue, u, path)
		}
		return int64(u), nil
	case reflect.Float32, reflect.Float64:
		return checkFloat(rv.Float(), path)
	case reflect.String:
		return normalize(rv.String(), path, depth)
	case reflect.Interface, reflect.Pointer:
		if rv.IsNil() {
			return nil, nil
		}
		if depth+1 > MaxDepth { // guards against pointer cycles
			return nil, errTooDeep(path)
		}
		return normalize(rv.Elem().Interface(), path, depth+1)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			return nil, fmt.Errorf("%w: unsupported type %s (encode bytes as a string) at %q", ErrInvalidValue, rv.Type(), path)
		}
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return []any{}, nil
		}
		if depth+1 > MaxDepth {
			return nil, errTooDeep(path)
		}
		out := make([]any, rv.Len())
		for i := range out {
			n, err := normalize(rv.Index(i).Interface(), JoinPath(path, strconv.Itoa(i)), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		if depth+1 > MaxDepth {
			return nil, errTooDeep(path)
		}
		out := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			k := it.Key().String()
			if !utf8.ValidString(k) {
				return nil, fmt.Errorf("%w: key %q is not valid UTF-8 at %q", ErrInvalidValue, k, path)
			}
			n, err := normalize(it.Value().Interface(), JoinPath(path, k), depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: unsupported type %s at %q", ErrInvalidValue, rv.Type(), path)
}

// DecodeJSON decodes one JSON value (numbers as json.Number) and returns it
// in canonical form (see Normalize). Trailing data after the value is an
// error wrapping ErrInvalidJSON.
func DecodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the value", ErrInvalidJSON)
	}
	return Normalize(v)
}

// ValidateDocument reports whether doc can be stored. Every field name, at
// every depth (including inside arrays), must be non-empty valid UTF-8, must
// not start with '$' and must not contain '.' or NUL; values must be
// canonical (see Normalize): finite numbers, strings of valid UTF-8;
// nesting must not exceed MaxDepth levels; _id, when present, must be a
// string or a number. Errors wrap ErrInvalidDocument and name the path.
func ValidateDocument(doc map[string]any) error {
	if id, ok := doc["_id"]; ok {
		switch id.(type) {
		case string, int64, float64:
		default:
			return fmt.Errorf("%w: _id must be a string or a number, not %s", ErrInvalidDocument, TypeName(id))
		}
	}
	return ValidateValue(doc, "", 0, ErrInvalidDocument)
}

// checkFieldName reports why name cannot be a stored field name, or "".
func checkFieldName(name string) string {
	switch {
	case name == "":
		return "empty field name"
	case !utf8.ValidString(name):
		return fmt.Sprintf("field name %q is not valid UTF-8", name)
	case name[0] == '$':
		return fmt.Sprintf("field name %q starts with '$'", name)
	case strings.ContainsRune(name, '.'):
		return fmt.Sprintf("field name %q contains '.'", name)
	case strings.ContainsRune(name, 0):
		return fmt.Sprintf("field name %q contains NUL", name)
	}
	return ""
}

// ValidateValue checks field names, canonical types and depth of v.
func ValidateValue(v any, path string, depth int, sentinel error) error {
	switch x := v.(type) {
	case nil, bool, int64:
		return nil
	case string:
		if !utf8.ValidString(x) {
			return fmt.Errorf("%w: string is not valid UTF-8 at %q", sentinel, path)
		}
		return nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: %v is not a finite number at %q", sentinel, x, path)
		}
		return nil
	case []any:
		if depth+1 > MaxDepth {
			return fmt.Errorf("%w: nesting deeper than %d levels at %q", sentinel, MaxDepth, path)
		}
		for i, e := range x {
			if err := ValidateValue(e, JoinPath(path, strconv.Itoa(i)), depth+1, sentinel); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		if depth+1 > MaxDepth {
			return fmt.Errorf("%w: nesting deeper than %d levels at %q", sentinel, MaxDepth, path)
		}
		for k, e := range x {
			if msg := checkFieldName(k); msg != "" {
				return fmt.Errorf("%w: %s at %q", sentinel, msg, path)
			}
			if err := ValidateValue(e, JoinPath(path, k), depth+1, sentinel); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%w: non-canonical value of type %T at %q (use Normalize)", sentinel, v, path)
}

// Clone returns a deep copy of v: maps (map[string]any) and slices ([]any)
// are copied recursively, other values are returned as they are (canonical
// scalars are immutable).
func Clone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return CloneDoc(x)
	case []any:
		if x == nil {
			return x
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Clone(e)
		}
		return out
	}
	return v
}

// CloneDoc deep-copies a document.
func CloneDoc(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, e := range m {
		out[k] = Clone(e)
	}
	return out
}

// TypeName names the JSON type of a canonical value for error messages.
func TypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case int64, float64, int, int32, float32, uint64, uint32, int16, int8, uint, uint8, uint16:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	case MissingT:
		return "missing"
	}
	return fmt.Sprintf("a %T", v)
}
