package query

import (
	"fmt"
	"strings"

	"github.com/latticedb/lattice/value"
)

// Projection selects the fields of a document returned by a find. A nil
// *Projection keeps every field.
type Projection struct {
	include bool
	tree    projTree
}

// projTree maps a field name to the projection below it; a nil subtree
// selects the whole field.
type projTree map[string]projTree

// ParseProjection parses a projection document: inclusion ({"a": 1,
// "b.c": 1}) or exclusion ({"a": 0}), with values 1, 0, true or false.
// Inclusions and exclusions cannot be mixed, except that "_id": 0 may
// accompany inclusions; _id is included unless excluded. Two paths where
// one is a prefix of the other collide. An empty or nil projection returns
// nil, which keeps every field. Errors wrap ErrBadProjection or ErrBadPath.
//
// On arrays, a dot path applies to each object element; inclusion drops
// elements that are not objects, as MongoDB does. Numeric components name
// object fields, they do not index arrays.
func ParseProjection(p map[string]any) (*Projection, error) {
	if len(p) == 0 {
		return nil, nil
	}
	n, err := value.Normalize(p)
	if err != nil {
		return nil, err
	}
	p = n.(map[string]any)
	id := true
	var incl, excl []string
	for _, k := range value.SortedKeys(p) {
		on, err := projectionFlag(k, p[k])
		if err != nil {
			return nil, err
		}
		if _, err := value.SplitPath(k); err != nil {
			return nil, fmt.Errorf("%w (in projection)", err)
		}
		switch {
		case k == "_id":
			id = on
		case on:
			incl = append(incl, k)
		default:
			excl = append(excl, k)
		}
	}
	if len(incl) > 0 && len(excl) > 0 {
		return nil, fmt.Errorf("%w: cannot mix inclusion of %q with exclusion of %q (only _id may be excluded from an inclusion)", ErrBadProjection, incl[0], excl[0])
	}
	proj := &Projection{include: len(incl) > 0 || (len(excl) == 0 && id), tree: projTree{}}
	paths := excl
	if proj.include {
		paths = incl
	}
	for _, path := range paths {
		if err := proj.tree.add(strings.Split(path, "."), path); err != nil {
			return nil, err
		}
	}
	if _, ok := proj.tree["_id"]; !ok && proj.include == id {
		proj.tree["_id"] = nil
	}
	return proj, nil
}

func projectionFlag(k string, v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case int64:
		if x == 0 || x == 1 {
			return x == 1, nil
		}
	case float64:
		if x == 0 || x == 1 {
			return x == 1, nil
		}
	}
	return false, fmt.Errorf("%w: value for %q must be 1, 0, true or false, got %s", ErrBadProjection, k, describe(v))
}

func (t projTree) add(parts []string, path string) error {
	sub, ok := t[parts[0]]
	switch {
	case ok && (sub == nil || len(parts) == 1):
		return fmt.Errorf("%w: path collision at %q", ErrBadProjection, path)
	case len(parts) == 1:
		t[parts[0]] = nil
		return nil
	case !ok:
		sub = projTree{}
		t[parts[0]] = sub
	}
	return sub.add(parts[1:], path)
}

// Apply returns the projected copy of doc; it shares nothing with doc.
func (p *Projection) Apply(doc map[string]any) map[string]any {
	switch {
	case p == nil:
		return value.CloneDoc(doc)
	case p.include:
		return includeDoc(doc, p.tree)
	}
	return excludeDoc(doc, p.tree)
}

func includeDoc(doc map[string]any, t projTree) map[string]any {
	out := map[string]any{}
	for k, sub := range t {
		v, ok := doc[k]
		if !ok {
			continue
		}
		if sub == nil {
			out[k] = value.Clone(v)
		} else if r, ok := includeValue(v, sub); ok {
			out[k] = r
		}
	}
	return out
}

func includeValue(v any, t projTree) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		return includeDoc(x, t), true
	case []any:
		out := []any{}
		for _, e := range x {
			if r, ok := includeValue(e, t); ok {
				out = append(out, r)
			}
		}
		return out, true
	}
	return nil, false
}

func excludeDoc(doc map[string]any, t projTree) map[string]any {
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		sub, ok := t[k]
		switch {
		case !ok:
			out[k] = value.Clone(v)
		case sub != nil:
			out[k] = excludeValue(v, sub)
		}
	}
	return out
}

func excludeValue(v any, t projTree) any {
	switch x := v.(type) {
	case map[string]any:
		return excludeDoc(x, t)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = excludeValue(e, t)
		}
		return out
	}
	return v
}
