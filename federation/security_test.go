package federation_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation"
	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// evilActor is a minimal remote actor the test controls: it publishes a
// public key and signs with whatever key the test picks.
type evilActor struct {
	srv  *httptest.Server
	key  *rsa.PrivateKey
	id   string
	base string
}

func newEvilActor(t *testing.T) *evilActor {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e := &evilActor{key: k}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/activity+json")
		json.NewEncoder(w).Encode(map[string]any{
			"@context": "https://www.w3.org/ns/activitystreams", "id": e.id, "type": "Service",
			"preferredUsername": "evil", "inbox": e.base + "/inbox",
			"publicKey": map[string]any{"id": e.id + "#key", "owner": e.id, "publicKeyPem": pemKey},
		})
	}))
	t.Cleanup(e.srv.Close)
	e.base = e.srv.URL
	e.id = e.base + "/actor"
	return e
}

// send POSTs an activity to inbox signed with key under keyID, and returns
// the status.
func send(t *testing.T, inbox string, body []byte, key *rsa.PrivateKey, keyID string, tweak func(*http.Request)) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, inbox, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/activity+json")
	if key != nil {
		if err := federation.SignRequest(req, key, keyID, body); err != nil {
			t.Fatal(err)
		}
	}
	if tweak != nil {
		tweak(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func catalogSize(t *testing.T, n *testnode.Node) int {
	t.Helper()
	c, err := n.Catalog.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestInboxRefusals(t *testing.T) {
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a"})
	evil, other := newEvilActor(t), newEvilActor(t)
	inbox := a.URL + "/actor/inbox"
	follow := func(id string) []byte {
		return mustJSON(map[string]any{"@context": "https://www.w3.org/ns/activitystreams", "id": evil.base + "/follows/" + id,
			"type": "Follow", "actor": evil.id, "object": a.Fed.ActorURL()})
	}
	page := func(objectID string) []byte {
		return mustJSON(map[string]any{"@context": "https://www.w3.org/ns/activitystreams", "id": evil.base + "/create/1",
			"type": "Create", "actor": evil.id, "object": map[string]any{"id": objectID, "type": "Page", "name": "x",
				"kind": "tutorial", "spdx": "CC0-1.0"}})
	}
	before := catalogSize(t, a)

	cases := []struct {
		name   string
		body   []byte
		key    *rsa.PrivateKey
		keyID  string
		tweak  func(*http.Request)
		status int
	}{
		{"unsigned", follow("1"), nil, "", nil, http.StatusUnauthorized},
		{"forged signature (other key)", follow("2"), other.key, evil.id + "#key", nil, http.StatusUnauthorized},
		{"key of another actor", follow("3"), other.key, other.id + "#key", nil, http.StatusUnauthorized},
		{"stale date", follow("4"), evil.key, evil.id + "#key", func(r *http.Request) {
			r.Header.Set("Date", time.Now().Add(-3*time.Hour).UTC().Format(http.TimeFormat))
		}, http.StatusUnauthorized},
		{"body changed after signing", follow("5"), evil.key, evil.id + "#key", func(r *http.Request) {
			swapped := follow("5-swapped")
			r.Body = io.NopCloser(bytes.NewReader(swapped))
			r.ContentLength = int64(len(swapped))
		}, http.StatusUnauthorized},
		{"object on another host", page("https://elsewhere.example/r/x"), evil.key, evil.id + "#key", nil, http.StatusBadRequest},
		{"oversized body", append(follow("6"), bytes.Repeat([]byte(" "), 2<<20)...), evil.key, evil.id + "#key", nil, http.StatusRequestEntityTooLarge},
		{"wrong content type", follow("7"), evil.key, evil.id + "#key", func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, http.StatusUnsupportedMediaType},
		{"not an activity", []byte(`{"hello":"world"}`), evil.key, evil.id + "#key", nil, http.StatusBadRequest},
	}
	for _, c := range cases {
		if got := send(t, inbox, c.body, c.key, c.keyID, c.tweak); got != c.status {
			t.Errorf("%s: status %d, want %d", c.name, got, c.status)
		}
	}

	valid := follow("ok")
	if got := send(t, inbox, valid, evil.key, evil.id+"#key", nil); got != http.StatusAccepted {
		t.Fatalf("a valid signed Follow: status %d, want 202", got)
	}
	if got := send(t, inbox, valid, evil.key, evil.id+"#key", nil); got != http.StatusConflict {
		t.Errorf("replayed activity id: status %d, want 409", got)
	}
	ctx := context.Background()
	if _, err := a.Fed.Block(ctx, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if got := send(t, inbox, follow("blocked"), evil.key, evil.id+"#key", nil); got != http.StatusForbidden {
		t.Errorf("blocked domain: status %d, want 403", got)
	}
	// The same domain written with a trailing dot, which DNS and TLS accept.
	dotted := strings.Replace(evil.base, "127.0.0.1:", "127.0.0.1.:", 1)
	body := mustJSON(map[string]any{"@context": "https://www.w3.org/ns/activitystreams", "id": dotted + "/follows/dot",
		"type": "Follow", "actor": dotted + "/actor", "object": a.Fed.ActorURL()})
	if got := send(t, inbox, body, evil.key, dotted+"/actor#key", nil); got != http.StatusForbidden {
		t.Errorf("blocked domain with a trailing dot: status %d, want 403", got)
	}
	if after := catalogSize(t, a); after != before {
		t.Errorf("refused activities changed the catalog: %d -> %d resources", before, after)
	}
}

// TestLicencePolicyAndTamperedMirror: a resource under a licence this hub
// refuses is dropped, and a mirrored file whose bytes do not match the
// announced digest is never stored; in both cases the catalog stays as it
// was.
func TestLicencePolicyAndTamperedMirror(t *testing.T) {
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a", Allow: []string{"CC-BY-NC-SA-4.0"}})
	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b"})
	ctx := context.Background()
	open, err := a.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: "Fiche ouverte", Kind: "practical-sheet", License: "CC-BY-4.0"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: "Fiche NC", Kind: "practical-sheet", License: "CC-BY-NC-SA-4.0"}}); err != nil {
		t.Fatal(err)
	}
	data := []byte("%PDF-1.7 original bytes")
	f, err := a.Service.PutFile(ctx, open.ID, node.Upload{Name: "fiche.pdf", Body: bytes.NewReader(data), Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	// Someone alters the bytes on A's disk behind its back.
	blobPath := filepath.Join(a.Dir, "blobs", f.SHA256[:2], f.SHA256[2:4], f.SHA256)
	if err := os.WriteFile(blobPath, []byte("%PDF-1.7 tampered bytes"), 0o600); err != nil {
		t.Fatalf("tamper with %s: %v", blobPath, err)
	}

	follow(t, b, a, state.MirrorFiles)
	testenv.Eventually(t, 15*time.Second, "backfill finished", func() bool {
		rep, _ := b.Fed.Report(ctx)
		return len(rep.Peers) == 1 && !rep.Peers[0].Backfilled.IsZero()
	})
	if got := remotes(t, b); len(got) != 0 {
		var ids []string
		for _, r := range got {
			ids = append(ids, r.ID+" ("+r.License+")")
		}
		t.Fatalf("B stored %s; the NC one breaks its policy and the other's file does not match its digest", strings.Join(ids, ", "))
	}
}

func getJSON(t testing.TB, rawURL string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	req.Header.Set("Accept", "application/activity+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

func parsePEM(s string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, io.ErrUnexpectedEOF
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	return k.(*rsa.PublicKey), nil
}

// TestKeyMustBeTheOwnersOwn: a key document fetched through a redirect to
// another host, or served under a hub's URLs without the hub's actor naming
// it (a file an editor uploaded there), does not make its holder that hub.
func TestKeyMustBeTheOwnersOwn(t *testing.T) {
	v := testnode.Start(t, testnode.Options{Federate: true, Hub: "victim"})
	attacker := newEvilActor(t)
	der, _ := x509.MarshalPKIXPublicKey(&attacker.key.PublicKey)
	attackerPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	real := newEvilActor(t) // the key the hub's actor really lists
	realDER, _ := x509.MarshalPKIXPublicKey(&real.key.PublicKey)

	var hub *httptest.Server
	forged := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/activity+json")
		json.NewEncoder(w).Encode(map[string]any{"id": hub.URL + "/r/copy/files/key.json", "owner": hub.URL + "/actor", "publicKeyPem": attackerPEM})
	}))
	defer forged.Close()
	hub = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/activity+json")
		switch r.URL.Path {
		case "/actor":
			json.NewEncoder(w).Encode(map[string]any{"id": hub.URL + "/actor", "type": "Organization", "inbox": hub.URL + "/inbox",
				"publicKey": map[string]any{"id": hub.URL + "/actor#main-key", "owner": hub.URL + "/actor",
					"publicKeyPem": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: realDER}))}})
		case "/r/kit/files/key.json": // a file uploaded under the hub's URLs
			json.NewEncoder(w).Encode(map[string]any{"id": hub.URL + "/r/kit/files/key.json", "owner": hub.URL + "/actor", "publicKeyPem": attackerPEM})
		case "/r/copy/files/key.json": // a download the hub sends to another host
			http.Redirect(w, r, forged.URL+"/forged-key", http.StatusFound)
		}
	}))
	defer hub.Close()
	for _, keyID := range []string{hub.URL + "/r/kit/files/key.json", hub.URL + "/r/copy/files/key.json"} {
		body := mustJSON(map[string]any{"@context": "https://www.w3.org/ns/activitystreams", "id": hub.URL + "/follows/" + keyID[len(keyID)-20:], "type": "Follow",
			"actor": hub.URL + "/actor", "object": v.Fed.ActorURL()})
		if got := send(t, v.URL+"/actor/inbox", body, attacker.key, keyID, nil); got != http.StatusUnauthorized {
			t.Errorf("signed with %s: status %d, want 401", keyID, got)
		}
	}
}

