package seal_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/internal/seal"
)

// genesis makes a database's level-0 epoch wrapped to ms, issued by ms[0].
func genesis(t *testing.T, ms ...*member) (*seal.KeyPackage, seal.Key) {
	t.Helper()
	k := mustKey(t)
	p, err := seal.NewRotation(ms[0].id, db, 0, k, records(ms...), nil, now)
	if err != nil {
		t.Fatal(err)
	}
	return roundTrip(t, p), k
}

func add(t *testing.T, r *seal.Keyring, ps ...*seal.KeyPackage) {
	t.Helper()
	for _, p := range ps {
		if err := r.Add(p); err != nil {
			t.Fatal(err)
		}
	}
}

// A member added after two rotations, wrapped only to the latest epoch,
// reads every epoch through the chain, and the name key with it.
func TestKeyringChainReadsHistory(t *testing.T) {
	alice, bob, carol := newMember(t, seal.SuiteX25519), newMember(t, seal.SuiteX25519), newMember(t, seal.SuiteX25519)
	g, k0 := genesis(t, alice, bob)
	ra := alice.keyring(g.Epoch)
	add(t, ra, g)
	p1, k1, err := ra.Rotate(alice.id, records(alice), now) // bob removed
	if err != nil {
		t.Fatal(err)
	}
	add(t, ra, roundTrip(t, p1))
	p2, k2, err := ra.Rotate(alice.id, records(alice, carol), now) // carol joins
	if err != nil {
		t.Fatal(err)
	}
	add(t, ra, roundTrip(t, p2))
	if p1.Level != 1 || p2.Level != 2 {
		t.Fatalf("levels %d, %d", p1.Level, p2.Level)
	}

	rc := carol.keyring(g.Epoch)
	add(t, rc, roundTrip(t, p2), roundTrip(t, p1), g) // any order
	for i, k := range []seal.Key{k0, k1, k2} {
		if got, ok := rc.Key(k.ID()); !ok || got != k {
			t.Errorf("carol lacks epoch %d", i)
		}
	}
	na, _ := ra.Names()
	nc, err := rc.Names()
	if err != nil || na.Seal("id", "doc") != nc.Seal("id", "doc") {
		t.Errorf("carol's names differ: %v", err)
	}
	cur, ok := rc.Current(readers(alice, carol))
	if !ok || cur.ID != k2.ID() {
		t.Errorf("current = %v, want epoch 2", cur)
	}

	// Bob, removed at epoch 1, holds epoch 0 and nothing later.
	rb := bob.keyring(g.Epoch)
	add(t, rb, g, roundTrip(t, p1), roundTrip(t, p2))
	if _, ok := rb.Key(k0.ID()); !ok {
		t.Error("bob lost epoch 0")
	}
	for _, k := range []seal.Key{k1, k2} {
		if _, ok := rb.Key(k.ID()); ok {
			t.Error("bob holds an epoch after his removal")
		}
	}
	if _, _, err := rb.SealingKey(readers(alice, carol)); !errors.Is(err, seal.ErrNotReader) {
		t.Errorf("bob's sealing key: %v", err)
	}
	// An outsider holds nothing.
	eve := newMember(t, seal.SuiteX25519)
	re := eve.keyring(g.Epoch)
	add(t, re, g, roundTrip(t, p1), roundTrip(t, p2))
	if _, err := re.Names(); !errors.Is(err, seal.ErrNotReader) {
		t.Errorf("eve's names: %v", err)
	}
}

// Removing a reader makes every epoch wrapped to it ineligible: until a
// rotation, writers are told to rotate, and the current epoch is never one
// the removed reader holds.
func TestKeyringRemovalNeedsRotation(t *testing.T) {
	alice, bob := newMember(t, seal.SuiteX25519), newMember(t, seal.SuiteX25519)
	g, _ := genesis(t, alice, bob)
	r := alice.keyring(g.Epoch)
	add(t, r, g)
	both, onlyAlice := readers(alice, bob), readers(alice)
	if r.NeedsRotation(both) {
		t.Error("rotation needed with both readers")
	}
	if !r.NeedsRotation(onlyAlice) {
		t.Error("no rotation needed after bob's removal")
	}
	if _, _, err := r.SealingKey(onlyAlice); !errors.Is(err, seal.ErrNotReader) {
		t.Errorf("sealing key before rotation: %v", err)
	}
	p, k, err := r.Rotate(alice.id, records(alice), now)
	if err != nil {
		t.Fatal(err)
	}
	add(t, r, p)
	got, cur, err := r.SealingKey(onlyAlice)
	if err != nil || got != k || cur.Level != 1 || r.NeedsRotation(onlyAlice) {
		t.Fatalf("after rotation: %v %v", cur, err)
	}
	if m := r.Missing(onlyAlice, []peer.ID{bob.pid}); len(m) != 1 {
		t.Errorf("missing = %v", m)
	}
}

