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

// TestCollectionShareByCLI: `communs collection share ID` shares a
// collection copy from another hub on a data folder and through a running
// node's admin socket; --undo takes it back; a local collection is
// refused with the reason.
func TestCollectionShareByCLI(t *testing.T) {
	data := t.TempDir()
	addr := testenv.FreeAddr(t)
	url := "http://" + addr
	ctx := context.Background()
	svc, st, err := app.OpenService(ctx, app.Config{Data: data, PublicURL: url, Hub: "hub-b", Storage: "disk", NoSearch: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Version: "test"}, slog.New(slog.NewTextHandler(io.Discard, nil)), false)
	if err != nil {
		t.Fatal(err)
	}
	origin := "https://hub-a.example/collections/parcours"
	cp, err := svc.SaveRemoteCollection(ctx, node.Collection{ID: "parcours", Origin: origin, Title: "Parcours", Hub: "hub-a"})
	var local node.Collection
	if err == nil {
		local, err = svc.CreateCollection(ctx, node.Collection{Title: "Collection locale"})
	}
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"COMMUNS_DATA=" + data}
	fed := []string{"--public-url", url, "--dev-federation", "--hub", "hub-b"}

	out, err := run(t, env, append([]string{"collection", "share", cp.ID}, fed...)...)
	if err != nil || !strings.Contains(out, "shared with the following hubs: "+cp.ID) || !strings.Contains(out, origin) {
		t.Fatalf("share on the data folder: %v\n%s", err, out)
	}
	if out, err := run(t, env, append([]string{"collection", "share", "--undo", cp.ID}, fed...)...); err != nil || !strings.Contains(out, "share taken back") {
		t.Fatalf("undo on the data folder: %v\n%s", err, out)
	}

	_, logs := startServe(t, env, append([]string{"--listen", addr}, fed...)...)
	waitHTTP(t, url+"/api/v1/licenses", logs)
	if out, err := run(t, env, "collection", "share", cp.ID); err != nil || !strings.Contains(out, "Announce "+url+"/activities/announce/") {
		t.Fatalf("share through the socket: %v\n%s\n%s", err, out, logs)
	}
	if out, err := run(t, env, "collection", "share", local.ID); err == nil || !strings.Contains(out, "only a copy received from another hub can be shared") {
		t.Fatalf("share of a local collection: %v\n%s", err, out)
	}
	if out, err := run(t, env, "collection", "share", "--undo", cp.ID); err != nil || !strings.Contains(out, "share taken back") {
		t.Fatalf("undo through the socket: %v\n%s", err, out)
	}
}
