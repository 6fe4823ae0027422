package federation_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// slowBody delays the body written after the headers were flushed, as an
// origin busy rendering a page's items.
type slowBody struct {
	http.ResponseWriter
	flushed bool
	once    sync.Once
}

func (s *slowBody) Flush() {
	s.flushed = true
	http.NewResponseController(s.ResponseWriter).Flush()
}

func (s *slowBody) Write(p []byte) (int, error) {
	if s.flushed {
		s.once.Do(func() { time.Sleep(150 * time.Millisecond) })
	}
	return s.ResponseWriter.Write(p)
}

func (s *slowBody) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// TestBackfillReadsOutboxAhead: A's outbox names its next page in a Link
// header sent before the page's items, and B asks for that page while A
// still renders the one before: two page requests in flight at once, each
// page asked for once, every resource backfilled.
func TestBackfillReadsOutboxAhead(t *testing.T) {
	var (
		inflight, most atomic.Int32
		mu             sync.Mutex
		asked          = map[string]int{}
	)
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != paths.Outbox || !r.URL.Query().Has("page") {
				next.ServeHTTP(w, r)
				return
			}
			mu.Lock()
			asked[r.URL.RawQuery]++
			mu.Unlock()
			n := inflight.Add(1)
			defer inflight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			next.ServeHTTP(&slowBody{ResponseWriter: w}, r)
		})
	}
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a", Wrap: wrap})
	ctx := context.Background()
	const total = 160 // four outbox pages of 50
	for i := range total {
		if _, err := a.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: fmt.Sprintf("Fiche lue d'avance %d", i), Kind: "practical-sheet", License: "CC0-1.0"}}); err != nil {
			t.Fatal(err)
		}
	}

	// The first page names the second in its Link header and its body alike.
	req, _ := http.NewRequest("GET", a.URL+paths.Outbox+"?page=1", nil)
	req.Header.Set("Accept", "application/activity+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Next string `json:"next"`
	}
	err = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if err != nil || page.Next == "" || resp.Header.Get("Link") != "<"+page.Next+`>; rel="next"` {
		t.Fatalf("first page: Link %q, next %q, %v", resp.Header.Get("Link"), page.Next, err)
	}
	mu.Lock()
	clear(asked)
	mu.Unlock()
	most.Store(0)

	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b"})
	follow(t, b, a, state.MirrorNone)
	testenv.Eventually(t, 30*time.Second, "B holds all of A's resources", func() bool { return len(remotes(t, b)) == total })
	testenv.Eventually(t, 10*time.Second, "the backfill is marked done", func() bool { return !peerOf(t, b, a).Backfilled.IsZero() })
	if m := most.Load(); m < 2 {
		t.Errorf("at most %d outbox page request in flight: the next page was not asked for ahead", m)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 4 {
		t.Errorf("pages asked for: %v, want the 4 pages", asked)
	}
	for q, n := range asked {
		if n != 1 {
			t.Errorf("page %q asked for %d times", q, n)
		}
	}
}
