package discovery

import (
	"context"
	"sync"

	"github.com/libp2p/go-libp2p/core/host"
)

// life is the start-once, close-once state the built-in sources share: an
// internal context Close cancels and a WaitGroup of their goroutines.
type life struct {
	mu      sync.Mutex
	started bool
	closed  bool
	host    host.Host
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// start marks the source started on h; it fails if it was started or
// closed before.
func (l *life) start(h host.Host) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return ErrClosed
	case l.started:
		return ErrStarted
	}
	l.started, l.host = true, h
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return nil
}

// goroutine runs f in a goroutine Close waits for, unless the source is
// closed (or not started): then it reports false and runs nothing.
func (l *life) goroutine(f func(ctx context.Context)) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || !l.started {
		return false
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		f(l.ctx)
	}()
	return true
}

// close cancels and waits; it reports whether this call closed it.
func (l *life) close() bool {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false
	}
	l.closed = true
	cancel := l.cancel
	l.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	l.wg.Wait()
	return true
}
