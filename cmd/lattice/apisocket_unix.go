//go:build unix

package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// listenAPISocket listens on a Unix socket at path that only this user
// may connect to: it is created with mode 0600 (bound under umask 0177, so
// there is no moment when it is open to others). A stale socket left by a
// node that died is removed; a live one, or any other file, is not.
func listenAPISocket(path string) (net.Listener, error) {
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("--api-socket %s: exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			_ = c.Close()
			return nil, fmt.Errorf("--api-socket %s: another process is serving on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("--api-socket %s: remove stale socket: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("--api-socket %s: %w", path, err)
	}
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("--api-socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("--api-socket %s: %w", path, err)
	}
	return ln, nil
}
