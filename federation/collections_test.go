package federation_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation"
	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// remoteCollection returns n's copy of the collection with that origin.
func remoteCollection(t *testing.T, n *testnode.Node, origin string) (node.Collection, bool) {
	t.Helper()
	c, err := n.Service.CollectionByOrigin(context.Background(), origin)
	if err != nil {
		return node.Collection{}, false
	}
	return c, true
}

// itemOrigins maps a copy's items to their origin's object ids, in order.
func itemOrigins(t *testing.T, n *testnode.Node, c node.Collection) []string {
	t.Helper()
	var out []string
	for _, it := range c.Items {
		r, err := n.Service.Get(context.Background(), it.Resource)
		if err != nil {
			t.Fatalf("item %s of %s: %v", it.Resource, c.ID, err)
		}
		out = append(out, r.Origin)
	}
	return out
}

// TestCollectionFederates: a collection created on A reaches B with its
// items resolved to B's own copies, in order, with their notes; an item
// whose licence B's policy refuses is listed as unavailable with the
// reason; an item B lacks is fetched from A; updates, a deleted item and
// the collection's delete follow; a hub that follows A later gets the
// collection by backfill.
func TestCollectionFederates(t *testing.T) {
	ctx := context.Background()
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a", Allow: []string{"CC-BY-NC-4.0"}})
	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b"})
	// D is a hub A follows and B does not: A's collection lists A's copy
	// of D's kit, which B cannot fetch.
	d := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-d"})
	rd, err := d.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: "Kit du hub D", Kind: "practical-sheet", License: "CC0-1.0"}})
	if err != nil {
		t.Fatal(err)
	}
	follow(t, a, d, state.MirrorNone)
	var copyD node.Resource
	testenv.Eventually(t, 15*time.Second, "A copies D's kit", func() bool {
		var ok bool
		copyD, ok = remotes(t, a)[d.URL+"/r/"+rd.ID]
		return ok
	})
	if _, err := a.Service.AddOrganisation(ctx, node.Organisation{Slug: "tilleuls", Name: "Centre social Les Tilleuls"}); err != nil {
		t.Fatal(err)
	}
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

	follow(t, b, a, state.MirrorNone)
	testenv.Eventually(t, 15*time.Second, "backfill of A's resources", func() bool { return len(remotes(t, b)) == 2 })

	c, err := a.Service.CreateCollection(ctx, node.Collection{Title: "Parcours e-mail", Summary: "Trois séances",
		Description: "**Pour** les débutants", Organisation: "tilleuls",
		Items: []node.CollectionItem{{Resource: r2.ID, Note: "Séance 2 : créer son adresse e-mail"}, {Resource: r1.ID}, {Resource: r3.ID, Note: "hors politique"}, {Resource: copyD.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	origin := a.URL + "/collections/" + c.ID
	var cp node.Collection
	testenv.Eventually(t, 15*time.Second, "the collection reaches B", func() bool {
		var ok bool
		cp, ok = remoteCollection(t, b, origin)
		return ok
	})
	if got, want := itemOrigins(t, b, cp), []string{obj(r2), obj(r1)}; !slices.Equal(got, want) {
		t.Fatalf("B's items resolve to %v, want B's copies of %v", got, want)
	}
	if cp.Items[0].Note != "Séance 2 : créer son adresse e-mail" || cp.Title != "Parcours e-mail" || cp.Summary != "Trois séances" ||
		cp.Description != "**Pour** les débutants" || cp.Hub != "hub-a" || cp.OrganisationName != "Centre social Les Tilleuls" ||
		cp.OrganisationURL != a.URL+"/organisations/tilleuls" || cp.Organisation != "" {
		t.Fatalf("B's copy: %+v", cp)
	}
	if len(cp.Unavailable) != 2 || cp.Unavailable[0].URL != obj(r3) || cp.Unavailable[0].Title != r3.Title ||
		cp.Unavailable[0].Note != "hors politique" || !strings.HasPrefix(cp.Unavailable[0].Reason, "non disponible sur ce hub : licence hors politique") {
		t.Fatalf("B's unavailable items: %+v; want the CC-BY-NC item with its reason", cp.Unavailable)
	}
	if u := cp.Unavailable[1]; u.URL != d.URL+"/r/"+rd.ID || u.Title != rd.Title || u.Reason != "non disponible sur ce hub : hub d'origine non suivi" {
		t.Fatalf("B's unavailable item from D: %+v", u)
	}

	// B lost its copy of r1 (a missed Create): the next update of the
	// collection fetches it from A.
	if _, _, err := b.Catalog.Delete(ctx, cp.Items[1].Resource); err != nil {
		t.Fatal(err)
	}
	title := "Parcours e-mail, niveau 1"
	items := []node.CollectionItem{{Resource: r1.ID, Note: "d'abord"}, {Resource: r2.ID}}
	if _, err := a.Service.UpdateCollection(ctx, c.ID, node.CollectionPatch{Title: &title, Items: &items}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "the update reaches B", func() bool {
		cp, _ = remoteCollection(t, b, origin)
		return cp.Title == title
	})
	if got, want := itemOrigins(t, b, cp), []string{obj(r1), obj(r2)}; !slices.Equal(got, want) || cp.Items[0].Note != "d'abord" || len(cp.Unavailable) != 0 {
		t.Fatalf("B's updated items %v (%+v, unavailable %+v), want %v", got, cp.Items, cp.Unavailable, want)
	}
	if _, ok := remotes(t, b)[obj(r1)]; !ok {
		t.Fatal("B did not fetch the missing item from A")
	}

	// A deletes r2: its collection drops it, and so does B's copy.
	if err := a.Service.Delete(ctx, r2.ID); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "the shorter collection reaches B", func() bool {
		cp, _ = remoteCollection(t, b, origin)
		_, still := remotes(t, b)[obj(r2)]
		return len(cp.Items) == 1 && !still
	})
	if got := itemOrigins(t, b, cp); !slices.Equal(got, []string{obj(r1)}) {
		t.Fatalf("B's items after A deleted r2: %v", got)
	}

	// A's collection answers as ActivityPub at its page's address.
	req, _ := http.NewRequest(http.MethodGet, origin, nil)
	req.Header.Set("Accept", "application/activity+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil || doc["type"] != "Collection" || doc["id"] != origin {
		t.Fatalf("GET %s as ActivityPub: %v %v", origin, doc, err)
	}

	// A hub following A later gets the collection by backfill, after the
	// resources it lists.
	c3 := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-c"})
	follow(t, c3, a, state.MirrorNone)
	testenv.Eventually(t, 15*time.Second, "the backfill brings the collection to C", func() bool {
		got, ok := remoteCollection(t, c3, origin)
		return ok && len(got.Items) == 1
	})
	got, _ := remoteCollection(t, c3, origin)
	if o := itemOrigins(t, c3, got); !slices.Equal(o, []string{obj(r1)}) {
		t.Fatalf("C's backfilled collection items: %v", o)
	}

	if err := a.Service.DeleteCollection(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*testnode.Node{b, c3} {
		testenv.Eventually(t, 15*time.Second, "the delete reaches the followers", func() bool {
			_, ok := remoteCollection(t, n, origin)
			return !ok
		})
		if _, ok := remotes(t, n)[obj(r1)]; !ok {
			t.Fatal("deleting the collection deleted a resource it listed")
		}
	}
}

// TestCollectionItemOfTheFollower: A's collection lists A's copy of one of
// B's own kits; B resolves that item to its own resource, not a copy.
func TestCollectionItemOfTheFollower(t *testing.T) {
	ctx := context.Background()
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a"})
	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b"})
	rb, err := b.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: "Kit de B", Kind: "practical-sheet", License: "CC0-1.0"}})
	if err != nil {
		t.Fatal(err)
	}
	follow(t, a, b, state.MirrorNone)
	follow(t, b, a, state.MirrorNone)
	var copyB node.Resource
	testenv.Eventually(t, 15*time.Second, "A copies B's kit", func() bool {
		var ok bool
		copyB, ok = remotes(t, a)[b.URL+"/r/"+rb.ID]
		return ok
	})
	c, err := a.Service.CreateCollection(ctx, node.Collection{Title: "Avec un kit de B", Items: []node.CollectionItem{{Resource: copyB.ID, Note: "de B"}}})
	if err != nil {
		t.Fatal(err)
	}
	var cp node.Collection
	testenv.Eventually(t, 15*time.Second, "the collection reaches B", func() bool {
		var ok bool
		cp, ok = remoteCollection(t, b, a.URL+"/collections/"+c.ID)
		return ok
	})
	if len(cp.Items) != 1 || cp.Items[0].Resource != rb.ID || cp.Items[0].Note != "de B" || len(cp.Unavailable) != 0 {
		t.Fatalf("B's copy: items %+v, unavailable %+v; want B's own %s", cp.Items, cp.Unavailable, rb.ID)
	}
	if len(remotes(t, b)) != 0 {
		t.Fatal("B made a copy of its own kit")
	}
}

