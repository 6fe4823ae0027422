package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/internal/testenv"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "communs-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "communs")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build communs: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run executes the CLI and returns its stdout+stderr.
func run(t testing.TB, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// startServe runs `communs serve` as a process and waits until it answers.
func startServe(t testing.TB, env []string, args ...string) (*exec.Cmd, *testenv.LogBuffer) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	// Read while serve still writes (waits print it on failure, tests
	// search it): a plain bytes.Buffer there is a data race.
	var logs testenv.LogBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, &logs
}

func waitHTTP(t testing.TB, url string, logs *testenv.LogBuffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("node did not answer at %s; logs:\n%s", url, logs)
}

func TestCLIWithAndWithoutServer(t *testing.T) {
	data := t.TempDir()
	kits := t.TempDir()
	rs := corpus.MustLoad(t)[:12]
	if err := corpus.WriteKits(kits, rs, 8<<10); err != nil {
		t.Fatal(err)
	}
	env := []string{"COMMUNS_DATA=" + data}

	// No server: the CLI opens the catalog itself.
	out, err := run(t, env, "user", "add", "alice", "--role", "editor")
	if err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	token := lines[len(lines)-1]
	if !strings.HasPrefix(token, "cmn_") {
		t.Fatalf("user add should print the token as its last line:\n%s", out)
	}
	if out, err := run(t, env, "user", "add", "alice"); err == nil || !strings.Contains(out, "conflict") {
		t.Fatalf("second user add should fail with a conflict: %v\n%s", err, out)
	}

	addr := testenv.FreeAddr(t)
	url := "http://" + addr
	srv, logs := startServe(t, env, "--listen", addr, "--public-url", url, "--name", "Hub de test")
	waitHTTP(t, url+"/api/v1/licenses", logs)

	// With the server holding bbolt's lock, the same commands go through
	// the admin socket.
	out, err = run(t, env, "resource", "import", kits)
	if err != nil {
		t.Fatalf("import while serving: %v\n%s", err, out)
	}
	want := len(corpus.Open(rs))
	if !strings.Contains(out, fmt.Sprintf("%d imported, 0 updated, 0 unchanged, %d refused", want, len(rs)-want)) {
		t.Fatalf("import summary, want %d imported:\n%s", want, out)
	}
	resp, err := http.Get(url + "/api/v1/resources/" + rs[0].ID)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("imported resource not served: %v %v", err, resp)
	}
	resp.Body.Close()
	out, err = run(t, env, "resource", "list")
	if err != nil || !strings.Contains(out, rs[0].ID) {
		t.Fatalf("resource list: %v\n%s", err, out)
	}
	// What was imported is searchable, and the index commands reach the
	// running node's indexer.
	waitSearch(t, url, rs[0].Title, rs[0].ID, logs)
	// The indexer takes the import's last changes a moment later.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err = run(t, env, "index", "status")
		if err == nil && strings.Contains(out, "backlog:   0") && strings.Contains(out, fmt.Sprintf("indexés:      %d", want)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("index status while serving: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, err = run(t, env, "index", "rebuild")
	if err != nil || !strings.Contains(out, fmt.Sprintf("rebuilt: %d documents for %d resources", want, want)) {
		t.Fatalf("index rebuild while serving: %v\n%s", err, out)
	}
	waitSearch(t, url, rs[0].Title, rs[0].ID, logs)
	out, err = run(t, env, "user", "list")
	if err != nil || !strings.Contains(out, "alice") || !strings.Contains(out, "editor") {
		t.Fatalf("user list: %v\n%s", err, out)
	}

	// The token printed by `user add` publishes through the public API.
	req, _ := http.NewRequest("POST", url+"/api/v1/resources", strings.NewReader(`{"title":"Fiche test","kind":"practical-sheet","license":"etalab-2.0"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("publish with the CLI token: %v %s", err, b)
	}
	resp.Body.Close()

	waitSearch(t, url, "Fiche test", "fiche-test", logs)

	home, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(home.Body)
	home.Body.Close()
	if !strings.Contains(string(body), "Hub de test") || !strings.Contains(string(body), "Fiche test") {
		t.Fatalf("home page lacks the hub name or the new resource:\n%s", body)
	}

	srv.Process.Signal(syscall.SIGTERM)
	if err := srv.Wait(); err != nil {
		t.Fatalf("serve did not exit cleanly on SIGTERM: %v\n%s", err, logs)
	}

	// Server stopped: direct access again, everything still there.
	out, err = run(t, env, "resource", "show", rs[0].ID)
	if err != nil || !strings.Contains(out, `"license": "`+rs[0].License+`"`) {
		t.Fatalf("resource show after stop: %v\n%s", err, out)
	}
	out, err = run(t, env, "resource", "import", kits)
	if err != nil || !strings.Contains(out, fmt.Sprintf("0 imported, 0 updated, %d unchanged", want)) {
		t.Fatalf("second import should change nothing: %v\n%s", err, out)
	}
	if out, err := run(t, env, "resource", "rm", rs[0].ID); err != nil {
		t.Fatalf("rm: %v\n%s", err, out)
	}
	// Without a node the index commands open the index themselves; the
	// removal waits in the feed for the next `serve` or a rebuild.
	out, err = run(t, env, "index", "status")
	if err != nil || !strings.Contains(out, "backlog:   1 change") {
		t.Fatalf("index status without a node: %v\n%s", err, out)
	}
	out, err = run(t, env, "index", "rebuild")
	if err != nil || !strings.Contains(out, fmt.Sprintf("rebuilt: %d documents for %d resources", want, want)) {
		t.Fatalf("index rebuild without a node: %v\n%s", err, out)
	}
	if out, err := run(t, env, "resource", "show", rs[0].ID); err == nil || !strings.Contains(out, "not found") {
		t.Fatalf("show after rm should say not found: %v\n%s", err, out)
	}
}

func TestCLIRefusesBadConfig(t *testing.T) {
	data := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--storage", "ftp"}, "--storage \"ftp\": use disk or s3"},
		{[]string{"serve", "--storage", "s3"}, "--storage s3 needs --s3-endpoint"},
		{[]string{"serve", "--allow-license", "WTFPL-9"}, "unknown licence"},
		{[]string{"serve", "--max-file-size", "lots"}, "--max-file-size"},
		{[]string{"serve", "--config", filepath.Join(data, "missing.toml")}, "missing.toml"},
		{[]string{"user", "add", "Bad Name"}, "lowercase"},
		{[]string{"serve", "--search", "solr"}, "--search \"solr\": use embedded or meilisearch"},
		{[]string{"serve", "--search", "meilisearch"}, "--search meilisearch needs --meili-url"},
		{[]string{"resource", "import", filepath.Join(data, "nowhere")}, "nowhere"},
	}
	// Every problem at once: the admin fixes the file in one pass.
	several := []string{"serve", "--storage", "ftp", "--hub", "Bad Hub", "--log-level", "loud", "--tls-cert", "c.pem", "--max-file-size", "lots"}
	for _, want := range []string{"--storage", "--hub", "--log-level", "--tls-cert", "--max-file-size"} {
		tests = append(tests, struct {
			args []string
			want string
		}{several, want})
	}
	for _, tc := range tests {
		out, err := run(t, []string{"COMMUNS_DATA=" + data, "COMMUNS_LISTEN=" + testenv.FreeAddr(t)}, tc.args...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("communs %s: err %v, output:\n%s\nwant it to contain %q", strings.Join(tc.args, " "), err, out, tc.want)
		}
	}
}

func TestConfigFile(t *testing.T) {
	data := t.TempDir()
	addr := testenv.FreeAddr(t)
	conf := filepath.Join(data, "communs.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf("listen = %q\npublic-url = \"http://%s\"\nname = \"Hub du fichier\"\ndata = %q\n", addr, addr, data)), 0o600)
	_, logs := startServe(t, nil, "--config", conf)
	waitHTTP(t, "http://"+addr+"/", logs)
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Hub du fichier") {
		t.Fatalf("name from the config file not used:\n%s", body)
	}
	if _, err := os.Stat(filepath.Join(data, "catalog.db")); err != nil {
		t.Fatalf("data folder from the config file not used: %v", err)
	}
}

// waitSearch waits until a search for text finds id over HTTP.
func waitSearch(t *testing.T, base, text, id string, logs *testenv.LogBuffer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/api/v1/search?q=" + url.QueryEscape(text))
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.Contains(string(body), `"id":"`+id+`"`) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("search for %q did not find %s; logs:\n%s", text, id, logs)
}

// TestServeWithMeilisearchDown: a hub configured for Meilisearch whose
// server is not up yet still starts and serves; search says it is down.
func TestServeWithMeilisearchDown(t *testing.T) {
	data := t.TempDir()
	addr := testenv.FreeAddr(t)
	env := []string{"COMMUNS_DATA=" + data}
	_, logs := startServe(t, env, "--listen", addr, "--search", "meilisearch", "--meili-url", "http://"+testenv.FreeAddr(t))
	base := "http://" + addr
	waitHTTP(t, base+"/api/v1/licenses", logs)
	resp, err := http.Get(base + "/api/v1/search?q=atelier")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "unavailable") {
		t.Fatalf("search with Meilisearch down: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get(base + "/api/v1/resources")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("browsing must work with Meilisearch down: %v %v", err, resp)
	}
	resp.Body.Close()
	out, err := run(t, env, "index", "status")
	if err != nil || !strings.Contains(out, "meilisearch") || !strings.Contains(out, "last error") {
		t.Fatalf("index status should name the engine and its error: %v\n%s", err, out)
	}
}
