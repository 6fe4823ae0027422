package kit_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/internal/kit"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// quickCap keeps the corpus import fast: files above it are written at this
// size (the 586 MB of videos are exercised by the benchmarks instead).
const quickCap = 32 << 10

func importAll(t *testing.T, b kit.Backend, dir string) (kit.Summary, map[string]error) {
	t.Helper()
	dirs, err := kit.Folders(dir)
	if err != nil {
		t.Fatal(err)
	}
	sum := kit.Summary{}
	refused := map[string]error{}
	for _, d := range dirs {
		r := kit.Import(context.Background(), b, d)
		sum[r.Outcome]++
		if r.Outcome == kit.Refused {
			refused[r.ID] = r.Err
		}
	}
	return sum, refused
}

func TestImportCorpusDefaultPolicy(t *testing.T) {
	rs := corpus.MustLoad(t)
	dir := t.TempDir()
	if err := corpus.WriteKits(dir, rs, quickCap); err != nil {
		t.Fatal(err)
	}
	n := testnode.Start(t, testnode.Options{})
	sum, refused := importAll(t, n.Service, dir)
	if sum[kit.Imported] != 110 || sum[kit.Refused] != 10 {
		t.Fatalf("default policy: %s, want 110 imported, 10 refused", sum)
	}
	nc, proprietary := 0, 0
	for _, r := range rs {
		err, ok := refused[r.ID]
		switch r.License {
		case "CC-BY-NC-SA-4.0":
			nc++
			if !ok || !strings.Contains(err.Error(), "--allow-license CC-BY-NC-SA-4.0") {
				t.Errorf("%s (NC) refusal should name the option that widens the policy: %v", r.ID, err)
			}
		case "LicenseRef-proprietary":
			proprietary++
			if !ok || !strings.Contains(err.Error(), "LicenseRef-proprietary") || !strings.Contains(err.Error(), "only openly licensed resources can be shared") {
				t.Errorf("%s (proprietary) refusal should name the licence and the rule: %v", r.ID, err)
			}
		default:
			if ok {
				t.Errorf("%s (%s) refused: %v", r.ID, r.License, err)
			}
		}
	}
	if nc != 8 || proprietary != 2 {
		t.Fatalf("corpus changed: %d NC, %d proprietary", nc, proprietary)
	}

	// The stored files are the kit's bytes, with the declared media types;
	// the hub is this node's, whatever the kit says.
	r, err := n.Service.Get(context.Background(), rs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Files) != len(rs[0].Files) || r.Files[0].MediaType != rs[0].Files[0].MediaType || r.Hub != n.Service.Hub() {
		t.Fatalf("imported %+v from %+v", r, rs[0])
	}

	// Running it again duplicates nothing and changes nothing.
	sum, _ = importAll(t, n.Service, dir)
	if sum[kit.Unchanged] != 110 || sum[kit.Refused] != 10 || sum[kit.Imported] != 0 {
		t.Fatalf("second run: %s, want 110 unchanged", sum)
	}
	if c, _ := n.Catalog.Count(context.Background()); c != 110 {
		t.Fatalf("catalog holds %d resources after two imports, want 110", c)
	}

	// A kit edited on disk is updated in place.
	kitDir := filepath.Join(dir, rs[0].ID)
	meta, _ := os.ReadFile(filepath.Join(kitDir, "resource.json"))
	os.WriteFile(filepath.Join(kitDir, "resource.json"), []byte(strings.Replace(string(meta), rs[0].Title, "Titre revu", 1)), 0o644)
	if res := kit.Import(context.Background(), n.Service, kitDir); res.Outcome != kit.Updated {
		t.Fatalf("edited kit: %s %v", res.Outcome, res.Err)
	}
	if r, _ := n.Service.Get(context.Background(), rs[0].ID); r.Title != "Titre revu" || len(r.Files) != len(rs[0].Files) {
		t.Fatalf("updated kit: %q with %d files", r.Title, len(r.Files))
	}
}

func TestImportCorpusWidenedPolicy(t *testing.T) {
	rs := corpus.MustLoad(t)
	dir := t.TempDir()
	if err := corpus.WriteKits(dir, rs, 4<<10); err != nil {
		t.Fatal(err)
	}
	n := testnode.Start(t, testnode.Options{Allow: []string{"CC-BY-NC-SA-4.0"}})
	sum, refused := importAll(t, n.Service, dir)
	if sum[kit.Imported] != 118 || sum[kit.Refused] != 2 {
		t.Fatalf("with CC-BY-NC-SA-4.0 allowed: %s, want 118 imported, 2 refused (%v)", sum, refused)
	}
}

func TestBadKits(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	good := `{"id":"k","title":"T","summary":"","description":"","kind":"tutorial","themes":[],"audience":[],"level":"debutant","license":"CC0-1.0","language":"fr","authors":[],"hub":"hubik","published":"2024-01-01","files":[{"name":"a.pdf","media_type":"application/pdf","size":3}]}`
	tests := []struct {
		name, meta string
		files      map[string]string
		want       string
	}{
		{"no resource.json", "", map[string]string{"a.pdf": "abc"}, "no resource.json"},
		{"broken json", `{"id":`, map[string]string{"a.pdf": "abc"}, "not valid"},
		{"unknown field", strings.Replace(good, `"id"`, `"identifiant":"x","id"`, 1), map[string]string{"a.pdf": "abc"}, "identifiant"},
		{"missing file", good, nil, `"a.pdf" listed in resource.json is missing`},
		{"wrong size", good, map[string]string{"a.pdf": "abcd"}, "4 bytes but resource.json says 3"},
		{"wrong digest", strings.Replace(good, `"size":3`, `"size":3,"sha256":"`+strings.Repeat("a", 64)+`"`, 1), map[string]string{"a.pdf": "abc"}, "do not match the declared sha256"},
		{"path in name", strings.Replace(good, `"a.pdf"`, `"../a.pdf"`, 1), map[string]string{"a.pdf": "abc"}, "must not"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := filepath.Join(t.TempDir(), "k")
			os.MkdirAll(d, 0o755)
			if tc.meta != "" {
				os.WriteFile(filepath.Join(d, "resource.json"), []byte(tc.meta), 0o644)
			}
			for name, body := range tc.files {
				os.WriteFile(filepath.Join(d, name), []byte(body), 0o644)
			}
			for _, imp := range importers {
				res := imp.fn(context.Background(), n.Service, d)
				if res.Outcome != kit.Refused || res.Err == nil || !strings.Contains(res.Err.Error(), tc.want) {
					t.Fatalf("%s: got %s %v, want refused with %q", imp.name, res.Outcome, res.Err, tc.want)
				}
				if _, err := n.Service.Get(context.Background(), "k"); err == nil {
					t.Fatalf("%s: refused kit is visible", imp.name)
				}
			}
		})
	}
	var blobs int
	n.Blobs.Walk(context.Background(), func(node.Blob) error { blobs++; return nil })
	if blobs != 0 {
		t.Fatalf("refused kits left %d blobs", blobs)
	}
}
