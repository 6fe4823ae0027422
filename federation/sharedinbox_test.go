package federation_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// TestSharedInboxGetsOneCopy: 20 followers on one server announce the
// same shared inbox (as Mastodon users do), a 21st only its own inbox. A
// Create costs one signed POST to the shared inbox and one to the lone
// follower's inbox, not one per follower.
func TestSharedInboxGetsOneCopy(t *testing.T) {
	var mu sync.Mutex
	posts := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.Header.Get("Signature") != "" {
			mu.Lock()
			posts[r.URL.Path]++
			mu.Unlock()
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a"})
	ctx := context.Background()
	host := srv.Listener.Addr().String()
	for i := range 20 {
		id := fmt.Sprintf("%s/users/%d", srv.URL, i)
		if err := a.Catalog.PutPeer(ctx, state.Peer{ActorID: id, Host: host, Inbox: id + "/inbox", SharedInbox: srv.URL + "/inbox", Follower: state.StateAccepted}); err != nil {
			t.Fatal(err)
		}
	}
	lone := srv.URL + "/users/lone"
	if err := a.Catalog.PutPeer(ctx, state.Peer{ActorID: lone, Host: host, Inbox: lone + "/inbox", Follower: state.StateAccepted}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: "Kit partagé", Kind: "workshop-kit", License: "CC-BY-4.0"}}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "A's delivery queue is empty", func() bool {
		mu.Lock()
		n := len(posts)
		mu.Unlock()
		left, err := a.Catalog.DeliveryCount(ctx)
		return err == nil && left == 0 && n > 0
	})
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"/inbox": 1, "/users/lone/inbox": 1}
	if fmt.Sprint(posts) != fmt.Sprint(want) {
		t.Fatalf("POSTs per inbox path: %v, want %v", posts, want)
	}
}
