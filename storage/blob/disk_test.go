package blob_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/blob"
	"github.com/communs-numerique/communs/storage/blob/blobtest"
)

func newDisk(t testing.TB) (*blob.Disk, string) {
	t.Helper()
	dir := t.TempDir()
	d, err := blob.NewDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d, dir
}

func TestDiskContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) node.Blobs {
		d, dir := newDisk(t)
		// Whatever the contract does, no temp file may outlive a Put.
		t.Cleanup(func() { assertNoTemp(t, dir) })
		return d
	})
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("temp file left behind: %s", e.Name())
	}
}

func TestDiskLayout(t *testing.T) {
	d, dir := newDisk(t)
	data := []byte("fan-out")
	sha := blobtest.Digest(data)
	if _, err := d.Put(t.Context(), bytes.NewReader(data), ""); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, sha[:2], sha[2:4], sha))
	if err != nil {
		t.Fatalf("blob not at dir/ab/cd/<sha>: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("file holds %q", got)
	}
}

func TestDiskWalkSkipsStrays(t *testing.T) {
	d, dir := newDisk(t)
	stored, err := d.Put(t.Context(), strings.NewReader("real"), "")
	if err != nil {
		t.Fatal(err)
	}
	// Digest-named files outside their fan-out place are not blobs Open could
	// serve, so Walk must not report them either.
	stray := blobtest.Digest([]byte("stray"))
	for _, p := range []string{
		filepath.Join(dir, "tmp", stray),
		filepath.Join(dir, stray),
		filepath.Join(dir, "00", "00", stray),
		filepath.Join(dir, stored.SHA256[:2], stored.SHA256[2:4], "notes.txt"),
	} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("stray"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := d.Walk(t.Context(), func(b node.Blob) error { got = append(got, b.SHA256); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != stored.SHA256 {
		t.Fatalf("Walk = %v, want only %s", got, stored.SHA256)
	}
}

func TestDiskCleansStaleTemp(t *testing.T) {
	dir := t.TempDir()
	if _, err := blob.NewDisk(dir); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "tmp", "put-stale")
	fresh := filepath.Join(dir, "tmp", "put-fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := blob.NewDisk(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temp file survived NewDisk: %v", err)
	}
	// A fresh one may belong to a Put still running in another process.
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temp file removed: %v", err)
	}
}

func TestNewDiskErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"", file} {
		if _, err := blob.NewDisk(dir); err == nil {
			t.Errorf("NewDisk(%q) succeeded", dir)
		}
	}
}

func TestDiskPutMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 320 MiB")
	}
	d, _ := newDisk(t)
	checkFlatMemory(t, d, 8<<20)
}

func BenchmarkDiskPut(b *testing.B) {
	d, _ := newDisk(b)
	benchPut(b, d, false)
}

func BenchmarkDiskGet(b *testing.B) {
	d, _ := newDisk(b)
	benchGet(b, d)
}

// TestDiskPutRepairsDamagedBlob: a stored file of the wrong size (truncated
// behind the store's back) is replaced by the next Put of the same bytes,
// which is what lets `storage migrate` or a re-upload repair it.
func TestDiskPutRepairsDamagedBlob(t *testing.T) {
	d, dir := newDisk(t)
	data := bytes.Repeat([]byte("kit "), 1000)
	sha := blobtest.Digest(data)
	if _, err := d.Put(t.Context(), bytes.NewReader(data), ""); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, sha[:2], sha[2:4], sha)
	if err := os.WriteFile(path, data[:10], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Put(t.Context(), bytes.NewReader(data), sha); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
		t.Fatalf("damaged blob not repaired: %d bytes", len(got))
	}
}
