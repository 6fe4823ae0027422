package node

import (
	"context"
	"sync"
	"time"
)

// Downloads persists monthly counts of file downloads per resource.
// Implementation: storage/catalog.
type Downloads interface {
	// AddDownloads adds counts for a month ("YYYY-MM") keyed by resource id.
	AddDownloads(ctx context.Context, month string, counts map[string]uint64) error
	// Downloads sums the month's counts of the given resources.
	Downloads(ctx context.Context, month string, ids []string) (uint64, error)
}

// DownloadCounter counts downloads in memory and writes them in batches:
// a download only takes a mutex and a map increment, never a disk write.
// Counts not yet flushed are lost if the process dies (at most one flush
// period's worth); a clean stop flushes them.
type DownloadCounter struct {
	store Downloads
	now   func() time.Time

	mu      sync.Mutex
	pending map[string]map[string]uint64 // month -> id -> count
}

// NewDownloadCounter returns a counter writing to store.
func NewDownloadCounter(store Downloads, now func() time.Time) *DownloadCounter {
	if now == nil {
		now = time.Now
	}
	return &DownloadCounter{store: store, now: now, pending: map[string]map[string]uint64{}}
}

// Month is the key of t's month.
func Month(t time.Time) string { return t.UTC().Format("2006-01") }

// Add counts one download of a file of resource id.
func (c *DownloadCounter) Add(id string) {
	m := Month(c.now())
	c.mu.Lock()
	byID := c.pending[m]
	if byID == nil {
		byID = map[string]uint64{}
		c.pending[m] = byID
	}
	byID[id]++
	c.mu.Unlock()
}

// Flush writes the pending counts; on failure they are kept for the next
// flush.
func (c *DownloadCounter) Flush(ctx context.Context) error {
	c.mu.Lock()
	batch := c.pending
	c.pending = map[string]map[string]uint64{}
	c.mu.Unlock()
	for month, counts := range batch {
		if err := c.store.AddDownloads(ctx, month, counts); err != nil {
			c.mu.Lock()
			for m, byID := range batch {
				for id, n := range byID {
					if c.pending[m] == nil {
						c.pending[m] = map[string]uint64{}
					}
					c.pending[m][id] += n
				}
			}
			c.mu.Unlock()
			return err
		}
		delete(batch, month)
	}
	return nil
}

// Run flushes every period until ctx ends, then flushes once more.
func (c *DownloadCounter) Run(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = c.Flush(context.WithoutCancel(ctx))
			return
		case <-t.C:
			_ = c.Flush(ctx)
		}
	}
}

// Total is the month's persisted count for the given resources plus what
// is still pending in memory.
func (c *DownloadCounter) Total(ctx context.Context, month string, ids []string) (uint64, error) {
	n, err := c.store.Downloads(ctx, month, ids)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	for _, id := range ids {
		n += c.pending[month][id]
	}
	c.mu.Unlock()
	return n, nil
}

// DownloadFlushPeriod is how often the serving node writes its download
// counts.
const DownloadFlushPeriod = 10 * time.Second

// CountDownload counts one download of a file of resource id (in memory;
// RunDownloadCounter writes the counts).
func (s *Service) CountDownload(id string) {
	if s.dls != nil {
		s.dls.Add(id)
	}
}

// RunDownloadCounter writes the download counts every
// DownloadFlushPeriod until ctx ends, then once more.
func (s *Service) RunDownloadCounter(ctx context.Context) {
	if s.dls != nil {
		s.dls.Run(ctx, DownloadFlushPeriod)
	}
}

// FlushDownloads writes the pending download counts now.
func (s *Service) FlushDownloads(ctx context.Context) error {
	if s.dls == nil {
		return nil
	}
	return s.dls.Flush(ctx)
}

// DownloadsThisMonth counts this month's file downloads of the resources.
func (s *Service) DownloadsThisMonth(ctx context.Context, ids []string) (uint64, error) {
	if s.dls == nil {
		return 0, nil
	}
	return s.dls.Total(ctx, Month(s.now()), ids)
}
