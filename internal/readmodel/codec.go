package readmodel

import (
	"context"
	"strings"

	dsq "github.com/ipfs/go-datastore/query"

	"github.com/latticedb/lattice/crdt"
)

// Codec translates between the clear CRDT keys and values the view works
// with and the sealed ones a sealed database's store holds (docs/sealed.md).
// A Model without one reads the store as clear text. Methods are called
// concurrently, from the store's commits and from reads.
type Codec interface {
	// SealKey maps a clear CRDT key, or a prefix of one ending at a
	// component, to its stored form.
	SealKey(k string) (string, error)
	// OpenKey maps a stored CRDT key to its clear form; an error for a
	// key that does not open (the document is then not shown).
	OpenKey(k string) (string, error)
	// OpenValue opens the value stored under stored CRDT key k; an error
	// for one that does not open (yet: its epoch key may arrive later).
	OpenValue(k string, v []byte) ([]byte, error)
}

// SetCodec makes the model read a sealed store through c. Call it before
// Rebuild and Run.
func (m *Model) SetCodec(c Codec) { m.codec = c }

// open returns the clear key and value of one stored CRDT key and value;
// false when either does not open.
func (m *Model) open(k string, v []byte) (string, []byte, bool) {
	if m.codec == nil {
		return k, v, true
	}
	ck, err := m.codec.OpenKey(k)
	if err != nil {
		return "", nil, false
	}
	cv, err := m.codec.OpenValue(k, v)
	if err != nil {
		return "", nil, false
	}
	return ck, cv, true
}

// sealed returns the stored form of a clear key or prefix.
func (m *Model) sealed(k string) (string, error) {
	if m.codec == nil {
		return k, nil
	}
	return m.codec.SealKey(k)
}

// RefreshAll marks every document in the store to be re-read: after a
// sealed database's replica learns a key, values that did not open may
// open now.
func (m *Model) RefreshAll(ctx context.Context) error {
	res, err := m.store.Query(ctx, dsq.Query{Prefix: m.layout.ValuesPrefix() + crdt.AllDocsPrefix(), KeysOnly: true})
	if err != nil {
		return err
	}
	defer res.Close()
	refs := map[Ref]struct{}{}
	for e := range res.Next() {
		if e.Error != nil {
			return e.Error
		}
		k, ok := m.crdtKey(e.Key)
		if !ok || !strings.HasPrefix(k, crdt.AllDocsPrefix()+"/") {
			continue
		}
		if m.codec != nil {
			if k, err = m.codec.OpenKey(k); err != nil {
				continue
			}
		}
		if pk, err := crdt.ParseKey(k); err == nil {
			refs[refOf(pk)] = struct{}{}
		}
	}
	m.mu.Lock()
	for r := range refs {
		m.dirty[r] = struct{}{}
	}
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
	return nil
}

// openKey opens a stored key alone (a deletion carries no value).
func (m *Model) openKey(k string) (string, bool) {
	ck, err := m.codec.OpenKey(k)
	return ck, err == nil
}
