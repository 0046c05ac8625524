package value

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Type classes in MongoDB's BSON comparison order. ClassEmptyArray is the
// sort key of an empty array (emptyArrayKey), below null.
const (
	ClassEmptyArray = iota
	ClassNull
	ClassNumber
	ClassString
	ClassObject
	ClassArray
	ClassBool
	ClassOther // non-canonical values, after everything else
)

// Key tags used by EncodeKey, one per class, in class order.
const (
	tagEnd    = 0x00 // terminates arrays and objects
	tagEntry  = 0x02 // precedes each object entry
	tagNull   = 0x05
	tagNumber = 0x10
	tagString = 0x20
	tagObject = 0x30
	tagArray  = 0x40
	tagBool   = 0x50
	tagOther  = 0x60
)

// ClassOf returns the type class of v (one of the Class constants), the
// first criterion of Compare.
func ClassOf(v any) int {
	switch v.(type) {
	case emptyArrayT:
		return ClassEmptyArray
	case nil, MissingT:
		return ClassNull
	case int64, float64, int, int8, int16, int32, uint, uint8, uint16, uint32, uint64, float32:
		return ClassNumber
	case string:
		return ClassString
	case map[string]any:
		return ClassObject
	case []any:
		return ClassArray
	case bool:
		return ClassBool
	}
	return ClassOther
}

// ClassTag returns the key tag EncodeKey writes for a class.
func ClassTag(class int) byte {
	switch class {
	case ClassNull:
		return tagNull
	case ClassNumber:
		return tagNumber
	case ClassString:
		return tagString
	case ClassObject:
		return tagObject
	case ClassArray:
		return tagArray
	case ClassBool:
		return tagBool
	}
	return tagOther
}

// Compare orders two values as MongoDB orders BSON values of different
// types: null (and a missing field) < numbers < strings < objects < arrays
// < booleans. It returns -1, 0 or +1.
//
// Numbers compare by exact numeric value whatever their Go type, so
// int64(1) equals float64(1) and int64(1<<53+1) is greater than
// float64(1<<53). Strings compare byte-wise. Objects compare entry by entry
// in sorted key order, as MongoDB does in stored field order (maps have
// none): first the type class of the values, then the keys, then the
// values; a shorter object that is a prefix of a longer one sorts first. Arrays compare element-wise, then
// by length. false < true. Non-canonical values of other types sort after
// everything else.
func Compare(a, b any) int {
	ca, cb := ClassOf(a), ClassOf(b)
	if ca != cb {
		if ca < cb {
			return -1
		}
		return 1
	}
	switch ca {
	case ClassNull, ClassEmptyArray:
		return 0
	case ClassNumber:
		return compareNumbers(a, b)
	case ClassString:
		return strings.Compare(a.(string), b.(string))
	case ClassObject:
		return compareObjects(a.(map[string]any), b.(map[string]any))
	case ClassArray:
		x, y := a.([]any), b.([]any)
		for i := 0; i < len(x) && i < len(y); i++ {
			if c := Compare(x[i], y[i]); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(x), len(y))
	case ClassBool:
		x, y := a.(bool), b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	}
	return strings.Compare(fmt.Sprintf("%T%v", a, a), fmt.Sprintf("%T%v", b, b))
}

// Equal reports whether a and b are equal values of the same type class,
// that is Compare(a, b) == 0. int64(2) and float64(2) are equal.
func Equal(a, b any) bool {
	return Compare(a, b) == 0
}

