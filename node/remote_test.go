package node_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/communs-numerique/communs/node"
)

func remoteService(t *testing.T) *node.Service {
	t.Helper()
	cat, disk := testStores(t)
	svc, err := node.New(node.Config{Catalog: cat, Accounts: cat, Blobs: disk, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

const origin = "https://hub-a.example/r/fiche-box"

func ghostResource() node.Resource {
	return node.Resource{ID: node.RemoteID(origin, "fiche-box"), Origin: origin, Metadata: node.Metadata{Title: "Fiche box", Kind: "practical-sheet", License: "CC0-1.0"}}
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestSaveRemoteLinksWhenTheOriginIsDown: a file that cannot be fetched for
// mirroring does not lose the resource: it is stored with the file linked
// to its origin.
func TestSaveRemoteLinksWhenTheOriginIsDown(t *testing.T) {
	svc := remoteService(t)
	down := node.Mirror{Fetch: func(context.Context, string) (io.ReadCloser, error) {
		return nil, errors.New("dial tcp: connection refused")
	}}
	files := []node.RemoteFile{{Name: "fiche.pdf", Size: 5, SHA256: digestOf([]byte("%PDF-")), URL: origin + "/files/fiche.pdf"}}
	r, err := svc.SaveRemote(context.Background(), ghostResource(), files, down)
	if err != nil {
		t.Fatalf("origin down while mirroring: %v", err)
	}
	if len(r.Files) != 1 || r.Files[0].SHA256 != "" || r.Files[0].RemoteURL != files[0].URL {
		t.Fatalf("the file should be linked to its origin: %+v", r.Files)
	}
}

// TestSaveRemoteDoesNotResurrect: a resource deleted while a save of an
// older copy was being prepared (a Delete applied during a backfill) stays
// deleted.
func TestSaveRemoteDoesNotResurrect(t *testing.T) {
	svc := remoteService(t)
	ctx := context.Background()
	data := []byte("%PDF-1.7 la fiche")
	files := []node.RemoteFile{{Name: "fiche.pdf", Size: int64(len(data)), SHA256: digestOf(data), URL: origin + "/files/fiche.pdf"}}
	fetch := node.Mirror{Fetch: func(context.Context, string) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
	if _, err := svc.SaveRemote(ctx, ghostResource(), files, fetch); err != nil {
		t.Fatal(err)
	}
	files2 := append(files, node.RemoteFile{Name: "annexe.pdf", Size: int64(len(data)) + 1, SHA256: digestOf(append(data, '!')), URL: origin + "/files/annexe.pdf"})
	deleting := node.Mirror{Fetch: func(ctx context.Context, url string) (io.ReadCloser, error) {
		// The Delete lands while the new file is being fetched.
		if err := svc.DeleteRemote(ctx, ghostResource().ID, origin); err != nil {
			t.Error(err)
		}
		return io.NopCloser(bytes.NewReader(append(data, '!'))), nil
	}}
	_, err := svc.SaveRemote(ctx, ghostResource(), files2, deleting)
	if !errors.Is(err, node.ErrConflict) {
		t.Fatalf("saving over a resource deleted meanwhile: %v, want a conflict", err)
	}
	if _, err := svc.Get(ctx, ghostResource().ID); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("the deleted resource came back: %v", err)
	}
}

// TestSaveRemoteKeepsTheNewerCopy: a copy older than the stored one (a
// delayed delivery, a backfill page read before an update) does not
// overwrite it.
func TestSaveRemoteKeepsTheNewerCopy(t *testing.T) {
	svc := remoteService(t)
	ctx := context.Background()
	newer := ghostResource()
	newer.Title, newer.Updated = "Fiche box, version 2", time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	if _, err := svc.SaveRemote(ctx, newer, nil, node.Mirror{}); err != nil {
		t.Fatal(err)
	}
	older := ghostResource()
	older.Title, older.Updated = "Fiche box, version 1", newer.Updated.Add(-time.Hour)
	if _, err := svc.SaveRemote(ctx, older, nil, node.Mirror{}); !errors.Is(err, node.ErrConflict) {
		t.Fatalf("an older copy: %v, want a conflict", err)
	}
	got, _ := svc.Get(ctx, newer.ID)
	if got.Title != newer.Title {
		t.Fatalf("stored %q, want the newer copy", got.Title)
	}
	if _, err := svc.SaveRemote(ctx, newer, nil, node.Mirror{}); err != nil {
		t.Fatalf("the same copy again must be accepted (replays are harmless): %v", err)
	}
}
