package catalog

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/communs-numerique/communs/node"
)

// TestOrganisationIndex: the organisation index follows every resource
// write in its transaction, a write naming an organisation that does not
// exist is refused there, and an organisation is removed only once
// nothing names it.
func TestOrganisationIndex(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	for _, slug := range []string{"tilleuls", "mediatheque"} {
		if err := s.AddOrganisation(ctx, node.Organisation{Slug: slug, Name: slug}); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	res := func(id, org string, i int) node.Resource {
		return node.Resource{ID: id, Metadata: node.Metadata{Title: id, Organisation: org}, Created: at.Add(time.Duration(i) * time.Hour)}
	}
	if err := s.Create(ctx, res("absente", "inconnue", 0)); !errors.Is(err, node.ErrInvalid) {
		t.Fatalf("create naming an unknown organisation: %v, want ErrInvalid", err)
	}
	if _, err := s.Get(ctx, "absente"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("refused resource stored: %v", err)
	}
	for i, id := range []string{"un", "deux", "trois"} {
		if err := s.Create(ctx, res(id, "tilleuls", i)); err != nil {
			t.Fatal(err)
		}
	}
	count := func(slug string) (int, []string) {
		t.Helper()
		ids, n, err := s.OrganisationResources(ctx, slug, 2)
		if err != nil {
			t.Fatal(err)
		}
		return n, ids
	}
	if n, ids := count("tilleuls"); n != 3 || len(ids) != 2 || ids[0] != "trois" || ids[1] != "deux" {
		t.Fatalf("tilleuls: %d %v, want 3, newest first, limited to 2", n, ids)
	}
	if _, _, err := s.Update(ctx, "deux", func(r *node.Resource) error { r.Organisation = "mediatheque"; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Update(ctx, "un", func(r *node.Resource) error { r.Organisation = "inconnue"; return nil }); !errors.Is(err, node.ErrInvalid) {
		t.Fatalf("update to an unknown organisation: %v, want ErrInvalid", err)
	}
	if n, _ := count("tilleuls"); n != 2 {
		t.Fatalf("tilleuls after moving deux: %d, want 2", n)
	}
	if n, ids := count("mediatheque"); n != 1 || ids[0] != "deux" {
		t.Fatalf("mediatheque: %d %v", n, ids)
	}
	if r, u, err := s.RemoveOrganisation(ctx, "mediatheque"); err != nil || r != 1 || u != 0 {
		t.Fatalf("remove mediatheque while it owns deux: %d %d %v", r, u, err)
	}
	if _, _, err := s.Delete(ctx, "deux"); err != nil {
		t.Fatal(err)
	}
	if r, u, err := s.RemoveOrganisation(ctx, "mediatheque"); err != nil || r != 0 || u != 0 {
		t.Fatalf("remove mediatheque once empty: %d %d %v", r, u, err)
	}
	if _, err := s.GetOrganisation(ctx, "mediatheque"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("mediatheque after removal: %v", err)
	}
	// A user attached to an organisation holds it too.
	if err := s.AddUser(ctx, node.User{Name: "alice", Role: node.RoleEditor}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUserOrganisation(ctx, "alice", "inconnue"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("attach to an unknown organisation: %v", err)
	}
	if err := s.SetUserOrganisation(ctx, "alice", "tilleuls"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"un", "trois"} {
		if _, _, err := s.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if r, u, err := s.RemoveOrganisation(ctx, "tilleuls"); err != nil || r != 0 || u != 1 {
		t.Fatalf("remove tilleuls with alice attached: %d %d %v, want 0 1", r, u, err)
	}
}
