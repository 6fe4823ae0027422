package testenv

import (
	"net/http"
	"testing"
)

// CheckProductionChain asks base for each path with gzip accepted and fails
// unless every answer is 200 and the home page ("/") comes gzipped: the
// signs that a node answers through the handler chain `communs serve` uses
// (health probes, compression), not a bare web handler.
func CheckProductionChain(tb testing.TB, base string, paths ...string) {
	tb.Helper()
	for _, path := range paths {
		req, err := http.NewRequest("GET", base+path, nil)
		if err != nil {
			tb.Fatal(err)
		}
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			tb.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			tb.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		if path == "/" && resp.Header.Get("Content-Encoding") != "gzip" {
			tb.Fatalf("the home page is not gzipped: %v", resp.Header)
		}
	}
}
