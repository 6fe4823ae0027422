package node_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/catalog"
)

func newCollectionService(t testing.TB) (*node.Service, *catalog.Store) {
	t.Helper()
	cat, disk := testStores(t)
	svc, err := node.New(node.Config{Catalog: cat, Accounts: cat, Organisations: cat, Collections: cat, Blobs: disk, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, o := range []node.Organisation{{Slug: "tilleuls", Name: "Centre social Les Tilleuls"}, {Slug: "mediatheque", Name: "Médiathèque du Port"}} {
		if _, err := svc.AddOrganisation(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"kit-a", "kit-b", "kit-c"} {
		if _, err := svc.Publish(ctx, kitMeta(id), nil, false); err != nil {
			t.Fatal(err)
		}
	}
	return svc, cat
}

// TestCollectionOwnership: collections follow the resources' rules: an
// editor creates, changes and deletes only their organisation's; every
// refusal is ErrForbidden naming the owner.
func TestCollectionOwnership(t *testing.T) {
	ctx := context.Background()
	svc, _ := newCollectionService(t)
	alice := node.User{Name: "alice", Role: node.RoleEditor, Organisation: "tilleuls"}
	bob := node.User{Name: "bob", Role: node.RoleEditor, Organisation: "mediatheque"}
	admin := node.User{Name: "root", Role: node.RoleAdmin}
	as := node.WithActor

	c, err := svc.CreateCollection(as(ctx, alice), node.Collection{Title: "Parcours e-mail",
		Items: []node.CollectionItem{{Resource: "kit-b", Note: "Séance 2 : créer son adresse e-mail"}, {Resource: "kit-a"}}})
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "parcours-e-mail" || c.Organisation != "tilleuls" || c.OrganisationName != "Centre social Les Tilleuls" || c.CreatedBy != "alice" || c.Hub == "" {
		t.Fatalf("created %+v", c)
	}
	if c2, err := svc.CreateCollection(as(ctx, alice), node.Collection{Title: "Parcours e-mail"}); err != nil || c2.ID != "parcours-e-mail-2" {
		t.Fatalf("second collection of the same title: id %q, %v; want parcours-e-mail-2", c2.ID, err)
	}

	wantOwner := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, node.ErrForbidden) {
			t.Fatalf("got %v, want forbidden", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "collection parcours-e-mail") || !strings.Contains(msg, "Centre social Les Tilleuls") {
			t.Fatalf("refusal %q does not name the collection and its owner", msg)
		}
	}
	title := "Volé"
	_, err = svc.UpdateCollection(as(ctx, bob), c.ID, node.CollectionPatch{Title: &title})
	wantOwner(t, err)
	wantOwner(t, svc.DeleteCollection(as(ctx, bob), c.ID))
	_, err = svc.CreateCollection(as(ctx, bob), node.Collection{Title: "Pour les autres", Organisation: "tilleuls"})
	if !errors.Is(err, node.ErrForbidden) || !strings.Contains(err.Error(), "tilleuls") {
		t.Fatalf("bob creating for tilleuls: %v, want forbidden naming tilleuls", err)
	}
	other := "mediatheque"
	if _, err := svc.UpdateCollection(as(ctx, alice), c.ID, node.CollectionPatch{Organisation: &other}); !errors.Is(err, node.ErrForbidden) {
		t.Fatalf("alice giving her collection away: %v, want forbidden", err)
	}
	if got, _ := svc.GetCollection(ctx, c.ID); got.Title != "Parcours e-mail" || got.Organisation != "tilleuls" {
		t.Fatalf("a refused change changed the collection: %+v", got)
	}

	newTitle := "Parcours e-mail, niveau 1"
	up, err := svc.UpdateCollection(as(ctx, alice), c.ID, node.CollectionPatch{Title: &newTitle, Items: &[]node.CollectionItem{{Resource: "kit-c"}}})
	if err != nil {
		t.Fatal(err)
	}
	if up.Title != newTitle || len(up.Items) != 1 || up.Items[0].Resource != "kit-c" || !up.Updated.After(c.Updated) && !up.Updated.Equal(c.Updated) {
		t.Fatalf("updated %+v", up)
	}
	if _, err := svc.UpdateCollection(as(ctx, admin), c.ID, node.CollectionPatch{Organisation: &other}); err != nil {
		t.Fatalf("admin gives the collection to another organisation: %v", err)
	}
	if err := svc.DeleteCollection(as(ctx, bob), c.ID); err != nil {
		t.Fatalf("bob deletes his organisation's collection: %v", err)
	}
	if _, err := svc.GetCollection(ctx, c.ID); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("deleted collection: %v", err)
	}
	if _, err := svc.Get(ctx, "kit-c"); err != nil {
		t.Fatalf("deleting a collection deleted its resource: %v", err)
	}
}

func TestCollectionValidation(t *testing.T) {
	ctx := context.Background()
	svc, _ := newCollectionService(t)
	items := func(n int) []node.CollectionItem {
		out := make([]node.CollectionItem, n)
		for i := range out {
			out[i] = node.CollectionItem{Resource: "kit-a"}
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		c     node.Collection
		field string
	}{
		{"no title", node.Collection{ID: "x1"}, "title"},
		{"title too long", node.Collection{Title: strings.Repeat("é", 201)}, "title"},
		{"summary too long", node.Collection{Title: "t", Summary: strings.Repeat("a", 1001)}, "summary"},
		{"description too long", node.Collection{Title: "t", Description: strings.Repeat("a", 50001)}, "description"},
		{"too many items", node.Collection{Title: "t", Items: items(201)}, "items"},
		{"duplicate item", node.Collection{Title: "t", Items: []node.CollectionItem{{Resource: "kit-a"}, {Resource: "kit-b"}, {Resource: "kit-a"}}}, "items[2].resource"},
		{"unknown item", node.Collection{Title: "t", Items: []node.CollectionItem{{Resource: "kit-a"}, {Resource: "kit-z"}}}, "items[1].resource"},
		{"item not an id", node.Collection{Title: "t", Items: []node.CollectionItem{{Resource: "../etc/passwd"}}}, "items[0].resource"},
		{"empty item", node.Collection{Title: "t", Items: []node.CollectionItem{{Note: "x"}}}, "items[0].resource"},
		{"note too long", node.Collection{Title: "t", Items: []node.CollectionItem{{Resource: "kit-a", Note: strings.Repeat("n", 301)}}}, "items[0].note"},
		{"bad id", node.Collection{ID: "Pas Un Id", Title: "t"}, "id"},
		{"unknown organisation", node.Collection{Title: "t", Organisation: "inconnue"}, "organisation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.CreateCollection(ctx, tc.c)
			var ve *node.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("got %v, want a validation error on %s", err, tc.field)
			}
		})
	}
	if list, total, err := svc.ListCollections(ctx, node.ListCollectionsQuery{}); err != nil || total != 0 || len(list) != 0 {
		t.Fatalf("refused collections were stored: %d, %v", total, err)
	}
	ok, err := svc.CreateCollection(ctx, node.Collection{Title: "  Deux cents  ", Items: items(1)})
	if err != nil || ok.Title != "Deux cents" {
		t.Fatalf("valid collection: %+v, %v", ok, err)
	}
	dup := []node.CollectionItem{{Resource: "kit-a"}, {Resource: "kit-a"}}
	if _, err := svc.UpdateCollection(ctx, ok.ID, node.CollectionPatch{Items: &dup}); !errors.Is(err, node.ErrInvalid) {
		t.Fatalf("update with a duplicate item: %v", err)
	}
}

