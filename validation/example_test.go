package validation_test

import (
	"encoding/json"
	"fmt"

	"github.com/latticedb/lattice/validation"
)

func ExampleNewJSONSchema() {
	v, err := validation.NewJSONSchema(json.RawMessage(`{"schemas": {"todos": {
		"type": "object",
		"properties": {"title": {"type": "string", "maxLength": 10}, "isDone": {"type": "boolean"}},
		"required": ["title"]
	}}}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(v.Validate("todos", map[string]any{"_id": "a", "title": "milk", "isDone": false}))
	fmt.Println(v.Validate("todos", map[string]any{"_id": "b", "title": "a very long title"}))
	// A remote delta's change is judged on its own.
	fmt.Println(v.ValidateChange(validation.Change{Collection: "todos", Path: []string{"isDone"}, Kind: validation.Set, Value: "yes"}))

	_, err = validation.NewJSONSchema(json.RawMessage(`{"schemas": {"todos": {"anyOf": [{"required": ["title"]}, {"required": ["text"]}]}}}`))
	fmt.Println(err)
	// Output:
	// <nil>
	// validation: document invalid: collection "todos": at /title: maxLength: got 17, want 10
	// validation: document invalid: collection "todos": at /isDone: type: got string, want boolean
	// validation: bad schema: collection "todos": keyword "anyOf" at "/anyOf" is not merge-safe: documents merge field by field, and it relates fields to each other or branches on them (see package validation)
}
