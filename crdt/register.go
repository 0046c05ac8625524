package crdt

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/latticedb/lattice/internal/wire"
)

// formatVersion is the first byte of every encoded legacy marker and
// register; baseVersion that of bases and graves.
const (
	formatVersion = 1
	baseVersion   = 2
	pathVersion   = 3 // a register of a nested path: it names its parent
)

// RegKind is the kind of value a field register holds.
type RegKind byte

// Register kinds.
const (
	RegValue   RegKind = 'v' // a plain JSON value
	RegUnset   RegKind = 'u' // the field was removed ($unset)
	RegCounter RegKind = 'c' // a counter: Value is the base (nil: the base document's value), contributions live under Epoch
	RegSet     RegKind = 's' // an add-wins set: elements live under Epoch
)

// Register is the decoded value of a field register key.
type Register struct {
	Kind  RegKind
	Nonce string // makes every plain write unique; equals Epoch for conversions
	Epoch string // counters and sets: the epoch their contributions/elements live under
	Value any    // RegValue: the value; RegCounter: the base number, or nil to count from the base document's value
	// Parent is set on the register of a nested path ("a.b"): the identity
	// of the register (or base) of the nearest ancestor path it was written
	// under. It shows only while that ancestor does.
	Parent string
}

// Marker names a document's incarnation and its base. In a Doc it is the
// incarnation shown, its base merged from every creator's; decoded from a
// base key it is that one creator's.
type Marker struct {
	Inc  string         // incarnation: derived on insert (see PlanInsert), a fresh nonce on replace
	Gen  uint64         // length of the incarnation's lineage: the higher wins among live incarnations
	Base map[string]any // the document as inserted or replaced, _id included
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func readString(b []byte) (string, []byte, error) {
	n, k := wire.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, fmt.Errorf("%w: truncated string", ErrBadValue)
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}

// EncodeRegister encodes a register value.
func EncodeRegister(r Register) ([]byte, error) {
	b := []byte{formatVersion, byte(r.Kind)}
	if r.Parent != "" {
		b[0] = pathVersion
	}
	b = appendString(b, r.Nonce)
	b = appendString(b, r.Epoch)
	if r.Parent != "" {
		b = appendString(b, r.Parent)
	}
	if r.Kind == RegValue || r.Kind == RegCounter {
		v, err := json.Marshal(r.Value)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadValue, err)
		}
		b = append(b, v...)
	}
	return b, nil
}

// DecodeRegister decodes a register value. It never panics on bad input.
func DecodeRegister(b []byte) (Register, error) {
	var r Register
	if len(b) < 2 || b[0] != formatVersion && b[0] != pathVersion {
		return r, fmt.Errorf("%w: register header", ErrBadValue)
	}
	r.Kind = RegKind(b[1])
	rest := b[2:]
	var err error
	if r.Nonce, rest, err = readString(rest); err != nil {
		return r, err
	}
	if r.Epoch, rest, err = readString(rest); err != nil {
		return r, err
	}
	if b[0] == pathVersion {
		if r.Parent, rest, err = readString(rest); err != nil {
			return r, err
		}
		if r.Parent == "" {
			return r, fmt.Errorf("%w: path register without a parent", ErrBadValue)
		}
	}
	switch r.Kind {
	case RegValue, RegCounter:
		v, err := decodeJSON(rest)
		if err != nil {
			return r, err
		}
		if r.Kind == RegCounter && v != nil {
			if _, ok := asNumber(v); !ok {
				return r, fmt.Errorf("%w: counter base is not a number", ErrBadValue)
			}
		}
		r.Value = v
	case RegUnset, RegSet:
		if len(rest) != 0 {
			return r, fmt.Errorf("%w: trailing bytes", ErrBadValue)
		}
	default:
		return r, fmt.Errorf("%w: unknown register kind %q", ErrBadValue, b[1])
	}
	return r, nil
}

// EncodeMarker encodes a document marker.
func EncodeMarker(m Marker) ([]byte, error) {
	b := []byte{formatVersion}
	b = appendString(b, m.Inc)
	v, err := json.Marshal(m.Base)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadValue, err)
	}
	return append(b, v...), nil
}

// DecodeMarker decodes a document marker. It never panics on bad input.
func DecodeMarker(b []byte) (Marker, error) {
	var m Marker
	if len(b) < 1 || b[0] != formatVersion {
		return m, fmt.Errorf("%w: marker header", ErrBadValue)
	}
	inc, rest, err := readString(b[1:])
	if err != nil {
		return m, err
	}
	if inc == "" || Escape(inc) != inc {
		return m, fmt.Errorf("%w: bad incarnation", ErrBadValue)
	}
	v, err := decodeJSON(rest)
	if err != nil {
		return m, err
	}
	base, ok := v.(map[string]any)
	if !ok {
		return m, fmt.Errorf("%w: base is not an object", ErrBadValue)
	}
	m.Inc, m.Base = inc, base
	return m, nil
}

