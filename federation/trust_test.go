package federation_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation"
	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// actorKey reads a test node's actor key, to send activities in its name
// that it would not send itself.
func actorKey(t *testing.T, n *testnode.Node) *rsa.PrivateKey {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(n.Dir, "federation", "actor.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

func remoteByOrigin(t *testing.T, n *testnode.Node, origin string) (node.Resource, bool) {
	t.Helper()
	r, ok := remotes(t, n)[origin]
	return r, ok
}

// TestHubIsWhoItSays: the hub shown for a copy is the delivering actor's
// name here, never what the object claims, and it is never this node's
// own name nor another peer's; a local editor cannot label a resource
// with another hub's name either.
func TestHubIsWhoItSays(t *testing.T) {
	r := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-r"})
	// A calls itself like R: its copies must not pass for R's own.
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-r"})
	c := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-du-sud"})
	ctx := context.Background()
	fromA := publishCorpus(t, a, 1)[0]
	fromC := publishCorpus(t, c, 1)[0]
	follow(t, r, a, state.MirrorNone)
	follow(t, r, c, state.MirrorNone)
	testenv.Eventually(t, 15*time.Second, "both backfills", func() bool { return len(remotes(t, r)) == 2 })

	copyA, _ := remoteByOrigin(t, r, a.URL+"/r/"+fromA.ID)
	copyC, _ := remoteByOrigin(t, r, c.URL+"/r/"+fromC.ID)
	_, portA, _ := net.SplitHostPort(strings.TrimPrefix(a.URL, "http://"))
	if want := "hub-r-127-0-0-1-" + portA; copyA.Hub != want {
		t.Errorf("copy from A (acct:hub-r@%s) shows hub %q, want %q: R's own name needs the host", strings.TrimPrefix(a.URL, "http://"), copyA.Hub, want)
	}
	if copyC.Hub != "hub-du-sud" {
		t.Errorf("copy from C shows hub %q, want its username hub-du-sud", copyC.Hub)
	}

	// C claims, in a Create signed with its own key, that its resource
	// belongs to R.
	obj := map[string]any{"id": c.URL + "/r/usurpation", "type": "Page", "name": "Fiche usurpée", "kind": "practical-sheet",
		"spdx": "CC0-1.0", "hub": "hub-r", "slug": "usurpation", "updated": time.Now().UTC().Format(time.RFC3339)}
	body := mustJSON(map[string]any{"@context": "https://www.w3.org/ns/activitystreams", "id": c.URL + "/activities/usurpation",
		"type": "Create", "actor": c.Fed.ActorURL(), "object": obj})
	if got := send(t, r.URL+"/inbox", body, actorKey(t, c), c.Fed.ActorURL()+"#main-key", nil); got != http.StatusAccepted {
		t.Fatalf("forged-hub Create: status %d", got)
	}
	var forged node.Resource
	testenv.Eventually(t, 15*time.Second, "C's Create applied", func() bool {
		var ok bool
		forged, ok = remoteByOrigin(t, r, c.URL+"/r/usurpation")
		return ok
	})
	if forged.Hub != "hub-du-sud" {
		t.Fatalf("C's object claiming hub-r is shown under %q, want hub-du-sud", forged.Hub)
	}

	// R's editor says the resource is C's: it is R's.
	local, err := r.Client.Publish(ctx, node.Resource{Metadata: node.Metadata{Title: "Fiche locale", Kind: "practical-sheet", License: "CC0-1.0", Hub: "hub-du-sud"}}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	hub := "hub-du-sud"
	updated, err := r.Service.Update(ctx, local.ID, node.Patch{Hub: &hub})
	if err != nil {
		t.Fatal(err)
	}
	if local.Hub != "hub-r" || updated.Hub != "hub-r" {
		t.Fatalf("a local resource labelled hub-du-sud by its editor is stored as %q then %q, want hub-r", local.Hub, updated.Hub)
	}
}

// TestDroppedCopyStaysDropped: an editor cannot delete a copy; an admin
// drops it, through the admin socket or with the node stopped, and
// neither the origin's updates nor a backfill bring it back until undrop.
func TestDroppedCopyStaysDropped(t *testing.T) {
	for _, via := range []string{"socket", "offline"} {
		t.Run(via, func(t *testing.T) {
			r := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-r"})
			a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a"})
			ctx := context.Background()
			x := publishCorpus(t, a, 1)[0]
			originX := a.URL + "/r/" + x.ID
			follow(t, r, a, state.MirrorNone)
			var cp node.Resource
			testenv.Eventually(t, 15*time.Second, "backfill", func() bool {
				var ok bool
				cp, ok = remoteByOrigin(t, r, originX)
				return ok
			})

			if err := r.Client.Delete(ctx, cp.ID); !errors.Is(err, node.ErrForbidden) {
				t.Fatalf("editor's API delete of a copy: %v, want 403", err)
			}
			if _, ok := remoteByOrigin(t, r, originX); !ok {
				t.Fatal("a refused delete removed the copy")
			}
			if _, err := r.Client.Publish(ctx, node.Resource{ID: cp.ID, Metadata: node.Metadata{Title: "Squat", Kind: "practical-sheet", License: "CC0-1.0"}}, nil, false); !errors.Is(err, node.ErrConflict) {
				t.Fatalf("a local resource under the copy's id: %v, want 409", err)
			}

			var admin federation.Admin = r.Fed
			if via == "socket" {
				sock := filepath.Join(t.TempDir(), "a.sock")
				ln, err := net.Listen("unix", sock)
				if err != nil {
					t.Fatal(err)
				}
				srv := &http.Server{Handler: r.Fed.AdminHandler()}
				go srv.Serve(ln)
				t.Cleanup(func() { srv.Close() })
				admin = federation.NewAdminClient(sock)
			}
			if _, err := admin.Drop(ctx, "no-such-copy"); !errors.Is(err, node.ErrNotFound) {
				t.Fatalf("drop of an unknown id: %v, want not found", err)
			}
			local, _ := r.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: "Locale", Kind: "practical-sheet", License: "CC0-1.0"}})
			if _, err := admin.Drop(ctx, local.ID); !errors.Is(err, node.ErrInvalid) {
				t.Fatalf("drop of a local resource: %v, want invalid", err)
			}
			d, err := admin.Drop(ctx, cp.ID)
			if err != nil || d.Origin != originX {
				t.Fatalf("drop: %+v, %v", d, err)
			}
			if _, ok := remoteByOrigin(t, r, originX); ok {
				t.Fatal("the dropped copy is still there")
			}
			rep, _ := admin.Report(ctx)
			if len(rep.Drops) != 1 || rep.Drops[0].ID != cp.ID {
				t.Fatalf("report drops %+v", rep.Drops)
			}

			// A updates X, then publishes Y: deliveries to R are in order,
			// so once Y is there the update of X was applied or refused.
			title := "Mise à jour après le retrait"
			if _, err := a.Service.Update(ctx, x.ID, node.Patch{Title: &title}); err != nil {
				t.Fatal(err)
			}
			y, _ := a.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: "Fiche Y", Kind: "practical-sheet", License: "CC0-1.0"}})
			testenv.Eventually(t, 15*time.Second, "Y arrives", func() bool { _, ok := remoteByOrigin(t, r, a.URL+"/r/"+y.ID); return ok })
			if _, ok := remoteByOrigin(t, r, originX); ok {
				t.Fatal("the origin's update brought the dropped copy back")
			}
			if _, err := r.Fed.Backfill(ctx, a.Fed.ActorURL()); err != nil {
				t.Fatal(err)
			}
			if _, ok := remoteByOrigin(t, r, originX); ok {
				t.Fatal("a backfill brought the dropped copy back")
			}

			if _, err := admin.Undrop(ctx, cp.ID); err != nil {
				t.Fatal(err)
			}
			title = "Mise à jour après la remise"
			if _, err := a.Service.Update(ctx, x.ID, node.Patch{Title: &title}); err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, 15*time.Second, "the copy returns with the next update", func() bool {
				got, ok := remoteByOrigin(t, r, originX)
				return ok && got.Title == title
			})
		})
	}
}
