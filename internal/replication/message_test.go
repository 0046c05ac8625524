package replication

import (
	"bytes"
	"encoding/binary"
	"testing"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"github.com/stretchr/testify/require"
)

func testBlock(t testing.TB, data string) blocks.Block {
	t.Helper()
	c, err := cid.Prefix{Version: 1, Codec: cid.DagProtobuf, MhType: mh.SHA2_256, MhLength: -1}.Sum([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	b, err := blocks.NewBlockWithCid([]byte(data), c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMessageRoundTrip(t *testing.T) {
	b1, b2 := testBlock(t, "one"), testBlock(t, "two")
	m := &Message{Heads: []cid.Cid{b1.Cid(), b2.Cid()}, Blocks: []blocks.Block{b1}}
	data, err := EncodeMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeMessage(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Heads) != 2 || !got.Heads[1].Equals(b2.Cid()) || len(got.Blocks) != 1 || !bytes.Equal(got.Blocks[0].RawData(), []byte("one")) {
		t.Fatalf("round trip: %+v", got)
	}
	// A block that does not hash to its CID is refused.
	bad := bytes.Replace(data, []byte("one"), []byte("owe"), 1)
	if _, err := DecodeMessage(bad); err == nil {
		t.Fatal("a forged block was accepted")
	}
	// An overlong varint (0x80 0x00 for 0) would give one message two
	// encodings; only the shortest is accepted.
	overlong := append(append([]byte(nil), data[:len(data)-len("one")-1]...), 0x83, 0x00)
	overlong = append(overlong, "one"...)
	for _, junk := range [][]byte{nil, {'L'}, {'L', 1}, {'L', 1, 0, 0}, {'X', 1, 1}, append(data, 0), overlong} {
		if _, err := DecodeMessage(junk); err == nil {
			t.Fatalf("junk %q accepted", junk)
		}
	}
}

// A message in another format version, or with a block under a hash
// function we do not know, is unsupported (perhaps from a newer peer), not
// malformed: the validator drops it without penalising the sender.
func TestUnsupportedMessages(t *testing.T) {
	b := testBlock(t, "one")
	data, err := EncodeMessage(&Message{Heads: []cid.Cid{b.Cid()}, Blocks: []blocks.Block{b}})
	require.NoError(t, err)
	v2 := append([]byte(nil), data...)
	v2[1] = 2
	_, err = DecodeMessage(v2)
	require.ErrorIs(t, err, ErrUnsupportedMessage)

	unknown, err := cid.Prefix{Version: 1, Codec: cid.DagProtobuf, MhType: 0x1f00ff, MhLength: 32}.Sum([]byte("x"))
	if err == nil {
		m := []byte{'L', 1}
		m = binary.AppendUvarint(m, 1)
		m = binary.AppendUvarint(m, uint64(len(unknown.Bytes())))
		m = append(m, unknown.Bytes()...)
		m = binary.AppendUvarint(m, 1)
		m = binary.AppendUvarint(m, uint64(len(unknown.Bytes())))
		m = append(m, unknown.Bytes()...)
		m = binary.AppendUvarint(m, 1)
		m = append(m, 'x')
		_, err = DecodeMessage(m)
		require.ErrorIs(t, err, ErrUnsupportedMessage)
	}

	// A forged block is malformed, not unsupported.
	_, err = DecodeMessage(bytes.Replace(data, []byte("one"), []byte("owe"), 1))
	require.ErrorIs(t, err, ErrBadMessage)
	require.NotErrorIs(t, err, ErrUnsupportedMessage)
}

// FuzzDecodeMessage: no broadcast payload may panic the decoder, and what
// decodes re-encodes to the same bytes.
func FuzzDecodeMessage(f *testing.F) {
	b := testBlock(f, "seed")
	seed, _ := EncodeMessage(&Message{Heads: []cid.Cid{b.Cid()}, Blocks: []blocks.Block{b}})
	f.Add(seed)
	f.Add([]byte{'L', 1, 1, 2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeMessage(data)
		if err != nil {
			return
		}
		again, err := EncodeMessage(m)
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("re-encoding differs")
		}
	})
}
