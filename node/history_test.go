package node_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/node"
)

var (
	d1 = strings.Repeat("1", 64)
	d2 = strings.Repeat("2", 64)
	d3 = strings.Repeat("3", 64)
)

func baseResource() node.Resource {
	return node.Resource{ID: "kit", Metadata: node.Metadata{
		Title: "Créer une adresse e-mail", Summary: "En une séance", Description: "Pas à pas",
		Kind: "practical-sheet", Themes: []string{"email"}, Audience: []string{"seniors"}, Level: "beginner",
		License: "CC-BY-SA-4.0", Language: "fr", Authors: []string{"Alice"}, Hub: "hub-du-nord",
		Published: "2026-01-02", Organisation: "tilleuls",
	}, Updated: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), Version: 3,
		Files: []node.File{{Name: "guide.pdf", SHA256: d1, Size: 10}, {Name: "fiche.odt", SHA256: d2, Size: 20}}}
}

// TestReviseDiff: each metadata field, each kind of file change, and what a
// revision says about who and when.
func TestReviseDiff(t *testing.T) {
	long := strings.Repeat("é", node.MaxRevisionText) // 2 bytes each: cut in half
	for _, tc := range []struct {
		name       string
		change     func(r *node.Resource)
		wantFields []node.FieldChange
		wantFiles  []node.FileChange
	}{
		{"title", func(r *node.Resource) { r.Title = "Créer sa boîte mail" },
			[]node.FieldChange{{Field: "title", Before: "Créer une adresse e-mail", After: "Créer sa boîte mail"}}, nil},
		{"summary", func(r *node.Resource) { r.Summary = "" }, []node.FieldChange{{Field: "summary", Before: "En une séance"}}, nil},
		{"description", func(r *node.Resource) { r.Description = "Autrement" }, []node.FieldChange{{Field: "description", Before: "Pas à pas", After: "Autrement"}}, nil},
		{"kind", func(r *node.Resource) { r.Kind = "guide" }, []node.FieldChange{{Field: "kind", Before: "practical-sheet", After: "guide"}}, nil},
		{"themes", func(r *node.Resource) { r.Themes = []string{"email", "securite"} }, []node.FieldChange{{Field: "themes", Before: "email", After: "email, securite"}}, nil},
		{"audience", func(r *node.Resource) { r.Audience = nil }, []node.FieldChange{{Field: "audience", Before: "seniors"}}, nil},
		{"level", func(r *node.Resource) { r.Level = "advanced" }, []node.FieldChange{{Field: "level", Before: "beginner", After: "advanced"}}, nil},
		{"license", func(r *node.Resource) { r.License = "CC-BY-4.0" }, []node.FieldChange{{Field: "license", Before: "CC-BY-SA-4.0", After: "CC-BY-4.0"}}, nil},
		{"language", func(r *node.Resource) { r.Language = "en" }, []node.FieldChange{{Field: "language", Before: "fr", After: "en"}}, nil},
		{"authors", func(r *node.Resource) { r.Authors = []string{"Bob", "Alice"} }, []node.FieldChange{{Field: "authors", Before: "Alice", After: "Bob, Alice"}}, nil},
		{"hub", func(r *node.Resource) { r.Hub = "hub-du-sud" }, []node.FieldChange{{Field: "hub", Before: "hub-du-nord", After: "hub-du-sud"}}, nil},
		{"published", func(r *node.Resource) { r.Published = "2026-02-03" }, []node.FieldChange{{Field: "published", Before: "2026-01-02", After: "2026-02-03"}}, nil},
		{"organisation", func(r *node.Resource) { r.Organisation = "" }, []node.FieldChange{{Field: "organisation", Before: "tilleuls"}}, nil},
		{"long description is capped with its length and digest", func(r *node.Resource) { r.Description = long },
			[]node.FieldChange{{Field: "description", Before: "Pas à pas", After: long[:node.MaxRevisionText], AfterLength: len(long),
				AfterSHA256: digestOf([]byte(long))}}, nil},
		{"two fields in one change", func(r *node.Resource) { r.Title, r.Level = "T", "" },
			[]node.FieldChange{{Field: "title", Before: "Créer une adresse e-mail", After: "T"}, {Field: "level", Before: "beginner"}}, nil},
		{"file added", func(r *node.Resource) {
			r.Files = append(r.Files, node.File{Name: "affiche.png", SHA256: d3, Size: 30})
		},
			nil, []node.FileChange{{Name: "affiche.png", Change: node.FileAdded, After: d3, Size: 30}}},
		{"file replaced", func(r *node.Resource) { r.Files[0] = node.File{Name: "guide.pdf", SHA256: d3, Size: 31} },
			nil, []node.FileChange{{Name: "guide.pdf", Change: node.FileReplaced, Before: d1, After: d3, Size: 31}}},
		{"file removed", func(r *node.Resource) { r.Files = r.Files[1:] },
			nil, []node.FileChange{{Name: "guide.pdf", Change: node.FileRemoved, Before: d1, Size: 10}}},
		{"same bytes uploaded again: no file change", func(r *node.Resource) {
			r.Files[0].Added = time.Now()
			r.Title = "x"
		}, []node.FieldChange{{Field: "title", Before: "Créer une adresse e-mail", After: "x"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, cur := baseResource(), baseResource()
			cur.Files = append([]node.File(nil), cur.Files...)
			cur.Updated = cur.Updated.Add(time.Hour)
			tc.change(&cur)
			ctx := node.WithActor(context.Background(), node.User{Name: "alice", Role: node.RoleEditor})
			rev := node.Revise(ctx, &old, &cur)
			if rev == nil {
				t.Fatal("no revision for a change")
			}
			if !reflect.DeepEqual(rev.Fields, tc.wantFields) {
				t.Errorf("fields = %+v\nwant     %+v", rev.Fields, tc.wantFields)
			}
			if !reflect.DeepEqual(rev.Files, tc.wantFiles) {
				t.Errorf("files = %+v\nwant    %+v", rev.Files, tc.wantFiles)
			}
			if rev.Version != 4 || cur.Version != 4 {
				t.Errorf("version = %d, resource %d; want 4 after 3", rev.Version, cur.Version)
			}
			if rev.By != "alice" || !rev.At.Equal(cur.Updated) || rev.Created {
				t.Errorf("by %q at %v created %v; want alice at %v, not a creation", rev.By, rev.At, rev.Created, cur.Updated)
			}
		})
	}

	t.Run("nothing tracked changed: no revision, version kept", func(t *testing.T) {
		old, cur := baseResource(), baseResource()
		cur.Updated = cur.Updated.Add(time.Hour)
		cur.Version = 0
		if rev := node.Revise(context.Background(), &old, &cur); rev != nil || cur.Version != 3 {
			t.Errorf("got %+v, version %d; want none and 3", rev, cur.Version)
		}
	})
	t.Run("creation lists the files, version 1", func(t *testing.T) {
		cur := baseResource()
		rev := node.Revise(context.Background(), nil, &cur)
		if rev == nil || !rev.Created || rev.Version != 1 || cur.Version != 1 || len(rev.Fields) != 0 || len(rev.Files) != 2 || rev.By != "" {
			t.Fatalf("creation: %+v", rev)
		}
	})
	t.Run("a resource stored before histories counts as version 1", func(t *testing.T) {
		old, cur := baseResource(), baseResource()
		old.Version, cur.Title = 0, "x"
		if rev := node.Revise(context.Background(), &old, &cur); rev == nil || rev.Version != 2 {
			t.Errorf("got %+v, want version 2", rev)
		}
	})
	t.Run("a copy's change is by its origin hub, never an account", func(t *testing.T) {
		old, cur := baseResource(), baseResource()
		old.Origin, cur.Origin = "https://sud.example/r/kit", "https://sud.example/r/kit"
		cur.Hub, cur.OrganisationName = "hub-du-sud", "Médiathèque"
		cur.Files = []node.File{{Name: "guide.pdf", RemoteSHA256: d3, RemoteURL: "https://sud.example/f"}, old.Files[1]}
		ctx := node.WithActor(context.Background(), node.User{Name: "mallory"})
		rev := node.Revise(ctx, &old, &cur)
		if rev == nil || rev.By != "" || rev.Hub != "hub-du-sud" {
			t.Fatalf("got %+v", rev)
		}
		want := []node.FileChange{{Name: "guide.pdf", Change: node.FileReplaced, Before: d1, After: d3}}
		if !reflect.DeepEqual(rev.Files, want) {
			t.Errorf("files = %+v, want %+v", rev.Files, want)
		}
		if n := len(rev.Fields); n != 2 || rev.Fields[1].Field != "organisation_name" {
			t.Errorf("fields = %+v, want hub and organisation_name", rev.Fields)
		}
	})
}

// history reads a resource's whole history, newest first.
func history(t *testing.T, svc *node.Service, id string) []node.Revision {
	t.Helper()
	var all []node.Revision
	cursor := ""
	for {
		page, next, err := svc.History(context.Background(), id, cursor, 2)
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		cursor = next
	}
}

// summary writes a history as "version:what" lines, newest first.
func summary(revs []node.Revision) string {
	var b strings.Builder
	for _, r := range revs {
		fmt.Fprintf(&b, "%02d:", r.Version)
		if r.Created {
			b.WriteString("created")
		}
		for _, f := range r.Fields {
			b.WriteString(" " + f.Field)
		}
		for _, f := range r.Files {
			b.WriteString(" " + f.Change + " " + f.Name)
		}
		if r.By != "" {
			b.WriteString(" by " + r.By)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestEveryWritePathKeepsItsRevision: publish, patch, organisation
// assignment, file add, replace and remove, a replacing publication and a
// grouped import each leave one revision with the resource's version; a
// refused write leaves none; a delete takes the history with it.
func TestEveryWritePathKeepsItsRevision(t *testing.T) {
	ctx := context.Background()
	svc, _ := newOrgService(t)
	alice := node.WithActor(ctx, node.User{Name: "alice", Role: node.RoleAdmin})
	upload := func(name, body string) node.Upload {
		return node.Upload{Name: name, Body: strings.NewReader(body), Size: int64(len(body))}
	}
	one := func(name, body string) node.Uploads {
		return func(yield func(node.Upload) error) error { return yield(upload(name, body)) }
	}
	r, err := svc.Publish(alice, kitMeta("kit"), one("guide.pdf", "v1"), false)
	if err != nil || r.Version != 1 {
		t.Fatalf("publish: version %d, %v", r.Version, err)
	}
	title := "Nouveau titre"
	if r, err = svc.Update(alice, "kit", node.Patch{Title: &title}); err != nil || r.Version != 2 {
		t.Fatalf("patch: version %d, %v", r.Version, err)
	}
	org := "tilleuls"
	if _, err := svc.Update(alice, "kit", node.Patch{Organisation: &org}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PutFile(alice, "kit", upload("guide.pdf", "v2")); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PutFile(alice, "kit", upload("affiche.png", "png")); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteFile(alice, "kit", "affiche.png"); err != nil {
		t.Fatal(err)
	}
	// Refused writes: a licence the policy refuses, a file of another
	// organisation's editor. Neither a change nor a revision.
	bad := "Proprietary"
	if _, err := svc.Update(alice, "kit", node.Patch{License: &bad}); err == nil {
		t.Fatal("a refused licence was accepted")
	}
	bob := node.WithActor(ctx, node.User{Name: "bob", Role: node.RoleEditor, Organisation: "mediatheque"})
	if _, err := svc.PutFile(bob, "kit", upload("intrus.pdf", "x")); !errors.Is(err, node.ErrForbidden) {
		t.Fatalf("another organisation's editor: %v", err)
	}
	same := kitMeta("kit")
	same.Title, same.Organisation = title, org
	if r, err = svc.Publish(alice, same, one("guide.pdf", "v2"), true); err != nil || r.Version != 6 {
		t.Fatalf("republishing the same kit changes nothing: version %d, %v", r.Version, err)
	}
	b, err := svc.NewPublishBatch()
	if err != nil {
		t.Fatal(err)
	}
	same.Summary = "Importé"
	if _, err := b.Add(ctx, same, one("guide.pdf", "v3"), true); err != nil {
		t.Fatal(err)
	}
	out, errs, err := b.Commit(ctx)
	if err != nil || errs[0] != nil || out[0].Version != 7 {
		t.Fatalf("batch: %+v %v %v", out, errs, err)
	}

	got := summary(history(t, svc, "kit"))
	want := "07: summary replaced guide.pdf\n" +
		"06: removed affiche.png by alice\n" +
		"05: added affiche.png by alice\n" +
		"04: replaced guide.pdf by alice\n" +
		"03: organisation by alice\n" +
		"02: title by alice\n" +
		"01:created added guide.pdf by alice\n"
	if got != want {
		t.Errorf("history:\n%s\nwant:\n%s", got, want)
	}
	if cur, _ := svc.Get(ctx, "kit"); cur.Version != 7 {
		t.Errorf("stored version %d, want 7", cur.Version)
	}

	if _, _, err := svc.History(ctx, "kit", "not-a-cursor", 10); !errors.Is(err, node.ErrInvalid) {
		t.Errorf("forged cursor: %v, want ErrInvalid", err)
	}
	if err := svc.Delete(alice, "kit"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.History(ctx, "kit", "", 10); !errors.Is(err, node.ErrNotFound) {
		t.Errorf("history of a deleted resource: %v, want ErrNotFound", err)
	}
	// The id published again starts a new story.
	if r, err := svc.Publish(alice, kitMeta("kit"), nil, false); err != nil || r.Version != 1 {
		t.Fatalf("publish again: version %d, %v", r.Version, err)
	}
	if got := summary(history(t, svc, "kit")); got != "01:created by alice\n" {
		t.Errorf("history after delete and publish:\n%s", got)
	}
}

// TestCopyHistoryIsByItsOrigin: a copy's history records the updates its
// origin sent, by the origin hub; an unchanged copy sent again (a
// backfill) records nothing.
func TestCopyHistoryIsByItsOrigin(t *testing.T) {
	svc := remoteService(t)
	ctx := node.WithActor(context.Background(), node.User{Name: "nobody"})
	r := ghostResource()
	r.Hub = "hub-a"
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	files := []node.RemoteFile{{Name: "fiche.pdf", Size: 5, SHA256: d1, URL: origin + "/files/fiche.pdf"}}
	noMirror := node.Mirror{Fetch: func(context.Context, string) (io.ReadCloser, error) { return nil, errors.New("down") }}
	for i, change := range []func(){
		func() {},
		func() { r.Title = "Fiche box, version 2" },
		func() {}, // the same again
		func() { files[0].SHA256 = d2 },
	} {
		change()
		r.Updated = at.Add(time.Duration(i) * time.Hour)
		if _, err := svc.SaveRemote(ctx, r, files, noMirror); err != nil {
			t.Fatal(err)
		}
	}
	revs := history(t, svc, r.ID)
	if got, want := summary(revs), "03: replaced fiche.pdf\n02: title\n01:created added fiche.pdf\n"; got != want {
		t.Errorf("copy history:\n%s\nwant:\n%s", got, want)
	}
	for _, rev := range revs {
		if rev.Hub != "hub-a" || rev.By != "" {
			t.Errorf("revision %d by %q of %q, want by the origin hub-a", rev.Version, rev.By, rev.Hub)
		}
	}
	if !revs[0].At.Equal(at.Add(3 * time.Hour)) {
		t.Errorf("a copy's revision is dated by its origin: %v", revs[0].At)
	}
}
