// Package accesscontroltest is the conformance suite for access controllers.
//
// A custom controller proves itself with one call from its tests:
//
//	func TestConformance(t *testing.T) {
//		accesscontroltest.Run(t, accesscontroltest.Harness{
//			New: func(t *testing.T, f *accesscontroltest.Fixture) accesscontrol.Controller {
//				c, err := mycontroller.New(params(f.Allowed.ID), accesscontrol.Env{Database: f.Database})
//				if err != nil {
//					t.Fatal(err)
//				}
//				return c
//			},
//		})
//	}
//
// The suite checks that the allowed identity's writes pass and the denied
// identity's fail with errors wrapping accesscontrol.ErrUnauthorized; that
// decisions are deterministic and safe under concurrent use (run with -race);
// that zero-value writes, garbage tokens and, for Replicated controllers,
// garbage entries neither panic nor change anything; and that Replicated
// controllers reach the same decisions whatever order and however often
// their entries are applied. For controllers with a read role
// (accesscontrol.ReadGate, asked about sealed databases) it checks that the
// allowed writer may read (a writer is a reader), that refusals wrap
// accesscontrol.ErrUnauthorized, that an empty peer ID is refused without a
// panic, and that the answer does not change between two calls.
//
// Randomness is seeded; the seed is logged, and setting the environment
// variable LATTICE_ACCESSCONTROLTEST_SEED replays a run.
package accesscontroltest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/latticedb/lattice/accesscontrol"
)

// SeedEnv names the environment variable that fixes the suite's seed.
const SeedEnv = "LATTICE_ACCESSCONTROLTEST_SEED"

// Identity is a peer taking part in the suite.
type Identity struct {
	ID  peer.ID
	Key crypto.PrivKey
	// Token is carried as Write.Token on the identity's writes. Harness.New
	// sets it for controllers that need one.
	Token []byte
}

// NewIdentity returns a fresh identity with a key of type keyType
// (crypto.Ed25519 or crypto.Secp256k1).
func NewIdentity(t testing.TB, keyType int) Identity {
	t.Helper()
	priv, _, err := crypto.GenerateKeyPair(keyType, 0)
	if err != nil {
		t.Fatalf("accesscontroltest: generate key: %v", err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatalf("accesscontroltest: peer ID: %v", err)
	}
	return Identity{ID: id, Key: priv}
}

// Fixture is the setting of one controller under test. The suite builds it;
// Harness.New reads it and may set the identities' tokens. Calls to New with
// the same Fixture must give controllers that decide alike.
type Fixture struct {
	// Database is the database address the controller guards.
	Database string
	// Collection is the collection every probe write touches.
	Collection string
	// Time is the signed time of every probe write; tokens must cover it.
	Time time.Time
	// Allowed may write; Denied may not (unless Harness.DeniesNobody).
	Allowed, Denied Identity
	// Issuer is a third identity New may use as founding admin, token
	// issuer or trusted key. It never authors probe writes of its own
	// except as an admin-like peer in Replicated checks.
	Issuer Identity
}

// Harness describes the controller under test.
type Harness struct {
	// New returns a controller for f.Database under which f.Allowed may
	// write to f.Collection at f.Time and f.Denied may not. Required.
	New func(t *testing.T, f *Fixture) accesscontrol.Controller

	// Entries, for Replicated controllers, returns extra valid entries
	// (grants and revocations that interact, re-grants, chains) whose
	// combined effect depends on replaying them correctly. The suite
	// applies them, shuffled and repeated, to controllers from New and
	// checks every order decides alike. Optional.
	Entries func(t *testing.T, f *Fixture) [][]byte

	// KeyType is the type of the fixture's keys: crypto.Ed25519 or
	// crypto.Secp256k1. The zero value (crypto.RSA) means Ed25519: RSA peer
	// IDs do not embed their keys, so the suite does not offer them.
	KeyType int

	// DeniesNobody says the controller lets every author write (open
	// access): the suite then expects Denied's plain writes to pass too.
	DeniesNobody bool

	// Rounds is how many shuffled orders the order-independence check
	// tries; 0 means 20.
	Rounds int
}

// Run runs the conformance suite against h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("accesscontroltest: Harness.New is required")
	}
	if h.Rounds <= 0 {
		h.Rounds = 20
	}
	seed := suiteSeed(t)
	s := &suite{h: h, seed: seed}
	t.Run("Type", s.testType)
	t.Run("AllowedWrites", s.testAllowed)
	t.Run("DeniedWrites", s.testDenied)
	t.Run("TokenBoundToHolder", s.testForeignToken)
	t.Run("ZeroAndGarbage", s.testGarbage)
	t.Run("Deterministic", s.testDeterministic)
	t.Run("Concurrent", s.testConcurrent)
	t.Run("Replicated", s.testReplicated)
	t.Run("ReadRole", s.testReadRole)
}

