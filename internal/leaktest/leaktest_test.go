package leaktest

import (
	"testing"
	"time"
)

func TestFindWaitsForGoroutinesThatEnd(t *testing.T) {
	done := make(chan struct{})
	go func() {
		time.Sleep(time.Second) // a goroutine that ends on its own, late
		close(done)
	}()
	if err := find(30 * time.Second); err != nil {
		t.Fatalf("a goroutine that ends after a second was reported: %v", err)
	}
	<-done
}

func TestFindReportsGoroutinesThatStay(t *testing.T) {
	stop := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		<-stop
	}()
	err := find(200 * time.Millisecond)
	close(stop)
	<-exited
	if err == nil {
		t.Fatal("a goroutine blocked for good was not reported")
	}
}
