package kit_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/internal/kit"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// oneByOne hides node.Service's batches: kit.ImportAll then imports kit by
// kit, as it does through the admin socket's client.
type oneByOne struct{ kit.Backend }

func importAllResults(t *testing.T, b kit.Backend, dirs []string) []kit.Result {
	t.Helper()
	var out []kit.Result
	if err := kit.ImportAll(context.Background(), b, dirs, func(r kit.Result) { out = append(out, r) }); err != nil {
		t.Fatal(err)
	}
	if len(out) != len(dirs) {
		t.Fatalf("%d results for %d folders", len(out), len(dirs))
	}
	for i, r := range out {
		if r.Dir != dirs[i] {
			t.Fatalf("result %d is for %s, want %s: results come in the folders' order", i, r.Dir, dirs[i])
		}
	}
	return out
}

// TestImportAllBatched: over several batches, a kit refused in the middle
// of a batch (licence, wrong digest, a file missing) and a second folder
// with an id already used are refused alone, with the same outcomes and
// reasons as importing kit by kit; the others are stored with their bytes;
// a second run changes nothing and an edited kit is updated.
func TestImportAllBatched(t *testing.T) {
	rs := corpus.Synthetic(corpus.MustLoad(t), 230, 5)
	dir := t.TempDir()
	if err := corpus.WriteKits(dir, rs, 2<<10); err != nil {
		t.Fatal(err)
	}
	// Damage three kits in the middle of the first and second batches.
	wrongDigest := filepath.Join(dir, rs[40].ID, "resource.json")
	meta, _ := os.ReadFile(wrongDigest)
	os.WriteFile(wrongDigest, []byte(strings.Replace(string(meta), `"size":`, `"sha256": "`+strings.Repeat("b", 64)+`", "size":`, 1)), 0o644)
	os.Remove(filepath.Join(dir, rs[41].ID, rs[41].Files[len(rs[41].Files)-1].Name))
	// A copy of a kit under another folder name, same id.
	dupDir := filepath.Join(dir, rs[150].ID+"-copie")
	if err := os.CopyFS(dupDir, os.DirFS(filepath.Join(dir, rs[150].ID))); err != nil {
		t.Fatal(err)
	}
	dirs, err := kit.Folders(dir)
	if err != nil {
		t.Fatal(err)
	}

	batched := testnode.Start(t, testnode.Options{})
	single := testnode.Start(t, testnode.Options{})
	got := importAllResults(t, batched.Service, dirs)
	want := importAllResults(t, oneByOne{single.Service}, dirs)
	sum := kit.Summary{}
	for i := range got {
		sum[got[i].Outcome]++
		if got[i].Outcome != want[i].Outcome || got[i].ID != want[i].ID || fmt.Sprint(got[i].Err) != fmt.Sprint(want[i].Err) {
			t.Errorf("%s: batched %s %v, one by one %s %v", dirs[i], got[i].Outcome, got[i].Err, want[i].Outcome, want[i].Err)
		}
	}
	refused := map[string]string{}
	for _, r := range got {
		if r.Outcome == kit.Refused {
			refused[r.Dir] = r.Err.Error()
		}
	}
	for d, reason := range map[string]string{
		filepath.Join(dir, rs[40].ID): "do not match the declared sha256",
		filepath.Join(dir, rs[41].ID): "is missing from the folder",
		dupDir:                        "is also the id of the kit folder " + filepath.Join(dir, rs[150].ID),
	} {
		if !strings.Contains(refused[d], reason) {
			t.Errorf("%s: refused with %q, want %q", filepath.Base(d), refused[d], reason)
		}
	}
	policy, _ := node.NewPolicy()
	ctx := context.Background()
	stored := 0
	for _, r := range rs {
		_, bad := refused[filepath.Join(dir, r.ID)]
		if bad || policy.Check(r.License) != nil {
			if _, err := batched.Service.Get(ctx, r.ID); err == nil {
				t.Errorf("refused kit %s is in the catalog", r.ID)
			}
			continue
		}
		stored++
		res, err := batched.Service.Get(ctx, r.ID)
		if err != nil || len(res.Files) != len(r.Files) {
			t.Fatalf("kit %s: %v, %d files", r.ID, err, len(res.Files))
		}
		for _, f := range res.Files {
			if n, err := batched.Blobs.Stat(ctx, f.SHA256); err != nil || n != f.Size {
				t.Fatalf("kit %s file %s: blob %d bytes, %v", r.ID, f.Name, n, err)
			}
		}
	}
	if sum[kit.Imported] != stored || stored < 200 {
		t.Fatalf("%s, want %d imported", sum, stored)
	}
	// Nothing but the stored kits' blobs is left.
	blobs := 0
	batched.Blobs.Walk(ctx, func(node.Blob) error { blobs++; return nil })
	files := 0
	for cursor := ""; ; {
		page, next, _ := batched.Service.List(ctx, node.ListOptions{After: cursor, Limit: 100})
		for _, r := range page {
			files += len(r.Files)
		}
		if cursor = next; next == "" {
			break
		}
	}
	if blobs != files {
		t.Errorf("%d blobs stored for %d files: refused kits left bytes behind", blobs, files)
	}
	tmp, _ := os.ReadDir(filepath.Join(batched.Dir, "blobs", "tmp"))
	if len(tmp) != 0 {
		t.Errorf("%d temp files left", len(tmp))
	}

	// Again: nothing changes. Then one kit edited on disk is updated.
	again := importAllResults(t, batched.Service, dirs)
	for i, r := range again {
		if r.Outcome == kit.Imported || r.Outcome == kit.Updated {
			t.Fatalf("second run: %s %s", dirs[i], r.Outcome)
		}
	}
	var edited node.Resource
	for _, r := range rs[100:] {
		if got[slices.Index(dirs, filepath.Join(dir, r.ID))].Outcome == kit.Imported {
			edited = r
			break
		}
	}
	kitDir := filepath.Join(dir, edited.ID)
	meta, _ = os.ReadFile(filepath.Join(kitDir, "resource.json"))
	os.WriteFile(filepath.Join(kitDir, "resource.json"), []byte(strings.Replace(string(meta), edited.Title, "Titre revu", 1)), 0o644)
	again = importAllResults(t, batched.Service, dirs)
	for i, r := range again {
		want := kit.Unchanged
		switch {
		case dirs[i] == kitDir:
			want = kit.Updated
		case got[i].Outcome == kit.Refused:
			want = kit.Refused
		}
		if r.Outcome != want {
			t.Fatalf("third run: %s %s %v, want %s", dirs[i], r.Outcome, r.Err, want)
		}
	}
	if r, _ := batched.Service.Get(ctx, edited.ID); r.Title != "Titre revu" {
		t.Fatalf("updated kit: %q", r.Title)
	}
}

