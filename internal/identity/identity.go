// Package identity keeps a peer's libp2p key in a data directory, so an
// engine or a relay restarted on the same directory keeps its peer ID.
package identity

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// FileName is the key's file in a data directory.
const FileName = "identity.key"

// ErrKeyExposed is returned for a key file that users other than its
// owner may read: whoever reads it can act as this peer.
var ErrKeyExposed = errors.New("identity: key file is readable by other users")

// Load reads the Ed25519 key in dir/identity.key, creating it (and dir) on
// first use, with permissions 0600. It tightens dir to 0700 each time (the
// store, the key and the node's state live there; an old directory may
// have been made 0755), and refuses (ErrKeyExposed) a key file that its
// group or others may read, saying how to fix it, as ssh does.
func Load(dir string) (crypto.PrivKey, error) {
	if err := SecureDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName)
	b, err := readKey(path)
	if err == nil {
		k, err := crypto.UnmarshalPrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("identity key %s: %w", path, err)
		}
		return k, nil
	}
	if errors.Is(err, ErrKeyExposed) {
		return nil, err
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("identity key: %w", err)
	}
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, err
	}
	b, err = crypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, fmt.Errorf("identity key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("identity key: %w", err)
	}
	return k, nil
}

// SecureDir creates dir with mode 0700, or tightens an existing one to
// 0700 (on systems with Unix permissions).
func SecureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("data directory %s: make it private (chmod 700): %w", dir, err)
		}
	}
	return nil
}

// readKey reads the key file, refusing one its group or others may read.
func readKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if perm := st.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: permissions %04o for %s are too open; it is this peer's private key: run \"chmod 600 %s\"", ErrKeyExposed, perm, path, path)
	}
	return io.ReadAll(io.LimitReader(f, 64<<10))
}
