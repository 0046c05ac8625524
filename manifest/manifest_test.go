package manifest

import (
	"bytes"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// TestManifestWithoutNonceKeepsItsAddress: manifests made before nonces
// existed decode, and encode to the same bytes, so their databases keep
// their addresses; a manifest with a nonce round-trips too, and a nonce
// that is too long or not base32 is refused.
func TestManifestWithoutNonceKeepsItsAddress(t *testing.T) {
	old := []byte(`{"name":"TodoList","type":"docstore","access":{"type":"open"},"meta":{"created":"2026-01-01T00:00:00Z"}}`)
	want, err := cid.Prefix{Version: 1, Codec: cid.DagJSON, MhType: mh.SHA2_256, MhLength: -1}.Sum(old)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(old)
	if err != nil {
		t.Fatalf("an old manifest must still decode: %v", err)
	}
	if m.Nonce != "" {
		t.Fatalf("nonce %q from nowhere", m.Nonce)
	}
	blk, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if !blk.Cid().Equals(want) || !bytes.Equal(blk.RawData(), old) {
		t.Fatalf("an old manifest re-encodes to %s, want %s", blk.Cid(), want)
	}

	n, err := NewNonce()
	if err != nil {
		t.Fatal(err)
	}
	m.Nonce = n
	blk, err = Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(blk.RawData())
	if err != nil || back.Nonce != n {
		t.Fatalf("nonce round trip: %v, %+v", err, back)
	}
	for _, bad := range []string{"UPPER", "with space", string(bytes.Repeat([]byte("a"), maxNonceLen+1))} {
		m.Nonce = bad
		if _, err := Encode(m); err == nil {
			t.Fatalf("nonce %q accepted", bad)
		}
	}
}
