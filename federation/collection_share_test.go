package federation_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// TestCollectionShareReachesHubTwoHopsAway: B follows A, C follows only
// B. A publishes kits and a collection of them; B shares its copy of the
// collection, and C lists the collection credited to A, "shared by" B,
// its items resolved to C's own copies fetched from A (credited to A,
// shared by B); the item C's licence policy refuses is listed as
// unavailable with the reason. B cannot share its own collection. A's
// update reaches C through B's new Announce; A's delete of the collection
// makes B take its share back and C drop the copy.
func TestCollectionShareReachesHubTwoHopsAway(t *testing.T) {
	ctx := context.Background()
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a", Allow: []string{"CC-BY-NC-4.0"}})
	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b"})
	c := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-c"})
	follow(t, b, a, state.MirrorNone)
	follow(t, c, b, state.MirrorNone)
	publish := func(title, licence string) node.Resource {
		r, err := a.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: title, Kind: "practical-sheet", License: licence}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r1 := publish("Allumer un ordinateur", "CC0-1.0")
	r2 := publish("Créer son adresse e-mail", "CC-BY-SA-4.0")
	r3 := publish("Fiche non commerciale", "CC-BY-NC-4.0")
	obj := func(r node.Resource) string { return a.URL + "/r/" + r.ID }
	col, err := a.Service.CreateCollection(ctx, node.Collection{Title: "Parcours e-mail", Summary: "Trois séances",
		Items: []node.CollectionItem{{Resource: r2.ID, Note: "Séance 2"}, {Resource: r1.ID}, {Resource: r3.ID, Note: "hors politique"}}})
	if err != nil {
		t.Fatal(err)
	}
	origin := a.URL + "/collections/" + col.ID
	var onB node.Collection
	testenv.Eventually(t, 20*time.Second, "B holds A's collection", func() bool {
		var ok bool
		onB, ok = remoteCollection(t, b, origin)
		return ok && len(onB.Items) == 2
	})
	if _, ok := remoteCollection(t, c, origin); ok {
		t.Fatal("C holds A's collection before any share")
	}

	start := time.Now()
	sh, err := b.Service.ShareCollection(ctx, onB.ID)
	if err != nil {
		t.Fatalf("share: %v", err)
	}
	if sh.Object != origin || sh.Activity == "" || sh.Resource != onB.ID {
		t.Fatalf("share = %+v, want the origin's collection id %s and an Announce id", sh, origin)
	}
	var onC node.Collection
	testenv.Eventually(t, 30*time.Second, "C lists A's collection shared by B", func() bool {
		var ok bool
		onC, ok = remoteCollection(t, c, origin)
		return ok
	})
	t.Logf("collection share A -> B -> C reached C in %v", time.Since(start))
	if onC.Hub != "hub-a" || onC.Origin != origin || onC.SharedBy != "hub-b" || onC.Title != col.Title || onC.Summary != col.Summary {
		t.Fatalf("C's copy: hub %q origin %q shared by %q title %q; want hub-a, %s, hub-b, %q", onC.Hub, onC.Origin, onC.SharedBy, onC.Title, origin, col.Title)
	}
	if got, want := itemOrigins(t, c, onC), []string{obj(r2), obj(r1)}; !slices.Equal(got, want) || onC.Items[0].Note != "Séance 2" {
		t.Fatalf("C's items resolve to %v (%+v), want C's copies of %v", got, onC.Items, want)
	}
	for _, it := range onC.Items {
		r, _ := c.Service.Get(ctx, it.Resource)
		if r.Hub != "hub-a" || r.SharedBy != "hub-b" {
			t.Errorf("C's copy of item %s: hub %q shared by %q, want hub-a, hub-b", r.Origin, r.Hub, r.SharedBy)
		}
	}
	if len(onC.Unavailable) != 1 || onC.Unavailable[0].URL != obj(r3) || onC.Unavailable[0].Note != "hors politique" ||
		!strings.HasPrefix(onC.Unavailable[0].Reason, "non disponible sur ce hub : licence hors politique") {
		t.Fatalf("C's unavailable items: %+v; want the CC-BY-NC item with its reason", onC.Unavailable)
	}

	// Only copies are shared: B's own collection is refused with the reason.
	own, err := b.Service.CreateCollection(ctx, node.Collection{Title: "Collection de B"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Service.ShareCollection(ctx, own.ID); !errors.Is(err, node.ErrConflict) {
		t.Fatalf("share of B's own collection: %v, want ErrConflict", err)
	}
	// The same share again is the same Announce.
	if again, err := b.Service.ShareCollection(ctx, onB.ID); err != nil || again.Activity != sh.Activity {
		t.Fatalf("second share = %+v, %v; want the first (%s)", again, err, sh.Activity)
	}

	// A updates: B receives the Update, announces again, C reads A anew.
	title := "Parcours e-mail, niveau 1"
	items := []node.CollectionItem{{Resource: r1.ID, Note: "d'abord"}}
	if _, err := a.Service.UpdateCollection(ctx, col.ID, node.CollectionPatch{Title: &title, Items: &items}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "C's copy updated", func() bool {
		onC, _ = remoteCollection(t, c, origin)
		return onC.Title == title
	})
	if got := itemOrigins(t, c, onC); !slices.Equal(got, []string{obj(r1)}) || onC.SharedBy != "hub-b" || len(onC.Unavailable) != 0 {
		t.Fatalf("C's updated copy: items %v, shared by %q, unavailable %+v", got, onC.SharedBy, onC.Unavailable)
	}

	// A deletes the collection: B drops its copy and takes its share
	// back; C, whose only sharer was B, drops it.
	if err := a.Service.DeleteCollection(ctx, col.ID); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 60*time.Second, "B and C dropped the collection", func() bool {
		_, onB := remoteCollection(t, b, origin)
		_, onC := remoteCollection(t, c, origin)
		return !onB && !onC
	})
	if _, err := b.Fed.SharedCollection(ctx, onB); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("B's share after the collection went: %v, want ErrNotFound", err)
	}
}