// EncodeBase encodes the value of a base key: the lineage length and the
// document (the incarnation is in the key).
func EncodeBase(gen uint64, base map[string]any) ([]byte, error) {
	v, err := json.Marshal(base)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadValue, err)
	}
	b := make([]byte, 0, len(v)+binary.MaxVarintLen64+1)
	b = append(b, baseVersion)
	b = binary.AppendUvarint(b, gen)
	return append(b, v...), nil
}

// DecodeBase decodes the value of a base key. It never panics on bad input.
func DecodeBase(b []byte) (gen uint64, base map[string]any, err error) {
	if len(b) < 1 || b[0] != baseVersion {
		return 0, nil, fmt.Errorf("%w: base header", ErrBadValue)
	}
	gen, k := wire.Uvarint(b[1:])
	if k <= 0 {
		return 0, nil, fmt.Errorf("%w: base generation", ErrBadValue)
	}
	v, err := decodeJSON(b[1+k:])
	if err != nil {
		return 0, nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return 0, nil, fmt.Errorf("%w: base is not an object", ErrBadValue)
	}
	return gen, m, nil
}

// EncodeGrave encodes the value of a grave key: the buried incarnation's
// lineage length.
func EncodeGrave(gen uint64) []byte {
	return binary.AppendUvarint([]byte{baseVersion}, gen)
}

// DecodeGrave decodes the value of a grave key. It never panics on bad
// input.
func DecodeGrave(b []byte) (uint64, error) {
	if len(b) < 2 || b[0] != baseVersion {
		return 0, fmt.Errorf("%w: grave header", ErrBadValue)
	}
	gen, k := wire.Uvarint(b[1:])
	if k <= 0 || 1+k != len(b) {
		return 0, fmt.Errorf("%w: grave generation", ErrBadValue)
	}
	return gen, nil
}

// DecodeNumber decodes a counter contribution.
func DecodeNumber(b []byte) (any, error) {
	v, err := decodeJSON(b)
	if err != nil {
		return nil, err
	}
	if _, ok := asNumber(v); !ok {
		return nil, fmt.Errorf("%w: not a number", ErrBadValue)
	}
	return v, nil
}

// EncodeValue encodes a JSON value (set elements, counter contributions).
func EncodeValue(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadValue, err)
	}
	return b, nil
}

// DecodeValue decodes a JSON value into its canonical form.
func DecodeValue(b []byte) (any, error) { return decodeJSON(b) }

func decodeJSON(b []byte) (any, error) {
	// A scalar, what most registers and counter contributions hold,
	// decodes without a json.Decoder (which allocates a 512-byte buffer
	// per call): a number into json.Number keeps its digits as UseNumber
	// does. Objects and arrays need UseNumber throughout.
	switch first(b) {
	case '{', '[':
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadValue, err)
		}
		return s, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadValue, err)
		}
		return canonical(n)
	default: // true, false, null, or not JSON
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadValue, err)
		}
		return v, nil
	}
	return decodeStream(b)
}

// decodeStream decodes any JSON value with numbers kept exact.
func decodeStream(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadValue, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data", ErrBadValue)
	}
	return canonical(v)
}

// first returns the first byte of b that is not JSON white space (0 when
// there is none).
func first(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}

// canonical converts json.Number into int64 or float64, recursively. A
// number beyond float64's range is refused: it would decode as an infinity,
// which JSON cannot carry back out (no replica could re-encode it).
func canonical(v any) (any, error) {
	var bad json.Number
	out := mapLeaves(v, func(x any) any {
		n, ok := x.(json.Number)
		if !ok {
			return x
		}
		if i, err := n.Int64(); err == nil {
			return i
		}
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			if bad == "" {
				bad = n
			}
			return nil
		}
		return f
	})
	if bad != "" {
		return nil, fmt.Errorf("%w: number %.40s is out of range", ErrBadValue, bad)
	}
	return out, nil
}

// mapLeaves replaces, in place, every non-container value of a JSON value
// by leaf(value), and returns the result.
func mapLeaves(v any, leaf func(any) any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = mapLeaves(e, leaf)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = mapLeaves(e, leaf)
		}
		return x
	}
	return leaf(v)
}

// ValueHash is the identity of a set element: a hash of its canonical JSON.
// Numerically equal numbers (1 and 1.0) have the same hash.
func ValueHash(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// epochOf derives a counter or set epoch from the identity of the state it
// converts, so replicas converting the same state concurrently agree.
func epochOf(prev string) string {
	sum := sha256.Sum256([]byte(prev))
	return hex.EncodeToString(sum[:8])
}
