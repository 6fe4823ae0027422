package node_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/node"
)

// TestPublishBatch: publications refused while staging (id taken, twice in
// the batch, wrong digest) or at commit (id created meanwhile) are refused
// alone; nothing is visible before Commit; a replaced resource keeps its
// creation time and its old bytes are dropped.
func TestPublishBatch(t *testing.T) {
	ctx := context.Background()
	cat, disk := testStores(t)
	svc, err := node.New(node.Config{Catalog: cat, Blobs: disk, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	base := corpus.Open(corpus.MustLoad(t))[0]
	res := func(id string) node.Resource {
		r := base
		r.ID, r.Files, r.License = id, nil, "CC-BY-4.0"
		return r
	}
	files := func(body, sha string) node.Uploads {
		return func(yield func(node.Upload) error) error {
			return yield(node.Upload{Name: "fiche.pdf", MediaType: "application/pdf", Body: strings.NewReader(body), Size: int64(len(body)), SHA256: sha})
		}
	}
	old, err := svc.Publish(ctx, res("existant"), files("ancien contenu", ""), false)
	if err != nil {
		t.Fatal(err)
	}

	b, err := svc.NewPublishBatch()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id      string
		body    string
		sha     string
		replace bool
		want    error
	}{
		{"nouveau", "nouveau contenu", "", false, nil},
		{"existant", "autre", "", false, node.ErrConflict},
		{"faux", "octets", strings.Repeat("a", 64), false, node.ErrInvalid},
		{"existant", "contenu revu", "", true, nil},
		{"nouveau", "encore", "", true, node.ErrConflict},
		{"course", "perdu", "", false, nil},
	} {
		if _, err := b.Add(ctx, res(tc.id), files(tc.body, tc.sha), tc.replace); (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Fatalf("Add %s: %v, want %v", tc.id, err, tc.want)
		}
	}
	if _, err := svc.Get(ctx, "nouveau"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("visible before Commit: %v", err)
	}
	// Someone creates "course" between staging and commit.
	if _, err := svc.Create(ctx, res("course")); err != nil {
		t.Fatal(err)
	}
	out, errs, err := b.Commit(ctx)
	if err != nil || len(errs) != 3 || errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], node.ErrConflict) {
		t.Fatalf("Commit: %v %v", errs, err)
	}
	if out[0].ID != "nouveau" || len(out[0].Files) != 1 {
		t.Fatalf("committed %+v", out[0])
	}
	got, err := svc.Get(ctx, "existant")
	if err != nil || !got.Created.Equal(old.Created) || len(got.Files) != 1 || got.Files[0].SHA256 == old.Files[0].SHA256 {
		t.Fatalf("replaced: %+v %v", got, err)
	}
	if _, err := disk.Stat(ctx, old.Files[0].SHA256); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("the replaced bytes are still stored: %v", err)
	}
	if c, _ := svc.Get(ctx, "course"); len(c.Files) != 0 {
		t.Fatal("the refused publication replaced the resource created meanwhile")
	}
	n := 0
	disk.Walk(ctx, func(node.Blob) error { n++; return nil })
	if n != 2 {
		t.Fatalf("%d blobs stored, want 2 (nouveau, existant revu)", n)
	}
}