// suiteSeed returns the seed from SeedEnv or a fresh one, and logs it.
func suiteSeed(t *testing.T) uint64 {
	t.Helper()
	seed := rand.Uint64()
	if v := os.Getenv(SeedEnv); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("accesscontroltest: %s=%q: %v", SeedEnv, v, err)
		}
		seed = n
	}
	t.Logf("accesscontroltest: seed %d (replay with %s=%d)", seed, SeedEnv, seed)
	return seed
}

type suite struct {
	h    Harness
	seed uint64
}

// fixture returns a fresh fixture.
func (s *suite) fixture(t *testing.T) *Fixture {
	t.Helper()
	kt := s.h.KeyType
	if kt == crypto.RSA {
		kt = crypto.Ed25519
	}
	return &Fixture{
		Database:   "/lattice/bafyreiaccesscontroltestmanifest/" + t.Name(),
		Collection: "todos",
		Time:       time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC),
		Allowed:    NewIdentity(t, kt),
		Denied:     NewIdentity(t, kt),
		Issuer:     NewIdentity(t, kt),
	}
}

// newController calls Harness.New and checks the result.
func (s *suite) newController(t *testing.T, f *Fixture) accesscontrol.Controller {
	t.Helper()
	c := s.h.New(t, f)
	if c == nil {
		t.Fatal("accesscontroltest: Harness.New returned nil")
	}
	return c
}

// write returns id's plain write in fixture f.
func write(f *Fixture, id Identity) accesscontrol.Write {
	return accesscontrol.Write{
		Database:    f.Database,
		Author:      id.ID,
		Collections: []string{f.Collection},
		Token:       id.Token,
		Time:        f.Time,
	}
}

// check calls CanWrite, failing the test on a panic or on an error that does
// not wrap ErrUnauthorized.
func check(t *testing.T, c accesscontrol.Controller, w accesscontrol.Write, what string) (err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: CanWrite panicked: %v", what, r)
			err = errPanicked
		}
	}()
	err = c.CanWrite(context.Background(), w)
	if err != nil && !errors.Is(err, accesscontrol.ErrUnauthorized) {
		t.Errorf("%s: CanWrite error %q does not wrap accesscontrol.ErrUnauthorized", what, err)
	}
	return err
}

var errPanicked = errors.New("accesscontroltest: panicked")

func (s *suite) testType(t *testing.T) {
	f := s.fixture(t)
	c := s.newController(t, f)
	if c.Type() == "" {
		t.Error("Type() is empty")
	}
	if c.Type() != s.newController(t, f).Type() {
		t.Error("Type() differs between controllers of the same fixture")
	}
}

func (s *suite) testAllowed(t *testing.T) {
	f := s.fixture(t)
	c := s.newController(t, f)
	if err := check(t, c, write(f, f.Allowed), "allowed write"); err != nil {
		t.Errorf("allowed write refused: %v", err)
	}
	w := write(f, f.Allowed)
	w.Collections = []string{f.Collection, f.Collection}
	if err := check(t, c, w, "allowed write, repeated collection"); err != nil {
		t.Errorf("allowed write naming its collection twice refused: %v", err)
	}
}

func (s *suite) testDenied(t *testing.T) {
	f := s.fixture(t)
	c := s.newController(t, f)
	err := check(t, c, write(f, f.Denied), "denied write")
	switch {
	case s.h.DeniesNobody && err != nil:
		t.Errorf("controller denies nobody, yet refused a write: %v", err)
	case !s.h.DeniesNobody && err == nil:
		t.Error("denied identity's write was allowed")
	}
	if s.h.DeniesNobody {
		return
	}
	w := write(f, f.Denied)
	w.ACL = true
	if check(t, c, w, "denied ACL write") == nil {
		t.Error("denied identity's ACL write was allowed")
	}
	anon := write(f, Identity{})
	if check(t, c, anon, "write without author") == nil {
		t.Error("write without author was allowed")
	}
}

