package search

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/communs-numerique/communs/node"
)

// Reconnecting is a node.Index that opens its engine on first use and again
// after a failed open, so that a node starts while its Meilisearch server is
// still down (or never came up), browsing keeps working, searches answer
// 503, and the indexer's retries reach the engine as soon as it is back.
type Reconnecting struct {
	open func(ctx context.Context) (node.Index, error)
	// retryEvery throttles open attempts: a dead server must not turn every
	// search into a connection attempt with a full timeout.
	retryEvery time.Duration

	mu      sync.Mutex
	idx     node.Index
	lastTry time.Time
	lastErr error
	closed  bool
	now     func() time.Time
}

var (
	_ node.Index           = (*Reconnecting)(nil)
	_ node.SettingsChecker = (*Reconnecting)(nil)
)

// NewReconnecting returns an index that calls open until it succeeds.
func NewReconnecting(open func(ctx context.Context) (node.Index, error), retryEvery time.Duration) *Reconnecting {
	return &Reconnecting{open: open, retryEvery: retryEvery, now: time.Now}
}

func (r *Reconnecting) get(ctx context.Context) (node.Index, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("search index closed")
	}
	if r.idx != nil {
		return r.idx, nil
	}
	if !r.lastTry.IsZero() && r.now().Sub(r.lastTry) < r.retryEvery {
		return nil, r.lastErr
	}
	r.lastTry = r.now()
	idx, err := r.open(ctx)
	if err != nil {
		if !errors.Is(err, node.ErrUnavailable) && !errors.Is(err, node.ErrInvalid) {
			err = fmt.Errorf("%w: %w", err, node.ErrUnavailable)
		}
		r.lastErr = err
		return nil, err
	}
	r.idx, r.lastErr = idx, nil
	return idx, nil
}

func (r *Reconnecting) Upsert(ctx context.Context, rs []node.Resource) error {
	idx, err := r.get(ctx)
	if err != nil {
		return err
	}
	return idx.Upsert(ctx, rs)
}

func (r *Reconnecting) Delete(ctx context.Context, ids []string) error {
	idx, err := r.get(ctx)
	if err != nil {
		return err
	}
	return idx.Delete(ctx, ids)
}

func (r *Reconnecting) Search(ctx context.Context, q node.Query) (node.Results, error) {
	idx, err := r.get(ctx)
	if err != nil {
		return node.Results{}, err
	}
	return idx.Search(ctx, q)
}

func (r *Reconnecting) Count(ctx context.Context) (int, error) {
	idx, err := r.get(ctx)
	if err != nil {
		return 0, err
	}
	return idx.Count(ctx)
}

func (r *Reconnecting) Reset(ctx context.Context) error {
	idx, err := r.get(ctx)
	if err != nil {
		return err
	}
	return idx.Reset(ctx)
}

func (r *Reconnecting) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.idx != nil {
		return r.idx.Close()
	}
	return nil
}

// CheckSettings forwards to the engine when it can check its settings.
func (r *Reconnecting) CheckSettings(ctx context.Context) error {
	idx, err := r.get(ctx)
	if err != nil {
		return err
	}
	if c, ok := idx.(node.SettingsChecker); ok {
		return c.CheckSettings(ctx)
	}
	return nil
}
