package node_test

import (
	"path/filepath"
	"testing"

	"github.com/communs-numerique/communs/storage/blob"
	"github.com/communs-numerique/communs/storage/catalog"
)

// testStores opens the real stores a node runs on, a bbolt catalog and a
// disk blob store, in a temporary folder closed with the test.
func testStores(t testing.TB) (*catalog.Store, *blob.Disk) {
	t.Helper()
	dir := t.TempDir()
	cat, err := catalog.Open(filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	disk, err := blob.NewDisk(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return cat, disk
}
