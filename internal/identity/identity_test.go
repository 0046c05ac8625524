package identity

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"
)

func TestLoadKeepsTheKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	k1, err := Load(dir)
	require.NoError(t, err)
	k2, err := Load(dir)
	require.NoError(t, err)
	id1, _ := peer.IDFromPrivateKey(k1)
	id2, _ := peer.IDFromPrivateKey(k2)
	require.Equal(t, id1, id2)
	st, err := os.Stat(filepath.Join(dir, FileName))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}

func TestLoadRefusesACorruptKey(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, FileName), []byte("not a key"), 0o600))
	_, err := Load(dir)
	require.ErrorContains(t, err, FileName)
}
