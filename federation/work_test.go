package federation_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation"
	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// TestBackfillResumesAfterRestart: B follows A, whose outbox has two
// pages; B stops while A holds the second page back. Restarted on the same
// data, B reads the second page without a new Follow and without reading
// the first again.
func TestBackfillResumesAfterRestart(t *testing.T) {
	var (
		firstPages, laterPages atomic.Int32
		holding                atomic.Bool
		reached                = make(chan struct{})
		reachedOnce            sync.Once
	)
	holding.Store(true)
	gate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/actor/outbox" && r.URL.Query().Has("page") {
				if !r.URL.Query().Has("after") {
					firstPages.Add(1)
				} else {
					laterPages.Add(1)
					if holding.Load() {
						// Held until the follower gives up (it is stopped).
						reachedOnce.Do(func() { close(reached) })
						<-r.Context().Done()
						return
					}
				}
			}
			next.ServeHTTP(w, r)
		})
	}
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a", Wrap: gate})
	ctx := context.Background()
	const total = 55 // outbox pages hold 50
	for i := range total {
		if _, err := a.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: fmt.Sprintf("Fiche de reprise %d", i), Kind: "practical-sheet", License: "CC0-1.0"}}); err != nil {
			t.Fatal(err)
		}
	}
	bDir := t.TempDir()
	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b", Dir: bDir})
	bAddr := strings.TrimPrefix(b.URL, "http://")
	follow(t, b, a, state.MirrorNone)
	select {
	case <-reached:
	case <-time.After(15 * time.Second):
		t.Fatal("B's backfill never asked for the second outbox page")
	}
	// The second page is read while the first is saved: the mark follows
	// the save.
	var before state.Peer
	testenv.Eventually(t, 15*time.Second, "B's record says where the backfill stands (the second page)", func() bool {
		before = peerOf(t, b, a)
		return strings.Contains(before.BackfillNext, "after=")
	})
	b.Close()

	holding.Store(false)
	b = testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b", Dir: bDir, Addr: bAddr})
	testenv.Eventually(t, 15*time.Second, "the resumed backfill brings all of A's resources", func() bool { return len(remotes(t, b)) == total })
	testenv.Eventually(t, 15*time.Second, "the backfill is marked done", func() bool {
		p := peerOf(t, b, a)
		return !p.Backfilled.IsZero() && p.BackfillNext == ""
	})
	after := peerOf(t, b, a)
	if after.FollowID != before.FollowID || after.Following != state.StateAccepted {
		t.Fatalf("the restart sent a new Follow or lost the follow: %q (%s), was %q", after.FollowID, after.Following, before.FollowID)
	}
	if n := firstPages.Load(); n != 1 {
		t.Fatalf("the first outbox page was read %d times; a resumed backfill starts where it stopped", n)
	}
}

func peerOf(t *testing.T, n, of *testnode.Node) state.Peer {
	t.Helper()
	peers, err := n.Fed.Peers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range peers {
		if p.ActorID == of.Fed.ActorURL() {
			return p
		}
	}
	t.Fatalf("%s has no record of %s", n.URL, of.URL)
	return state.Peer{}
}

// TestSlowHubBlocksNobody: while B's admin follows a hub whose actor
// document never comes, B's admin can follow another hub and B's inbox
// still applies another hub's Follow.
func TestSlowHubBlocksNobody(t *testing.T) {
	asked, release := make(chan struct{}), make(chan struct{})
	var askedOnce sync.Once
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		askedOnce.Do(func() { close(asked) })
		select {
		case <-release:
		case <-r.Context().Done():
		}
		http.Error(w, "too late", http.StatusServiceUnavailable)
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) }) // runs first: the handler returns, then Close

	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a"})
	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b"})
	c := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-c"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.Fed.Follow(ctx, slow.URL+"/actor", federation.FollowOptions{}) //nolint:errcheck // ends with the test
	select {
	case <-asked:
	case <-time.After(10 * time.Second):
		t.Fatal("B never asked the slow hub for its actor")
	}

	within := func(what string, fn func() error) {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- fn() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: still waiting after 10 s on the slow hub", what)
		}
	}
	within("B's admin follows A", func() error {
		_, err := b.Fed.Follow(ctx, strings.TrimPrefix(a.URL, "http://"), federation.FollowOptions{})
		return err
	})
	within("C follows B and B's inbox accepts", func() error {
		if _, err := c.Fed.Follow(ctx, strings.TrimPrefix(b.URL, "http://"), federation.FollowOptions{}); err != nil {
			return err
		}
		for {
			peers, err := c.Fed.Peers(ctx)
			if err != nil {
				return err
			}
			for _, p := range peers {
				if p.ActorID == b.Fed.ActorURL() && p.Following == state.StateAccepted {
					return nil
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	within("A's Accept is applied by B's inbox", func() error {
		for {
			peers, err := b.Fed.Peers(ctx)
			if err != nil {
				return err
			}
			for _, p := range peers {
				if p.ActorID == a.Fed.ActorURL() && p.Following == state.StateAccepted {
					return nil
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
