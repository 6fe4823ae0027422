package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/node"
)

// TestTwoHubsFollowByCLI runs two `communs serve` processes: B's admin
// follows A by its address with `communs peer follow`, A's kits show up in
// B's catalog and search, and `peer list` on both sides tells the state.
// A serves HTTPS itself (--tls-cert), as a hub without a reverse proxy.
func TestTwoHubsFollowByCLI(t *testing.T) {
	aData, bData, kits := t.TempDir(), t.TempDir(), t.TempDir()
	rs := corpus.MustLoad(t)[:6]
	if err := corpus.WriteKits(kits, rs, 4<<10); err != nil {
		t.Fatal(err)
	}
	aEnv, bEnv := []string{"COMMUNS_DATA=" + aData}, []string{"COMMUNS_DATA=" + bData}
	if out, err := run(t, aEnv, "resource", "import", kits); err != nil {
		t.Fatalf("import on A: %v\n%s", err, out)
	}
	cert, key := selfSigned(t, aData)
	aAddr, bAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	aURL, bURL := "https://"+aAddr, "http://"+bAddr
	_, aLogs := startServe(t, aEnv, "--listen", aAddr, "--public-url", aURL, "--hub", "hub-a", "--dev-federation", "--tls-cert", cert, "--tls-key", key)
	_, bLogs := startServe(t, bEnv, "--listen", bAddr, "--public-url", bURL, "--hub", "hub-b", "--dev-federation")
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	testenv.Eventually(t, 20*time.Second, "A answers over HTTPS", func() bool {
		resp, err := insecure.Get(aURL + "/.well-known/nodeinfo")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	}, aLogs)
	waitHTTP(t, bURL+"/api/v1/licenses", bLogs)

	out, err := run(t, aEnv, "peer", "self")
	if err != nil || !strings.Contains(out, "@hub-a@"+aAddr) || !strings.Contains(out, aURL+"/actor") {
		t.Fatalf("peer self: %v\n%s", err, out)
	}
	if out, err := run(t, bEnv, "peer", "follow", "https://"+aAddr, "--mirror", "files"); err != nil {
		t.Fatalf("peer follow: %v\n%s\nA:\n%s\nB:\n%s", err, out, aLogs, bLogs)
	}
	testenv.Eventually(t, 20*time.Second, "A's kits on B", func() bool {
		out, _ := run(t, bEnv, "resource", "list", "--origin", "remote")
		return strings.Count(out, "\n") >= 1+len(corpus.Open(rs))
	}, bLogs)
	out, _ = run(t, bEnv, "peer", "list")
	if !strings.Contains(out, "hub-a@"+aAddr) || !strings.Contains(out, "accepted") || !strings.Contains(out, "files") {
		t.Fatalf("peer list on B:\n%s", out)
	}
	out, _ = run(t, aEnv, "peer", "list")
	if !strings.Contains(out, "hub-b@"+bAddr) || !strings.Contains(out, "accepted") {
		t.Fatalf("peer list on A:\n%s", out)
	}
	// B's home page names A among its hubs and links B's actor.
	resp, err := http.Get(bURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	home, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(home), `type="application/activity+json"`) || !strings.Contains(string(home), bURL+"/actor") || !strings.Contains(string(home), aAddr) {
		t.Errorf("B's home page should link its actor and list hub A:\n%s", home)
	}
	copyID := node.RemoteID(aURL+"/r/"+rs[0].ID, rs[0].ID)
	waitSearch(t, bURL, rs[0].Title, copyID, bLogs)

	// A copy is changed only by its origin: deleting it is refused; an
	// admin drops it for good, through the running node's socket.
	if out, err := run(t, bEnv, "resource", "rm", copyID); err == nil || !strings.Contains(out, "peer drop") {
		t.Fatalf("resource rm of a copy: %v\n%s", err, out)
	}
	if out, err := run(t, bEnv, "peer", "drop", copyID); err != nil || !strings.Contains(out, "dropped") {
		t.Fatalf("peer drop: %v\n%s", err, out)
	}
	if out, _ := run(t, bEnv, "resource", "list", "--origin", "remote"); strings.Contains(out, copyID) {
		t.Fatalf("the dropped copy is still listed:\n%s", out)
	}
	if out, _ := run(t, bEnv, "peer", "list"); !strings.Contains(out, copyID) {
		t.Fatalf("peer list does not show the dropped copy:\n%s", out)
	}
	if out, err := run(t, bEnv, "peer", "undrop", copyID); err != nil || !strings.Contains(out, "accepted again") {
		t.Fatalf("peer undrop: %v\n%s", err, out)
	}
}

// selfSigned writes a certificate for 127.0.0.1 into dir.
func selfSigned(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certPath, keyPath
}
