package federation_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
)

// fakeHub is a remote actor the test controls: it publishes its actor
// document with a key, serves the objects the test sets (or a status), and
// signs what the test sends as it. host names it ("localhost" or
// "127.0.0.1"), so two fake hubs can differ by domain on loopback.
type fakeHub struct {
	srv   *httptest.Server
	key   *rsa.PrivateKey
	base  string
	actor string
	name  string
	mu    sync.Mutex
	docs  map[string]any // path -> document, or an int status
	seq   atomic.Int64
	gets  atomic.Int64
}

func newFakeHub(t *testing.T, name, host string) *fakeHub {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	h := &fakeHub{key: k, docs: map[string]any{}, name: name}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/activity+json")
		if r.URL.Path == "/actor" {
			json.NewEncoder(w).Encode(map[string]any{
				"@context": "https://www.w3.org/ns/activitystreams", "id": h.actor, "type": "Organization",
				"preferredUsername": name, "inbox": h.base + "/inbox",
				"publicKey": map[string]any{"id": h.actor + "#key", "owner": h.actor, "publicKeyPem": pemKey},
			})
			return
		}
		h.gets.Add(1)
		h.mu.Lock()
		doc, ok := h.docs[r.URL.Path]
		h.mu.Unlock()
		if status, isStatus := doc.(int); !ok || isStatus {
			if !ok {
				status = http.StatusNotFound
			}
			w.WriteHeader(status)
			return
		}
		json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(h.srv.Close)
	h.base = strings.Replace(h.srv.URL, "127.0.0.1", host, 1)
	h.actor = h.base + "/actor"
	return h
}

func (h *fakeHub) set(path string, doc any) {
	h.mu.Lock()
	h.docs[path] = doc
	h.mu.Unlock()
}

// note is a resource object as a Communs origin serves it.
func (h *fakeHub) note(slug, licence, attributedTo string) map[string]any {
	return map[string]any{
		"@context": "https://www.w3.org/ns/activitystreams", "id": h.base + "/r/" + slug, "type": "Note",
		"attributedTo": attributedTo, "title": "Fiche " + slug, "kind": "practical-sheet", "spdx": licence,
		"inLanguage": "fr", "slug": slug, "dateModified": time.Now().UTC().Format(time.RFC3339),
		"content": "<p>Fiche</p>", "files": []any{},
	}
}

// sendAs posts a signed activity of type kind with object to n's inbox.
func (h *fakeHub) sendAs(t *testing.T, n *testnode.Node, kind string, object any) int {
	t.Helper()
	act := map[string]any{"@context": "https://www.w3.org/ns/activitystreams",
		"id": fmt.Sprintf("%s/activities/%d", h.base, h.seq.Add(1)), "type": kind, "actor": h.actor, "object": object,
		"to": []string{"https://www.w3.org/ns/activitystreams#Public"}}
	return send(t, n.URL+"/inbox", mustJSON(act), h.key, h.actor+"#key", nil)
}

// followedBy makes n follow h as if h had accepted.
func (h *fakeHub) followedBy(t *testing.T, n *testnode.Node) {
	t.Helper()
	p := state.Peer{ActorID: h.actor, Host: strings.TrimPrefix(h.base, "http://"), Handle: h.name + "@" + strings.TrimPrefix(h.base, "http://"),
		Inbox: h.base + "/inbox", Following: state.StateAccepted, FollowID: h.base + "/follow/1", Updated: time.Now()}
	if err := n.Catalog.PutPeer(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

func inboxDrained(t *testing.T, n *testnode.Node) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, "inbox applied", func() bool {
		items, _ := n.Catalog.InboxItems(context.Background(), 1)
		return len(items) == 0
	})
}

