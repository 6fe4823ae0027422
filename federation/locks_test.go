package federation

import (
	"sync"
	"testing"
	"time"
)

// TestActorLocks: one actor's holder excludes that actor only, and an
// entry is forgotten once nobody holds or waits for it.
func TestActorLocks(t *testing.T) {
	var l actorLocks
	unlockA := l.lock("https://a.example/actor")
	done := make(chan struct{})
	go func() { l.lock("https://b.example/actor")(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("another actor's lock waited on a.example")
	}
	var wg sync.WaitGroup
	counter := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock := l.lock("https://a.example/actor")
			counter++
			unlock()
		}()
	}
	unlockA()
	wg.Wait()
	if counter != 8 {
		t.Fatalf("counter %d, want 8", counter)
	}
	if len(l.m) != 0 {
		t.Fatalf("%d entries left after every unlock", len(l.m))
	}
}
