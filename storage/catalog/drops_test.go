package catalog

import (
	"errors"
	"testing"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/node"
)

// TestDrops: a dropped copy is remembered by origin until undropped.
func TestDrops(t *testing.T) {
	s := openTemp(t)
	const origin = "https://sud.example/r/fiche"
	if err := s.Drop(ctx, state.Dropped{}); !errors.Is(err, node.ErrInvalid) {
		t.Fatalf("drop without origin: %v", err)
	}
	if err := s.Drop(ctx, state.Dropped{Origin: origin, ID: "fiche-abc", Title: "Fiche", At: base}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.IsDropped(ctx, origin); err != nil || !ok {
		t.Fatalf("IsDropped = %v, %v", ok, err)
	}
	if ok, _ := s.IsDropped(ctx, origin+"-autre"); ok {
		t.Fatal("another origin reported dropped")
	}
	ds, err := s.Drops(ctx)
	if err != nil || len(ds) != 1 || ds[0].ID != "fiche-abc" || !ds[0].At.Equal(base) {
		t.Fatalf("Drops = %+v, %v", ds, err)
	}
	if found, err := s.Undrop(ctx, origin); err != nil || !found {
		t.Fatalf("Undrop = %v, %v", found, err)
	}
	if found, _ := s.Undrop(ctx, origin); found {
		t.Fatal("second undrop found it again")
	}
	if ok, _ := s.IsDropped(ctx, origin); ok {
		t.Fatal("still dropped after undrop")
	}
}
