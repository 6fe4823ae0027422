package node_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/catalog"
	"github.com/communs-numerique/communs/storage/search/embedded"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// seeded returns a catalog of n synthetic open resources in dir.
func seeded(t *testing.T, dir string, n int) *catalog.Store {
	t.Helper()
	cat, err := catalog.Open(filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, r := range corpus.Synthetic(corpus.MustLoad(t), n, 7) {
		r.License = "CC-BY-4.0"
		r.Files = nil
		r.Created = time.Now()
		if err := cat.Create(ctx, r); err != nil {
			t.Fatalf("create %s: %v", r.ID, err)
		}
	}
	return cat
}

// TestRebuildInterruptedConverges kills a rebuild after its first batch (the
// node crashed or was stopped) and starts a fresh indexer on the same data:
// it must redo the rebuild and end equal to the catalog.
func TestRebuildInterruptedConverges(t *testing.T) {
	dir := t.TempDir()
	const n = 1300 // three batches
	cat := seeded(t, dir, n)
	defer cat.Close()
	idx, err := embedded.Open(filepath.Join(dir, "search"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ix := node.NewIndexer(cat, idx, "embedded", quiet)
	if _, err := ix.Drain(ctx); err != nil {
		t.Fatal(err)
	}

	killed, kill := context.WithCancel(ctx)
	batches := 0
	err = ix.Rebuild(killed, func(done, total int) {
		batches++
		kill() // dies right after the first batch
	})
	if !errors.Is(err, context.Canceled) || batches != 1 {
		t.Fatalf("the interrupted rebuild should stop after one batch: batches=%d err=%v", batches, err)
	}
	if docs, _ := idx.Count(ctx); docs >= n {
		t.Fatalf("test is void: the index already holds %d of %d after one batch", docs, n)
	}
	if err := idx.Close(); err != nil { // the process goes away
		t.Fatal(err)
	}

	// A change made while the node was down must be in the final index too.
	if _, _, err := cat.Delete(ctx, firstID(t, cat)); err != nil {
		t.Fatal(err)
	}

	idx, err = embedded.Open(filepath.Join(dir, "search"))
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	ix = node.NewIndexer(cat, idx, "embedded", quiet)
	st, _ := ix.Status(ctx)
	if !st.RebuildPending {
		t.Fatalf("status after the crash should say a rebuild is pending: %+v", st)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); ix.Run(runCtx) }()
	defer func() { stop(); <-done }()

	// Generous: 1300 documents under -race on a loaded 2-core CI machine
	// took over 100 s; a fast machine converges in seconds.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		st, err := ix.Status(ctx)
		if err == nil && !st.RebuildPending && st.Backlog == 0 && st.Documents == n-1 && st.Resources == n-1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("index did not converge to the catalog: %+v %v", st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func firstID(t *testing.T, cat *catalog.Store) string {
	t.Helper()
	rs, _, err := cat.List(context.Background(), node.ListOptions{Limit: 1})
	if err != nil || len(rs) == 0 {
		t.Fatalf("list: %v", err)
	}
	return rs[0].ID
}

// TestRebuildIfEmpty: an engine that lost its documents (new Meilisearch
// index, recreated embedded index) while the feed was already consumed gets
// a rebuild; a brand-new node just drains its feed.
func TestRebuildIfEmpty(t *testing.T) {
	dir := t.TempDir()
	cat := seeded(t, dir, 30)
	defer cat.Close()
	ctx := context.Background()
	idx, err := embedded.Open(filepath.Join(dir, "search"))
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	ix := node.NewIndexer(cat, idx, "embedded", quiet)
	if again, err := ix.RebuildIfEmpty(ctx); err != nil || again {
		t.Fatalf("a never-indexed feed is drained, not rebuilt: %v %v", again, err)
	}
	if _, err := ix.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if again, _ := ix.RebuildIfEmpty(ctx); again {
		t.Fatal("a full index must not be rebuilt")
	}
	if err := idx.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if again, err := ix.RebuildIfEmpty(ctx); err != nil || !again {
		t.Fatalf("an emptied index must be rebuilt: %v %v", again, err)
	}
	st, _ := ix.Status(ctx)
	if !st.RebuildPending {
		t.Fatalf("status should show the pending rebuild: %+v", st)
	}
}

// countingSource counts how often the indexer counts the catalog.
type countingSource struct {
	*catalog.Store
	counts int
}

func (c *countingSource) Count(ctx context.Context) (int, error) {
	c.counts++
	return c.Store.Count(ctx)
}

// TestRebuildIfEmptySkipsCatalogWhenIndexed: a node restarting with a full
// index does not count its catalog, which reads every page of it (at 100k
// resources, seconds of start-up and hundreds of MiB mapped in).
func TestRebuildIfEmptySkipsCatalogWhenIndexed(t *testing.T) {
	dir := t.TempDir()
	cat := seeded(t, dir, 5)
	defer cat.Close()
	ctx := context.Background()
	idx, err := embedded.Open(filepath.Join(dir, "search"))
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	src := &countingSource{Store: cat}
	ix := node.NewIndexer(src, idx, "embedded", quiet)
	if _, err := ix.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	src.counts = 0
	if again, err := ix.RebuildIfEmpty(ctx); err != nil || again {
		t.Fatalf("a full index must not be rebuilt: %v %v", again, err)
	}
	if src.counts != 0 {
		t.Fatalf("the catalog was counted %d times at start-up with a full index", src.counts)
	}
}

// compactSpy is an engine that counts the compactions asked of it.
type compactSpy struct {
	node.Index
	compactions int
	docs        int // documents indexed when compaction was asked
}

func (c *compactSpy) Compact(ctx context.Context) error {
	c.compactions++
	c.docs, _ = c.Index.Count(ctx)
	return c.Index.(node.Compacter).Compact(ctx)
}

// TestRebuildCompactsTheIndex: a rebuilt index is compacted once, after
// every document is in it (a compaction midway would be redone).
func TestRebuildCompactsTheIndex(t *testing.T) {
	dir := t.TempDir()
	const n = 1100
	cat := seeded(t, dir, n)
	defer cat.Close()
	idx, err := embedded.Open(filepath.Join(dir, "search"))
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	spy := &compactSpy{Index: idx}
	if err := node.NewIndexer(cat, spy, "embedded", quiet).Rebuild(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if spy.compactions != 1 || spy.docs != n {
		t.Errorf("rebuild compacted %d times, with %d of %d documents indexed; want once, with all", spy.compactions, spy.docs, n)
	}
}
