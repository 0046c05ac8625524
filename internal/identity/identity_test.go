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

// TestLoadTightensTheDirectory: a data directory made 0755 (pebble's files
// in it are 0644) is made 0700 at every start.
func TestLoadTightensTheDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "old")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Chmod(dir, 0o755)) // whatever the umask
	_, err := Load(dir)
	require.NoError(t, err)
	st, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	require.NoError(t, os.Chmod(dir, 0o750))
	_, err = Load(dir)
	require.NoError(t, err)
	st, err = os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "again at the next start")
}

// TestLoadRefusesAnExposedKey: a key its group or others may read is
// refused with the command that fixes it; after the fix it loads.
func TestLoadRefusesAnExposedKey(t *testing.T) {
	dir := t.TempDir()
	k1, err := Load(dir)
	require.NoError(t, err)
	path := filepath.Join(dir, FileName)
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604} {
		require.NoError(t, os.Chmod(path, mode))
		_, err = Load(dir)
		require.ErrorIs(t, err, ErrKeyExposed, "%04o", mode)
		require.ErrorContains(t, err, `chmod 600 `+path)
	}
	require.NoError(t, os.Chmod(path, 0o600))
	k2, err := Load(dir)
	require.NoError(t, err)
	require.True(t, k1.Equals(k2))
	require.NoError(t, os.Chmod(path, 0o400))
	_, err = Load(dir)
	require.NoError(t, err, "read-only for the owner is fine")
}