// TestHostileAnnounces: an Announce from a followed hub of an object on a
// blocked domain, under a licence outside the policy, that does not exist,
// whose id is not the one announced, or attributed to an actor on another
// host, stores nothing (no copy, no record of the origin); nor does one
// from a hub this node does not follow. The same origin's good object is
// stored, credited to the origin and to the sharer; a 410 at the periodic
// refresh drops it, and so does a Delete the origin sends although this
// node does not follow it.
func TestHostileAnnounces(t *testing.T) {
	ctx := context.Background()
	c := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-c"})
	sharer := newFakeHub(t, "partageur", "127.0.0.1")
	origin := newFakeHub(t, "origine", "localhost")
	stranger := newFakeHub(t, "inconnu", "127.0.0.1")
	sharer.followedBy(t, c)

	origin.set("/r/nc", origin.note("nc", "CC-BY-NC-4.0", origin.actor))
	origin.set("/r/ailleurs", origin.note("ailleurs", "CC-BY-4.0", sharer.actor)) // attributed to another host
	other := origin.note("autre", "CC-BY-4.0", origin.actor)
	origin.set("/r/masque", other) // serves "autre" under "masque"
	origin.set("/r/bonne", origin.note("bonne", "CC-BY-4.0", origin.actor))

	nothingStored := func(what string) {
		t.Helper()
		inboxDrained(t, c)
		if rs := remotes(t, c); len(rs) != 0 {
			t.Fatalf("%s: %d copies stored, want none", what, len(rs))
		}
		if _, err := c.Catalog.GetPeer(ctx, origin.actor); err == nil {
			t.Fatalf("%s: the origin was recorded as a peer", what)
		}
	}
	for _, tc := range []struct{ name, path string }{
		{"licence outside policy", "/r/nc"},
		{"object not found", "/r/absente"},
		{"id on another host than its attributedTo", "/r/ailleurs"},
		{"fetched id is not the announced one", "/r/masque"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if st := sharer.sendAs(t, c, "Announce", origin.base+tc.path); st != http.StatusAccepted {
				t.Fatalf("Announce answered %d, want 202 (refused by the worker)", st)
			}
			nothingStored(tc.name)
		})
	}
	t.Run("sharer not followed", func(t *testing.T) {
		before := origin.gets.Load()
		stranger.sendAs(t, c, "Announce", origin.base+"/r/bonne")
		nothingStored("sharer not followed")
		if origin.gets.Load() != before {
			t.Errorf("the origin was fetched for an Announce from a hub this node does not follow")
		}
	})
	t.Run("origin domain blocked", func(t *testing.T) {
		if _, err := c.Fed.Block(ctx, "localhost"); err != nil {
			t.Fatal(err)
		}
		defer c.Fed.Unblock(ctx, "localhost")
		if st := sharer.sendAs(t, c, "Announce", origin.base+"/r/bonne"); st != http.StatusForbidden {
			t.Fatalf("Announce of an object on a blocked domain answered %d, want 403", st)
		}
		nothingStored("blocked origin")
	})

	// The good object is stored, credited to the origin, shared by the
	// sharer.
	good := origin.base + "/r/bonne"
	if st := sharer.sendAs(t, c, "Announce", good); st != http.StatusAccepted {
		t.Fatalf("Announce answered %d", st)
	}
	inboxDrained(t, c)
	got, ok := copyOf(t, c, good)
	if !ok || got.Hub != "origine" || got.SharedBy != "partageur" {
		t.Fatalf("good share: %+v (stored %v); want hub origine, shared by partageur", got, ok)
	}
	// The same Announce again (new id) and from a second hub: one copy.
	second := newFakeHub(t, "second", "127.0.0.1")
	second.followedBy(t, c)
	sharer.sendAs(t, c, "Announce", good)
	second.sendAs(t, c, "Announce", good)
	inboxDrained(t, c)
	if n := len(remotes(t, c)); n != 1 {
		t.Fatalf("%d copies after duplicate Announces, want 1", n)
	}

	// Changed at the origin without a new Announce: the periodic refresh
	// (shortened here from a day) reads it again.
	changed := origin.note("bonne", "CC-BY-4.0", origin.actor)
	changed["title"], changed["dateModified"] = "Fiche bonne, revue", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	origin.set("/r/bonne", changed)
	c.Fed.SetShareRefresh(50 * time.Millisecond)
	testenv.Eventually(t, 10*time.Second, "copy refreshed from its origin", func() bool { r, _ := copyOf(t, c, good); return r.Title == "Fiche bonne, revue" })
	if r, _ := copyOf(t, c, good); r.SharedBy != "partageur" || r.Hub != "origine" {
		t.Fatalf("refreshed copy: hub %q shared by %q", r.Hub, r.SharedBy)
	}

	// Gone at the origin: the refresh drops it.
	origin.set("/r/bonne", http.StatusGone)
	testenv.Eventually(t, 10*time.Second, "copy dropped after the origin answered 410", func() bool { _, ok := copyOf(t, c, good); return !ok })

	// A Delete from the origin, which this node does not follow, of a
	// copy it holds through a share.
	c.Fed.SetShareRefresh(time.Hour)
	again := origin.note("bonne", "CC-BY-4.0", origin.actor)
	again["dateModified"] = time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	origin.set("/r/bonne", again)
	sharer.sendAs(t, c, "Announce", good)
	inboxDrained(t, c)
	if _, ok := copyOf(t, c, good); !ok {
		t.Fatal("shared again: no copy")
	}
	if st := origin.sendAs(t, c, "Delete", map[string]any{"id": good, "type": "Tombstone", "slug": "bonne"}); st != http.StatusAccepted {
		t.Fatalf("origin's Delete answered %d, want 202", st)
	}
	inboxDrained(t, c)
	if _, ok := copyOf(t, c, good); ok {
		t.Fatal("the origin's Delete left the shared copy")
	}
}