// TestCollectionItemsFetchBudget: an origin too slow to serve the items a
// follower lacks does not keep the collection out: it stores within the
// fetch budget, the slow item listed as unreachable.
func TestCollectionItemsFetchBudget(t *testing.T) {
	t.Cleanup(federation.SetCollectionFetchBudget(500 * time.Millisecond)) // restored after the nodes stop
	ctx := context.Background()
	var slow atomic.Bool
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a", Wrap: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if slow.Load() && strings.HasPrefix(r.URL.Path, "/r/") {
				select {
				case <-time.After(5 * time.Second):
				case <-r.Context().Done():
				}
			}
			next.ServeHTTP(w, r)
		})
	}})
	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b"})
	r1, err := a.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: "Kit lent", Kind: "practical-sheet", License: "CC0-1.0"}})
	if err != nil {
		t.Fatal(err)
	}
	follow(t, b, a, state.MirrorNone)
	origin1 := a.URL + "/r/" + r1.ID
	testenv.Eventually(t, 15*time.Second, "backfill", func() bool { _, ok := remotes(t, b)[origin1]; return ok })
	if _, _, err := b.Catalog.Delete(ctx, remotes(t, b)[origin1].ID); err != nil {
		t.Fatal(err)
	}
	slow.Store(true)
	start := time.Now()
	c, err := a.Service.CreateCollection(ctx, node.Collection{Title: "Série lente", Items: []node.CollectionItem{{Resource: r1.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	var cp node.Collection
	testenv.Eventually(t, 15*time.Second, "the collection reaches B", func() bool {
		var ok bool
		cp, ok = remoteCollection(t, b, a.URL+"/collections/"+c.ID)
		return ok
	})
	if len(cp.Items) != 0 || len(cp.Unavailable) != 1 || cp.Unavailable[0].Reason != "non disponible sur ce hub : hub d'origine injoignable" || cp.Unavailable[0].Title != r1.Title {
		t.Fatalf("B's copy: %+v", cp)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("B waited %v for the slow item: the budget did not bound it", took)
	}
}
