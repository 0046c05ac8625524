package replication

import (
	"fmt"
	"strings"

	crdtpb "github.com/ipfs/go-ds-crdt/pb"

	"github.com/latticedb/lattice/crdt"
	"github.com/latticedb/lattice/validation"
)

// judgeDelta asks a database's validator about every change a remote delta
// makes to its documents, each on its own (validation.Validator's
// ValidateChange): the fields of a base document as its creator inserted
// it, plain values set, counter contributions and set elements added.
// Removals and non-document keys are not judged. A value the crdt package
// cannot decode is refused too: nothing undecodable is merged. Errors wrap
// validation.ErrInvalid and name the document.
func judgeDelta(v validation.Validator, d *crdtpb.Delta) error {
	if validation.AcceptsAll(v) {
		return nil
	}
	for _, e := range d.GetElements() {
		k, err := crdt.ParseKey(e.GetKey())
		if err != nil {
			continue // VerifyDelta refused it already
		}
		if err := judgeElement(v, k, e.GetValue()); err != nil {
			return fmt.Errorf("document %q: %w", k.ID, err)
		}
	}
	return nil
}

func judgeElement(v validation.Validator, k crdt.Key, value []byte) error {
	change := func(path []string, kind validation.ChangeKind, x any) error {
		return v.ValidateChange(validation.Change{Collection: k.Coll, Path: path, Kind: kind, Value: x})
	}
	undecodable := func(err error) error {
		return fmt.Errorf("%w: collection %q: %s: %v", validation.ErrInvalid, k.Coll, k.Field, err)
	}
	switch k.Kind {
	case crdt.KindBase:
		_, base, err := crdt.DecodeBase(value)
		if err != nil {
			return undecodable(err)
		}
		for f, x := range base {
			if f == "_id" {
				continue
			}
			if err := change([]string{f}, validation.Set, x); err != nil {
				return err
			}
		}
	case crdt.KindField:
		r, err := crdt.DecodeRegister(value)
		if err != nil {
			return undecodable(err)
		}
		path := strings.Split(k.Field, ".")
		switch r.Kind {
		case crdt.RegValue:
			return change(path, validation.Set, r.Value)
		case crdt.RegCounter:
			if r.Value != nil {
				return change(path, validation.Increment, r.Value)
			}
		case crdt.RegSet:
			return change(path, validation.Set, []any{})
		}
	case crdt.KindCounter:
		n, err := crdt.DecodeNumber(value)
		if err != nil {
			return undecodable(err)
		}
		return change(strings.Split(k.Field, "."), validation.Increment, n)
	case crdt.KindSetElem:
		el, err := crdt.DecodeSetElem(value)
		if err != nil {
			return undecodable(err)
		}
		return change(strings.Split(k.Field, "."), validation.Element, el.Value)
	}
	return nil
}