// TestCollectionDropsDeletedResource: deleting a resource removes it from
// the local collections listing it, and the change feed carries the
// collection's change so followers update.
func TestCollectionDropsDeletedResource(t *testing.T) {
	ctx := context.Background()
	svc, cat := newCollectionService(t)
	c, err := svc.CreateCollection(ctx, node.Collection{Title: "Série", Items: []node.CollectionItem{{Resource: "kit-a"}, {Resource: "kit-b", Note: "deux"}, {Resource: "kit-c"}}})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := cat.LastSeq(ctx)
	if err := svc.Delete(ctx, "kit-b"); err != nil {
		t.Fatal(err)
	}
	got, err := svc.GetCollection(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Items) != 2 || got.Items[0].Resource != "kit-a" || got.Items[1].Resource != "kit-c" {
		t.Fatalf("items after deleting kit-b: %+v", got.Items)
	}
	changes, _ := cat.Changes(ctx, before, 10)
	var sawColl, sawRes bool
	for _, ch := range changes {
		sawColl = sawColl || ch.Collection == c.ID && !ch.Deleted
		sawRes = sawRes || ch.ResourceID == "kit-b" && ch.Deleted
	}
	if !sawColl || !sawRes {
		t.Fatalf("changes after the delete: %+v; want the collection's update and the resource's delete", changes)
	}
	if ids, _ := svc.CollectionsWith(ctx, "kit-b"); len(ids) != 0 {
		t.Fatalf("kit-b still indexed in %v", ids)
	}
}

