package replication

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// A broadcast sealed to one address opens with it only: another
// database's key, a flipped bit, a plain message and a truncated one are
// malformed; another version is unsupported (not scored).
func TestTopicSeal(t *testing.T) {
	m1, m2 := testManifest(t, "one"), testManifest(t, "two")
	msg := []byte("L\x01 a plain broadcast holding SECRET")
	sealed := SealBroadcast(m1, msg)
	require.False(t, bytes.Contains(sealed, []byte("SECRET")))
	require.NotEqual(t, sealed, SealBroadcast(m1, msg), "a fresh nonce per message")

	got, err := newTopicSeal(m1).open(sealed)
	require.NoError(t, err)
	require.Equal(t, msg, got)

	_, err = newTopicSeal(m2).open(sealed)
	require.ErrorIs(t, err, ErrBadMessage)
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	_, err = newTopicSeal(m1).open(flipped)
	require.ErrorIs(t, err, ErrBadMessage)
	_, err = newTopicSeal(m1).open(msg)
	require.ErrorIs(t, err, ErrBadMessage)
	_, err = newTopicSeal(m1).open(sealed[:topicSealHeader+3])
	require.ErrorIs(t, err, ErrBadMessage)
	newer := bytes.Clone(sealed)
	newer[1] = 2
	_, err = newTopicSeal(m1).open(newer)
	require.ErrorIs(t, err, ErrUnsupportedMessage)
}

// FuzzTopicSealOpen: no input panics the opener, and only what was
// sealed to the key opens.
func FuzzTopicSealOpen(f *testing.F) {
	m := testManifest(f, "fuzz")
	s := newTopicSeal(m)
	f.Add(s.seal([]byte("hello")))
	f.Add([]byte{'S', 1})
	f.Add([]byte{'L', 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := s.open(data)
		if err == nil && out == nil {
			t.Fatal("opened to nothing")
		}
		if err != nil && !errors.Is(err, ErrBadMessage) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}
