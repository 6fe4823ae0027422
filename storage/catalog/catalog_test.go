package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/communs-numerique/communs/node"
)

var ctx = context.Background()

// base is a fixed instant so tests compare exact times after the JSON round
// trip (which keeps UTC and drops the monotonic clock).
var base = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func file(name, content string) node.File {
	return node.File{Name: name, MediaType: "application/pdf", Size: int64(len(content)),
		SHA256: digest(content), Added: base}
}

func resource(id string, created time.Time, files ...node.File) node.Resource {
	return node.Resource{
		ID: id, Metadata: node.Metadata{Title: "Titre " + id, Summary: "Résumé", Kind: "guide",
			Themes: []string{"inclusion"}, License: "CC-BY-4.0", Language: "fr",
			Authors: []string{"Camille"}, Hub: "hub-nord", Published: "2025-01-02"},
		Created: created, Updated: created, Files: files,
	}
}

func mustCreate(t testing.TB, s *Store, rs ...node.Resource) {
	t.Helper()
	for _, r := range rs {
		if err := s.Create(ctx, r); err != nil {
			t.Fatalf("create %s: %v", r.ID, err)
		}
	}
}

func refs(t *testing.T, s *Store, sha string) int {
	t.Helper()
	n, err := s.BlobRefs(ctx, sha)
	if err != nil {
		t.Fatalf("blob refs: %v", err)
	}
	return n
}

func lastSeq(t *testing.T, s *Store) uint64 {
	t.Helper()
	n, err := s.LastSeq(ctx)
	if err != nil {
		t.Fatalf("last seq: %v", err)
	}
	return n
}

func ids(rs []node.Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// listAll follows the cursor to the end and checks that only the last page
// has an empty cursor.
func listAll(t *testing.T, s *Store, opt node.ListOptions) (all []string, pages int) {
	t.Helper()
	for {
		rs, next, err := s.List(ctx, opt)
		if err != nil {
			t.Fatalf("list %+v: %v", opt, err)
		}
		pages++
		all = append(all, ids(rs)...)
		if next == "" {
			return all, pages
		}
		if len(rs) == 0 {
			t.Fatalf("page %d is empty but has a next cursor", pages)
		}
		opt.After = next
		if pages > 1000 {
			t.Fatal("list does not end")
		}
	}
}

func TestCRUD(t *testing.T) {
	s := openTemp(t)
	r := resource("kit-smartphone", base, file("guide.pdf", "guide"))
	r.Description = "# Atelier\n\nDes **exercices**."
	mustCreate(t, s, r)
	r.Version = 1 // the catalog numbers the versions (history.go)

	got, err := s.Get(ctx, r.ID)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("get returned\n%+v\nwant\n%+v", got, r)
	}
	if n, _ := s.Count(ctx); n != 1 {
		t.Fatalf("count = %d, want 1", n)
	}

	dup := resource(r.ID, base.Add(time.Hour))
	if err := s.Create(ctx, dup); !errors.Is(err, node.ErrConflict) {
		t.Fatalf("duplicate create: %v, want ErrConflict", err)
	}
	if got, _ := s.Get(ctx, r.ID); got.Title != r.Title || !got.Created.Equal(base) {
		t.Fatalf("duplicate create overwrote the resource: %+v", got)
	}
	if err := s.Create(ctx, resource("", base)); !errors.Is(err, node.ErrInvalid) {
		t.Fatalf("create without id: %v, want ErrInvalid", err)
	}

	for name, err := range map[string]error{
		"get": func() error { _, err := s.Get(ctx, "absent"); return err }(),
		"update": func() error {
			_, _, err := s.Update(ctx, "absent", func(*node.Resource) error { return nil })
			return err
		}(),
		"delete": func() error { _, _, err := s.Delete(ctx, "absent"); return err }(),
	} {
		if !errors.Is(err, node.ErrNotFound) || !strings.Contains(err.Error(), `"absent"`) {
			t.Errorf("%s of a missing resource: %v, want ErrNotFound naming the id", name, err)
		}
	}

	up, orphans, err := s.Update(ctx, r.ID, func(r *node.Resource) error {
		r.Title = "Nouveau titre"
		r.Updated = base.Add(time.Minute)
		return nil
	})
	if err != nil || up.Title != "Nouveau titre" || len(orphans) != 0 {
		t.Fatalf("update = %+v, %v, %v", up, orphans, err)
	}
	if got, _ := s.Get(ctx, r.ID); !reflect.DeepEqual(got, up) {
		t.Fatalf("stored %+v, update returned %+v", got, up)
	}

	del, _, err := s.Delete(ctx, r.ID)
	if err != nil || !reflect.DeepEqual(del, up) {
		t.Fatalf("delete = %+v, %v; want the last stored state", del, err)
	}
	if _, err := s.Get(ctx, r.ID); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if n, _ := s.Count(ctx); n != 0 {
		t.Fatalf("count after delete = %d", n)
	}
	if rs, next, err := s.List(ctx, node.ListOptions{}); err != nil || len(rs) != 0 || next != "" {
		t.Fatalf("list after delete = %v, %q, %v", ids(rs), next, err)
	}
	// The id is free again.
	mustCreate(t, s, r)
}

