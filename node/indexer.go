package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/communs-numerique/communs/internal/worker"
)

// Cursor names in the catalog. indexRebuildCursor is non-zero while a
// rebuild is unfinished, so a node killed mid-rebuild starts it again.
const (
	indexCursor        = "search"
	indexRebuildCursor = "search-rebuild"
	indexDebounce      = 100 * time.Millisecond
	// indexBatch is how many changes one engine call applies. A backfill
	// keeps the indexer this far behind; the embedded engine makes one
	// segment per 1000 documents (its batch), and segments of 1000 cost
	// about 6% less CPU to build and merge than twice as many of 500.
	indexBatch = 1000
)

// Indexer keeps the search index equal to the catalog by following the
// catalog's change feed. Writes never wait for it: they only append to the
// feed, in their own transaction, and nudge the indexer.
type Indexer struct {
	resources CatalogReader
	feed      ChangeFeed
	index     Index
	engine    string
	log       *slog.Logger
	wake      chan struct{}
	// work serialises draining and rebuilding: two rebuilds resetting the
	// index under each other, or a drain moving the cursor a rebuild is
	// about to set, would waste work and confuse the status.
	work sync.Mutex

	mu      sync.Mutex
	lastErr error
	lastRun time.Time
}

// IndexSource is what the Indexer reads: the resources, and the change
// feed it follows with its own cursors. storage/catalog implements both.
type IndexSource interface {
	CatalogReader
	ChangeFeed
}

// NewIndexer returns an indexer; engine names the engine for status lines.
func NewIndexer(src IndexSource, idx Index, engine string, log *slog.Logger) *Indexer {
	if log == nil {
		log = slog.Default()
	}
	return &Indexer{resources: src, feed: src, index: idx, engine: engine, log: log, wake: make(chan struct{}, 1)}
}

// Notify asks the indexer to look at the feed now.
func (ix *Indexer) Notify() { worker.Signal(ix.wake) }

// Run applies changes until ctx ends, retrying with backoff while the
// engine is down. A rebuild left unfinished by a crash is redone first.
func (ix *Indexer) Run(ctx context.Context) {
	worker.Loop{
		Wake:   ix.wake,
		Period: 5 * time.Second,
		// Let a burst of changes (an import, a backfill) gather: one
		// engine batch of many documents costs far less than many
		// batches of one, and an edit is still searchable well within a
		// second.
		Debounce: indexDebounce,
		Log:      ix.log.With("engine", ix.engine),
		FailMsg:  "search index behind the catalog; will retry",
		Step: func(ctx context.Context) error {
			ix.work.Lock()
			err := ix.resumeRebuild(ctx)
			if err == nil {
				_, err = ix.drain(ctx)
			}
			ix.work.Unlock()
			ix.mu.Lock()
			ix.lastErr, ix.lastRun = err, time.Now()
			ix.mu.Unlock()
			return err
		},
	}.Run(ctx)
}

func (ix *Indexer) resumeRebuild(ctx context.Context) error {
	pending, err := ix.feed.Cursor(ctx, indexRebuildCursor)
	if err != nil || pending == 0 {
		return err
	}
	ix.log.Info("resuming an unfinished search index rebuild")
	return ix.rebuild(ctx, nil)
}

// Drain applies every change after the indexer's cursor and returns how
// many it applied.
func (ix *Indexer) Drain(ctx context.Context) (int, error) {
	ix.work.Lock()
	defer ix.work.Unlock()
	return ix.drain(ctx)
}

func (ix *Indexer) drain(ctx context.Context) (int, error) {
	applied := 0
	for {
		after, err := ix.feed.Cursor(ctx, indexCursor)
		if err != nil {
			return applied, err
		}
		changes, err := ix.feed.Changes(ctx, after, indexBatch)
		if err != nil || len(changes) == 0 {
			return applied, err
		}
		if err := ix.apply(ctx, changes); err != nil {
			return applied, err
		}
		// Applied work is recorded even when a shutdown has just begun, so
		// the next start does not redo it.
		if err := ix.feed.SetCursor(context.WithoutCancel(ctx), indexCursor, changes[len(changes)-1].Seq); err != nil {
			return applied, err
		}
		applied += len(changes)
	}
}

