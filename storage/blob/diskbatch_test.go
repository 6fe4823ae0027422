package blob_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/node"
)

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestDiskBatch: staged blobs are invisible until Commit, then stored with
// their bytes; a discarded or mismatched blob is never stored; Abort and
// Commit leave no temp file.
func TestDiskBatch(t *testing.T) {
	ctx := context.Background()
	d, dir := newDisk(t)
	// One blob already stored: committing the same bytes again is harmless.
	if _, err := d.Put(ctx, strings.NewReader("déjà là"), ""); err != nil {
		t.Fatal(err)
	}
	var b node.BlobBatch
	b, err := d.NewBatch()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"un", "deux", "déjà là", "deux", "refusé"} {
		if _, err := b.Put(ctx, strings.NewReader(s), ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Put(ctx, strings.NewReader("trois"), digest("autre chose")); !errors.Is(err, node.ErrDigestMismatch) {
		t.Fatalf("mismatch: %v", err)
	}
	b.Discard(digest("refusé"))
	for _, s := range []string{"un", "deux"} {
		if _, err := d.Stat(ctx, digest(s)); !errors.Is(err, node.ErrNotFound) {
			t.Fatalf("%q visible before Commit: %v", s, err)
		}
	}
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"un", "deux", "déjà là"} {
		r, err := d.Open(ctx, digest(s))
		if err != nil {
			t.Fatalf("%q after Commit: %v", s, err)
		}
		got, _ := io.ReadAll(r)
		r.Close()
		if string(got) != s {
			t.Fatalf("%q stored as %q", s, got)
		}
	}
	for _, s := range []string{"refusé", "trois"} {
		if _, err := d.Stat(ctx, digest(s)); !errors.Is(err, node.ErrNotFound) {
			t.Fatalf("%q stored: %v", s, err)
		}
	}
	if _, err := b.Put(ctx, strings.NewReader("après"), ""); err == nil {
		t.Fatal("Put after Commit accepted")
	}
	assertNoTemp(t, dir)

	b, _ = d.NewBatch()
	b.Put(ctx, strings.NewReader("abandonné"), "")
	b.Abort()
	if _, err := d.Stat(ctx, digest("abandonné")); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("aborted blob stored: %v", err)
	}
	assertNoTemp(t, dir)
}
