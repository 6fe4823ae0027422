package main

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/node"
)

// TestResourceAdaptCommand: `communs resource adapt` on the data folder
// and through the running node's admin socket creates an adaptation
// crediting its source at the node's public URL; a missing source fails.
func TestResourceAdaptCommand(t *testing.T) {
	data, kits := t.TempDir(), t.TempDir()
	rs := corpus.Open(corpus.MustLoad(t))[:1]
	if err := corpus.WriteKits(kits, rs, 4<<10); err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	base := "http://" + addr
	env := []string{"COMMUNS_DATA=" + data, "COMMUNS_PUBLIC_URL=" + base}
	must := func(args ...string) string {
		t.Helper()
		out, err := run(t, env, args...)
		if err != nil {
			t.Fatalf("communs %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	show := func(id string) node.Resource {
		t.Helper()
		var r node.Resource
		if err := json.Unmarshal([]byte(must("resource", "show", id)), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	must("resource", "import", kits)
	must("org", "add", "tilleuls", "--name", "Centre social Les Tilleuls")
	out := must("resource", "adapt", rs[0].ID, "--title", "Version des Tilleuls", "--org", "tilleuls")
	if !strings.Contains(out, "adapted "+rs[0].ID+" -> version-des-tilleuls") {
		t.Fatalf("adapt on the data folder: %s", out)
	}
	a := show("version-des-tilleuls")
	if a.Organisation != "tilleuls" || len(a.BasedOn) != 1 || a.BasedOn[0].URL != base+"/r/"+rs[0].ID || len(a.Files) != len(rs[0].Files) {
		t.Fatalf("adaptation = %+v", a)
	}
	if out, err := run(t, env, "resource", "adapt", "absent"); err == nil || !strings.Contains(out, "not found") {
		t.Fatalf("adapt a missing resource: %v\n%s", err, out)
	}

	srv, logs := startServe(t, env, "--listen", addr)
	waitHTTP(t, base+"/api/v1/licenses", logs)
	out = must("resource", "adapt", "version-des-tilleuls", "--title", "Version de la version")
	if !strings.Contains(out, "-> version-de-la-version") {
		t.Fatalf("adapt through the socket: %s", out)
	}
	if b := show("version-de-la-version"); len(b.BasedOn) != 2 || b.BasedOn[1].URL != base+"/r/version-des-tilleuls" {
		t.Fatalf("chain through the socket: %+v", b.BasedOn)
	}
	srv.Process.Signal(syscall.SIGTERM)
	if err := srv.Wait(); err != nil {
		t.Fatalf("serve did not exit cleanly: %v\n%s", err, logs)
	}
}
