package main

import (
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/communs-numerique/communs/internal/testenv"
)

// An admin reads a resource's history with `communs resource history`,
// which names the account of each change (the public API does not),
// through the running node's admin socket and on the data folder alike.
func TestResourceHistoryCLI(t *testing.T) {
	data := t.TempDir()
	env := []string{"COMMUNS_DATA=" + data}
	out, err := run(t, env, "user", "add", "alice", "--role", "editor")
	if err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	token := lines[len(lines)-1]

	addr := testenv.FreeAddr(t)
	url := "http://" + addr
	srv, logs := startServe(t, env, "--listen", addr, "--public-url", url)
	waitHTTP(t, url+"/api/v1/licenses", logs)
	send := func(method, path, body string) {
		t.Helper()
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	send("POST", "/api/v1/resources", `{"title":"Fiche test","kind":"practical-sheet","license":"etalab-2.0"}`)
	send("PATCH", "/api/v1/resources/fiche-test", `{"title":"Fiche test, revue"}`)
	req, _ := http.NewRequest("PUT", url+"/api/v1/resources/fiche-test/files/guide.pdf", strings.NewReader("%PDF-1"))
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("put file: %v %v", resp, err)
	}

	check := func(when string) {
		t.Helper()
		out, err := run(t, env, "resource", "history", "fiche-test")
		rows := strings.Split(strings.TrimSpace(out), "\n")
		if err != nil || len(rows) != 4 || !strings.HasPrefix(rows[1], "3 ") || !strings.Contains(rows[1], "alice") || !strings.Contains(rows[1], "added guide.pdf") ||
			!strings.Contains(rows[2], "title") || !strings.Contains(rows[3], "created") {
			t.Fatalf("resource history %s: %v\n%s", when, err, out)
		}
		if out, err := run(t, env, "resource", "history", "absente"); err == nil || !strings.Contains(out, "not found") {
			t.Fatalf("history of an unknown resource %s: %v\n%s", when, err, out)
		}
	}
	check("while serving")
	srv.Process.Signal(syscall.SIGTERM)
	if err := srv.Wait(); err != nil {
		t.Fatalf("serve did not exit cleanly: %v\n%s", err, logs)
	}
	check("without a node")
}
