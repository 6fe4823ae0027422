package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/communs-numerique/communs/internal/testenv"
)

// An admin reads and closes reports with `communs report`, through the
// running node's admin socket and on the data folder alike.
func TestReportCLI(t *testing.T) {
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

	post := func(path, auth, body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest("POST", url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return m
	}
	post("/api/v1/resources", token, `{"title":"Fiche test","kind":"practical-sheet","license":"etalab-2.0"}`)
	first := post("/api/v1/resources/fiche-test/reports", "", `{"reason":"outdated","message":"Les captures d'écran\ndatent de 2019.","contact":"ana@exemple.fr"}`)["id"].(string)
	second := post("/api/v1/resources/fiche-test/reports", "", `{"reason":"error","message":"Coquille page 2."}`)["id"].(string)

	// Through the admin socket.
	out, err = run(t, env, "report", "list", "--open")
	if err != nil || !strings.Contains(out, first) || !strings.Contains(out, second) || !strings.Contains(out, "Les captures d'écran datent de 2019.") {
		t.Fatalf("report list --open while serving: %v\n%s", err, out)
	}
	out, err = run(t, env, "report", "show", first)
	if err != nil || !strings.Contains(out, `"contact": "ana@exemple.fr"`) || !strings.Contains(out, `"resource_id": "fiche-test"`) {
		t.Fatalf("report show while serving: %v\n%s", err, out)
	}
	out, err = run(t, env, "report", "close", first, "--note", "captures refaites")
	if err != nil {
		t.Fatalf("report close while serving: %v\n%s", err, out)
	}
	if out, err = run(t, env, "report", "close", first); err == nil || !strings.Contains(out, "closed") {
		t.Fatalf("closing twice should be refused: %v\n%s", err, out)
	}
	out, err = run(t, env, "report", "list", "--open")
	if err != nil || strings.Contains(out, first) || !strings.Contains(out, second) {
		t.Fatalf("report list --open after close: %v\n%s", err, out)
	}
	// Reports never reach the public pages.
	resp, err := http.Get(url + "/r/fiche-test")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(page), "Coquille") || strings.Contains(string(page), "ana@exemple.fr") {
		t.Fatal("the resource page shows a report")
	}

	srv.Process.Signal(syscall.SIGTERM)
	if err := srv.Wait(); err != nil {
		t.Fatalf("serve did not exit cleanly: %v\n%s", err, logs)
	}

	// On the data folder.
	out, err = run(t, env, "report", "show", first)
	if err != nil || !strings.Contains(out, `"note": "captures refaites"`) || !strings.Contains(out, `"closed"`) {
		t.Fatalf("report show without a node: %v\n%s", err, out)
	}
	out, err = run(t, env, "report", "list")
	if err != nil || !strings.Contains(out, first) || !strings.Contains(out, "closed") || !strings.Contains(out, second) {
		t.Fatalf("report list without a node: %v\n%s", err, out)
	}
	if out, err = run(t, env, "report", "close", second); err != nil {
		t.Fatalf("report close without a node: %v\n%s", err, out)
	}
	if out, err = run(t, env, "report", "list", "--open"); err != nil || strings.Contains(out, second) {
		t.Fatalf("report list --open without a node: %v\n%s", err, out)
	}
	if out, err = run(t, env, "report", "show", "nope"); err == nil || !strings.Contains(out, "not found") {
		t.Fatalf("report show of an unknown id: %v\n%s", err, out)
	}
}
