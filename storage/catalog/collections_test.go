package catalog

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/communs-numerique/communs/node"
)

func coll(id string, created time.Time, org string, items ...string) node.Collection {
	c := node.Collection{ID: id, Title: "Collection " + id, Organisation: org, Created: created, Updated: created, Hub: "hub-nord"}
	for _, it := range items {
		c.Items = append(c.Items, node.CollectionItem{Resource: it, Note: "note " + it})
	}
	return c
}

func collIDs(cs []node.Collection) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func TestCollectionsCRUDAndFeed(t *testing.T) {
	s := openTemp(t)
	mustCreate(t, s, resource("kit-a", base), resource("kit-b", base))
	if err := s.AddOrganisation(ctx, node.Organisation{Slug: "tilleuls", Name: "Tilleuls", Created: base}); err != nil {
		t.Fatal(err)
	}
	seq := lastSeq(t, s)
	c := coll("serie", base, "tilleuls", "kit-b", "kit-a")
	if err := s.CreateCollection(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCollection(ctx, c); !errors.Is(err, node.ErrConflict) {
		t.Fatalf("second create: %v, want conflict", err)
	}
	got, err := s.GetCollection(ctx, "serie")
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != c.Title || len(got.Items) != 2 || got.Items[0] != c.Items[0] || !got.Created.Equal(base) {
		t.Fatalf("read back %+v", got)
	}
	changes, _ := s.Changes(ctx, seq, 10)
	if len(changes) != 1 || changes[0].Collection != "serie" || changes[0].ResourceID != "" || changes[0].Deleted {
		t.Fatalf("changes after create: %+v", changes)
	}

	// A refused fn changes nothing and writes no change entry.
	seq = lastSeq(t, s)
	boom := errors.New("boom")
	if _, err := s.UpdateCollection(ctx, "serie", func(c *node.Collection) error { c.Title = "x"; return boom }); !errors.Is(err, boom) {
		t.Fatalf("update error: %v", err)
	}
	if _, err := s.UpdateCollection(ctx, "serie", func(c *node.Collection) error {
		c.Items = append(c.Items, node.CollectionItem{Resource: "kit-gone"})
		return nil
	}); !errors.Is(err, node.ErrInvalid) {
		t.Fatalf("item naming no resource: %v, want invalid", err)
	}
	if lastSeq(t, s) != seq {
		t.Fatal("a refused update wrote a change")
	}
	up, err := s.UpdateCollection(ctx, "serie", func(c *node.Collection) error { c.Items = c.Items[:1]; return nil })
	if err != nil || len(up.Items) != 1 {
		t.Fatalf("update: %+v, %v", up, err)
	}
	if ids, _ := s.CollectionsWith(ctx, "kit-a"); len(ids) != 0 {
		t.Fatalf("kit-a, removed from the items, still indexed in %v", ids)
	}
	if ids, _ := s.CollectionsWith(ctx, "kit-b"); !slices.Equal(ids, []string{"serie"}) {
		t.Fatalf("kit-b indexed in %v", ids)
	}
	if _, err := s.DeleteCollection(ctx, "serie"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetCollection(ctx, "serie"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	changes, _ = s.Changes(ctx, seq, 10)
	if len(changes) != 2 || changes[1].Collection != "serie" || !changes[1].Deleted {
		t.Fatalf("changes: %+v", changes)
	}
	if _, total, _ := s.ListCollections(ctx, node.ListCollectionsQuery{Organisation: "tilleuls"}); total != 0 {
		t.Fatalf("deleted collection still indexed by organisation: %d", total)
	}
	if ids, _ := s.CollectionsWith(ctx, "kit-b"); len(ids) != 0 {
		t.Fatalf("deleted collection still indexed by item: %v", ids)
	}
	if err := s.CreateCollection(ctx, coll("autre", base, "inconnue")); !errors.Is(err, node.ErrInvalid) {
		t.Fatalf("unknown organisation: %v", err)
	}
}

func TestCollectionsList(t *testing.T) {
	s := openTemp(t)
	for _, slug := range []string{"tilleuls", "port"} {
		if err := s.AddOrganisation(ctx, node.Organisation{Slug: slug, Name: slug, Created: base}); err != nil {
			t.Fatal(err)
		}
	}
	var want, wantTilleuls []string
	for i := range 7 {
		org := "port"
		if i%2 == 0 {
			org = "tilleuls"
		}
		id := fmt.Sprintf("c%d", i)
		if err := s.CreateCollection(ctx, coll(id, base.Add(time.Duration(i)*time.Minute), org)); err != nil {
			t.Fatal(err)
		}
		want = append([]string{id}, want...)
		if org == "tilleuls" {
			wantTilleuls = append([]string{id}, wantTilleuls...)
		}
	}
	remote := coll("copie", base.Add(time.Hour), "")
	remote.Origin = "https://hub-sud.example/collections/copie"
	if _, err := s.PutRemoteCollection(ctx, remote, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		q     node.ListCollectionsQuery
		want  []string
		total int
	}{
		{"all", node.ListCollectionsQuery{Limit: 100}, append([]string{"copie"}, want...), 8},
		{"local page 2", node.ListCollectionsQuery{Origin: "local", Offset: 3, Limit: 3}, want[3:6], 7},
		{"remote", node.ListCollectionsQuery{Origin: "remote", Limit: 10}, []string{"copie"}, 1},
		{"organisation", node.ListCollectionsQuery{Organisation: "tilleuls", Limit: 10}, wantTilleuls, 4},
		{"organisation past the end", node.ListCollectionsQuery{Organisation: "tilleuls", Offset: 4, Limit: 10}, nil, 4},
		{"organisation of copies", node.ListCollectionsQuery{Organisation: "tilleuls", Origin: "remote"}, nil, 0},
		{"last organisation in the index", node.ListCollectionsQuery{Organisation: "port", Limit: 1}, []string{"c5"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, total, err := s.ListCollections(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(collIDs(got), tc.want) || total != tc.total {
				t.Fatalf("got %v (total %d), want %v (total %d)", collIDs(got), total, tc.want, tc.total)
			}
		})
	}
	if _, _, err := s.ListCollections(ctx, node.ListCollectionsQuery{Origin: "ailleurs"}); !errors.Is(err, node.ErrInvalid) {
		t.Fatalf("bad origin: %v", err)
	}
}

// TestRemoteCollectionsByOrigin: a copy is found and replaced by its
// origin, keeps its id, and never takes the id of another collection.
func TestRemoteCollectionsByOrigin(t *testing.T) {
	s := openTemp(t)
	origin := "https://hub-sud.example/collections/serie"
	c := coll("serie-abc", base, "")
	c.Origin = origin
	if _, err := s.PutRemoteCollection(ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	again := c
	again.ID, again.Title = "autre-id", "Nouveau titre"
	saved, err := s.PutRemoteCollection(ctx, again, func(old *node.Collection) error {
		if old == nil || old.ID != "serie-abc" {
			t.Errorf("check saw %+v, want the stored copy", old)
		}
		return nil
	})
	if err != nil || saved.ID != "serie-abc" {
		t.Fatalf("replace: %+v, %v", saved, err)
	}
	if got, err := s.CollectionByOrigin(ctx, origin); err != nil || got.Title != "Nouveau titre" {
		t.Fatalf("by origin: %+v, %v", got, err)
	}
	if err := s.CreateCollection(ctx, coll("locale", base, "")); err != nil {
		t.Fatal(err)
	}
	squat := coll("locale", base, "")
	squat.Origin = "https://hub-sud.example/collections/locale"
	if _, err := s.PutRemoteCollection(ctx, squat, nil); !errors.Is(err, node.ErrConflict) {
		t.Fatalf("copy taking a local collection's id: %v", err)
	}
	if _, err := s.DeleteCollection(ctx, "serie-abc"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CollectionByOrigin(ctx, origin); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("origin index after delete: %v", err)
	}
}

// TestDeletedResourceLeavesCollections: one transaction deletes the
// resource, drops it from local collections and marks it unavailable in
// copies.
func TestDeletedResourceLeavesCollections(t *testing.T) {
	s := openTemp(t)
	cp := resource("copie-kit", base)
	cp.Origin = "https://hub-sud.example/r/kit"
	mustCreate(t, s, resource("kit-a", base), cp)
	if err := s.CreateCollection(ctx, coll("locale", base, "", "copie-kit", "kit-a")); err != nil {
		t.Fatal(err)
	}
	remote := coll("copie", base, "", "copie-kit")
	remote.Origin = "https://hub-sud.example/collections/c"
	if _, err := s.PutRemoteCollection(ctx, remote, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Delete(ctx, "copie-kit"); err != nil {
		t.Fatal(err)
	}
	loc, _ := s.GetCollection(ctx, "locale")
	if len(loc.Items) != 1 || loc.Items[0].Resource != "kit-a" || len(loc.Unavailable) != 0 {
		t.Fatalf("local collection after the delete: %+v", loc)
	}
	rc, _ := s.GetCollection(ctx, "copie")
	if len(rc.Items) != 0 || len(rc.Unavailable) != 1 || rc.Unavailable[0].URL != cp.Origin || rc.Unavailable[0].Note != "note copie-kit" || rc.Unavailable[0].Reason == "" {
		t.Fatalf("copy after the delete: %+v", rc)
	}
}
