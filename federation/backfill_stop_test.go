package federation_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// TestUnfollowStopsBackfill: B's backfill of A has saved the first outbox
// page and waits for the second when B's admin unfollows A. Whatever the
// backfill had read ahead, it stops: no copy of A's comes back.
func TestUnfollowStopsBackfill(t *testing.T) {
	var holding atomic.Bool
	reached, release := make(chan struct{}), make(chan struct{})
	var reachedOnce sync.Once
	gate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/actor/outbox" && r.URL.Query().Has("after") && holding.Load() {
				reachedOnce.Do(func() { close(reached) })
				<-release
			}
			next.ServeHTTP(w, r)
		})
	}
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a", Wrap: gate})
	ctx := context.Background()
	const total = 140 // three outbox pages of 50
	for i := range total {
		if _, err := a.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: fmt.Sprintf("Fiche %d", i), Kind: "practical-sheet", License: "CC0-1.0"}}); err != nil {
			t.Fatal(err)
		}
	}
	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b"})
	follow(t, b, a, state.MirrorNone)
	testenv.Eventually(t, 30*time.Second, "the first backfill brings A's resources", func() bool { return len(remotes(t, b)) == total })

	holding.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := b.Fed.Backfill(ctx, a.Fed.ActorURL())
		done <- err
	}()
	select {
	case <-reached:
	case <-time.After(15 * time.Second):
		t.Fatal("the backfill never asked for the second outbox page")
	}
	if err := b.Fed.Unfollow(ctx, strings.TrimPrefix(a.URL, "http://")); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "the unfollow removes A's copies", func() bool { return len(remotes(t, b)) == 0 })
	close(release)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no longer follows") {
			t.Fatalf("the backfill went on after the unfollow: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the backfill never ended")
	}
	if n := len(remotes(t, b)); n != 0 {
		t.Fatalf("%d copies of A's came back after the unfollow", n)
	}
}