// TestImportAllCancelled: a cancelled import stops, reports no kit it did
// not commit, and leaves no temp file.
func TestImportAllCancelled(t *testing.T) {
	rs := corpus.Synthetic(corpus.MustLoad(t), 600, 9)
	dir := t.TempDir()
	if err := corpus.WriteKits(dir, rs, 1<<10); err != nil {
		t.Fatal(err)
	}
	dirs, _ := kit.Folders(dir)
	n := testnode.Start(t, testnode.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var reported []kit.Result
	err := kit.ImportAll(ctx, n.Service, dirs, func(r kit.Result) {
		reported = append(reported, r)
		if len(reported) == 150 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || len(reported) >= len(dirs) {
		t.Fatalf("cancelled import: %v after %d kits", err, len(reported))
	}
	for _, r := range reported {
		if _, err := n.Service.Get(context.Background(), r.ID); (err == nil) != (r.Outcome == kit.Imported) {
			t.Fatalf("%s reported %s, in the catalog: %v", r.ID, r.Outcome, err == nil)
		}
	}
	if c, _ := n.Catalog.Count(context.Background()); c > len(reported) {
		t.Fatalf("%d kits in the catalog, %d reported", c, len(reported))
	}
	tmp, _ := os.ReadDir(filepath.Join(n.Dir, "blobs", "tmp"))
	if len(tmp) != 0 {
		t.Fatalf("%d temp files left", len(tmp))
	}
}