func TestListPaging(t *testing.T) {
	s := openTemp(t)
	// Insertion order differs from creation order: List must follow Created.
	var want []string
	for i := range 25 {
		want = append(want, fmt.Sprintf("r%02d", 24-i))
	}
	for _, i := range []int{3, 17, 0, 24, 9} {
		mustCreate(t, s, resource(fmt.Sprintf("r%02d", i), base.Add(time.Duration(i)*time.Minute)))
	}
	for i := range 25 {
		if !slices.Contains([]int{3, 17, 0, 24, 9}, i) {
			r := resource(fmt.Sprintf("r%02d", i), base.Add(time.Duration(i)*time.Minute))
			if i%3 == 0 {
				r.Origin = "https://autre.example/objects/" + r.ID
			}
			mustCreate(t, s, r)
		}
	}

	got, pages := listAll(t, s, node.ListOptions{Limit: 10})
	if !slices.Equal(got, want) || pages != 3 {
		t.Fatalf("pages of 10: %d pages %v\nwant 3 pages %v", pages, got, want)
	}

	// A page that ends exactly at the last resource says so.
	rs, next, _ := s.List(ctx, node.ListOptions{Limit: 25})
	if len(rs) != 25 || next != "" {
		t.Fatalf("full page: %d resources, next %q", len(rs), next)
	}
	rs, next, _ = s.List(ctx, node.ListOptions{})
	if len(rs) != 25 || next != "" {
		t.Fatalf("default limit: %d resources, next %q", len(rs), next)
	}

	var local, remote []string
	for _, id := range want {
		var i int
		fmt.Sscanf(id, "r%d", &i)
		if i%3 == 0 && !slices.Contains([]int{3, 0, 24, 9}, i) {
			remote = append(remote, id)
		} else {
			local = append(local, id)
		}
	}
	if got, _ := listAll(t, s, node.ListOptions{Limit: 4, Origin: "local"}); !slices.Equal(got, local) {
		t.Fatalf("local: %v\nwant %v", got, local)
	}
	got, pages = listAll(t, s, node.ListOptions{Limit: 2, Origin: "remote"})
	if !slices.Equal(got, remote) || pages != (len(remote)+1)/2 {
		t.Fatalf("remote: %d pages %v\nwant %v", pages, got, remote)
	}

	// Deleting the resource a cursor points at must not restart or skip.
	rs, next, _ = s.List(ctx, node.ListOptions{Limit: 5})
	if _, _, err := s.Delete(ctx, rs[4].ID); err != nil {
		t.Fatal(err)
	}
	rs, _, _ = s.List(ctx, node.ListOptions{Limit: 3, After: next})
	if !slices.Equal(ids(rs), want[5:8]) {
		t.Fatalf("after a deleted cursor: %v, want %v", ids(rs), want[5:8])
	}

	for _, opt := range []node.ListOptions{{After: "!!!"}, {After: "AAAA"}, {Origin: "elsewhere"}} {
		if _, _, err := s.List(ctx, opt); !errors.Is(err, node.ErrInvalid) {
			t.Errorf("list %+v: %v, want ErrInvalid", opt, err)
		}
	}
}

