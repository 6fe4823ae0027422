package federation

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOutgoingRequestsRefusePrivateAddresses: outside development mode a
// peer (or an admin's typo) cannot make the node call loopback, private or
// link-local addresses, nor plain HTTP.
func TestOutgoingRequestsRefusePrivateAddresses(t *testing.T) {
	hits := 0
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	f := &Federation{http: newHTTPClient(false), dev: false, urls: urls{base: "https://hub.example"}, now: nowUTC, key: testKey(t)}
	ctx := context.Background()
	for _, target := range []string{
		srv.URL + "/actor", // loopback over https
		strings.Replace(srv.URL, "https", "http", 1) + "/actor", // plain http
		"https://10.0.0.1/actor", "https://169.254.169.254/latest/meta-data", "https://[::1]/actor",
	} {
		var out map[string]any
		err := f.getJSON(ctx, target, &out)
		if !errors.Is(err, errForbiddenTarget) {
			t.Errorf("GET %s: err %v, want the destination refused", target, err)
		}
	}
	if hits != 0 {
		t.Fatalf("the loopback server was reached %d times", hits)
	}
	dev := &Federation{http: newHTTPClient(true), dev: true, urls: urls{base: "http://127.0.0.1"}, now: nowUTC, key: testKey(t)}
	if err := dev.getJSON(ctx, srv.URL+"/actor", new(map[string]any)); err == nil || errors.Is(err, errForbiddenTarget) || hits != 1 {
		t.Fatalf("with --dev-federation loopback and self-signed TLS are allowed: err %v, hits %d", err, hits)
	}
}
