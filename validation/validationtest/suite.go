// Package validationtest is the conformance suite for validation.Validator
// implementations: a custom validator proves itself with one call to Run.
package validationtest

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/latticedb/lattice/validation"
)

// Sample is a document a validator is known to accept or refuse.
type Sample struct {
	Collection string
	Doc        map[string]any
}

// Suite describes the validator under test.
type Suite struct {
	// Validator is the validator under test.
	Validator validation.Validator
	// Valid documents it must accept, whole and change by change (each
	// top-level field as a Set change).
	Valid []Sample
	// Invalid documents it must refuse whole, with an error wrapping
	// validation.ErrInvalid.
	Invalid []Sample
	// InvalidChanges are changes it must refuse on their own.
	InvalidChanges []validation.Change
}

// Run checks the contract of validation.Validator: verdicts as described
// by s, errors wrapping validation.ErrInvalid with a message, inputs left
// unchanged, safe for concurrent use, and no panic on hostile values
// (deep nesting, huge strings, NaN, unknown collections, odd paths).
func Run(t *testing.T, s Suite) {
	t.Helper()
	v := s.Validator
	if v == nil {
		t.Fatal("validationtest: Suite.Validator is nil")
	}
	t.Run("Type", func(t *testing.T) {
		if v.Type() == "" {
			t.Error("Type() is empty")
		}
	})
	t.Run("Valid", func(t *testing.T) {
		for i, smp := range s.Valid {
			before := deepCopy(smp.Doc)
			if err := v.Validate(smp.Collection, smp.Doc); err != nil {
				t.Errorf("valid sample %d refused: %v", i, err)
			}
			for k, x := range smp.Doc {
				if err := v.ValidateChange(validation.Change{Collection: smp.Collection, Path: []string{k}, Kind: validation.Set, Value: x}); err != nil {
					t.Errorf("valid sample %d: its field %q refused as a change: %v", i, k, err)
				}
			}
			if !reflect.DeepEqual(before, smp.Doc) {
				t.Errorf("valid sample %d changed by the validator", i)
			}
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		for i, smp := range s.Invalid {
			before := deepCopy(smp.Doc)
			checkRefusal(t, fmt.Sprintf("invalid sample %d", i), v.Validate(smp.Collection, smp.Doc))
			if !reflect.DeepEqual(before, smp.Doc) {
				t.Errorf("invalid sample %d changed by the validator", i)
			}
		}
		for i, c := range s.InvalidChanges {
			checkRefusal(t, fmt.Sprintf("invalid change %d", i), v.ValidateChange(c))
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := 0; r < 50; r++ {
					for _, smp := range s.Valid {
						if err := v.Validate(smp.Collection, smp.Doc); err != nil {
							errs <- err
							return
						}
					}
					for _, smp := range s.Invalid {
						if err := v.Validate(smp.Collection, smp.Doc); err == nil {
							errs <- errors.New("an invalid sample passed under concurrency")
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
	t.Run("Hostile", func(t *testing.T) {
		deep := map[string]any{}
		cur := deep
		for i := 0; i < 200; i++ {
			next := map[string]any{}
			cur["x"] = next
			cur = next
		}
		colls := []string{"", "no-such-collection", strings.Repeat("c", 1000)}
		for _, smp := range append(append([]Sample(nil), s.Valid...), s.Invalid...) {
			colls = append(colls, smp.Collection)
		}
		values := []any{nil, true, int64(math.MinInt64), math.NaN(), math.Inf(1), strings.Repeat("x", 1<<20),
			[]any{deep, []any{}}, deep, map[string]any{"": nil}}
		paths := [][]string{nil, {}, {""}, {"_id"}, {"a", "0", "b"}, {"99999999999999999999"}, {"~/"}}
		for _, c := range colls {
			for _, x := range values {
				_ = v.Validate(c, map[string]any{"_id": "h", "f": x})
				for _, p := range paths {
					for _, k := range []validation.ChangeKind{validation.Set, validation.Element, validation.Increment, 0, 99} {
						if err := v.ValidateChange(validation.Change{Collection: c, Path: p, Kind: k, Value: x}); err != nil && !errors.Is(err, validation.ErrInvalid) {
							t.Errorf("ValidateChange(%q, %q, %v): error does not wrap ErrInvalid: %v", c, p, k, err)
						}
					}
				}
			}
		}
	})
}

func checkRefusal(t *testing.T, what string, err error) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s accepted", what)
	case !errors.Is(err, validation.ErrInvalid):
		t.Errorf("%s: error does not wrap validation.ErrInvalid: %v", what, err)
	case strings.TrimSpace(strings.TrimPrefix(err.Error(), validation.ErrInvalid.Error())) == "":
		t.Errorf("%s: the error names nothing: %v", what, err)
	}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
