package node_test

import (
	"bytes"
	"context"
	"hash/crc32"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/blob"
	"github.com/communs-numerique/communs/storage/catalog"
)

// countingBlobs counts Open calls.
type countingBlobs struct {
	node.Blobs
	opens atomic.Int32
}

func (c *countingBlobs) Open(ctx context.Context, d string) (node.BlobReader, error) {
	c.opens.Add(1)
	return c.Blobs.Open(ctx, d)
}

// TestBlobCRC32: an upload records its file's CRC-32 in the catalog (no
// read of the blob afterwards); a blob stored without one (before CRCs
// were recorded) is read once, by one of several concurrent callers, and
// its CRC recorded for the next ones and, once flushed, for the next start.
func TestBlobCRC32(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "catalog.db")
	cat, err := catalog.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cat.Close() }()
	disk, err := blob.NewDisk(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	blobs := &countingBlobs{Blobs: disk}
	svc, err := node.New(node.Config{Catalog: cat, Blobs: blobs, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	r := corpus.Open(corpus.MustLoad(t))[0]
	r.ID, r.Files, r.License = "fiche", nil, "CC-BY-4.0"
	if _, err := svc.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	uploaded := []byte(strings.Repeat("fiche partagée\n", 5000))
	f, err := svc.PutFile(ctx, "fiche", node.Upload{Name: "fiche.pdf", Size: -1, Body: bytes.NewReader(uploaded)})
	if err != nil {
		t.Fatal(err)
	}
	if crc, err := svc.BlobCRC32(ctx, f.SHA256); err != nil || crc != crc32.ChecksumIEEE(uploaded) || blobs.opens.Load() != 0 {
		t.Fatalf("uploaded file: crc %08x, %v, %d blob reads; want %08x and no read", crc, err, blobs.opens.Load(), crc32.ChecksumIEEE(uploaded))
	}

	older := []byte("stored before CRCs were recorded")
	b, err := disk.Put(ctx, bytes.NewReader(older), "")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			crc, err := svc.BlobCRC32(ctx, b.SHA256)
			if err == nil && crc != crc32.ChecksumIEEE(older) {
				err = io.ErrUnexpectedEOF
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("older blob: %v", err)
		}
	}
	if got := blobs.opens.Load(); got != 1 {
		t.Errorf("older blob read %d times, want once", got)
	}
	svc.FlushChecksums() // as the node does before closing the catalog
	cat.Close()
	if cat, err = catalog.Open(path); err != nil {
		t.Fatal(err)
	}
	for d, want := range map[string][]byte{f.SHA256: uploaded, b.SHA256: older} {
		if crc, ok, err := cat.BlobCRC32(ctx, d); !ok || err != nil || crc != crc32.ChecksumIEEE(want) {
			t.Errorf("after a restart: %08x %v %v, want %08x", crc, ok, err, crc32.ChecksumIEEE(want))
		}
	}
}
