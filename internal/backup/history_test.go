package backup_test

import (
	"bytes"
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/communs-numerique/communs/internal/backup"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/catalog"
)

// TestRestoreKeepsHistory: the backup's catalog snapshot carries the
// resources' histories; a restored node tells the same story.
func TestRestoreKeepsHistory(t *testing.T) {
	ctx := context.Background()
	src := newSource(t)
	if _, _, err := src.cat.Update(ctx, "fiche", func(r *node.Resource) error {
		r.Title = "Fiche, version 2"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want, _, err := src.cat.History(ctx, "fiche", "", 10)
	if err != nil || len(want) != 2 {
		t.Fatalf("source history: %+v, %v", want, err)
	}

	data := filepath.Join(t.TempDir(), "data")
	if _, err := backup.Restore(ctx, bytes.NewReader(src.backup(t)), data, diskBlobs(data)); err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Open(filepath.Join(data, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	got, _, err := cat.History(ctx, "fiche", "", 10)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("restored history: %+v, %v\nwant %+v", got, err, want)
	}
	if r, err := cat.Get(ctx, "fiche"); err != nil || r.Version != 2 {
		t.Fatalf("restored version: %d, %v", r.Version, err)
	}
}
