package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/communs-numerique/communs/node"
)

// scanned counts the resources the slow way, decoding every record.
func scanned(t testing.TB, s *Store) (total, local int) {
	t.Helper()
	err := s.DB().View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketResources).ForEach(func(k, v []byte) error {
			var r node.Resource
			total++
			if json.Unmarshal(v, &r) == nil && r.Local() {
				local++
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return total, local
}

func checkCounts(t testing.TB, s *Store, step string, total, local int) {
	t.Helper()
	n, err := s.Count(ctx)
	if err != nil {
		t.Fatalf("%s: count: %v", step, err)
	}
	l, err := s.CountLocal(ctx)
	if err != nil {
		t.Fatalf("%s: count local: %v", step, err)
	}
	st, sl := scanned(t, s)
	if n != total || l != local || st != total || sl != local {
		t.Fatalf("%s: Count=%d CountLocal=%d scan=%d/%d, want %d/%d", step, n, l, st, sl, total, local)
	}
}

func copyOf(id string) node.Resource {
	r := resource(id, base)
	r.Origin = "https://autre.example/objets/" + id
	return r
}

func reopen(t *testing.T, s *Store) *Store {
	t.Helper()
	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	return s2
}

// TestCountsFollowEveryWrite: each kind of write moves the counts as a user
// counting the catalog would expect, and they survive a reopen.
func TestCountsFollowEveryWrite(t *testing.T) {
	s := openTemp(t)
	keep := func(old, r *node.Resource) error { return nil }
	steps := []struct {
		name         string
		do           func() error
		total, local int
	}{
		{"empty", func() error { return nil }, 0, 0},
		{"create local", func() error { return s.Create(ctx, resource("a", base)) }, 1, 1},
		{"create copy", func() error { return s.Create(ctx, copyOf("b")) }, 2, 1},
		{"create existing id refused", func() error {
			if err := s.Create(ctx, resource("a", base)); !errors.Is(err, node.ErrConflict) {
				return fmt.Errorf("want a conflict, got %v", err)
			}
			return nil
		}, 2, 1},
		{"update title", func() error {
			_, _, err := s.Update(ctx, "a", func(r *node.Resource) error { r.Title = "Autre"; return nil })
			return err
		}, 2, 1},
		{"update copy adopted as local", func() error {
			_, _, err := s.Update(ctx, "b", func(r *node.Resource) error { r.Origin = ""; return nil })
			return err
		}, 2, 2},
		{"update refused by fn", func() error {
			_, _, err := s.Update(ctx, "a", func(r *node.Resource) error { r.Origin = "x"; return node.ErrForbidden })
			if !errors.Is(err, node.ErrForbidden) {
				return fmt.Errorf("want forbidden, got %v", err)
			}
			return nil
		}, 2, 2},
		{"upsert replaces two, adds one copy", func() error {
			_, _, err := s.UpsertMany(ctx, []node.Resource{copyOf("a"), copyOf("b"), copyOf("c")}, keep)
			return err
		}, 3, 0},
		{"upsert same id twice in a batch", func() error {
			_, _, err := s.UpsertMany(ctx, []node.Resource{copyOf("d"), resource("d", base)}, keep)
			return err
		}, 4, 1},
		{"upsert all refused", func() error {
			_, _, err := s.UpsertMany(ctx, []node.Resource{copyOf("e"), {}}, func(old, r *node.Resource) error { return node.ErrForbidden })
			return err
		}, 4, 1},
		{"delete copy", func() error { _, _, err := s.Delete(ctx, "c"); return err }, 3, 1},
		{"delete local", func() error { _, _, err := s.Delete(ctx, "d"); return err }, 2, 0},
		{"delete missing", func() error {
			if _, _, err := s.Delete(ctx, "d"); !errors.Is(err, node.ErrNotFound) {
				return fmt.Errorf("want not found, got %v", err)
			}
			return nil
		}, 2, 0},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		checkCounts(t, s, st.name, st.total, st.local)
	}
	s = reopen(t, s)
	checkCounts(t, s, "after reopen", 2, 0)
}

// TestCountsMatchScanAfterRandomWrites: whatever the sequence of writes,
// the kept counts equal a full scan, before and after a reopen.
func TestCountsMatchScanAfterRandomWrites(t *testing.T) {
	s := openTemp(t)
	rng := rand.New(rand.NewPCG(14, 1))
	id := func() string { return fmt.Sprintf("r%02d", rng.IntN(40)) }
	maybeCopy := func(id string) node.Resource {
		if rng.IntN(2) == 0 {
			return copyOf(id)
		}
		return resource(id, base.Add(time.Duration(rng.IntN(100))*time.Minute))
	}
	for i := range 400 {
		switch rng.IntN(4) {
		case 0:
			err := s.Create(ctx, maybeCopy(id()))
			if err != nil && !errors.Is(err, node.ErrConflict) {
				t.Fatal(err)
			}
		case 1:
			_, _, err := s.Update(ctx, id(), func(r *node.Resource) error {
				r.Origin = maybeCopy(r.ID).Origin
				return nil
			})
			if err != nil && !errors.Is(err, node.ErrNotFound) {
				t.Fatal(err)
			}
		case 2:
			batch := make([]node.Resource, rng.IntN(6))
			for j := range batch {
				batch[j] = maybeCopy(id())
			}
			_, _, err := s.UpsertMany(ctx, batch, func(old, r *node.Resource) error {
				if rng.IntN(5) == 0 {
					return node.ErrForbidden
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		case 3:
			_, _, err := s.Delete(ctx, id())
			if err != nil && !errors.Is(err, node.ErrNotFound) {
				t.Fatal(err)
			}
		}
		if i%50 == 0 {
			total, local := scanned(t, s)
			checkCounts(t, s, fmt.Sprintf("after %d writes", i+1), total, local)
		}
	}
	total, local := scanned(t, s)
	if total == 0 || local == 0 || local == total {
		t.Fatalf("the sequence should leave both locals and copies: %d/%d", local, total)
	}
	checkCounts(t, s, "end", total, local)
	s = reopen(t, s)
	checkCounts(t, s, "after reopen", total, local)
}

// TestCountsOfAnOlderDataFolder: a catalog written before the counts
// existed, or written since by an older communs (which does not update
// them), is counted right when opened.
func TestCountsOfAnOlderDataFolder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		older func(tx *bbolt.Tx) error
	}{
		{"no counts key", func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyCounts) }},
		{"a write the counts missed", func(tx *bbolt.Tx) error {
			// What an older communs does: a resource and its change,
			// counts untouched.
			r := copyOf("older")
			if err := putResource(tx, &r); err != nil {
				return err
			}
			return appendChange(tx, r.ID, false)
		}},
		{"a record that does not decode", func(tx *bbolt.Tx) error {
			if err := tx.Bucket(bucketResources).Put([]byte("abime"), []byte("{")); err != nil {
				return err
			}
			return appendChange(tx, "abime", false)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "catalog.db")
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			mustCreate(t, s, resource("a", base), resource("b", base), copyOf("c"))
			if err := s.DB().Update(tc.older); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s, err = Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			total, local := scanned(t, s)
			if total < 3 || local != 2 {
				t.Fatalf("setup: scan %d/%d", total, local)
			}
			checkCounts(t, s, "reopened", total, local)
			mustCreate(t, s, copyOf("d"))
			checkCounts(t, s, "one more", total+1, local)
		})
	}
}

// BenchmarkCount counts a catalog of 100,000 resources (what /readyz, the
// hub page, the outbox and NodeInfo ask).
func BenchmarkCount(b *testing.B) {
	s := openTemp(b)
	s.DB().NoSync = true
	const total, batch = 100_000, 1000
	for i := 0; i < total; i += batch {
		rs := make([]node.Resource, batch)
		for j := range rs {
			rs[j] = realistic(i + j)
		}
		if _, _, err := s.UpsertMany(ctx, rs, func(old, r *node.Resource) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if n, err := s.Count(ctx); err != nil || n != total {
			b.Fatalf("count = %d, %v", n, err)
		}
	}
}
