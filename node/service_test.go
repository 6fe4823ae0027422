package node_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/node"
)

// hookedBlobs is a real disk blob store whose Delete first runs a hook, once:
// the test uses it to start a competing write at the worst instant, after
// the service decided a blob is unreferenced and before it removes it.
type hookedBlobs struct {
	node.Blobs
	mu           sync.Mutex
	beforeDelete func(sha256 string)
}

func (h *hookedBlobs) Delete(ctx context.Context, sha256 string) error {
	h.mu.Lock()
	hook := h.beforeDelete
	h.beforeDelete = nil
	h.mu.Unlock()
	if hook != nil {
		hook(sha256)
	}
	return h.Blobs.Delete(ctx, sha256)
}

// waitingOnDigestLock reports whether some goroutine is blocked on a mutex
// inside Service.withDigests, the only observable sign that an upload is
// held back by the per-digest lock.
func waitingOnDigestLock() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "withDigests") && strings.Contains(g, "sync.(*Mutex).Lock") {
			return true
		}
	}
	return false
}

// TestDeleteRacingUploadOfSameBytes: resource "ancien" is deleted, so its
// blob is no longer referenced and is removed; at that very moment an editor
// uploads the same bytes to resource "nouveau" (ARCHITECTURE.md, "A write,
// step by step", point 4). Whatever the interleaving, no resource may end up
// pointing at a missing blob: the upload either waits for the delete and is
// refused as a conflict (then succeeds when sent again), or lands after and
// keeps the blob. Without the per-digest lock the upload commits between the
// reference check and the delete, and "nouveau" points at nothing.
func TestDeleteRacingUploadOfSameBytes(t *testing.T) {
	ctx := context.Background()
	cat, disk := testStores(t)
	blobs := &hookedBlobs{Blobs: disk}
	svc, err := node.New(node.Config{Catalog: cat, Blobs: blobs, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}

	content := []byte("%PDF-1.7\n" + strings.Repeat("fiche partagée\n", 200))
	upload := func(id string) error {
		_, err := svc.PutFile(ctx, id, node.Upload{Name: "fiche.pdf", MediaType: "application/pdf", Size: int64(len(content)), Body: bytes.NewReader(content)})
		return err
	}
	base := corpus.Open(corpus.MustLoad(t))[0]
	for _, id := range []string{"ancien", "nouveau"} {
		r := base
		r.ID, r.Files, r.License = id, nil, "CC-BY-4.0"
		if _, err := svc.Create(ctx, r); err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
	}
	if err := upload("ancien"); err != nil {
		t.Fatal(err)
	}

	// When the service is about to delete the blob "ancien" no longer
	// uses, the upload to "nouveau" starts; the delete goes on only once
	// the upload has either committed or is held by the digest lock.
	uploaded := make(chan error, 1)
	blobs.beforeDelete = func(string) {
		go func() { uploaded <- upload("nouveau") }()
		deadline := time.Now().Add(20 * time.Second)
		for !waitingOnDigestLock() {
			if len(uploaded) > 0 {
				return // committed before the delete: the lock is missing
			}
			if time.Now().After(deadline) {
				t.Error("the upload neither committed nor waited on the digest lock within 20 s")
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	if err := svc.Delete(ctx, "ancien"); err != nil {
		t.Fatal(err)
	}
	switch err := <-uploaded; {
	case errors.Is(err, node.ErrConflict):
		// Held by the lock, then found its blob gone: the client is told
		// to send again, and that upload stores the bytes anew.
		if err := upload("nouveau"); err != nil {
			t.Fatalf("upload sent again after the conflict: %v", err)
		}
	case err != nil:
		t.Fatalf("upload racing the delete: %v", err)
	}

	_, f, br, err := svc.OpenFile(ctx, "nouveau", "fiche.pdf")
	if err != nil {
		t.Fatalf("resource %q points at blob %s, which is missing: %v", "nouveau", f.SHA256, err)
	}
	br.Close()
	if _, err := blobs.Stat(ctx, f.SHA256); err != nil {
		t.Fatalf("blob %s of %q: %v", f.SHA256, "nouveau", err)
	}
}
