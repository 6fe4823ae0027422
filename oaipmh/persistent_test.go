package oaipmh

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFeedNeverPruned keeps Identify truthful: deletedRecord is
// "persistent" because nothing in the node prunes the catalog's change
// feed (storage/catalog.PruneChanges has no caller). The day a caller
// appears, deletions older than the pruned point vanish from /oai, and
// this test says to declare "transient".
func TestFeedNeverPruned(t *testing.T) {
	if deletedRecord != "persistent" {
		t.Skip("deletedRecord is no longer declared persistent")
	}
	root := filepath.Join("..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(src), ".PruneChanges(") {
			t.Errorf("%s prunes the change feed: deleted records are no longer kept forever; declare deletedRecord \"transient\" in oaipmh (and docs/API.md)", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
