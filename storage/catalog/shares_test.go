package catalog

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/node"
)

// TestShares: shares and shared copies are kept by the origin's object
// id, survive a reopen, and an unknown one is ErrNotFound.
func TestShares(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	s := openAt(t, path)
	obj := "https://hub-a.example/r/fiche"
	if _, err := s.GetShare(ctx, obj); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("unknown share: %v, want ErrNotFound", err)
	}
	if err := s.PutShare(ctx, state.Share{}); !errors.Is(err, node.ErrInvalid) {
		t.Fatalf("share without object: %v, want ErrInvalid", err)
	}
	at := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	if err := s.PutShare(ctx, state.Share{Object: obj, ID: "fiche-x", Activity: "https://b.example/activities/announce/1", At: at}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSharedCopy(ctx, state.SharedCopy{Object: obj, ID: "fiche-x", Sharers: []string{"https://b.example/actor"}, Fetched: at}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openAt(t, path)
	if sh, err := s.GetShare(ctx, obj); err != nil || sh.Activity != "https://b.example/activities/announce/1" || !sh.At.Equal(at) {
		t.Fatalf("share after reopen: %+v %v", sh, err)
	}
	if cs, err := s.SharedCopies(ctx); err != nil || len(cs) != 1 || cs[0].Sharers[0] != "https://b.example/actor" {
		t.Fatalf("shared copies: %+v %v", cs, err)
	}
	if err := s.DeleteShare(ctx, obj); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSharedCopy(ctx, obj); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSharedCopy(ctx, obj); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("deleted shared copy: %v", err)
	}
	if cs, _ := s.SharedCopies(ctx); len(cs) != 0 {
		t.Fatalf("%d shared copies after delete", len(cs))
	}
}

func openAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
