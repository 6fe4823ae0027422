package federation

import (
	"context"
	"errors"
	"net"
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

// TestForbiddenIPv4InIPv6: an IPv6 address that carries or reaches an
// IPv4 one is judged by it, so a peer cannot name a private host in IPv6
// clothing (AAAA record of ::ffff:10.0.0.1, a 6to4 or NAT64 form).
func TestForbiddenIPv4InIPv6(t *testing.T) {
	for _, tc := range []struct {
		ip        string
		forbidden bool
	}{
		{"93.184.215.14", false},
		{"2606:4700::6810:84e5", false},
		{"127.0.0.1", true},
		{"::ffff:127.0.0.1", true},      // IPv4-mapped
		{"::ffff:10.1.2.3", true},       // IPv4-mapped private
		{"::ffff:93.184.215.14", false}, // IPv4-mapped public
		{"::127.0.0.1", true},           // IPv4-compatible (deprecated)
		{"::10.0.0.1", true},            // IPv4-compatible private
		{"::93.184.215.14", true},       // IPv4-compatible, refused whatever it embeds
		{"::ffff:0:a9fe:a9fe", true},    // IPv4-translated 169.254.169.254
		{"2002:7f00:1::", true},         // 6to4 of 127.0.0.1
		{"2002:a00:1::1", true},         // 6to4 of 10.0.0.1
		{"2002:c0a8:101::", true},       // 6to4 of 192.168.1.1
		{"2002:a9fe:a9fe::", true},      // 6to4 of 169.254.169.254
		{"2002:5db8:d70e::1", false},    // 6to4 of a public address
		{"2001:0:4136:e378::", true},    // Teredo
		{"2001:0:53aa:64c:0:fbff:f5fe:fffe", true},
		{"fec0::1", true},              // site-local
		{"feff::1", true},              // site-local, end of range
		{"64:ff9b::7f00:1", true},      // NAT64 of 127.0.0.1
		{"64:ff9b::a00:1", true},       // NAT64 of 10.0.0.1
		{"64:ff9b::a9fe:a9fe", true},   // NAT64 of 169.254.169.254
		{"64:ff9b::5db8:d70e", false},  // NAT64 (DNS64) of a public address
		{"64:ff9b:1::5db8:d70e", true}, // local-use NAT64
		{"fd00::1", true},              // unique local
		{"fe80::1", true},              // link-local
		{"::1", true},                  // loopback
		{"::", true},                   // unspecified
	} {
		if got := forbiddenIP(net.ParseIP(tc.ip)); got != tc.forbidden {
			t.Errorf("forbiddenIP(%s) = %v, want %v", tc.ip, got, tc.forbidden)
		}
	}
}
