package catalog

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/communs-numerique/communs/node"
)

func historyOf(t *testing.T, s *Store, id string, limit int) (versions []int, pages int) {
	t.Helper()
	cursor := ""
	for {
		page, next, err := s.History(ctx, id, cursor, limit)
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		pages++
		for _, r := range page {
			versions = append(versions, r.Version)
		}
		if next == "" {
			return versions, pages
		}
		cursor = next
	}
}

// TestHistoryWrittenWithTheChange: each write of a resource stores its
// revision in the same transaction as the record and its change feed entry;
// a write refused inside the transaction stores neither; the history reads
// newest first, in pages, and never mixes two resources whose ids share a
// prefix.
func TestHistoryWrittenWithTheChange(t *testing.T) {
	s := openTemp(t)
	mustCreate(t, s, resource("kit", base, file("guide.pdf", "v1")), resource("kit-2", base))
	for i := 2; i <= 5; i++ {
		r, _, err := s.Update(ctx, "kit", func(r *node.Resource) error {
			r.Title = fmt.Sprintf("Titre %d", i)
			r.Updated = base.Add(time.Duration(i) * time.Hour)
			return nil
		})
		if err != nil || r.Version != i {
			t.Fatalf("update %d: version %d, %v", i, r.Version, err)
		}
	}
	seq := lastSeq(t, s)
	refused := errors.New("refused")
	if _, _, err := s.Update(ctx, "kit", func(r *node.Resource) error {
		r.Title = "jamais"
		return refused
	}); !errors.Is(err, refused) {
		t.Fatal(err)
	}
	// Refused by the catalog inside the transaction: an organisation this
	// hub does not have.
	if _, _, err := s.Update(ctx, "kit", func(r *node.Resource) error {
		r.Title, r.Organisation = "jamais", "inconnue"
		return nil
	}); err == nil {
		t.Fatal("an unknown organisation was accepted")
	}
	if got := lastSeq(t, s); got != seq {
		t.Errorf("a refused write appended a change (%d, was %d)", got, seq)
	}
	cur, err := s.Get(ctx, "kit")
	if err != nil || cur.Version != 5 || cur.Title != "Titre 5" {
		t.Fatalf("after refused writes: %q version %d, %v", cur.Title, cur.Version, err)
	}
	got, pages := historyOf(t, s, "kit", 2)
	if fmt.Sprint(got) != "[5 4 3 2 1]" || pages != 3 {
		t.Errorf("history versions %v in %d pages, want [5 4 3 2 1] in 3", got, pages)
	}
	if got, _ := historyOf(t, s, "kit-2", 10); fmt.Sprint(got) != "[1]" {
		t.Errorf("kit-2 history %v, want only its own [1]", got)
	}
	page, _, err := s.History(ctx, "kit", "", 1)
	if err != nil || len(page) != 1 || len(page[0].Fields) != 1 || page[0].Fields[0].After != "Titre 5" || !page[0].At.Equal(base.Add(5*time.Hour)) {
		t.Errorf("newest revision: %+v, %v", page, err)
	}

	// UpsertMany (backfills, grouped imports) records one per item and
	// hands the version back.
	a, b := resource("kit", base), resource("neuf", base)
	a.Files = []node.File{file("guide.pdf", "v2")}
	rs := []node.Resource{a, b}
	if _, errs, err := s.UpsertMany(ctx, rs, func(old, r *node.Resource) error { return nil }); err != nil || errs[0] != nil || errs[1] != nil {
		t.Fatal(err, errs)
	}
	if rs[0].Version != 6 || rs[1].Version != 1 {
		t.Errorf("versions handed back: %d, %d; want 6, 1", rs[0].Version, rs[1].Version)
	}

	for _, bad := range []string{"!", "AAAAAAAAAAA", "AAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		if _, _, err := s.History(ctx, "kit", bad, 10); !errors.Is(err, node.ErrInvalid) {
			t.Errorf("cursor %q: %v, want ErrInvalid", bad, err)
		}
	}
	if _, _, err := s.History(ctx, "absent", "", 10); !errors.Is(err, node.ErrNotFound) {
		t.Errorf("history of a missing resource: %v", err)
	}
	if _, _, err := s.Delete(ctx, "kit"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, resource("kit", base))
	if got, _ := historyOf(t, s, "kit", 10); fmt.Sprint(got) != "[1]" {
		t.Errorf("a new resource under a deleted id has history %v, want [1]", got)
	}
}

