package query_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/latticedb/lattice/query"
)

func ExampleParseFilter() {
	f, err := query.ParseFilter(map[string]any{
		"age":  map[string]any{"$gte": 18},
		"tags": "admin", // matches arrays containing "admin"
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(f.Match(map[string]any{"age": int64(30), "tags": []any{"dev", "admin"}}))
	fmt.Println(f.Match(map[string]any{"age": int64(12), "tags": []any{"admin"}}))

	_, err = query.ParseFilter(map[string]any{"age": map[string]any{"$foo": 1}})
	fmt.Println(err, errors.Is(err, query.ErrUnknownOperator))
	// Output:
	// true
	// false
	// query: unknown operator "$foo" at "age" true
}

func ExampleUpdate_Apply() {
	u, err := query.ParseUpdate(map[string]any{
		"$set":  map[string]any{"profile.name": "Ada"},
		"$inc":  map[string]any{"visits": 1},
		"$push": map[string]any{"log": map[string]any{"$each": []any{"a", "b"}, "$slice": -2}},
	})
	if err != nil {
		panic(err)
	}
	doc := map[string]any{"_id": "u1", "visits": int64(41), "log": []any{"z"}}
	out, err := u.Apply(doc, time.Unix(0, 0))
	if err != nil {
		panic(err)
	}
	fmt.Println(out)
	fmt.Println(doc) // unchanged

	_, err = u.Apply(map[string]any{"visits": "many"}, time.Unix(0, 0))
	fmt.Println(err)
	// Output:
	// map[_id:u1 log:[a b] profile:map[name:Ada] visits:42]
	// map[_id:u1 log:[z] visits:41]
	// query: type mismatch: $inc: field "visits" holds a string, not a number
}

func ExampleOptions_Apply() {
	opts, err := query.NewOptions(
		query.Sort("done", 1),
		query.Sort("title", 1),
		query.Skip(1),
		query.Limit(2),
		query.Project(map[string]any{"title": 1, "_id": 0}),
	)
	if err != nil {
		panic(err)
	}
	docs := []map[string]any{
		{"_id": int64(1), "title": "milk", "done": false},
		{"_id": int64(2), "title": "bread", "done": true},
		{"_id": int64(3), "title": "eggs", "done": false},
		{"_id": int64(4), "title": "apples", "done": false},
	}
	out, err := opts.Apply(docs)
	if err != nil {
		panic(err)
	}
	for _, d := range out {
		fmt.Println(d)
	}
	// Output:
	// map[title:eggs]
	// map[title:milk]
}

func ExampleFilter_Bounds() {
	f, _ := query.ParseFilter(map[string]any{
		"status": map[string]any{"$in": []any{"open", "blocked"}},
		"score":  map[string]any{"$gt": 10},
	})
	b, ok := f.Bounds("status")
	fmt.Println(ok, b.Points)
	b, ok = f.Bounds("score")
	fmt.Println(ok, b.IsRange, b.Min, b.MinInclusive, b.Contains(int64(11)), b.Contains("11"))
	_, ok = f.Bounds("other")
	fmt.Println(ok)
	// Output:
	// true [blocked open]
	// true true 10 false true false
	// false
}
