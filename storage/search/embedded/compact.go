package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2/index/scorch"
)

// Compaction. Much of a search's fixed cost is paid once per segment and
// field: walking a dictionary for typo and prefix candidates, opening
// postings, starting a term searcher. Bulk indexing (a rebuild, a backfill
// from another hub) leaves a dozen segments of unequal size behind, and
// scorch's tiered merging keeps them: at 100k documents a search cost
// 4.4 ms of CPU over 12 segments and 2.7 ms over one. So, like Lucene's
// forceMerge for an index that is mostly read, the index is merged into one
// segment after a rebuild, and after any burst of writes worth a tenth of
// the index once writes have stopped for a while.
const (
	// compactIdle is how long writes must have stopped: a merge during a
	// backfill would only be redone.
	compactIdle = 30 * time.Second
	// compactShare and compactMin: the writes since the last compaction
	// that make another worth it (at a million documents, a full merge
	// rewrites over a gigabyte, so it waits for 100,000 writes).
	compactShare = 10
	compactMin   = 1000
)

// compactor is the state of the idle compaction.
type compactor struct {
	written   atomic.Int64 // documents written since the last compaction
	lastWrite atomic.Int64 // unix nanoseconds
	stop      context.CancelFunc
	done      sync.WaitGroup
}

// wrote records n documents written (added, replaced or deleted).
func (x *Index) wrote(n int) {
	x.compaction.written.Add(int64(n))
	x.compaction.lastWrite.Store(time.Now().UnixNano())
}

// startCompactor runs the idle compaction until stopCompactor.
func (x *Index) startCompactor() {
	ctx, cancel := context.WithCancel(context.Background())
	x.compaction.stop = cancel
	x.compaction.done.Add(1)
	go func() {
		defer x.compaction.done.Done()
		t := time.NewTicker(compactIdle / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				x.compactIfIdle(ctx, time.Now())
			}
		}
	}()
}

// stopCompactor ends the idle compaction, aborting a merge under way (the
// segments it was merging stay as they were).
func (x *Index) stopCompactor() {
	if x.compaction.stop != nil {
		x.compaction.stop()
		x.compaction.done.Wait()
	}
}

// compactIfIdle compacts when enough was written and writing has stopped.
func (x *Index) compactIfIdle(ctx context.Context, now time.Time) {
	c := &x.compaction
	written := c.written.Load()
	if written < compactMin || now.Sub(time.Unix(0, c.lastWrite.Load())) < compactIdle {
		return
	}
	docs, err := x.Count(ctx)
	if err != nil || written < int64(docs/compactShare) {
		return
	}
	if err := x.Compact(ctx); err != nil && ctx.Err() == nil {
		// Searches work as well over many segments, only slower: say
		// so and try again after the next burst of writes.
		slog.Warn("search index compaction failed; searches stay slower until the next one", "err", err)
	}
}

// Compact merges the index into one segment (or as few as a merge of the
// largest allows), and waits for it.
func (x *Index) Compact(ctx context.Context) error {
	// The merge itself runs without x.mu: searches and writes go on over
	// the segments they see, and Close or Reset end the merge by closing
	// scorch.
	s, err := x.scorch()
	if err != nil {
		return err
	}
	x.compaction.written.Store(0)
	for range 4 {
		n, err := segments(s)
		if err != nil || n <= 1 {
			return err
		}
		// scorch merges at most ten segments per task: twelve segments
		// take two rounds.
		if err := s.ForceMerge(ctx, nil); err != nil {
			return fmt.Errorf("embedded search: compact: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (x *Index) scorch() (*scorch.Scorch, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.idx == nil {
		return nil, errClosed
	}
	adv, err := x.idx.Advanced()
	if err != nil {
		return nil, fmt.Errorf("embedded search: compact: %w", err)
	}
	s, ok := adv.(*scorch.Scorch)
	if !ok {
		return nil, fmt.Errorf("embedded search: compact: unexpected index %T", adv)
	}
	return s, nil
}

// segments counts the segments of the index's current snapshot.
func segments(s *scorch.Scorch) (int, error) {
	r, err := s.Reader()
	if err != nil {
		return 0, fmt.Errorf("embedded search: open reader: %w", err)
	}
	defer r.Close()
	snap, ok := r.(*scorch.IndexSnapshot)
	if !ok {
		return 0, fmt.Errorf("embedded search: unexpected reader %T", r)
	}
	return len(snap.Segments()), nil
}
