package embedded

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/node"
)

// compactFixture is an index of n synthetic documents written in small
// batches, as a backfill writes them: it ends with several segments.
func compactFixture(t *testing.T, n int) *Index {
	t.Helper()
	x, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	rs := corpus.Synthetic(corpus.MustLoad(t), n, 3)
	for i := 0; i < len(rs); i += 150 {
		if err := x.Upsert(context.Background(), rs[i:min(i+150, len(rs))]); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

func segmentCount(t *testing.T, x *Index) int {
	t.Helper()
	s, err := x.scorch()
	if err != nil {
		t.Fatal(err)
	}
	n, err := segments(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// What a visitor sees: the hits in order, the totals and the facet counts
// of every benchmark query. Timings and scores aside, compaction must not
// change any of it.
func searchAll(t *testing.T, x *Index) []string {
	t.Helper()
	var out []string
	for _, q := range benchQueries {
		res, err := x.Search(context.Background(), q)
		if err != nil {
			t.Fatalf("search %+v: %v", q, err)
		}
		ids := make([]string, len(res.Hits))
		for i, h := range res.Hits {
			ids[i] = h.ID
		}
		out = append(out, fmt.Sprintf("%q total=%d hits=%v facets=%v", q.Text, res.Total, ids, res.Facets))
	}
	return out
}

func TestCompactMergesSegmentsAndKeepsResults(t *testing.T) {
	x := compactFixture(t, 1500)
	before := segmentCount(t, x)
	if before < 2 {
		t.Fatalf("fixture has %d segment; the test needs several", before)
	}
	want := searchAll(t, x)
	if err := x.Compact(context.Background()); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if n := segmentCount(t, x); n != 1 {
		t.Errorf("after Compact: %d segments, want 1 (was %d)", n, before)
	}
	got := searchAll(t, x)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("results changed by compaction:\nbefore %s\nafter  %s", want[i], got[i])
		}
	}
	if n, _ := x.Count(context.Background()); n != 1500 {
		t.Errorf("Count after Compact = %d, want 1500", n)
	}
}

func TestCompactWaitsForWritesToStop(t *testing.T) {
	x := compactFixture(t, 1500)
	ctx := context.Background()
	before := segmentCount(t, x)
	if before < 2 {
		t.Fatalf("fixture has %d segment; the test needs several", before)
	}
	now := time.Now()
	// Still being written to: a merge now would be redone.
	x.compactIfIdle(ctx, now)
	if n := segmentCount(t, x); n != before {
		t.Fatalf("compacted while writes had just happened: %d segments, was %d", n, before)
	}
	// Writes have stopped long enough.
	x.compactIfIdle(ctx, now.Add(compactIdle+time.Second))
	if n := segmentCount(t, x); n != 1 {
		t.Fatalf("idle index with 1,500 new documents not compacted: %d segments", n)
	}
	// A few writes after that are not worth another full merge.
	rs := corpus.Synthetic(corpus.MustLoad(t), 20, 4)
	for i := range rs {
		rs[i].ID = fmt.Sprintf("late-%d", i)
	}
	for _, r := range rs {
		if err := x.Upsert(ctx, []node.Resource{r}); err != nil {
			t.Fatal(err)
		}
	}
	after := segmentCount(t, x)
	x.compactIfIdle(ctx, time.Now().Add(compactIdle+time.Second))
	if n := segmentCount(t, x); n != after {
		t.Errorf("20 writes triggered a full merge (%d segments, was %d)", n, after)
	}
	if x.compaction.written.Load() != int64(len(rs)) {
		t.Errorf("writes since compaction = %d, want %d", x.compaction.written.Load(), len(rs))
	}
}

// TestCloseDuringCompaction: stopping the node while a merge runs ends the
// merge, and the index reopens whole.
func TestCloseDuringCompaction(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	rs := corpus.Synthetic(corpus.MustLoad(t), 1500, 5)
	for i := 0; i < len(rs); i += 150 {
		if err := x.Upsert(context.Background(), rs[i:i+150]); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- x.Compact(context.Background()) }()
	if err := x.Close(); err != nil {
		t.Fatalf("Close during compaction: %v", err)
	}
	select {
	case <-done: // finished or stopped: either is fine
	case <-time.After(time.Minute):
		t.Fatal("Compact still running a minute after Close")
	}
	x, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if n, err := x.Count(context.Background()); err != nil || n != len(rs) {
		t.Errorf("after reopening: %d documents (%v), want %d", n, err, len(rs))
	}
	res, err := x.Search(context.Background(), node.Query{Text: "arnaque"})
	if err != nil || res.Total == 0 {
		t.Errorf("search after reopening: %v, %d hits", err, res.Total)
	}
}
