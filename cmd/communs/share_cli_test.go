package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/app"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/node"
)

// TestResourceShareByCLI: `communs resource share ID` shares a copy from
// another hub on a data folder (the Announce waits in the queue) and
// through a running node's admin socket; a second share is the same
// Announce; --undo takes it back; a local resource is refused with the
// reason.
func TestResourceShareByCLI(t *testing.T) {
	data := t.TempDir()
	addr := testenv.FreeAddr(t)
	url := "http://" + addr
	ctx := context.Background()
	svc, st, err := app.OpenService(ctx, app.Config{Data: data, PublicURL: url, Hub: "hub-b", Storage: "disk", NoSearch: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Version: "test"}, slog.New(slog.NewTextHandler(io.Discard, nil)), false)
	if err != nil {
		t.Fatal(err)
	}
	origin := "https://hub-a.example/r/fiche-wifi"
	cp, err := svc.SaveRemote(ctx, node.Resource{ID: node.RemoteID(origin, "fiche-wifi"), Origin: origin,
		Metadata: node.Metadata{Title: "Se connecter au wifi", Kind: "practical-sheet", License: "CC-BY-4.0"}}, nil, node.Mirror{})
	if err == nil {
		_, err = svc.Publish(ctx, node.Resource{ID: "fiche-locale", Metadata: node.Metadata{Title: "Fiche locale", Kind: "practical-sheet", License: "CC-BY-4.0"}},
			func(func(node.Upload) error) error { return nil }, false)
	}
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"COMMUNS_DATA=" + data}
	fed := []string{"--public-url", url, "--dev-federation", "--hub", "hub-b"}

	out, err := run(t, env, append([]string{"resource", "share", cp.ID}, fed...)...)
	if err != nil || !strings.Contains(out, "shared with the following hubs: "+cp.ID) || !strings.Contains(out, origin) {
		t.Fatalf("share on the data folder: %v\n%s", err, out)
	}
	if out, err := run(t, env, append([]string{"resource", "share", "--undo", cp.ID}, fed...)...); err != nil || !strings.Contains(out, "share taken back") {
		t.Fatalf("undo on the data folder: %v\n%s", err, out)
	}

	_, logs := startServe(t, env, append([]string{"--listen", addr}, fed...)...)
	waitHTTP(t, url+"/api/v1/licenses", logs)
	out, err = run(t, env, "resource", "share", cp.ID)
	if err != nil || !strings.Contains(out, "Announce "+url+"/activities/announce/") {
		t.Fatalf("share through the socket: %v\n%s\n%s", err, out, logs)
	}
	again, err := run(t, env, "resource", "share", cp.ID)
	if err != nil || again != out {
		t.Fatalf("second share: %v\n%s\nwant the first:\n%s", err, again, out)
	}
	if out, err := run(t, env, "resource", "share", "fiche-locale"); err == nil || !strings.Contains(out, "only a copy received from another hub can be shared") {
		t.Fatalf("share of a local resource: %v\n%s", err, out)
	}
	if out, err := run(t, env, "resource", "share", "--undo", cp.ID); err != nil || !strings.Contains(out, "share taken back") {
		t.Fatalf("undo through the socket: %v\n%s", err, out)
	}
	if out, err := run(t, env, "resource", "share", "--undo", cp.ID); err == nil {
		t.Fatalf("undo of what is not shared succeeded:\n%s", out)
	}
}