// TestHistoryIsBounded: past node.MaxRevisions the oldest revisions go,
// the version goes on counting.
func TestHistoryIsBounded(t *testing.T) {
	s := openTemp(t)
	s.db.NoSync = true // a thousand commits
	mustCreate(t, s, resource("kit", base))
	n := node.MaxRevisions + 5
	for i := 2; i <= n; i++ {
		if _, _, err := s.Update(ctx, "kit", func(r *node.Resource) error {
			r.Title = strconv.Itoa(i)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := historyOf(t, s, "kit", 1000)
	if len(got) != node.MaxRevisions || got[0] != n || got[len(got)-1] != n-node.MaxRevisions+1 {
		t.Errorf("kept %d revisions from %d down to %d; want %d from %d", len(got), got[0], got[len(got)-1], node.MaxRevisions, n)
	}
}

// TestKillMidWriteKeepsRevisionsWithTheirChanges kills a process that
// changes a resource in a loop, at several instants, and checks after each
// kill that the stored version, the history and the change feed agree:
// no revision without its change, no change without its revision.
func TestKillMidWriteKeepsRevisionsWithTheirChanges(t *testing.T) {
	if path := os.Getenv("COMMUNS_HISTORY_WRITER"); path != "" {
		writeForever(path)
		return
	}
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "catalog.db")
	for round, after := range []int{1, 7, 30} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillMidWriteKeepsRevisionsWithTheirChanges$")
		cmd.Env = append(os.Environ(), "COMMUNS_HISTORY_WRITER="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		for seen := 0; seen < after && sc.Scan(); {
			if strings.HasPrefix(sc.Text(), "wrote") {
				seen++
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()

		s, err := Open(path)
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		r, err := s.Get(ctx, "kit")
		if err != nil {
			s.Close()
			t.Fatalf("round %d: %v", round, err)
		}
		versions, _ := historyOf(t, s, "kit", 100)
		seq := lastSeq(t, s)
		s.Close()
		if len(versions) != r.Version || versions[0] != r.Version || uint64(r.Version) != seq {
			t.Fatalf("round %d: version %d, %d revisions (newest %v), %d changes: they must agree", round, r.Version, len(versions), versions[:1], seq)
		}
		if r.Title != "Titre "+strconv.Itoa(r.Version) {
			t.Fatalf("round %d: title %q at version %d", round, r.Title, r.Version)
		}
	}
}

// writeForever is the killed process: it creates "kit" if needed, then
// changes its title in a loop, one transaction per change.
func writeForever(path string) {
	s, err := Open(path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	if _, err := s.Get(ctx, "kit"); errors.Is(err, node.ErrNotFound) {
		r := resource("kit", base)
		r.Title = "Titre 1"
		if err := s.Create(ctx, r); err != nil {
			os.Exit(2)
		}
	}
	for {
		r, _, err := s.Update(ctx, "kit", func(r *node.Resource) error {
			r.Title = "Titre " + strconv.Itoa(max(r.Version, 1)+1)
			return nil
		})
		if err != nil {
			fmt.Println("update:", err)
			os.Exit(2)
		}
		fmt.Println("wrote", r.Version)
	}
}

// BenchmarkUpsertManyHistory measures what the grouped import and
// backfills pay for the revision written with each resource: one
// transaction of 100 realistic kits, created then all changed (a new
// description: a revision with capped before/after texts).
func BenchmarkUpsertManyHistory(b *testing.B) {
	s := openTemp(b)
	b.ReportAllocs()
	n := 0
	for i := range b.N {
		rs := make([]node.Resource, 100)
		for j := range rs {
			rs[j] = realistic(n + j)
		}
		for round := range 2 {
			if round == 1 {
				for j := range rs {
					rs[j].Description += "\n\nMise à jour " + strconv.Itoa(i)
				}
			}
			if _, _, err := s.UpsertMany(ctx, rs, func(old, r *node.Resource) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
		n += len(rs)
	}
	b.ReportMetric(float64(2*n)/b.Elapsed().Seconds(), "writes/s")
}
