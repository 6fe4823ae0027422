package federation_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation"
	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// countingStore counts what the delivery worker reads of the queue and the
// peers: the rows each read returns.
type countingStore struct {
	state.Store
	headRows, peerRows atomic.Int64
}

func (c *countingStore) DueHeads(ctx context.Context, now time.Time) ([]state.Delivery, error) {
	ds, err := c.Store.DueHeads(ctx, now)
	c.headRows.Add(int64(len(ds)))
	return ds, err
}

func (c *countingStore) ListPeers(ctx context.Context) ([]state.Peer, error) {
	ps, err := c.Store.ListPeers(ctx)
	c.peerRows.Add(int64(len(ps)))
	return ps, err
}

// TestFanOutReadsGrowLinearly: one Create to N followers reads the queue
// heads and the peers a bounded number of times, not once per batch of
// outcomes (which made a fan-out quadratic: 10,000 followers read 10,000
// heads and peers hundreds of times).
func TestFanOutReadsGrowLinearly(t *testing.T) {
	followers := 1000
	if testing.Short() {
		followers = 300
	}
	n := testnode.Start(t, testnode.Options{Hub: "hub-a"})
	var received atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
		received.Add(1)
	})
	ctx := context.Background()
	for s := range 5 {
		srv := httptest.NewServer(handler)
		t.Cleanup(srv.Close)
		for i := s; i < followers; i += 5 {
			id := fmt.Sprintf("%s/users/%d", srv.URL, i)
			p := state.Peer{ActorID: id, Host: srv.Listener.Addr().String(), Inbox: id + "/inbox", Follower: state.StateAccepted}
			if err := n.Catalog.PutPeer(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	st := &countingStore{Store: n.Catalog}
	fed, err := federation.New(federation.Config{PublicURL: "http://hub-a.example", Username: "hub-a", Service: n.Service,
		Store: st, Feed: n.Catalog, DataDir: t.TempDir(), Dev: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); fed.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })

	start := time.Now()
	if _, err := n.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: "Pour tous", Kind: "workshop-kit", License: "CC-BY-4.0"}}); err != nil {
		t.Fatal(err)
	}
	fed.Notify()
	testenv.Eventually(t, 2*time.Minute, "every follower got the Create and the queue is empty", func() bool {
		left, err := fed.Backlog(ctx)
		return err == nil && left == 0 && received.Load() >= int64(followers)
	})
	elapsed := time.Since(start)
	heads, peers := st.headRows.Load(), st.peerRows.Load()
	t.Logf("%d followers in %v: %d queue heads and %d peers read", followers, elapsed.Round(time.Millisecond), heads, peers)
	// The dispatcher reads the whole queue once, then again every 5 s and
	// while the last POSTs finish; the peers once for the publisher, then
	// with the queue, at most once a second.
	rounds := int64(elapsed/(5*time.Second)) + 1
	if limit := int64(followers)*(rounds+1) + 64*32; heads > limit {
		t.Errorf("%d queue heads read for %d followers in %v, want at most %d", heads, followers, elapsed, limit)
	}
	if limit := int64(followers) * (int64(elapsed/time.Second) + 4); peers > limit {
		t.Errorf("%d peers read for %d followers in %v, want at most %d", peers, followers, elapsed, limit)
	}
}
