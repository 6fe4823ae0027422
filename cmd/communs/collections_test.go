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
	"github.com/communs-numerique/communs/node"
)

// TestCollectionCommands: an admin puts a collection together from
// imported kits, lists, shows and removes it; unknown items and bad
// --item values are refused and store nothing; first on the data folder,
// then through the running node's admin socket.
func TestCollectionCommands(t *testing.T) {
	data := t.TempDir()
	kits := t.TempDir()
	rs := corpus.Open(corpus.MustLoad(t))[:3]
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
	must("resource", "import", kits)
	must("org", "add", "tilleuls", "--name", "Centre social Les Tilleuls")

	out := must("collection", "add", "--title", "Parcours découverte", "--org", "tilleuls", "--description", "Trois **séances**.",
		"--item", rs[1].ID+":Séance 1 : allumer, se connecter", "--item", rs[0].ID, "--item", rs[2].ID+": Séance 3")
	if !strings.Contains(out, "parcours-decouverte") || !strings.Contains(out, "3 resource(s)") {
		t.Fatalf("collection add: %s", out)
	}
	refused("items[1].resource", "collection", "add", "--title", "Inconnu", "--item", rs[0].ID, "--item", "kit-inconnu")
	refused("--item", "collection", "add", "--title", "Mauvais", "--item", "Pas un id")
	refused("organisation", "collection", "add", "--title", "Sans org", "--org", "inconnue", "--item", rs[0].ID)
	refused("title", "collection", "add", "--item", rs[0].ID)

	var shown node.Collection
	if err := json.Unmarshal([]byte(must("collection", "show", "parcours-decouverte")), &shown); err != nil {
		t.Fatal(err)
	}
	want := []node.CollectionItem{{Resource: rs[1].ID, Note: "Séance 1 : allumer, se connecter"}, {Resource: rs[0].ID}, {Resource: rs[2].ID, Note: "Séance 3"}}
	if shown.Title != "Parcours découverte" || shown.Organisation != "tilleuls" || len(shown.Items) != 3 ||
		shown.Items[0] != want[0] || shown.Items[1] != want[1] || shown.Items[2] != want[2] {
		t.Fatalf("collection show: %+v", shown)
	}
	out = must("collection", "list")
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, "parcours-decouverte") || !strings.Contains(out, "tilleuls") {
		t.Fatalf("collection list: want one collection:\n%s", out)
	}
	refused("not found", "collection", "show", "inconnue")

	// Through the running node's admin socket.
	addr := testenv.FreeAddr(t)
	url := "http://" + addr
	srv, logs := startServe(t, env, "--listen", addr, "--public-url", url)
	waitHTTP(t, url+"/api/v1/licenses", logs)
	must("collection", "add", "--title", "Parcours en ligne", "--item", rs[0].ID+":en premier")
	refused("items[0].resource", "collection", "add", "--title", "Inconnu", "--item", "kit-inconnu")
	out = must("collection", "list", "--origin", "local")
	if !strings.Contains(out, "parcours-en-ligne") || !strings.Contains(out, "parcours-decouverte") {
		t.Fatalf("collection list through the socket:\n%s", out)
	}
	if out := must("collection", "list", "--org", "tilleuls"); strings.Contains(out, "parcours-en-ligne") || !strings.Contains(out, "parcours-decouverte") {
		t.Fatalf("collection list --org tilleuls:\n%s", out)
	}
	if err := json.Unmarshal([]byte(must("collection", "show", "parcours-en-ligne")), &shown); err != nil || len(shown.Items) != 1 || shown.Items[0].Note != "en premier" {
		t.Fatalf("collection show through the socket: %+v %v", shown, err)
	}
	resp, err := http.Get(url + "/collections/parcours-decouverte")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<strong>séances</strong>") || !strings.Contains(string(body), rs[1].Title) {
		t.Fatalf("collection page: %d\n%s", resp.StatusCode, body)
	}
	must("collection", "rm", "parcours-decouverte")
	refused("not found", "collection", "rm", "parcours-decouverte")
	if out := must("collection", "list"); strings.Contains(out, "parcours-decouverte") {
		t.Fatalf("collection list after rm:\n%s", out)
	}
	if out := must("resource", "list"); !strings.Contains(out, rs[1].ID) {
		t.Fatalf("collection rm removed a resource:\n%s", out)
	}
	srv.Process.Signal(syscall.SIGTERM)
	if err := srv.Wait(); err != nil {
		t.Fatalf("serve did not exit cleanly: %v\n%s", err, logs)
	}
}
