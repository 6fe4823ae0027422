package federation_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-fed/httpsig"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

func envCount(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkFanOut: one Create delivered to 1000 followers' inboxes
// (COMMUNS_BENCH_FOLLOWERS), served by 10 lightweight loopback servers that
// check each request's HTTP signature against the hub's key. Reports the
// time until every inbox has a verified copy.
func BenchmarkFanOut(b *testing.B) {
	followers := envCount("COMMUNS_BENCH_FOLLOWERS", 1000)
	for range b.N {
		a := testnode.Start(b, testnode.Options{Federate: true, Hub: "hub-a"})
		var actor struct {
			PublicKey struct {
				PEM string `json:"publicKeyPem"`
			} `json:"publicKey"`
		}
		getJSON(b, a.Fed.ActorURL(), &actor)
		pub, err := parsePEM(actor.PublicKey.PEM)
		if err != nil {
			b.Fatal(err)
		}
		var verified, bad atomic.Int64
		var once sync.Once
		done := make(chan struct{})
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			v, err := httpsig.NewVerifier(r)
			if err != nil || v.Verify(pub, httpsig.RSA_SHA256) != nil || len(body) == 0 {
				bad.Add(1)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.WriteHeader(http.StatusAccepted)
			if verified.Add(1) == int64(followers) {
				once.Do(func() { close(done) })
			}
		})
		var peers []state.Peer
		for s := range 10 {
			srv := httptest.NewServer(handler)
			b.Cleanup(srv.Close)
			for i := s; i < followers; i += 10 {
				id := fmt.Sprintf("%s/users/%d", srv.URL, i)
				peers = append(peers, state.Peer{ActorID: id, Host: srv.Listener.Addr().String(), Inbox: id + "/inbox", Follower: state.StateAccepted})
			}
		}
		ctx := context.Background()
		for _, p := range peers {
			if err := a.Catalog.PutPeer(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
		start := time.Now()
		if _, err := a.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: "Nouveau kit pour tous", Kind: "workshop-kit", License: "CC-BY-4.0"}}); err != nil {
			b.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			b.Fatalf("only %d of %d inboxes verified a delivery (%d refused)", verified.Load(), followers, bad.Load())
		}
		d := time.Since(start)
		b.ReportMetric(d.Seconds(), "s-to-all-delivered")
		b.ReportMetric(float64(followers)/d.Seconds(), "deliveries/s")
		if bad.Load() != 0 {
			b.Fatalf("%d deliveries failed the signature check", bad.Load())
		}
		a.Close()
	}
}

// BenchmarkBackfill: B follows A, which holds 10,000 resources
// (COMMUNS_BENCH_BACKFILL); reports the time until B holds them all.
func BenchmarkBackfill(b *testing.B) {
	count := envCount("COMMUNS_BENCH_BACKFILL", 10_000)
	rs := corpus.Synthetic(corpus.Open(corpus.MustLoad(b)), count, 11)
	for range b.N {
		a := testnode.Start(b, testnode.Options{Federate: true, Hub: "hub-a"})
		a.Catalog.DB().NoSync = true // seeding only
		now := time.Now()
		ctx := context.Background()
		for i, r := range rs {
			r.Created, r.Updated = now.Add(time.Duration(i)*time.Millisecond), now
			r.Files = []node.File{{Name: "fiche.pdf", MediaType: "application/pdf", Size: 1000,
				SHA256: fmt.Sprintf("%064x", i)}}
			if err := a.Catalog.Create(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
		a.Catalog.DB().NoSync = false
		// A's publisher has seen its own catalog before B follows, as on
		// a hub that has run for a while.
		for {
			cur, _ := a.Catalog.Cursor(ctx, "federation")
			last, _ := a.Catalog.LastSeq(ctx)
			if cur == last {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		bn := testnode.Start(b, testnode.Options{Federate: true, Hub: "hub-b", Search: true})
		start := time.Now()
		follow(b, bn, a, state.MirrorNone)
		deadline := time.Now().Add(5 * time.Minute)
		for {
			n, _ := bn.Catalog.Count(ctx)
			if n == count {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("B holds %d of %d after 5 minutes", n, count)
			}
			time.Sleep(50 * time.Millisecond)
		}
		d := time.Since(start)
		b.ReportMetric(d.Seconds(), "s-to-backfill")
		b.ReportMetric(float64(count)/d.Seconds(), "resources/s")
		a.Close()
		bn.Close()
	}
}