// testForeignToken: Denied carrying Allowed's token must still be refused.
func (s *suite) testForeignToken(t *testing.T) {
	if s.h.DeniesNobody {
		t.Skip("controller denies nobody")
	}
	f := s.fixture(t)
	c := s.newController(t, f)
	w := write(f, f.Denied)
	w.Token = f.Allowed.Token
	if check(t, c, w, "denied author with allowed token") == nil {
		t.Error("denied identity writing with the allowed identity's token was allowed")
	}
	w = write(f, f.Allowed)
	w.Database = f.Database + "-other"
	_ = check(t, c, w, "write for another database") // any answer, but no panic and a proper error
}

func (s *suite) testGarbage(t *testing.T) {
	f := s.fixture(t)
	c := s.newController(t, f)
	err := check(t, c, accesscontrol.Write{}, "zero-value write")
	if err == nil && !s.h.DeniesNobody {
		t.Error("zero-value write was allowed")
	}
	rng := rand.New(rand.NewPCG(s.seed, 1))
	tokens := garbage(rng, f.Allowed.Token, 64)
	for i, tok := range tokens {
		w := write(f, f.Allowed)
		w.Token = tok
		_ = check(t, c, w, fmt.Sprintf("garbage token %d (%x)", i, truncate(tok)))
		w = write(f, f.Denied)
		w.Token = tok
		if check(t, c, w, fmt.Sprintf("denied author, garbage token %d (%x)", i, truncate(tok))) == nil && !s.h.DeniesNobody {
			t.Errorf("denied identity allowed with garbage token %x", truncate(tok))
		}
	}
	odd := write(f, f.Allowed)
	odd.Author = peer.ID("\x00not a peer id")
	odd.Collections = []string{"", "\xff\xfe", f.Collection}
	odd.Time = time.Unix(1<<40, 0)
	_ = check(t, c, odd, "malformed author")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.CanWrite(ctx, write(f, f.Allowed)); err != nil && !errors.Is(err, accesscontrol.ErrUnauthorized) {
		t.Errorf("CanWrite with a cancelled context returned %q, not wrapping ErrUnauthorized", err)
	}
	if r, ok := c.(accesscontrol.Replicated); ok {
		before := probe(t, c, f)
		for i, e := range garbage(rng, firstEntry(r), 128) {
			applyGarbage(t, r, e, i)
		}
		if after := probe(t, c, f); !slices.Equal(before, after) {
			t.Errorf("garbage entries changed decisions: %v -> %v", before, after)
		}
	}
}

// applyGarbage applies e, which must not panic and, if refused, must wrap
// ErrInvalidEntry.
func applyGarbage(t *testing.T, r accesscontrol.Replicated, e []byte, i int) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("Apply(garbage %d %x) panicked: %v", i, truncate(e), p)
		}
	}()
	if err := r.Apply(e); err != nil && !errors.Is(err, accesscontrol.ErrInvalidEntry) {
		t.Errorf("Apply(garbage %d %x) error %q does not wrap accesscontrol.ErrInvalidEntry", i, truncate(e), err)
	}
}

func firstEntry(r accesscontrol.Replicated) []byte {
	if es := r.Entries(); len(es) > 0 {
		return es[0]
	}
	return nil
}

func (s *suite) testDeterministic(t *testing.T) {
	f := s.fixture(t)
	c := s.newController(t, f)
	first := probe(t, c, f)
	for range 20 {
		if again := probe(t, c, f); !slices.Equal(first, again) {
			t.Fatalf("same writes, different answers: %v then %v", first, again)
		}
	}
	if other := probe(t, s.newController(t, f), f); !slices.Equal(first, other) {
		t.Errorf("two controllers of the same fixture disagree: %v vs %v", first, other)
	}
}