// TestInboxRefusalHidesNetworkDetail: a refused activity whose signing key
// cannot be fetched is answered in words; the node's resolver, addresses
// and connection outcomes stay in its log.
func TestInboxRefusalHidesNetworkDetail(t *testing.T) {
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a"})
	evil := newEvilActor(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close() // a port nothing listens on any more
	for _, actor := range []string{
		"http://no-such-hub.invalid/actor", // the lookup fails
		closedURL + "/actor",               // the connection is refused
	} {
		body := mustJSON(map[string]any{"@context": "https://www.w3.org/ns/activitystreams", "id": strings.TrimSuffix(actor, "/actor") + "/follows/1",
			"type": "Follow", "actor": actor, "object": a.Fed.ActorURL()})
		req, _ := http.NewRequest(http.MethodPost, a.URL+"/actor/inbox", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/activity+json")
		if err := federation.SignRequest(req, evil.key, actor+"#key", body); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401: %s", actor, resp.StatusCode, answer)
		}
		if !strings.Contains(string(answer), "could not fetch the signing key") {
			t.Errorf("%s: the answer does not say what failed: %s", actor, answer)
		}
		for _, detail := range []string{"lookup", "dial", "127.0.0.53", ":53", "connect:", "connection refused", "no such host", "server misbehaving"} {
			if strings.Contains(string(answer), detail) {
				t.Errorf("%s: the answer carries network detail %q: %s", actor, detail, answer)
			}
		}
	}
}