// Two admins rotating at once make two epochs of one level: every replica
// picks the same one whatever order it received them in, and both stay
// readable by the readers they were wrapped to.
func TestKeyringConcurrentRotationsConverge(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	alice, bob, carol := newMember(t, seal.SuiteX25519), newMember(t, seal.SuiteX25519), newMember(t, seal.SuiteX25519)
	g, _ := genesis(t, alice, bob, carol)
	ra, rb := alice.keyring(g.Epoch), bob.keyring(g.Epoch)
	add(t, ra, g)
	add(t, rb, g)
	pa, ka, _ := ra.Rotate(alice.id, records(alice, bob, carol), now)
	pb, kb, _ := rb.Rotate(bob.id, records(alice, bob, carol), now)
	all := []*seal.KeyPackage{g, roundTrip(t, pa), roundTrip(t, pb)}
	isReader := readers(alice, bob, carol)
	var want seal.EpochID
	for i, m := range []*member{alice, bob, carol, alice, bob, carol} {
		r := m.keyring(g.Epoch)
		order := rng.Perm(len(all))
		for _, j := range order {
			add(t, r, all[j])
		}
		cur, ok := r.Current(isReader)
		if !ok || cur.Level != 1 {
			t.Fatalf("replica %d: current %v", i, cur)
		}
		if i == 0 {
			want = cur.ID
		} else if cur.ID != want {
			t.Fatalf("replica %d (order %v) picked %s, replica 0 %s", i, order, cur.ID, want)
		}
		for _, k := range []seal.Key{ka, kb} {
			if _, ok := r.Key(k.ID()); !ok {
				t.Fatalf("replica %d cannot read a concurrent epoch", i)
			}
		}
	}
	// A later rotation links both, so a member wrapped only to it reads both.
	rc := carol.keyring(g.Epoch)
	add(t, rc, all...)
	p2, _, _ := rc.Rotate(carol.id, records(carol, alice), now)
	dave := newMember(t, seal.SuiteX25519)
	p3, _ := seal.NewAddition(carol.id, db, 2, mustKeyOf(t, rc, p2), records(dave), now)
	rd := dave.keyring(g.Epoch)
	add(t, rd, all[0], all[1], all[2], roundTrip(t, p2), roundTrip(t, p3))
	for _, k := range []seal.Key{ka, kb} {
		if _, ok := rd.Key(k.ID()); !ok {
			t.Fatal("a later member cannot read a concurrent epoch")
		}
	}
}

func mustKeyOf(t *testing.T, r *seal.Keyring, p *seal.KeyPackage) seal.Key {
	t.Helper()
	if err := r.Add(p); err != nil {
		t.Fatal(err)
	}
	k, ok := r.Key(p.Epoch)
	if !ok {
		t.Fatal("issuer lacks its own epoch")
	}
	return k
}

// The manifest pins the genesis: another level-0 epoch, or the genesis
// claimed at another level, is refused.
func TestKeyringGenesisPinned(t *testing.T) {
	alice, eve := newMember(t, seal.SuiteX25519), newMember(t, seal.SuiteX25519)
	g, k0 := genesis(t, alice)
	r := alice.keyring(g.Epoch)
	add(t, r, g)
	fake, _ := seal.NewRotation(eve.id, db, 0, mustKey(t), records(alice, eve), nil, now)
	if err := r.Add(fake); !errors.Is(err, seal.ErrPackageDoesNotOpen) {
		t.Errorf("second genesis: %v", err)
	}
	moved, _ := seal.NewRotation(eve.id, db, 5, k0, records(eve), nil, now)
	if err := r.Add(moved); !errors.Is(err, seal.ErrPackageDoesNotOpen) {
		t.Errorf("genesis at level 5: %v", err)
	}
	if cur, ok := r.Current(readers(alice, eve)); !ok || cur.ID != g.Epoch {
		t.Errorf("current = %v", cur)
	}
}

// Deltas reach a replica newest first: an addition that wraps an epoch
// to a new reader may arrive before the epoch's rotation. The reader can
// seal under it at once (the addition states the level), and the
// rotation, when it comes, changes nothing.
func TestKeyringAdditionBeforeRotation(t *testing.T) {
	alice, bob := newMember(t, seal.SuiteX25519), newMember(t, seal.SuiteX25519)
	g, k0 := genesis(t, alice)
	add0, err := seal.NewAddition(alice.id, db, 0, k0, records(bob), now)
	if err != nil {
		t.Fatal(err)
	}
	r := bob.keyring(g.Epoch)
	add(t, r, roundTrip(t, add0))
	isReader := readers(alice, bob)
	k, cur, err := r.SealingKey(isReader)
	if err != nil || k != k0 || cur.Level != 0 {
		t.Fatalf("before the rotation: %v %v", cur, err)
	}
	add(t, r, g)
	if k, cur, err = r.SealingKey(isReader); err != nil || k != k0 || cur.Level != 0 {
		t.Fatalf("after the rotation: %v %v", cur, err)
	}
	// An addition cannot claim level 0 for an epoch that is not the
	// genesis, nor another level for the genesis.
	liar, _ := seal.NewAddition(alice.id, db, 0, mustKey(t), records(bob), now)
	if err := r.Add(liar); !errors.Is(err, seal.ErrPackageDoesNotOpen) {
		t.Errorf("addition at level 0: %v", err)
	}
	liar, _ = seal.NewAddition(alice.id, db, 4, k0, records(bob), now)
	if err := r.Add(liar); !errors.Is(err, seal.ErrPackageDoesNotOpen) {
		t.Errorf("genesis addition at level 4: %v", err)
	}
}