func TestListLimits(t *testing.T) {
	s := openTemp(t)
	s.DB().NoSync = true // setup speed only
	for i := range 1005 {
		mustCreate(t, s, resource(fmt.Sprintf("r%04d", i), base.Add(time.Duration(i)*time.Second)))
	}
	if rs, next, _ := s.List(ctx, node.ListOptions{}); len(rs) != defaultListLimit || next == "" {
		t.Fatalf("default page: %d, next %q", len(rs), next)
	}
	if rs, next, _ := s.List(ctx, node.ListOptions{Limit: 5000}); len(rs) != maxListLimit || next == "" {
		t.Fatalf("oversized page: %d, next %q", len(rs), next)
	}
}

func TestListSameCreatedTime(t *testing.T) {
	s := openTemp(t)
	for _, id := range []string{"b", "a", "c"} {
		mustCreate(t, s, resource(id, base))
	}
	// Zero and pre-1970 times must sort as the oldest, not wrap around.
	mustCreate(t, s, resource("zero", time.Time{}), resource("old", time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)))
	got, _ := listAll(t, s, node.ListOptions{Limit: 1})
	if want := []string{"c", "b", "a", "old", "zero"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

var errRefused = errors.New("refused by the caller")

func TestUpdateAtomicity(t *testing.T) {
	s := openTemp(t)
	r := resource("kit", base, file("a.pdf", "a"))
	mustCreate(t, s, r)
	r.Version = 1 // the catalog numbers the versions (history.go)
	seq := lastSeq(t, s)

	wrapped := fmt.Errorf("resource kit: %w", node.ErrForbidden)
	for _, fnErr := range []error{errRefused, wrapped} {
		_, orphans, err := s.Update(ctx, r.ID, func(r *node.Resource) error {
			r.Title = "changed"
			r.Files[0] = file("b.pdf", "b")
			r.Created = base.Add(time.Hour)
			return fnErr
		})
		if err != fnErr || orphans != nil {
			t.Fatalf("update error = %v (%v), want %v unchanged", err, orphans, fnErr)
		}
	}
	if !errors.Is(func() error {
		_, _, err := s.Update(ctx, r.ID, func(*node.Resource) error { return wrapped })
		return err
	}(), node.ErrForbidden) {
		t.Fatal("a wrapped sentinel from fn does not match with errors.Is")
	}

	_, _, err := s.Update(ctx, r.ID, func(r *node.Resource) error {
		r.ID = "other"
		r.Title = "changed"
		return nil
	})
	if !errors.Is(err, node.ErrInvalid) {
		t.Fatalf("id change: %v, want ErrInvalid", err)
	}
	if _, err := s.Get(ctx, "other"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("id change created a resource: %v", err)
	}

	if got, _ := s.Get(ctx, r.ID); !reflect.DeepEqual(got, r) {
		t.Fatalf("failed updates changed the resource: %+v", got)
	}
	if got := lastSeq(t, s); got != seq {
		t.Fatalf("failed updates appended changes: last seq %d, want %d", got, seq)
	}
	if refs(t, s, digest("a")) != 1 || refs(t, s, digest("b")) != 0 {
		t.Fatal("failed updates changed blob references")
	}
	if got, _ := listAll(t, s, node.ListOptions{}); !slices.Equal(got, []string{"kit"}) {
		t.Fatalf("failed updates changed the index: %v", got)
	}
}

func TestUpdateCreatedMovesIndex(t *testing.T) {
	s := openTemp(t)
	mustCreate(t, s, resource("a", base), resource("b", base.Add(time.Minute)))
	if _, _, err := s.Update(ctx, "a", func(r *node.Resource) error {
		r.Created = base.Add(time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, _ := listAll(t, s, node.ListOptions{})
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("after moving Created: %v", got)
	}
	// Origin lives in the index too: a change must move the resource
	// between the filtered listings.
	if _, _, err := s.Update(ctx, "b", func(r *node.Resource) error {
		r.Origin = "https://ailleurs.example/objects/b"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, _ := listAll(t, s, node.ListOptions{Origin: "remote"}); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("remote after origin change: %v", got)
	}
	if got, _ := listAll(t, s, node.ListOptions{Origin: "local"}); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("local after origin change: %v", got)
	}
	if n, _ := s.Count(ctx); n != 2 {
		t.Fatalf("count = %d", n)
	}
}

func TestBlobRefs(t *testing.T) {
	s := openTemp(t)
	shared, onlyOne := file("commun.pdf", "shared"), file("seul.pdf", "only one")
	remote := node.File{Name: "distant.pdf", RemoteURL: "https://ailleurs.example/f"}
	mustCreate(t, s,
		resource("one", base, shared, onlyOne, remote),
		resource("two", base, shared))
	if refs(t, s, shared.SHA256) != 2 || refs(t, s, onlyOne.SHA256) != 1 {
		t.Fatal("create did not count references")
	}
	if n := refs(t, s, ""); n != 0 {
		t.Fatalf("files without a digest were counted: %d", n)
	}

	_, orphans, err := s.Delete(ctx, "one")
	if err != nil || !slices.Equal(orphans, []string{onlyOne.SHA256}) {
		t.Fatalf("delete one: orphans %v, %v; want only the unshared digest", orphans, err)
	}
	if refs(t, s, shared.SHA256) != 1 {
		t.Fatal("shared digest lost its other reference")
	}
	_, orphans, err = s.Delete(ctx, "two")
	if err != nil || !slices.Equal(orphans, []string{shared.SHA256}) {
		t.Fatalf("delete two: orphans %v, %v", orphans, err)
	}
	if refs(t, s, shared.SHA256) != 0 {
		t.Fatal("count not back to zero")
	}

	// Replacing a file orphans the old digest unless someone else uses it.
	oldF, newF := file("doc.pdf", "v1"), file("doc.pdf", "v2")
	mustCreate(t, s, resource("three", base, oldF), resource("keeper", base, shared))
	replace := func(id string, f node.File) []string {
		t.Helper()
		_, orphans, err := s.Update(ctx, id, func(r *node.Resource) error {
			r.Files = []node.File{f}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return orphans
	}
	if got := replace("three", newF); !slices.Equal(got, []string{oldF.SHA256}) {
		t.Fatalf("replace v1 by v2: orphans %v", got)
	}
	if refs(t, s, newF.SHA256) != 1 || refs(t, s, oldF.SHA256) != 0 {
		t.Fatal("replace did not move the reference")
	}
	if got := replace("three", shared); !slices.Equal(got, []string{newF.SHA256}) {
		t.Fatalf("replace v2 by shared: orphans %v", got)
	}
	if got := replace("keeper", newF); len(got) != 0 {
		t.Fatalf("replacing a still shared digest orphaned %v", got)
	}
	if got := replace("keeper", newF); len(got) != 0 || refs(t, s, newF.SHA256) != 1 {
		t.Fatalf("an update keeping the same files changed counts: %v", got)
	}

	// The same bytes under two names count twice and orphan once.
	dup := file("copie.pdf", "twice")
	twin := dup
	twin.Name = "copie-2.pdf"
	mustCreate(t, s, resource("twins", base, dup, twin))
	if refs(t, s, dup.SHA256) != 2 {
		t.Fatal("two file records of one digest must count 2")
	}
	if _, orphans, _ := s.Delete(ctx, "twins"); !slices.Equal(orphans, []string{dup.SHA256}) {
		t.Fatalf("orphans not deduplicated: %v", orphans)
	}
}

func TestBlobRefsConcurrent(t *testing.T) {
	s := openTemp(t)
	shared := file("commun.pdf", "shared")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if err := s.Create(ctx, resource(fmt.Sprintf("r%d", i), base, shared)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := refs(t, s, shared.SHA256); n != 20 {
		t.Fatalf("refs = %d, want 20", n)
	}
	var mu sync.Mutex
	var orphaned int
	for i := range 20 {
		wg.Go(func() {
			_, orphans, err := s.Delete(ctx, fmt.Sprintf("r%d", i))
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			orphaned += len(orphans)
			mu.Unlock()
		})
	}
	wg.Wait()
	if orphaned != 1 {
		t.Fatalf("the shared digest was orphaned %d times, want exactly once", orphaned)
	}
}

func TestChangeFeed(t *testing.T) {
	s := openTemp(t)
	if got := lastSeq(t, s); got != 0 {
		t.Fatalf("empty feed last seq = %d", got)
	}
	start := time.Now().Add(-time.Second)
	mustCreate(t, s, resource("a", base), resource("b", base))
	if _, _, err := s.Update(ctx, "a", func(r *node.Resource) error { r.Title = "x"; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	s.Update(ctx, "a", func(*node.Resource) error { return errRefused })
	s.Delete(ctx, "missing")
	mustCreate(t, s, resource("c", base))

	type entry struct {
		Seq     uint64
		ID      string
		Deleted bool
	}
	want := []entry{{1, "a", false}, {2, "b", false}, {3, "a", false}, {4, "b", true}, {5, "c", false}}
	all, err := s.Changes(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []entry
	for _, c := range all {
		got = append(got, entry{c.Seq, c.ResourceID, c.Deleted})
		if c.At.Before(start) || c.At.After(time.Now().Add(time.Second)) || c.At.Location() != time.UTC {
			t.Errorf("change %d has time %v", c.Seq, c.At)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("feed = %v\nwant %v", got, want)
	}
	if got := lastSeq(t, s); got != 5 {
		t.Fatalf("last seq = %d", got)
	}
	page, _ := s.Changes(ctx, 2, 2)
	if len(page) != 2 || page[0].Seq != 3 || page[1].Seq != 4 {
		t.Fatalf("changes after 2, limit 2: %+v", page)
	}
	if page, _ := s.Changes(ctx, 5, 10); len(page) != 0 {
		t.Fatalf("changes after the last: %+v", page)
	}
}

func TestCursors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.Cursor(ctx, "index"); n != 0 || err != nil {
		t.Fatalf("unknown cursor = %d, %v", n, err)
	}
	if err := s.SetCursor(ctx, "index", 42); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCursor(ctx, "federation", 7); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCursor(ctx, "", 1); !errors.Is(err, node.ErrInvalid) {
		t.Fatalf("empty cursor name: %v", err)
	}
	s.Close()

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, _ := s.Cursor(ctx, "index"); n != 42 {
		t.Fatalf("cursor after reopen = %d", n)
	}
	all, err := s.Cursors(ctx)
	if err != nil || !reflect.DeepEqual(all, map[string]uint64{"index": 42, "federation": 7}) {
		t.Fatalf("cursors = %v, %v", all, err)
	}
	if err := s.SetCursor(ctx, "index", 0); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Cursor(ctx, "index"); n != 0 {
		t.Fatalf("cursor reset = %d", n)
	}
}

func TestPruneChanges(t *testing.T) {
	defer func(n int) { pruneBatch = n }(pruneBatch)
	pruneBatch = 3 // cross several batch boundaries

	s := openTemp(t)
	for i := range 10 {
		mustCreate(t, s, resource(fmt.Sprintf("r%d", i), base))
	}
	if err := s.PruneChanges(7); err != nil {
		t.Fatal(err)
	}
	left, _ := s.Changes(ctx, 0, 0)
	if len(left) != 3 || left[0].Seq != 8 || left[2].Seq != 10 {
		t.Fatalf("after pruning up to 7: %+v", left)
	}
	if got := lastSeq(t, s); got != 10 {
		t.Fatalf("pruning moved last seq to %d", got)
	}
	if err := s.PruneChanges(1000); err != nil {
		t.Fatal(err)
	}
	if left, _ := s.Changes(ctx, 0, 0); len(left) != 0 {
		t.Fatalf("after pruning everything: %+v", left)
	}
	if got := lastSeq(t, s); got != 10 {
		t.Fatalf("pruning the whole feed moved last seq to %d", got)
	}
	// Sequence numbers never restart, or a worker's cursor would skip new
	// changes.
	mustCreate(t, s, resource("new", base))
	if left, _ := s.Changes(ctx, 10, 0); len(left) != 1 || left[0].Seq != 11 {
		t.Fatalf("change after a full prune: %+v", left)
	}
	if err := s.PruneChanges(0); err != nil {
		t.Fatal(err)
	}
	if left, _ := s.Changes(ctx, 0, 0); len(left) != 1 {
		t.Fatalf("pruning up to 0 removed %+v", left)
	}
}

func TestAccounts(t *testing.T) {
	s := openTemp(t)
	for _, name := range []string{"zoe", "alice", "marc"} {
		if err := s.AddUser(ctx, node.User{Name: name, Role: node.RoleEditor, Created: base}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddUser(ctx, node.User{Name: "alice", Role: node.RoleAdmin}); !errors.Is(err, node.ErrConflict) {
		t.Fatalf("duplicate user: %v", err)
	}
	if err := s.AddUser(ctx, node.User{}); !errors.Is(err, node.ErrInvalid) {
		t.Fatalf("user without name: %v", err)
	}
	if u, _ := s.GetUser(ctx, "alice"); u.Role != node.RoleEditor {
		t.Fatalf("duplicate add overwrote the user: %+v", u)
	}
	us, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range us {
		names = append(names, u.Name)
	}
	if !slices.Equal(names, []string{"alice", "marc", "zoe"}) {
		t.Fatalf("users = %v, want sorted by name", names)
	}

	if err := s.SetPasswordHash(ctx, "alice", "$2a$hash"); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.GetUser(ctx, "alice"); u.PasswordHash != "$2a$hash" || !u.Created.Equal(base) {
		t.Fatalf("after password change: %+v", u)
	}
	if err := s.SetPasswordHash(ctx, "nobody", "h"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("password of missing user: %v", err)
	}
	if _, err := s.GetUser(ctx, "nobody"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("get missing user: %v", err)
	}

	for _, tok := range []node.Token{{Hash: "h1", User: "alice"}, {Hash: "h2", User: "alice"}, {Hash: "h3", User: "marc"}} {
		tok.Created = base
		if err := s.AddToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddToken(ctx, node.Token{Hash: "h1", User: "marc"}); !errors.Is(err, node.ErrConflict) {
		t.Fatalf("duplicate token: %v", err)
	}
	if err := s.AddToken(ctx, node.Token{Hash: "h9", User: "nobody"}); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("token of a missing user: %v", err)
	}
	if u, err := s.TokenUser(ctx, "h3"); err != nil || u.Name != "marc" {
		t.Fatalf("token h3 = %+v, %v", u, err)
	}
	if _, err := s.TokenUser(ctx, "unknown"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}

	if err := s.RemoveUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveUser(ctx, "alice"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("remove twice: %v", err)
	}
	for _, h := range []string{"h1", "h2"} {
		if _, err := s.TokenUser(ctx, h); !errors.Is(err, node.ErrNotFound) {
			t.Fatalf("token %s of a removed user: %v", h, err)
		}
	}
	if err := s.DB().View(func(tx *bbolt.Tx) error {
		if n := tx.Bucket(bucketTokens).Stats().KeyN; n != 1 {
			return fmt.Errorf("%d tokens stored, want only marc's", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if u, err := s.TokenUser(ctx, "h3"); err != nil || u.Name != "marc" {
		t.Fatalf("other user's token after removal = %+v, %v", u, err)
	}

	// A new user with a removed user's name must not inherit old tokens.
	if err := s.AddUser(ctx, node.User{Name: "alice", Role: node.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenUser(ctx, "h1"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("old token authenticates the new alice: %v", err)
	}
}

func TestTokenOfVanishedUser(t *testing.T) {
	s := openTemp(t)
	s.AddUser(ctx, node.User{Name: "bob"})
	s.AddToken(ctx, node.Token{Hash: "h", User: "bob"})
	// Simulates a store written by an older tool that removed the user only.
	s.DB().Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketUsers).Delete([]byte("bob")) })
	if _, err := s.TokenUser(ctx, "h"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("token of a vanished user: %v", err)
	}
}

func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s2, err := Open(path)
	waited := time.Since(start)
	if err == nil {
		s2.Close()
		s.Close()
		t.Fatal("second open of a held catalog succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	want := fmt.Sprintf("catalog %s is locked by another process (is `communs serve` running?)", path)
	if err.Error() != want {
		t.Fatalf("message %q\nwant %q", err, want)
	}
	if waited > 5*time.Second {
		t.Fatalf("second open waited %v", waited)
	}
	s.Close()
	s3, err := Open(path)
	if err != nil {
		t.Fatalf("open after the holder closed: %v", err)
	}
	s3.Close()
}

// fill writes one of everything so reopen and backup tests can compare.
func fill(t *testing.T, s *Store) {
	t.Helper()
	mustCreate(t, s,
		resource("a", base, file("x.pdf", "x")),
		resource("b", base.Add(time.Minute), file("x.pdf", "x"), file("y.pdf", "y")))
	if _, _, err := s.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, resource("c", base.Add(time.Hour)))
	s.SetCursor(ctx, "index", 2)
	s.AddUser(ctx, node.User{Name: "alice", Role: node.RoleAdmin, Created: base})
	s.AddToken(ctx, node.Token{Hash: "h1", User: "alice", Created: base})
}

type snapshot struct {
	Resources []node.Resource
	Count     int
	Changes   []node.Change
	LastSeq   uint64
	Cursor    uint64
	RefsX     int
	RefsY     int
	Users     []node.User
	TokenUser string
}

func snap(t *testing.T, s *Store) snapshot {
	t.Helper()
	var sn snapshot
	var err error
	sn.Resources, _, err = s.List(ctx, node.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sn.Count, _ = s.Count(ctx)
	sn.Changes, _ = s.Changes(ctx, 0, 0)
	sn.LastSeq, _ = s.LastSeq(ctx)
	sn.Cursor, _ = s.Cursor(ctx, "index")
	sn.RefsX, _ = s.BlobRefs(ctx, digest("x"))
	sn.RefsY, _ = s.BlobRefs(ctx, digest("y"))
	sn.Users, _ = s.ListUsers(ctx)
	u, _ := s.TokenUser(ctx, "h1")
	sn.TokenUser = u.Name
	return sn
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "catalog.db") // folder created by Open
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s)
	before := snap(t, s)
	if before.Count != 2 || before.LastSeq != 4 || before.RefsX != 1 || before.TokenUser != "alice" {
		t.Fatalf("unexpected fixture: %+v", before)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("catalog file: %v, %v; want mode 0600", fi.Mode(), err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Path() != path {
		t.Fatalf("path = %q", s.Path())
	}
	if after := snap(t, s); !reflect.DeepEqual(after, before) {
		t.Fatalf("after reopen\n%+v\nwant\n%+v", after, before)
	}
	mustCreate(t, s, resource("d", base))
	if got := lastSeq(t, s); got != 5 {
		t.Fatalf("sequence after reopen = %d, want 5", got)
	}
}

func TestWriteTo(t *testing.T) {
	s := openTemp(t)
	fill(t, s)
	before := snap(t, s)

	dst := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.WriteTo(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dst); fi.Size() != n {
		t.Fatalf("WriteTo reported %d bytes, file has %d", n, fi.Size())
	}
	// The original keeps working while the copy is open elsewhere.
	mustCreate(t, s, resource("later", base))

	c, err := Open(dst)
	if err != nil {
		t.Fatalf("open backup: %v", err)
	}
	defer c.Close()
	if got := snap(t, c); !reflect.DeepEqual(got, before) {
		t.Fatalf("backup\n%+v\nwant\n%+v", got, before)
	}
}

func TestNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.DB().Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, u64(schemaVersion+1))
	})
	s.Close()
	_, err = Open(path)
	if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "upgrade communs") {
		t.Fatalf("open newer schema: %v", err)
	}
	// The refused file is untouched and not left locked.
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *bbolt.Tx) error {
		if v := readU64(tx.Bucket(bucketMeta).Get(keySchema)); v != schemaVersion+1 {
			t.Errorf("schema rewritten to %d", v)
		}
		return nil
	})
}

func TestNotACatalog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	os.WriteFile(path, []byte(strings.Repeat("not bbolt ", 1000)), 0o600)
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("open garbage: %v, want an error naming the file", err)
	}
}

func TestCanceledContext(t *testing.T) {
	s := openTemp(t)
	c, cancel := context.WithCancel(ctx)
	cancel()
	calls := map[string]error{
		"create":   s.Create(c, resource("a", base)),
		"count":    func() error { _, err := s.Count(c); return err }(),
		"list":     func() error { _, _, err := s.List(c, node.ListOptions{}); return err }(),
		"changes":  func() error { _, err := s.Changes(c, 0, 0); return err }(),
		"cursor":   s.SetCursor(c, "x", 1),
		"add user": s.AddUser(c, node.User{Name: "a"}),
	}
	for name, err := range calls {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: %v", name, err)
		}
	}
	if n, _ := s.Count(ctx); n != 0 {
		t.Fatal("a canceled create was written")
	}
}
