package bundle_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/bundle"
)

func TestFetchActorKey(t *testing.T) {
	s := signer(t)
	priv, _ := keys(t)
	var base string
	actor := func(id, keyID, owner string) map[string]any {
		return map[string]any{"id": id, "type": "Organization",
			"publicKey": map[string]any{"id": keyID, "owner": owner, "publicKeyPem": s.PublicKeyPEM()}}
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(actor(base+"/actor", base+"/actor#main-key", base+"/actor"))
	}))
	defer other.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/actor", func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept"), "application/activity+json") {
			http.Error(w, "html", http.StatusNotAcceptable)
			return
		}
		w.Header().Set("Content-Type", "application/activity+json")
		json.NewEncoder(w).Encode(actor(base+"/actor", base+"/actor#main-key", base+"/actor"))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"id":"` + strings.Repeat("x", bundle.MaxActorSize) + `"}`))
	})
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/actor", http.StatusFound)
	})
	mux.HandleFunc("/here", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/actor", http.StatusFound) })
	mux.HandleFunc("/stolen", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(actor(base+"/stolen", base+"/actor#main-key", base+"/actor"))
	})
	mux.HandleFunc("/foreign", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(actor("https://elsewhere.example/actor", "https://elsewhere.example/actor#main-key", "https://elsewhere.example/actor"))
	})
	mux.HandleFunc("/nokey", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"id":"x"}`)) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base = srv.URL

	for _, path := range []string{"/actor", "/actor#main-key", "/here"} {
		k, err := bundle.FetchActorKey(context.Background(), nil, base+path, 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if k.KeyID != base+"/actor#main-key" || k.Actor != base+"/actor" || !k.Key.Equal(&priv.PublicKey) {
			t.Errorf("%s: %+v", path, k)
		}
	}
	for _, tc := range []struct{ url, want string }{
		{"http://hub.example/actor", "only https"},
		{"ftp://127.0.0.1/actor", "only https"},
		{"actor", "not an absolute URL"},
		{base + "/missing", "404"},
		{base + "/big", "over 1048576 bytes"},
		{base + "/away", "another host"},
		{base + "/stolen", "not its own"},
		{base + "/foreign", "another host"},
		{base + "/nokey", "no public key"},
		{base + "/slow", "Timeout"},
	} {
		timeout := 10 * time.Second
		if strings.HasSuffix(tc.url, "/slow") {
			timeout = 300 * time.Millisecond
		}
		_, err := bundle.FetchActorKey(context.Background(), nil, tc.url, timeout)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.url, err, tc.want)
		}
	}
}