// TestCollectionShareRefreshDropsGone: C's copy held through B's share is
// read again by the refresh worker and dropped once A answers 404 for it
// (B does not follow A here, so no Delete reaches anyone).
func TestCollectionShareRefreshDropsGone(t *testing.T) {
	ctx := context.Background()
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a"})
	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b"})
	c := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-c"})
	follow(t, c, b, state.MirrorNone)
	r, err := a.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: "Allumer un ordinateur", Kind: "practical-sheet", License: "CC0-1.0"}})
	if err != nil {
		t.Fatal(err)
	}
	col, err := a.Service.CreateCollection(ctx, node.Collection{Title: "Premiers pas", Items: []node.CollectionItem{{Resource: r.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	origin := a.URL + "/collections/" + col.ID
	onB, err := b.Service.SaveRemoteCollection(ctx, node.Collection{ID: col.ID, Origin: origin, Title: col.Title, Hub: "hub-a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Service.ShareCollection(ctx, onB.ID); err != nil {
		t.Fatal(err)
	}
	var onC node.Collection
	testenv.Eventually(t, 30*time.Second, "C lists A's collection", func() bool {
		var ok bool
		onC, ok = remoteCollection(t, c, origin)
		return ok
	})
	if got := itemOrigins(t, c, onC); !slices.Equal(got, []string{a.URL + "/r/" + r.ID}) {
		t.Fatalf("C's items: %v, want its copy of A's kit fetched from A", got)
	}
	if err := a.Service.DeleteCollection(ctx, col.ID); err != nil {
		t.Fatal(err)
	}
	c.Fed.SetShareRefresh(100 * time.Millisecond)
	testenv.Eventually(t, 60*time.Second, "C dropped the collection A no longer has", func() bool {
		_, ok := remoteCollection(t, c, origin)
		return !ok
	})
}
