//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFileName is the data directory's lock: flock(2)ed by the node that
// uses the directory, holding its pid for the message a second one prints.
const lockFileName = "lattice.lock"

// lockDataDir takes the data directory for this process, before the
// engine opens its store, so a second node on the directory says who has
// it rather than relaying pebble's "resource temporarily unavailable". The
// kernel drops the lock when the process dies, so a crash leaves no stale
// lock; the file itself stays (removing it would let two processes lock
// two different files of one name).
func lockDataDir(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: lock: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				return nil, fmt.Errorf("data directory %s is in use by another lattice process (pid %d)", dir, pid)
			}
			return nil, fmt.Errorf("data directory %s is in use by another lattice process", dir)
		}
		return nil, fmt.Errorf("data directory %s: lock: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("data directory %s: lock: %w", dir, err)
	}
	return func() {
		_ = f.Truncate(0)
		_ = f.Close() // closing the descriptor releases the flock
	}, nil
}
