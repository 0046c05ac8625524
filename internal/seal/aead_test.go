package seal_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/latticedb/lattice/internal/seal"
)

func TestValueRoundTripAndSizes(t *testing.T) {
	k := mustKey(t)
	keyOf := func(id seal.EpochID) (seal.Key, bool) { return k, id == k.ID() }
	for _, n := range []int{0, 1, 15, 16, 17, 1000} {
		v := bytes.Repeat([]byte{'x'}, n)
		s, err := seal.SealValue(k, v, []byte("aad"))
		if err != nil {
			t.Fatal(err)
		}
		if want := seal.ValueOverhead + (n/16+1)*16; len(s) != want {
			t.Errorf("%d bytes sealed to %d, want %d", n, len(s), want)
		}
		if n >= 8 && bytes.Contains(s, v) {
			t.Errorf("%d bytes: plaintext in ciphertext", n)
		}
		got, err := seal.OpenValue(keyOf, s, []byte("aad"))
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("%d bytes: open = %q, %v", n, got, err)
		}
	}
	a, _ := seal.SealValue(k, []byte("same"), nil)
	b, _ := seal.SealValue(k, []byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Error("two seals of one value are equal")
	}
}

func TestValueRefusals(t *testing.T) {
	k, other := mustKey(t), mustKey(t)
	s, err := seal.SealValue(k, []byte("secret value"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seal.OpenValueWith(k, s, []byte("other aad")); !errors.Is(err, seal.ErrDoesNotOpen) {
		t.Errorf("other aad: %v", err)
	}
	if _, err := seal.OpenValueWith(other, s, []byte("aad")); !errors.Is(err, seal.ErrDoesNotOpen) {
		t.Errorf("other key: %v", err)
	}
	none := func(seal.EpochID) (seal.Key, bool) { return seal.Key{}, false }
	if _, err := seal.OpenValue(none, s, []byte("aad")); !errors.Is(err, seal.ErrNoEpochKey) {
		t.Errorf("no key: %v", err)
	}
	// Every single-byte change is refused, whichever part it hits
	// (version, epoch, nonce, commitment, ciphertext, GCM tag).
	for i := range s {
		bad := bytes.Clone(s)
		bad[i] ^= 0x40
		if _, err := seal.OpenValueWith(k, bad, []byte("aad")); !errors.Is(err, seal.ErrDoesNotOpen) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
	for _, n := range []int{0, 1, seal.ValueOverhead, len(s) - 1} {
		if _, err := seal.OpenValueWith(k, s[:n], []byte("aad")); !errors.Is(err, seal.ErrDoesNotOpen) {
			t.Errorf("truncated to %d: %v", n, err)
		}
	}
}

// A ciphertext whose header names key k but whose body was sealed under
// another key (the forgery non-committing AEADs allow) is refused by the
// commitment before GCM is tried.
func TestValueCommitsToKey(t *testing.T) {
	k, other := mustKey(t), mustKey(t)
	s, _ := seal.SealValue(other, []byte("v"), nil)
	id := k.ID()
	copy(s[1:], id[:])
	_, err := seal.OpenValueWith(k, s, nil)
	if !errors.Is(err, seal.ErrDoesNotOpen) || !strings.Contains(err.Error(), "commitment") {
		t.Fatalf("open = %v, want a commitment mismatch", err)
	}
}

func TestNames(t *testing.T) {
	n, err := seal.NewNames(mustKey(t))
	if err != nil {
		t.Fatal(err)
	}
	a := n.Seal("field", "secretField")
	if a != n.Seal("field", "secretField") {
		t.Error("not deterministic")
	}
	if a == n.Seal("coll", "secretField") {
		t.Error("roles do not separate")
	}
	if strings.Contains(a, "secret") {
		t.Error("plaintext in sealed component")
	}
	for _, c := range a {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			t.Fatalf("sealed component %q holds %q", a, c)
		}
	}
	for _, s := range []string{"", "x", "exactly16bytes!!", "a/b%c", strings.Repeat("é", 40)} {
		got, err := n.Open("id", n.Seal("id", s))
		if err != nil || got != s {
			t.Errorf("Open(Seal(%q)) = %q, %v", s, got, err)
		}
	}
	if _, err := n.Open("coll", a); !errors.Is(err, seal.ErrDoesNotOpen) {
		t.Errorf("other role: %v", err)
	}
	other, _ := seal.NewNames(mustKey(t))
	if _, err := other.Open("field", a); !errors.Is(err, seal.ErrDoesNotOpen) {
		t.Errorf("other key: %v", err)
	}
	raw := []byte(a)
	for i := range raw {
		bad := bytes.Clone(raw)
		bad[i] = 'A' + (bad[i]+1)%26
		if bad[i] == raw[i] {
			continue
		}
		if got, err := n.Open("field", string(bad)); err == nil {
			t.Fatalf("char %d changed: opened to %q", i, got)
		}
	}
}

// A sealed component has one spelling: changing the unused low bits of
// its last base64 character gives a string that does not open.
func TestNamesOneSpelling(t *testing.T) {
	n, _ := seal.NewNames(mustKey(t))
	s := n.Seal("id", "doc") // 32 bytes: 43 characters, 2 unused bits
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alpha, s[len(s)-1])
	alt := s[:len(s)-1] + string(alpha[i^1])
	if _, err := n.Open("id", alt); !errors.Is(err, seal.ErrDoesNotOpen) {
		t.Fatalf("%q (another spelling of %q) opens: %v", alt, s, err)
	}
}
