// Package fanout delivers values to any number of subscribers, each with
// its own buffered channel, without ever blocking the sender: a
// subscriber that falls behind misses values, and the misses are counted.
// Package engine's database events go through one.
package fanout

import (
	"context"
	"sync"
	"sync/atomic"
)

// Hub fans values of type T out to its subscribers. It is safe for
// concurrent use.
type Hub[T any] struct {
	buffer int
	drops  *atomic.Uint64

	mu     sync.Mutex
	subs   map[chan T]struct{}
	closed bool
	done   chan struct{} // closed by Close; ends subscription goroutines
}

// New returns a hub whose subscribers each get a channel of capacity
// buffer; values a full channel could not take are counted in drops.
func New[T any](buffer int, drops *atomic.Uint64) *Hub[T] {
	return &Hub[T]{buffer: buffer, drops: drops, done: make(chan struct{})}
}

// Subscribe returns a channel receiving every value sent from now on,
// closed when ctx ends or the hub is closed. The goroutine watching ctx is
// counted in wg, so its owner can wait for it after Close.
func (h *Hub[T]) Subscribe(ctx context.Context, wg *sync.WaitGroup) <-chan T {
	ch := make(chan T, h.buffer)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(ch)
		return ch
	}
	if h.subs == nil {
		h.subs = make(map[chan T]struct{})
	}
	h.subs[ch] = struct{}{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			h.unsubscribe(ch)
		case <-h.done:
		}
	}()
	return ch
}

func (h *Hub[T]) unsubscribe(ch chan T) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[ch]; ok {
		delete(h.subs, ch)
		close(ch)
	}
}

// Send offers v to every subscriber without waiting.
func (h *Hub[T]) Send(v T) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- v:
		default:
			h.drops.Add(1)
		}
	}
}

// Close ends every subscription. Idempotent.
func (h *Hub[T]) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	close(h.done)
	for ch := range h.subs {
		close(ch)
	}
	h.subs = nil
}
