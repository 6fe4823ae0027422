package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/internal/testenv"
)

// TestOrgCommands: an admin adds organisations, attaches editors, imports
// kits naming one, assigns an older resource, and cannot remove an
// organisation that still owns resources; first on the data folder, then
// through the running node's admin socket.
func TestOrgCommands(t *testing.T) {
	data := t.TempDir()
	kits := t.TempDir()
	rs := corpus.Open(corpus.MustLoad(t))[:3]
	rs[0].Organisation = "tilleuls"
	rs[1].Organisation = "tilleuls"
	if err := corpus.WriteKits(kits, rs, 4<<10); err != nil {
		t.Fatal(err)
	}
	env := []string{"COMMUNS_DATA=" + data}
	must := func(args ...string) string {
		t.Helper()
		out, err := run(t, env, args...)
		if err != nil {
			t.Fatalf("communs %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	refused := func(want string, args ...string) {
		t.Helper()
		out, err := run(t, env, args...)
		if err == nil || !strings.Contains(out, want) {
			t.Fatalf("communs %s: want a failure saying %q, got %v\n%s", strings.Join(args, " "), want, err, out)
		}
	}

	// An import naming an organisation the hub does not have refuses
	// those kits, naming the field.
	out := must("resource", "import", kits)
	if !strings.Contains(out, "1 imported") || !strings.Contains(out, "organisation") {
		t.Fatalf("import before the organisation exists: want 1 imported and the others refused on organisation:\n%s", out)
	}
	must("org", "add", "tilleuls", "--name", "Centre social Les Tilleuls", "--url", "https://tilleuls.example.org")
	must("org", "add", "mediatheque", "--name", "Médiathèque du Port")
	refused("slug", "org", "add", "X", "--name", "Majuscule")
	refused("conflict", "org", "add", "tilleuls", "--name", "Doublon")
	out = must("resource", "import", kits)
	if !strings.Contains(out, "2 imported") {
		t.Fatalf("import once the organisation exists: want 2 imported:\n%s", out)
	}
	must("user", "add", "alice", "--role", "editor", "--org", "tilleuls")
	refused("not found", "user", "add", "bob", "--role", "editor", "--org", "inconnue")
	if out := must("user", "list"); strings.Contains(out, "bob") || !strings.Contains(out, "tilleuls") {
		t.Fatalf("user list: want alice of tilleuls and no bob (refused before creation):\n%s", out)
	}
	must("resource", "set", rs[2].ID, "--org", "mediatheque")
	refused("organisation", "resource", "set", rs[2].ID, "--org", "inconnue")
	// Importing again changes nothing: a kit naming no organisation keeps
	// the one an admin assigned.
	if out := must("resource", "import", kits); !strings.Contains(out, "0 imported, 0 updated, 3 unchanged") {
		t.Fatalf("second import should change nothing:\n%s", out)
	}

	out = must("org", "list")
	for _, want := range []string{"tilleuls", "2", "Centre social Les Tilleuls", "mediatheque", "Médiathèque du Port"} {
		if !strings.Contains(out, want) {
			t.Fatalf("org list lacks %q:\n%s", want, out)
		}
	}
	var shown struct {
		Slug      string `json:"slug"`
		Resources int    `json:"resource_count"`
	}
	if err := json.Unmarshal([]byte(must("org", "show", "tilleuls")), &shown); err != nil || shown.Resources != 2 {
		t.Fatalf("org show: %+v, %v; want 2 resources", shown, err)
	}
	refused("2 resource(s)", "org", "rm", "tilleuls")

	// Through the running node's admin socket, the same rules.
	addr := testenv.FreeAddr(t)
	url := "http://" + addr
	srv, logs := startServe(t, env, "--listen", addr, "--public-url", url)
	waitHTTP(t, url+"/api/v1/licenses", logs)
	refused("1 resource(s)", "org", "rm", "mediatheque")
	must("resource", "set", rs[2].ID, "--org", "")
	must("org", "rm", "mediatheque")
	if out := must("org", "list"); strings.Contains(out, "mediatheque") {
		t.Fatalf("org list still shows the removed organisation:\n%s", out)
	}
	resp, err := http.Get(url + "/organisations/tilleuls")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Centre social Les Tilleuls") || !strings.Contains(string(body), rs[0].Title) {
		t.Fatalf("organisation page: %d, want the name and its resources:\n%s", resp.StatusCode, body)
	}
	srv.Process.Signal(syscall.SIGTERM)
	if err := srv.Wait(); err != nil {
		t.Fatalf("serve did not exit cleanly: %v\n%s", err, logs)
	}
}