// SortedKeys returns the keys of m in byte-wise order.
func SortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// compareObjects compares entry by entry as MongoDB does: first the type
// class of the values, then the field names, then the values.
func compareObjects(a, b map[string]any) int {
	ka, kb := SortedKeys(a), SortedKeys(b)
	for i := 0; i < len(ka) && i < len(kb); i++ {
		if c := cmp.Compare(ClassOf(a[ka[i]]), ClassOf(b[kb[i]])); c != 0 {
			return c
		}
		if c := strings.Compare(ka[i], kb[i]); c != 0 {
			return c
		}
		if c := Compare(a[ka[i]], b[kb[i]]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(ka), len(kb))
}

// ToNumber returns v as an int64 (isInt) or a float64.
func ToNumber(v any) (i int64, f float64, isInt bool) {
	switch n := v.(type) {
	case int64:
		return n, 0, true
	case float64:
		return 0, n, false
	case int:
		return int64(n), 0, true
	case int8:
		return int64(n), 0, true
	case int16:
		return int64(n), 0, true
	case int32:
		return int64(n), 0, true
	case uint:
		return ToNumber(uint64(n))
	case uint8:
		return int64(n), 0, true
	case uint16:
		return int64(n), 0, true
	case uint32:
		return int64(n), 0, true
	case uint64:
		if n > math.MaxInt64 {
			return 0, float64(n), false
		}
		return int64(n), 0, true
	case float32:
		return 0, float64(n), false
	}
	return 0, 0, true
}

func compareNumbers(a, b any) int {
	ai, af, aInt := ToNumber(a)
	bi, bf, bInt := ToNumber(b)
	switch {
	case aInt && bInt:
		return cmp.Compare(ai, bi)
	case aInt:
		return compareIntFloat(ai, bf)
	case bInt:
		return -compareIntFloat(bi, af)
	}
	return compareFloats(af, bf)
}

// compareFloats orders NaN before every other number, as MongoDB does.
func compareFloats(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return -1
	case bn:
		return 1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareIntFloat compares i and f exactly, without rounding i.
func compareIntFloat(i int64, f float64) int {
	switch {
	case math.IsNaN(f):
		return 1
	case f >= 0x1p63:
		return -1
	case f < -0x1p63:
		return 1
	}
	t := math.Trunc(f)
	if c := cmp.Compare(i, int64(t)); c != 0 {
		return c
	}
	switch frac := f - t; {
	case frac > 0:
		return -1
	case frac < 0:
		return 1
	}
	return 0
}

// EncodeKey returns an order-preserving, prefix-free binary encoding of v
// for index keys: for any canonical values a and b,
// bytes.Compare(EncodeKey(a), EncodeKey(b)) has the sign of Compare(a, b),
// and no encoding is a proper prefix of another, so a key may be followed
// by more bytes (a document id) without disturbing the order.
//
// The first byte is a tag for the type class (0x05 null, 0x10 number, 0x20
// string, 0x30 object, 0x40 array, 0x50 bool). Numbers of both kinds take
// 10 more bytes: the value rounded to float64 in an order-preserving form,
// then a two-byte correction that keeps int64 values exact beyond 2^53.
// Strings are their bytes with 0x00 escaped as 0x00 0xFF, terminated by
// 0x00 0x01. Arrays are their encoded elements followed by 0x00; objects
// are, for each key in sorted order, 0x02, the value's class tag, the
// encoded key string and the encoded value, followed by 0x00. Booleans are one byte, 0 or 1.
// Non-canonical values of other types get tag 0x60 and a textual form.
func EncodeKey(v any) []byte {
	return AppendKey(nil, v)
}

// AppendKey appends EncodeKey(v) to b.
func AppendKey(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil, MissingT:
		return append(b, tagNull)
	case string:
		return appendString(append(b, tagString), x)
	case map[string]any:
		b = append(b, tagObject)
		for _, k := range SortedKeys(x) {
			b = append(b, tagEntry, ClassTag(ClassOf(x[k])))
			b = appendString(b, k)
			b = AppendKey(b, x[k])
		}
		return append(b, tagEnd)
	case []any:
		b = append(b, tagArray)
		for _, e := range x {
			b = AppendKey(b, e)
		}
		return append(b, tagEnd)
	case bool:
		if x {
			return append(b, tagBool, 1)
		}
		return append(b, tagBool, 0)
	}
	if ClassOf(v) == ClassNumber {
		return appendNumber(append(b, tagNumber), v)
	}
	return appendString(append(b, tagOther), fmt.Sprintf("%T%v", v, v))
}

func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			b = append(b, 0x00, 0xFF)
			continue
		}
		b = append(b, s[i])
	}
	return append(b, 0x00, 0x01)
}

func appendNumber(b []byte, v any) []byte {
	i, f, isInt := ToNumber(v)
	var delta int64
	if isInt {
		f = float64(i)
		if f >= 0x1p63 {
			delta = i - math.MaxInt64 - 1
		} else {
			delta = i - int64(f)
		}
	}
	if f == 0 {
		f = 0 // fold -0 into +0
	}
	var bits uint64
	if !math.IsNaN(f) { // NaN encodes as all zeros, before -Inf
		bits = math.Float64bits(f)
		if bits>>63 == 1 {
			bits = ^bits
		} else {
			bits |= 1 << 63
		}
	}
	b = binary.BigEndian.AppendUint64(b, bits)
	return binary.BigEndian.AppendUint16(b, uint16(int16(delta))^0x8000)
}

// PrefixEnd returns the smallest byte string greater than every string
// that has prefix p, or nil if there is none.
func PrefixEnd(p []byte) []byte {
	end := slices.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// EmptyArrayKey is the sort value of an empty array: MongoDB sorts it
// before null and missing fields (its key is "undefined"). It only ever
// appears in sort keys.
var EmptyArrayKey any = emptyArrayT{}

type emptyArrayT struct{}
