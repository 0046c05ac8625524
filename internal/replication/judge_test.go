package replication

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	crdtpb "github.com/ipfs/go-ds-crdt/pb"
	"github.com/stretchr/testify/require"

	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/validation"
)

const judgeSchema = `{"schemas": {"todos": {"type": "object", "properties": {
	"title": {"type": "string", "maxLength": 20}, "isDone": {"type": "boolean"},
	"votes": {"type": "integer", "minimum": 0}, "tags": {"type": "array", "items": {"type": "string"}}},
	"required": ["title"]}}}`

// insertDelta is the delta a replica writes to insert doc into coll
// (id from doc's _id), made by the crdt package's own planner.
func insertDelta(t testing.TB, coll string, doc map[string]any) (*crdtpb.Delta, error) {
	t.Helper()
	cur, _ := crdt.Assemble(coll, "x", nil)
	p, err := crdt.PlanInsert(cur, doc, crdt.Writer{Replica: "r", Nonce: "n", Now: time.Unix(0, 0)})
	if err != nil {
		return nil, err
	}
	d := &crdtpb.Delta{}
	for _, m := range p.Mutations {
		d.Elements = append(d.Elements, &crdtpb.Element{Key: m.Key, Value: m.Value})
	}
	return d, nil
}

// TestJudgeDeltaNamesTheDocument: a remote delta's changes are judged by
// the merge-safe rules; a refusal names the document, the place and the
// rule; an undecodable value is refused by name too.
func TestJudgeDeltaNamesTheDocument(t *testing.T) {
	v, err := validation.NewJSONSchema(json.RawMessage(judgeSchema))
	require.NoError(t, err)
	d, err := insertDelta(t, "todos", map[string]any{"_id": "x", "title": "milk", "tags": []any{"a"}})
	require.NoError(t, err)
	require.NoError(t, judgeDelta(v, d))
	d, err = insertDelta(t, "todos", map[string]any{"_id": "x", "title": strings.Repeat("t", 30)})
	require.NoError(t, err)
	err = judgeDelta(v, d)
	require.ErrorIs(t, err, validation.ErrInvalid)
	require.ErrorContains(t, err, `document "x"`)
	require.ErrorContains(t, err, "at /title: maxLength")
	// required is judged on local writes only.
	d, err = insertDelta(t, "todos", map[string]any{"_id": "x", "isDone": true})
	require.NoError(t, err)
	require.NoError(t, judgeDelta(v, d))

	d.Elements = append(d.Elements, &crdtpb.Element{Key: d.Elements[0].Key, Value: []byte("\xff not a base")})
	err = judgeDelta(v, d)
	require.ErrorIs(t, err, validation.ErrInvalid)
	require.ErrorContains(t, err, `collection "todos"`)
	require.NoError(t, judgeDelta(validation.Open{}, d), "an open validator judges nothing")
}

// FuzzJudgeDelta fuzzes the decoding of a remote delta's document values
// on the validation path: no input panics, every refusal wraps
// validation.ErrInvalid, and a document the validator admits as a local
// write is never refused as a remote delta (merge safety: remote rules are
// a subset of local ones).
func FuzzJudgeDelta(f *testing.F) {
	v, err := validation.NewJSONSchema(json.RawMessage(judgeSchema))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"_id": "x", "title": "milk", "votes": 3, "tags": ["a"]}`), "/d/todos/x/1/f/title", []byte(`{}`))
	f.Add([]byte(`{"_id": "y", "title": 5}`), "/d/todos/y/1/s/tags/e/h", []byte("\x00"))
	f.Add([]byte(`{"_id": "z", "title": "a", "isDone": "no"}`), "/d/todos/z/1/n/votes/e/r", []byte(`-1`))
	f.Fuzz(func(t *testing.T, doc []byte, key string, value []byte) {
		var m map[string]any
		if json.Unmarshal(doc, &m) == nil && m != nil {
			if d, err := insertDelta(t, "todos", m); err == nil {
				err := judgeDelta(v, d)
				if err != nil && !errors.Is(err, validation.ErrInvalid) {
					t.Fatalf("judgeDelta: %v", err)
				}
				if err != nil && v.Validate("todos", m) == nil {
					t.Fatalf("a document valid as a local write is refused remotely: %v", err)
				}
			}
		}
		d := &crdtpb.Delta{Elements: []*crdtpb.Element{{Key: key, Value: value}}}
		if err := judgeDelta(v, d); err != nil && !errors.Is(err, validation.ErrInvalid) {
			t.Fatalf("judgeDelta: %v", err)
		}
	})
}
