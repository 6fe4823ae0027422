package deploy_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/testenv"
)

// ---------------------------------------------------------------------------
// Caddy

func caddyBin(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("caddy")
	if err != nil {
		t.Skip("caddy is not installed (Debian package caddy; `make test-deps` installs it)")
	}
	return p
}

// TestCaddyfileAdapts: Caddy parses the example without warnings and it
// proxies hub.example.fr to the node's default listen address.
func TestCaddyfileAdapts(t *testing.T) {
	caddy := caddyBin(t)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(caddy, "adapt", "--config", "Caddyfile", "--adapter", "caddyfile")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("caddy adapt: %v\n%s", err, stderr.String())
	}
	if strings.Contains(strings.ToLower(stderr.String()), "warn") {
		t.Errorf("caddy adapt warns:\n%s", stderr.String())
	}
	js := stdout.String()
	for _, want := range []string{`"host":["hub.example.fr"]`, `"handler":"reverse_proxy"`, `"dial":"127.0.0.1:8080"`, `"listen":[":443"]`} {
		if !strings.Contains(js, want) {
			t.Errorf("adapted Caddyfile lacks %s:\n%s", want, js)
		}
	}
	if strings.Contains(js, "header_up") || strings.Contains(js, `"encode"`) {
		t.Errorf("the Caddyfile must not rewrite headers nor encode responses:\n%s", js)
	}
}

// TestCaddyInFront runs Caddy with the example Caddyfile in front of the
// node, on loopback. Changed for the test machine, and only this: a global
// block (no admin API, Caddy's own local CA instead of Let's Encrypt, free
// loopback ports, storage in a temporary folder), the site's port, and the
// upstream address. Through it: the node federates under its https public
// URL (WebFinger names it, so Host reached the node as sent), and an 8 MiB
// upload goes through (no body limit).
func TestCaddyInFront(t *testing.T) {
	caddy := caddyBin(t)
	env := systemdNodeEnv(t)
	data := t.TempDir()
	httpsAddr, httpAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	_, httpsPort, _ := net.SplitHostPort(httpsAddr)
	_, httpPort, _ := net.SplitHostPort(httpAddr)
	public := "https://hub.example.fr:" + httpsPort
	substitute(t, env, "COMMUNS_DATA", data)
	substitute(t, env, "COMMUNS_LISTEN", testenv.FreeAddr(t))
	substitute(t, env, "COMMUNS_PUBLIC_URL", public)
	n := startNode(t, data, env, "serve")
	n.waitOK(t, "/api/v1/licenses")

	site := readFile(t, "Caddyfile")
	site = strings.Replace(site, "\nhub.example.fr {", "\nhub.example.fr:"+httpsPort+" {", 1)
	site = strings.Replace(site, "reverse_proxy 127.0.0.1:8080", "reverse_proxy "+env["COMMUNS_LISTEN"], 1)
	dir := t.TempDir()
	global := fmt.Sprintf("{\n\tadmin off\n\tlocal_certs\n\tskip_install_trust\n\tdefault_bind 127.0.0.1\n\thttp_port %s\n\thttps_port %s\n\tstorage file_system %s\n}\n",
		httpPort, httpsPort, filepath.Join(dir, "storage"))
	conf := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(conf, []byte(global+site), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs testenv.LogBuffer
	cmd := exec.Command(caddy, "run", "--config", conf, "--adapter", "caddyfile")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("caddy logs:\n%s", logs.String())
		}
	})

	// hub.example.fr resolves to Caddy's loopback port; Caddy's local CA is
	// not trusted here, the name is still checked by SNI on Caddy's side.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, httpsAddr)
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "hub.example.fr"},
	}}
	acct := "acct:" + env["COMMUNS_HUB"] + "@hub.example.fr:" + httpsPort
	var body []byte
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(public + "/.well-known/webfinger?resource=" + url.QueryEscape(acct))
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			err = fmt.Errorf("%d %s", resp.StatusCode, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("WebFinger through Caddy: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(string(body), public+"/") {
		t.Errorf("WebFinger through Caddy does not name %s: %s", public, body)
	}

	token := addUser(t, env, data, "marie", "editor")
	proxied := &http.Client{Transport: client.Transport}
	id := publish(t, proxied, public, token)
	big := bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16)
	putFile(t, proxied, public, token, id, "kit.bin", big)
	resp, err := proxied.Get(public + "/r/" + id + "/files/kit.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, big) {
		t.Errorf("download of the 8 MiB file through Caddy: %d, %d bytes", resp.StatusCode, len(got))
	}
}