func (s *suite) testConcurrent(t *testing.T) {
	f := s.fixture(t)
	c := s.newController(t, f)
	want := probe(t, c, f)
	writes := probeWrites(f)
	var entries [][]byte
	r, replicated := c.(accesscontrol.Replicated)
	if replicated {
		entries = r.Entries()
	}
	const workers, iterations = 8, 100
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for g := range workers {
		wg.Go(func() {
			for i := range iterations {
				k := (g + i) % len(writes)
				err := c.CanWrite(context.Background(), writes[k].w)
				if got := writes[k].name + "=" + decision(err); got != want[k] {
					errs <- fmt.Sprintf("got %s concurrently, %s alone", got, want[k])
					return
				}
				if replicated && len(entries) > 0 && i%10 == 0 {
					_ = r.Apply(entries[(g+i)%len(entries)]) // re-apply: must be a no-op
					_ = r.Entries()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// testReplicated checks order independence and idempotence of Apply.
func (s *suite) testReplicated(t *testing.T) {
	f := s.fixture(t)
	c := s.newController(t, f)
	r, ok := c.(accesscontrol.Replicated)
	if !ok {
		t.Skip("controller is not Replicated")
	}
	var extra [][]byte
	if s.h.Entries != nil {
		extra = s.h.Entries(t, f)
	}
	for i, e := range extra {
		if err := r.Apply(e); err != nil {
			t.Fatalf("Harness.Entries[%d] refused: %v", i, err)
		}
	}
	want := probe(t, c, f)
	all := r.Entries()
	wantSet := sortedCopy(all)
	if len(all) == 0 {
		t.Log("controller holds no entries: order independence checked on an empty set")
	}
	// Idempotence: applying everything again changes nothing.
	for i, e := range all {
		if err := r.Apply(e); err != nil {
			t.Errorf("re-applying held entry %d refused: %v", i, err)
		}
	}
	if got := probe(t, c, f); !slices.Equal(want, got) {
		t.Errorf("re-applying held entries changed decisions: %v -> %v", want, got)
	}
	if got := sortedCopy(r.Entries()); !equalSets(wantSet, got) {
		t.Errorf("re-applying held entries changed Entries(): %d -> %d entries", len(wantSet), len(got))
	}
	// Order independence: fresh controllers, shuffled, duplicated.
	rng := rand.New(rand.NewPCG(s.seed, 2))
	for round := range s.h.Rounds {
		c2 := s.newController(t, f)
		r2 := c2.(accesscontrol.Replicated)
		order := slices.Clone(all)
		order = append(order, all[:rng.IntN(len(all)+1)]...)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for i, e := range order {
			if err := r2.Apply(e); err != nil {
				t.Fatalf("round %d: applying held entry %d refused: %v", round, i, err)
			}
		}
		if got := probe(t, c2, f); !slices.Equal(want, got) {
			t.Fatalf("round %d: shuffled replay decides %v, in-order replica %v (seed %d)", round, got, want, s.seed)
		}
		if got := sortedCopy(r2.Entries()); !equalSets(wantSet, got) {
			t.Fatalf("round %d: shuffled replay holds %d entries, in-order replica %d (seed %d)", round, len(got), len(wantSet), s.seed)
		}
	}
}

// probeWrite is a named write.
type probeWrite struct {
	name string
	w    accesscontrol.Write
}

// probeWrites are the writes whose decisions characterise a state.
func probeWrites(f *Fixture) []probeWrite {
	var out []probeWrite
	for _, id := range []struct {
		name string
		id   Identity
	}{{"allowed", f.Allowed}, {"denied", f.Denied}, {"issuer", f.Issuer}} {
		w := write(f, id.id)
		out = append(out, probeWrite{id.name, w})
		w.ACL = true
		out = append(out, probeWrite{id.name + "/acl", w})
		w.ACL = false
		w.Token = nil
		out = append(out, probeWrite{id.name + "/no-token", w})
	}
	return out
}

// probe returns the decision on every probe write.
func probe(t *testing.T, c accesscontrol.Controller, f *Fixture) []string {
	t.Helper()
	ws := probeWrites(f)
	out := make([]string, len(ws))
	for i, p := range ws {
		out[i] = p.name + "=" + decision(check(t, c, p.w, p.name))
	}
	return out
}

func decision(err error) string {
	if err == nil {
		return "allow"
	}
	return "deny"
}

// garbage returns n byte strings: random bytes, and truncations and bit
// flips of valid (if non-empty).
func garbage(rng *rand.Rand, valid []byte, n int) [][]byte {
	out := [][]byte{nil, {}, {0}, []byte("{}"), []byte("null"), []byte(`{"op":"grant"}`)}
	for len(out) < n {
		switch k := rng.IntN(3); {
		case k == 0 || len(valid) == 0:
			b := make([]byte, rng.IntN(300))
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			out = append(out, b)
		case k == 1:
			out = append(out, slices.Clone(valid[:rng.IntN(len(valid))]))
		default:
			b := slices.Clone(valid)
			b[rng.IntN(len(b))] ^= 1 << rng.IntN(8)
			out = append(out, b)
		}
	}
	return out
}

func truncate(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

func sortedCopy(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func equalSets(a, b []string) bool { return slices.Equal(a, b) }