// apply indexes the current state of each changed resource: replaying a
// change twice is harmless, so a crash between apply and SetCursor is too.
func (ix *Indexer) apply(ctx context.Context, changes []Change) error {
	seen := map[string]bool{}
	var upserts []Resource
	var deletes []string
	for i := len(changes) - 1; i >= 0; i-- { // newest state wins
		id := changes[i].ResourceID
		if changes[i].Collection != "" {
			continue // collections are not in the resource index
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		r, err := ix.resources.Get(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			deletes = append(deletes, id)
		case err != nil:
			return err
		default:
			upserts = append(upserts, r)
		}
	}
	if len(upserts) > 0 {
		if err := ix.index.Upsert(ctx, upserts); err != nil {
			return fmt.Errorf("index %d resources: %w", len(upserts), err)
		}
	}
	if len(deletes) > 0 {
		if err := ix.index.Delete(ctx, deletes); err != nil {
			return fmt.Errorf("remove %d resources from the index: %w", len(deletes), err)
		}
	}
	return nil
}

// Rebuild recreates the index from the catalog. progress, when not nil, is
// called after each batch with the count done and the total.
func (ix *Indexer) Rebuild(ctx context.Context, progress func(done, total int)) error {
	ix.work.Lock()
	defer ix.work.Unlock()
	err := ix.rebuild(ctx, progress)
	ix.mu.Lock()
	ix.lastErr, ix.lastRun = err, time.Now()
	ix.mu.Unlock()
	return err
}

func (ix *Indexer) rebuild(ctx context.Context, progress func(done, total int)) error {
	// Changes made during the rebuild are replayed afterwards from this
	// point; replaying is idempotent, so nothing can be missed.
	last, err := ix.feed.LastSeq(ctx)
	if err != nil {
		return err
	}
	if err := ix.feed.SetCursor(ctx, indexRebuildCursor, 1); err != nil {
		return err
	}
	if err := ix.index.Reset(ctx); err != nil {
		return fmt.Errorf("reset index: %w", err)
	}
	total, err := ix.resources.Count(ctx)
	if err != nil {
		return err
	}
	done, cursor := 0, ""
	for {
		rs, next, err := ix.resources.List(ctx, ListOptions{After: cursor, Limit: indexBatch})
		if err != nil {
			return err
		}
		if len(rs) > 0 {
			if err := ix.index.Upsert(ctx, rs); err != nil {
				return fmt.Errorf("rebuild: index batch: %w", err)
			}
		}
		done += len(rs)
		if progress != nil {
			progress(done, total)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if c, ok := ix.index.(Compacter); ok {
		// A rebuilt index is searched far more than it is written:
		// worth its reorganisation now rather than after the next writes.
		start := time.Now()
		if err := c.Compact(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			ix.log.Warn("search index rebuilt but not compacted; searches are slower until the next compaction", "err", err)
		} else {
			ix.log.Info("search index compacted", "took", time.Since(start).Round(time.Millisecond))
		}
	}
	if err := ix.feed.SetCursor(ctx, indexCursor, last); err != nil {
		return err
	}
	if err := ix.feed.SetCursor(ctx, indexRebuildCursor, 0); err != nil {
		return err
	}
	_, err = ix.drain(ctx)
	return err
}

// IndexStatus describes how far the index is behind the catalog.
type IndexStatus struct {
	Engine         string    `json:"engine"`
	Backlog        uint64    `json:"backlog"`
	Documents      int       `json:"documents"`
	Resources      int       `json:"resources"`
	RebuildPending bool      `json:"rebuild_pending"`
	LastError      string    `json:"last_error,omitempty"`
	LastRun        time.Time `json:"last_run"`
}

// Status reports the backlog and the engine's document count.
func (ix *Indexer) Status(ctx context.Context) (IndexStatus, error) {
	st := IndexStatus{Engine: ix.engine}
	cur, err := ix.feed.Cursor(ctx, indexCursor)
	if err != nil {
		return st, err
	}
	last, err := ix.feed.LastSeq(ctx)
	if err != nil {
		return st, err
	}
	if last > cur {
		st.Backlog = last - cur
	}
	if p, _ := ix.feed.Cursor(ctx, indexRebuildCursor); p != 0 {
		st.RebuildPending = true
	}
	if st.Resources, err = ix.resources.Count(ctx); err != nil {
		return st, err
	}
	ix.mu.Lock()
	if ix.lastErr != nil {
		st.LastError = ix.lastErr.Error()
	}
	st.LastRun = ix.lastRun
	ix.mu.Unlock()
	n, err := ix.index.Count(ctx)
	if err != nil {
		st.LastError = err.Error()
		return st, nil
	}
	st.Documents = n
	return st, nil
}

// RebuildIfEmpty schedules a rebuild when the engine holds no document while
// the catalog has resources and the feed alone would not refill it: a new
// Meilisearch index, an embedded index recreated after a format change, or a
// switch of engine. Run then does the rebuild, and redoes it after a crash.
func (ix *Indexer) RebuildIfEmpty(ctx context.Context) (bool, error) {
	docs, err := ix.index.Count(ctx)
	if err != nil || docs > 0 {
		// An index with documents needs no rebuild: no need to ask
		// the catalog (once a walk of every page, now a stored count).
		return false, err
	}
	resources, err := ix.resources.Count(ctx)
	if err != nil || resources == 0 {
		return false, err
	}
	cur, err := ix.feed.Cursor(ctx, indexCursor)
	if err != nil || cur == 0 {
		// Never indexed: draining the feed from its start fills the index.
		return false, err
	}
	ix.log.Info("search index is empty while the catalog is not; rebuilding", "engine", ix.engine, "resources", resources)
	if err := ix.feed.SetCursor(ctx, indexRebuildCursor, 1); err != nil {
		return false, err
	}
	ix.Notify()
	return true, nil
}