// TestRemoteCollection: a copy stores with its unavailable items, keeps
// its id across updates, refuses an older version, is not editable here,
// and goes with its origin's Delete.
func TestRemoteCollection(t *testing.T) {
	ctx := context.Background()
	svc, _ := newCollectionService(t)
	editor := node.WithActor(ctx, node.User{Name: "alice", Role: node.RoleEditor, Organisation: "tilleuls"})
	origin := "https://hub-a.example/collections/serie"
	in := node.Collection{ID: "serie", Title: "Série", Origin: origin, Hub: "hub-a",
		Items:       []node.CollectionItem{{Resource: "kit-a"}},
		Unavailable: []node.UnavailableItem{{URL: "https://hub-a.example/r/x", Title: "X", Reason: "non disponible sur ce hub : licence hors politique"}}}
	c, err := svc.SaveRemoteCollection(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != node.RemoteID(origin, "serie") || c.Local() || len(c.Unavailable) != 1 {
		t.Fatalf("copy %+v", c)
	}
	in.Title = "Série, v2"
	in.Updated = c.Updated.Add(1)
	c2, err := svc.SaveRemoteCollection(ctx, in)
	if err != nil || c2.ID != c.ID || c2.Title != "Série, v2" {
		t.Fatalf("update of the copy: %+v, %v", c2, err)
	}
	in.Updated = c.Updated.Add(-1)
	if _, err := svc.SaveRemoteCollection(ctx, in); !errors.Is(err, node.ErrConflict) {
		t.Fatalf("older copy: %v, want conflict", err)
	}
	title := "Mienne"
	if _, err := svc.UpdateCollection(editor, c.ID, node.CollectionPatch{Title: &title}); !errors.Is(err, node.ErrForbidden) {
		t.Fatalf("editor changing a copy: %v", err)
	}
	if err := svc.DeleteCollection(ctx, c.ID); !errors.Is(err, node.ErrForbidden) {
		t.Fatalf("deleting a copy here: %v", err)
	}
	if list, total, _ := svc.ListCollections(ctx, node.ListCollectionsQuery{Origin: "remote"}); total != 1 || list[0].ID != c.ID {
		t.Fatalf("remote listing: %d", total)
	}
	if _, total, _ := svc.ListCollections(ctx, node.ListCollectionsQuery{Origin: "local"}); total != 0 {
		t.Fatalf("local listing counts the copy: %d", total)
	}
	// A resource it lists is deleted here: the copy no longer lists it.
	if err := svc.Delete(ctx, "kit-a"); err != nil {
		t.Fatal(err)
	}
	if got, _ := svc.GetCollection(ctx, c.ID); len(got.Items) != 0 || got.Updated != c2.Updated {
		t.Fatalf("copy after kit-a's delete: items %+v, updated %v (was %v; a copy keeps its origin's date)", got.Items, got.Updated, c2.Updated)
	}
	if err := svc.DeleteRemoteCollection(ctx, origin); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.GetCollection(ctx, c.ID); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("copy after its origin's Delete: %v", err)
	}
	bad := in
	bad.Unavailable = []node.UnavailableItem{{URL: "javascript:alert(1)", Reason: "x"}}
	if _, err := svc.SaveRemoteCollection(ctx, bad); !errors.Is(err, node.ErrInvalid) {
		t.Fatalf("unavailable item with a script URL: %v", err)
	}
}

// TestOrganisationWithCollections: an organisation that owns a collection
// is not removed, and the count is in the refusal.
func TestOrganisationWithCollections(t *testing.T) {
	ctx := context.Background()
	svc, _ := newCollectionService(t)
	c, err := svc.CreateCollection(ctx, node.Collection{Title: "Série", Organisation: "mediatheque", Items: []node.CollectionItem{{Resource: "kit-a"}}})
	if err != nil {
		t.Fatal(err)
	}
	err = svc.RemoveOrganisation(ctx, "mediatheque")
	if !errors.Is(err, node.ErrConflict) || !strings.Contains(err.Error(), "1 collection") {
		t.Fatalf("removing an organisation with a collection: %v", err)
	}
	if err := svc.DeleteCollection(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.RemoveOrganisation(ctx, "mediatheque"); err != nil {
		t.Fatalf("removing it once the collection is gone: %v", err)
	}
}
