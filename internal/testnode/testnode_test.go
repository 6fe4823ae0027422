package testnode_test

import (
	"net/http"
	"testing"

	"github.com/communs-numerique/communs/internal/testnode"
)

// TestProductionChain: a test node answers through the handler chain
// `communs serve` uses (health probes, gzip), not a bare web handler.
// Before internal/app, /healthz was a 404 here and pages were not gzipped.
func TestProductionChain(t *testing.T) {
	n := testnode.Start(t, testnode.Options{Search: true, Federate: true, Hub: "a"})
	for _, path := range []string{"/healthz", "/readyz", "/", "/.well-known/nodeinfo"} {
		req, _ := http.NewRequest("GET", n.URL+path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		if path == "/" && resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("the home page is not gzipped: %v", resp.Header)
		}
	}
	if n.App == nil || n.App.AdminHandler() == nil {
		t.Fatal("the node's admin handler is not reachable")
	}
}
