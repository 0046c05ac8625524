package fanout

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

// TestHub: every subscriber gets what is sent, a full one misses and the
// miss is counted, a cancelled one and Close close their channels, and no
// goroutine outlives Close.
func TestHub(t *testing.T) {
	var drops atomic.Uint64
	var wg sync.WaitGroup
	h := New[int](2, &drops)
	ctx, cancel := context.WithCancel(context.Background())
	a := h.Subscribe(context.Background(), &wg)
	b := h.Subscribe(ctx, &wg)
	h.Send(1)
	h.Send(2)
	h.Send(3) // both full
	if got := drops.Load(); got != 2 {
		t.Fatalf("drops = %d, want 2", got)
	}
	if v := <-a; v != 1 {
		t.Fatalf("a got %d, want 1", v)
	}
	cancel()
	for range b { // drains, then closed by the cancellation
	}
	h.Close()
	h.Close()
	wg.Wait()
	n := 0
	for range a {
		n++
	}
	if n != 1 {
		t.Fatalf("a held %d more values, want 1", n)
	}
	if _, open := <-h.Subscribe(context.Background(), &wg); open {
		t.Fatal("a subscription after Close is open")
	}
}
