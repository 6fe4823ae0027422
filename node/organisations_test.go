package node_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/catalog"
)

func newOrgService(t testing.TB) (*node.Service, *catalog.Store) {
	t.Helper()
	cat, disk := testStores(t)
	svc, err := node.New(node.Config{Catalog: cat, Accounts: cat, Organisations: cat, Downloads: cat, Blobs: disk, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, o := range []node.Organisation{{Slug: "tilleuls", Name: "Centre social Les Tilleuls"}, {Slug: "mediatheque", Name: "Médiathèque du Port"}} {
		if _, err := svc.AddOrganisation(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	return svc, cat
}

func kitMeta(id string) node.Resource {
	return node.Resource{ID: id, Metadata: node.Metadata{Title: "Kit " + id, Kind: "practical-sheet", License: "CC-BY-SA-4.0"}}
}

// TestOwnershipRules: an editor writes only their organisation's resources
// (or, without organisation, the ones their account published); admins
// write everything; every refusal is ErrForbidden naming the owner.
func TestOwnershipRules(t *testing.T) {
	ctx := context.Background()
	svc, _ := newOrgService(t)
	alice := node.User{Name: "alice", Role: node.RoleEditor, Organisation: "tilleuls"}
	bob := node.User{Name: "bob", Role: node.RoleEditor, Organisation: "mediatheque"}
	carol := node.User{Name: "carol", Role: node.RoleEditor}
	dan := node.User{Name: "dan", Role: node.RoleEditor}
	admin := node.User{Name: "root", Role: node.RoleAdmin}
	as := node.WithActor

	r, err := svc.Publish(as(ctx, alice), kitMeta("kit-alice"), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if r.Organisation != "tilleuls" || r.CreatedBy != "alice" {
		t.Fatalf("published organisation %q by %q, want tilleuls by alice", r.Organisation, r.CreatedBy)
	}
	if _, err := svc.Publish(as(ctx, carol), kitMeta("kit-carol"), nil, false); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Publish(ctx, kitMeta("kit-ancien"), nil, false); err != nil { // operator, no owner
		t.Fatal(err)
	}
	title := "Nouveau titre"
	writes := map[string]func(ctx context.Context, id string) error{
		"update": func(ctx context.Context, id string) error {
			_, err := svc.Update(ctx, id, node.Patch{Title: &title})
			return err
		},
		"put file": func(ctx context.Context, id string) error {
			_, err := svc.PutFile(ctx, id, node.Upload{Name: "a.txt", Body: bytes.NewReader([]byte("a")), Size: 1})
			return err
		},
		"replace": func(ctx context.Context, id string) error {
			_, err := svc.Publish(ctx, kitMeta(id), nil, true)
			return err
		},
		"delete file": func(ctx context.Context, id string) error {
			return svc.DeleteFile(ctx, id, "absent.txt")
		},
		"delete": func(ctx context.Context, id string) error { return svc.Delete(ctx, id) },
	}
	refusals := []struct {
		user   node.User
		id     string
		owner  string
		reason string
	}{
		{bob, "kit-alice", "Centre social Les Tilleuls (tilleuls)", "editor of another organisation"},
		{carol, "kit-alice", "Centre social Les Tilleuls (tilleuls)", "editor without organisation"},
		{alice, "kit-carol", "published by user carol", "resource without organisation published by someone else"},
		{dan, "kit-carol", "published by user carol", "editor without organisation, someone else's"},
		{alice, "kit-ancien", "only an admin may change it", "resource with no owner at all"},
	}
	for _, c := range refusals {
		for name, write := range writes {
			err := write(as(ctx, c.user), c.id)
			if !errors.Is(err, node.ErrForbidden) {
				t.Errorf("%s: %s by %s on %s: err = %v, want ErrForbidden", c.reason, name, c.user.Name, c.id, err)
				continue
			}
			if !strings.Contains(err.Error(), c.owner) {
				t.Errorf("%s: %s refusal %q does not name the owner %q", c.reason, name, err, c.owner)
			}
		}
	}
	if got, err := svc.Get(ctx, "kit-alice"); err != nil || got.Title != "Kit kit-alice" {
		t.Fatalf("after refusals kit-alice = %q, %v; want unchanged", got.Title, err)
	}
	// An editor may not publish for, nor give a resource to, another organisation.
	other := kitMeta("kit-autre")
	other.Organisation = "mediatheque"
	if _, err := svc.Publish(as(ctx, alice), other, nil, false); !errors.Is(err, node.ErrForbidden) || !strings.Contains(err.Error(), "mediatheque") {
		t.Errorf("alice publishing for mediatheque: %v, want ErrForbidden naming mediatheque", err)
	}
	give := "mediatheque"
	if _, err := svc.Update(as(ctx, alice), "kit-alice", node.Patch{Organisation: &give}); !errors.Is(err, node.ErrForbidden) {
		t.Errorf("alice giving kit-alice away: %v, want ErrForbidden", err)
	}
	none := ""
	if _, err := svc.Update(as(ctx, alice), "kit-alice", node.Patch{Organisation: &none}); !errors.Is(err, node.ErrForbidden) || !strings.Contains(err.Error(), "take a resource away") {
		t.Errorf("alice taking kit-alice away from tilleuls: %v, want ErrForbidden saying so", err)
	}
	// The owners and the admin may.
	for _, ok := range []struct {
		user node.User
		id   string
	}{{alice, "kit-alice"}, {carol, "kit-carol"}, {admin, "kit-ancien"}, {admin, "kit-alice"}} {
		if err := writes["update"](as(ctx, ok.user), ok.id); err != nil {
			t.Errorf("%s updating %s: %v", ok.user.Name, ok.id, err)
		}
	}
	// The admin (or the operator) assigns an old resource; then its
	// organisation's editor may change it.
	if _, err := svc.Update(ctx, "kit-ancien", node.Patch{Organisation: &give}); err != nil {
		t.Fatal(err)
	}
	if err := writes["update"](as(ctx, bob), "kit-ancien"); err != nil {
		t.Errorf("bob updating kit-ancien after it was given to mediatheque: %v", err)
	}
	if err := writes["delete"](as(ctx, bob), "kit-ancien"); err != nil {
		t.Errorf("bob deleting kit-ancien: %v", err)
	}
}

func TestOrganisationInput(t *testing.T) {
	ctx := context.Background()
	svc, _ := newOrgService(t)
	for _, c := range []struct {
		org   node.Organisation
		field string
	}{
		{node.Organisation{Slug: "a", Name: "Trop court"}, "slug"},
		{node.Organisation{Slug: strings.Repeat("a", 65), Name: "Trop long"}, "slug"},
		{node.Organisation{Slug: "Majuscules", Name: "X"}, "slug"},
		{node.Organisation{Slug: "sous_tiret", Name: "X"}, "slug"},
		{node.Organisation{Slug: "ok-slug", Name: ""}, "name"},
		{node.Organisation{Slug: "ok-slug", Name: "deux\nlignes"}, "name"},
		{node.Organisation{Slug: "ok-slug", Name: "X", URL: "javascript:alert(1)"}, "url"},
	} {
		_, err := svc.AddOrganisation(ctx, c.org)
		var ve *node.ValidationError
		if !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("AddOrganisation(%+v) = %v, want a validation error on %s", c.org, err, c.field)
		}
	}
	if _, err := svc.AddOrganisation(ctx, node.Organisation{Slug: "tilleuls", Name: "Doublon"}); !errors.Is(err, node.ErrConflict) {
		t.Errorf("duplicate slug: %v, want ErrConflict", err)
	}
	unknown := kitMeta("kit-inconnu")
	unknown.Organisation = "inconnue"
	_, err := svc.Publish(ctx, unknown, nil, false)
	var ve *node.ValidationError
	if !errors.As(err, &ve) || ve.Field != "organisation" || !strings.Contains(err.Error(), "tilleuls") {
		t.Errorf("unknown organisation: %v, want a validation error on organisation listing the known ones", err)
	}
}

func TestRemoveOrganisationRefusedWhileItOwns(t *testing.T) {
	ctx := context.Background()
	svc, _ := newOrgService(t)
	for _, id := range []string{"kit-un", "kit-deux"} {
		r := kitMeta(id)
		r.Organisation = "tilleuls"
		if _, err := svc.Publish(ctx, r, nil, false); err != nil {
			t.Fatal(err)
		}
	}
	err := svc.RemoveOrganisation(ctx, "tilleuls")
	if !errors.Is(err, node.ErrConflict) || !strings.Contains(err.Error(), "2 resource(s)") {
		t.Fatalf("remove with 2 resources: %v, want ErrConflict with the count", err)
	}
	rs, total, err := svc.OrganisationResources(ctx, "tilleuls", 10)
	if err != nil || total != 2 || len(rs) != 2 || rs[0].ID != "kit-deux" {
		t.Fatalf("OrganisationResources = %d items (first %v), total %d, %v; want 2, newest first", len(rs), rs, total, err)
	}
	if err := svc.Delete(ctx, "kit-un"); err != nil {
		t.Fatal(err)
	}
	none := ""
	if _, err := svc.Update(ctx, "kit-deux", node.Patch{Organisation: &none}); err != nil {
		t.Fatal(err)
	}
	if err := svc.RemoveOrganisation(ctx, "tilleuls"); err != nil {
		t.Fatalf("remove once it owns nothing: %v", err)
	}
	if _, err := svc.Organisation(ctx, "tilleuls"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("after removal: %v, want ErrNotFound", err)
	}
}

func TestDownloadCounterBatches(t *testing.T) {
	ctx := context.Background()
	_, cat := newOrgService(t)
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	c := node.NewDownloadCounter(cat, func() time.Time { return now })
	for range 3 {
		c.Add("kit-a")
	}
	c.Add("kit-b")
	if n, _ := cat.Downloads(ctx, "2026-12", []string{"kit-a", "kit-b"}); n != 0 {
		t.Fatalf("persisted before flush: %d, want 0 (counted in memory)", n)
	}
	if n, err := c.Total(ctx, "2026-12", []string{"kit-a", "kit-b"}); err != nil || n != 4 {
		t.Fatalf("Total before flush = %d, %v; want 4", n, err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	now = now.AddDate(0, 1, 0)
	c.Add("kit-a")
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := cat.Downloads(ctx, "2026-12", []string{"kit-a", "kit-b"}); n != 4 {
		t.Fatalf("December = %d, want 4", n)
	}
	if n, _ := cat.Downloads(ctx, "2027-01", []string{"kit-a"}); n != 1 {
		t.Fatalf("January = %d, want 1", n)
	}
}

// TestRemoteOrganisationIsUntrusted: a peer's organisation is stored as
// text only when its name is one bounded line and its page is on the
// peer's own host; otherwise the copy is refused and nothing is stored.
func TestRemoteOrganisationIsUntrusted(t *testing.T) {
	ctx := context.Background()
	svc, _ := newOrgService(t)
	base := node.Resource{Metadata: node.Metadata{Title: "Fiche du sud", Kind: "practical-sheet", License: "CC0-1.0", Hub: "hub-du-sud"},
		Origin: "https://sud.example/r/fiche", Updated: time.Now().UTC()}
	for _, c := range []struct {
		name, url string
		ok        bool
	}{
		{"Centre social Les Tilleuls", "https://sud.example/organisations/tilleuls", true},
		{"Sans page", "", true},
		{"Ailleurs", "https://evil.example/organisations/x", false},
		{"Script", "javascript:alert(1)", false},
		{strings.Repeat("n", 201), "", false},
		{"deux\nlignes", "", false},
		{"", "https://sud.example/organisations/x", false},
	} {
		r := base
		r.ID = node.RemoteID(r.Origin, "fiche")
		r.OrganisationName, r.OrganisationURL = c.name, c.url
		r.Organisation = "tilleuls" // a peer's slug never becomes one of this hub's
		saved, err := svc.SaveRemote(ctx, r, nil, node.Mirror{})
		if c.ok != (err == nil) {
			t.Errorf("organisation %.20q at %q: err %v, want ok=%v", c.name, c.url, err, c.ok)
			continue
		}
		if err == nil && (saved.Organisation != "" || saved.OrganisationName != c.name) {
			t.Errorf("saved copy: organisation %q name %q", saved.Organisation, saved.OrganisationName)
		}
		if err != nil {
			if got, gerr := svc.Get(ctx, r.ID); gerr == nil && got.OrganisationName == c.name {
				t.Errorf("refused organisation %.20q stored anyway", c.name)
			}
		}
	}
}

// BenchmarkCountDownload is what a download pays for its count: a mutex
// and a map increment, no disk write.
func BenchmarkCountDownload(b *testing.B) {
	_, cat := newOrgService(b)
	c := node.NewDownloadCounter(cat, nil)
	ids := []string{"kit-a", "kit-b", "kit-c", "kit-d"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c.Add(ids[i%len(ids)])
			i++
		}
	})
}
