package query

import (
	"fmt"
	"testing"
)

// benchDocs returns n documents {"_id": i, "i": i, "s": "s<i%97>", "g": i%10}.
func benchDocs(n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = map[string]any{"_id": int64(i), "i": int64(i), "s": fmt.Sprintf("s%d", i%97), "g": int64(i % 10)}
	}
	return out
}

// BenchmarkFilterIn matches 20,000 documents against an $in of 10,000
// numbers (half of them present): the cost of one large $in per document.
func BenchmarkFilterIn(b *testing.B) {
	docs := benchDocs(20000)
	in := make([]any, 10000)
	for i := range in {
		in[i] = int64(2 * i)
	}
	f, err := ParseFilter(map[string]any{"i": map[string]any{"$in": in}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, d := range docs {
			if f.Match(d) {
				n++
			}
		}
		if n != 10000 {
			b.Fatalf("matched %d", n)
		}
	}
}

// BenchmarkFilterInSmall is BenchmarkFilterIn with a 3-element $in, the
// common case that must not get slower.
func BenchmarkFilterInSmall(b *testing.B) {
	docs := benchDocs(20000)
	f, err := ParseFilter(map[string]any{"g": map[string]any{"$in": []any{1, 2, 3}}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, d := range docs {
			f.Match(d)
		}
	}
}

// BenchmarkSortLimit sorts 20,000 documents on two keys and keeps 10.
func BenchmarkSortLimit(b *testing.B) {
	docs := benchDocs(20000)
	o, err := NewOptions(Sort("s", -1), Sort("i", 1), Limit(10))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.Apply(docs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSortAll sorts 20,000 documents on two keys without a limit.
func BenchmarkSortAll(b *testing.B) {
	docs := benchDocs(20000)
	o, err := NewOptions(Sort("s", -1), Sort("i", 1))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.Apply(docs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBoundsIn plans an index lookup for an $in of 10,000 numbers
// (what Find does under the view's read lock when the field is indexed).
func BenchmarkBoundsIn(b *testing.B) {
	in := make([]any, 10000)
	for i := range in {
		in[i] = int64(2 * i)
	}
	f, err := ParseFilter(map[string]any{"i": map[string]any{"$in": in}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if bs, ok := f.Bounds("i"); !ok || len(bs.Points) != 10000 {
			b.Fatalf("bounds %v %d", ok, len(bs.Points))
		}
	}
}
