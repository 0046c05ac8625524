package replication

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Bounds of an address book: what a peer can make a replica remember.
const (
	MaxBookPeers     = 64 // peers per database; the least recently seen go first
	MaxBookAddrs     = 16 // addresses per peer; the newest are kept
	maxBookAddrBytes = 512
)

// AddressBook remembers, durably, the peers a database replicated with
// and their last known addresses (direct ones and relay circuits), so a
// restarted replica can find them again whatever port either side now
// listens on. It is safe for concurrent use.
type AddressBook struct {
	store ds.Datastore
	pre   ds.Key
	now   func() time.Time
}

// bookEntry is one peer's stored record.
type bookEntry struct {
	Addrs []string `json:"a"`
	Seen  int64    `json:"s"` // Unix seconds
}

// NewAddressBook returns the address book kept under prefix in store.
func NewAddressBook(store ds.Datastore, prefix ds.Key) *AddressBook {
	return &AddressBook{store: store, pre: prefix, now: time.Now}
}

// Record notes that the peer was seen now at addrs (merged with what the
// book had; the given ones first). Addresses that do not parse or are too
// long are skipped, and the book keeps at most MaxBookPeers peers.
func (b *AddressBook) Record(ctx context.Context, ai peer.AddrInfo) error {
	if ai.ID == "" {
		return nil
	}
	key := b.pre.ChildString(ai.ID.String())
	var old bookEntry
	if v, err := b.store.Get(ctx, key); err == nil {
		_ = json.Unmarshal(v, &old) // a damaged entry is replaced
	}
	seen := map[string]bool{}
	var addrs []string
	add := func(s string) {
		if len(addrs) < MaxBookAddrs && len(s) <= maxBookAddrBytes && !seen[s] {
			if _, err := ma.NewMultiaddr(s); err == nil {
				seen[s] = true
				addrs = append(addrs, s)
			}
		}
	}
	for _, a := range ai.Addrs {
		add(a.String())
	}
	for _, s := range old.Addrs {
		add(s)
	}
	if len(addrs) == 0 {
		return nil
	}
	v, err := json.Marshal(bookEntry{Addrs: addrs, Seen: b.now().Unix()})
	if err != nil {
		return err
	}
	if err := b.store.Put(ctx, key, v); err != nil {
		return fmt.Errorf("replication: address book: %w", err)
	}
	return b.trim(ctx)
}

// List returns the peers in the book, most recently seen first.
func (b *AddressBook) List(ctx context.Context) ([]peer.AddrInfo, error) {
	type rec struct {
		ai   peer.AddrInfo
		seen int64
	}
	res, err := b.store.Query(ctx, dsq.Query{Prefix: b.pre.String()})
	if err != nil {
		return nil, fmt.Errorf("replication: address book: %w", err)
	}
	entries, err := res.Rest()
	if err != nil {
		return nil, fmt.Errorf("replication: address book: %w", err)
	}
	var recs []rec
	for _, en := range entries {
		id, err := peer.Decode(ds.RawKey(en.Key).BaseNamespace())
		if err != nil {
			continue
		}
		var e bookEntry
		if json.Unmarshal(en.Value, &e) != nil {
			continue
		}
		r := rec{ai: peer.AddrInfo{ID: id}, seen: e.Seen}
		for _, s := range e.Addrs {
			if a, err := ma.NewMultiaddr(s); err == nil {
				r.ai.Addrs = append(r.ai.Addrs, a)
			}
		}
		recs = append(recs, r)
	}
	sort.SliceStable(recs, func(i, j int) bool {
		if recs[i].seen != recs[j].seen {
			return recs[i].seen > recs[j].seen
		}
		return recs[i].ai.ID < recs[j].ai.ID
	})
	out := make([]peer.AddrInfo, len(recs))
	for i, r := range recs {
		out[i] = r.ai
	}
	return out, nil
}

// trim drops the least recently seen peers beyond MaxBookPeers.
func (b *AddressBook) trim(ctx context.Context) error {
	all, err := b.List(ctx)
	if err != nil || len(all) <= MaxBookPeers {
		return err
	}
	for _, ai := range all[MaxBookPeers:] {
		if err := b.store.Delete(ctx, b.pre.ChildString(ai.ID.String())); err != nil {
			return fmt.Errorf("replication: address book: %w", err)
		}
	}
	return nil
}
