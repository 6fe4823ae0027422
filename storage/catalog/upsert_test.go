package catalog

import (
	"errors"
	"testing"
	"time"

	"github.com/communs-numerique/communs/node"
)

func TestUpsertMany(t *testing.T) {
	s := openTemp(t)
	shared := file("a.pdf", "shared bytes")
	old := resource("r1", base, shared, file("old.pdf", "only r1 had these"))
	mustCreate(t, s, old)
	before, _ := s.LastSeq(ctx)

	replaced := resource("r1", base.Add(time.Hour), shared)
	fresh := resource("r2", base, shared)
	refused := resource("r3", base)
	orphans, errs, err := s.UpsertMany(ctx, []node.Resource{replaced, fresh, refused}, func(o, r *node.Resource) error {
		if r.ID == "r3" {
			return node.ErrForbidden
		}
		if o != nil {
			r.Created = o.Created
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], node.ErrForbidden) {
		t.Fatalf("per-item errors: %v", errs)
	}
	if len(orphans) != 1 || orphans[0] != digest("only r1 had these") {
		t.Fatalf("orphans = %v, want the digest only the old r1 used", orphans)
	}
	if n, _ := s.BlobRefs(ctx, shared.SHA256); n != 2 {
		t.Fatalf("shared blob refs = %d, want 2", n)
	}
	got, err := s.Get(ctx, "r1")
	if err != nil || !got.Created.Equal(base) || len(got.Files) != 1 {
		t.Fatalf("r1 after upsert: %+v %v", got, err)
	}
	if _, err := s.Get(ctx, "r3"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("a refused item must not be stored: %v", err)
	}
	if n, _ := s.Count(ctx); n != 2 {
		t.Fatalf("count = %d, want 2", n)
	}
	rs, _, _ := s.List(ctx, node.ListOptions{Limit: 10})
	if len(rs) != 2 {
		t.Fatalf("listing after upsert holds %d resources (a stale created-index entry?)", len(rs))
	}
	after, _ := s.LastSeq(ctx)
	if after-before != 2 {
		t.Fatalf("change feed grew by %d, want one change per stored item", after-before)
	}
}
