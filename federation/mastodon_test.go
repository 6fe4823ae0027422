package federation_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-fed/httpsig"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// fediAccount stands in for a Mastodon or GoToSocial account: it serves its
// actor (and, like GoToSocial, its key at its own URL), records what reaches
// its inbox after checking the hub's signature, and can rotate its key.
type fediAccount struct {
	srv      *httptest.Server
	id       string
	mu       sync.Mutex
	key      *rsa.PrivateKey
	received []map[string]any
	unsigned int
	hubKey   *rsa.PublicKey
}

func newFediAccount(t *testing.T) *fediAccount {
	t.Helper()
	a := &fediAccount{}
	a.rotate(t)
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && (r.URL.Path == "/users/marie/inbox" || r.URL.Path == "/inbox"):
			body, _ := io.ReadAll(r.Body)
			a.mu.Lock()
			defer a.mu.Unlock()
			v, err := httpsig.NewVerifier(r)
			if err != nil || a.hubKey == nil || v.Verify(a.hubKey, httpsig.RSA_SHA256) != nil {
				a.unsigned++
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			var m map[string]any
			json.Unmarshal(body, &m)
			a.received = append(a.received, m)
			w.WriteHeader(http.StatusAccepted)
		case r.URL.Path == "/users/marie" || r.URL.Path == "/users/marie/main-key":
			if r.Header.Get("Signature") == "" {
				// authorized fetch: unsigned GETs are refused
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			a.mu.Lock()
			der, _ := x509.MarshalPKIXPublicKey(&a.key.PublicKey)
			a.mu.Unlock()
			w.Header().Set("Content-Type", "application/activity+json")
			json.NewEncoder(w).Encode(map[string]any{
				"@context": []any{"https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"},
				"id":       a.id, "type": "Person", "preferredUsername": "marie",
				"inbox":     a.id + "/inbox",
				"endpoints": map[string]string{"sharedInbox": a.srv.URL + "/inbox"},
				"publicKey": map[string]any{"id": a.id + "/main-key", "owner": a.id,
					"publicKeyPem": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))},
			})
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(a.srv.Close)
	a.id = a.srv.URL + "/users/marie"
	return a
}

func (a *fediAccount) rotate(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	a.key = k
	a.mu.Unlock()
}

func (a *fediAccount) types() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, m := range a.received {
		out = append(out, m["type"].(string))
	}
	return out
}

// sendAs posts an activity signed the way Mastodon does (algorithm
// rsa-sha256 in the header, GoToSocial writes hs2019: both must pass).
func (a *fediAccount) sendAs(t *testing.T, inbox string, act map[string]any, algorithm string) int {
	t.Helper()
	body, _ := json.Marshal(act)
	a.mu.Lock()
	key := a.key
	a.mu.Unlock()
	return send(t, inbox, body, key, a.id+"/main-key", func(r *http.Request) {
		r.Header.Set("Signature", strings.Replace(r.Header.Get("Signature"), `algorithm="hs2019"`, `algorithm="`+algorithm+`"`, 1))
	})
}

// TestFediverseAccountFollowsHub: a Mastodon-like account follows the hub,
// gets a signed Accept, then the hub's new kits as Create activities; its
// key rotation is picked up; its Undo ends the follow.
func TestFediverseAccountFollowsHub(t *testing.T) {
	hub := testnode.Start(t, testnode.Options{Federate: true, Hub: "hinaura"})
	acct := newFediAccount(t)
	var actor struct {
		PublicKey struct {
			PEM string `json:"publicKeyPem"`
		} `json:"publicKey"`
	}
	getJSON(t, hub.Fed.ActorURL(), &actor)
	pub, err := parsePEM(actor.PublicKey.PEM)
	if err != nil {
		t.Fatal(err)
	}
	acct.mu.Lock()
	acct.hubKey = pub
	acct.mu.Unlock()

	// WebFinger as Mastodon asks it.
	var jrd struct {
		Links []struct{ Rel, Type, Href string } `json:"links"`
	}
	getJSON(t, hub.URL+"/.well-known/webfinger?resource=acct:"+hub.Fed.Handle(), &jrd)
	if len(jrd.Links) == 0 || jrd.Links[0].Href != hub.Fed.ActorURL() {
		t.Fatalf("webfinger: %+v", jrd)
	}

	inbox := hub.URL + "/inbox" // the shared inbox, as Mastodon prefers
	followID := acct.id + "#follows/1"
	if got := acct.sendAs(t, inbox, map[string]any{"@context": "https://www.w3.org/ns/activitystreams", "id": followID,
		"type": "Follow", "actor": acct.id, "object": hub.Fed.ActorURL()}, "rsa-sha256"); got != http.StatusAccepted {
		t.Fatalf("Mastodon-style Follow: status %d", got)
	}
	testenv.Eventually(t, 15*time.Second, "signed Accept delivered", func() bool { return len(acct.types()) == 1 && acct.types()[0] == "Accept" })

	ctx := context.Background()
	if _, err := hub.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: "Kit d'atelier : arnaques en ligne", Kind: "workshop-kit", License: "CC-BY-SA-4.0", Themes: []string{"cybersecurite"}}}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "Create delivered", func() bool { return len(acct.types()) == 2 })
	acct.mu.Lock()
	create := acct.received[1]
	acct.mu.Unlock()
	obj := create["object"].(map[string]any)
	if create["type"] != "Create" || obj["type"] != "Note" || obj["name"] != nil || obj["summary"] != nil ||
		!strings.HasPrefix(obj["content"].(string), "<p><strong>Kit d&#39;atelier : arnaques en ligne</strong></p>") ||
		!strings.Contains(obj["content"].(string), "<a href=") || obj["tag"] == nil {
		t.Fatalf("a timeline needs a Note without name or summary (content warnings), content with the title, the link and tags: %v", create)
	}
	if acct.unsigned != 0 {
		t.Fatalf("%d deliveries failed the account's signature check", acct.unsigned)
	}

	// The account rotates its key: the hub's cached key fails, it refetches.
	acct.rotate(t)
	if got := acct.sendAs(t, inbox, map[string]any{"@context": "https://www.w3.org/ns/activitystreams", "id": acct.id + "#undo/1",
		"type": "Undo", "actor": acct.id, "object": map[string]any{"id": followID, "type": "Follow", "actor": acct.id, "object": hub.Fed.ActorURL()}}, "hs2019"); got != http.StatusAccepted {
		t.Fatalf("Undo signed with a rotated key: status %d", got)
	}
	testenv.Eventually(t, 15*time.Second, "the follow ends", func() bool {
		rep, _ := hub.Fed.Report(ctx)
		for _, p := range rep.Peers {
			if p.ActorID == acct.id && p.Follower == state.StateAccepted {
				return false
			}
		}
		return true
	})
}
