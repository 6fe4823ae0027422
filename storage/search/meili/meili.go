// Package meili is the node.Index backed by a Meilisearch server, for hubs
// with a large catalog or that already run Meilisearch. It keeps the same
// behaviour as the embedded engine: French and English analysis (through
// localizedAttributes), Meilisearch's typo sizes, disjunctive facets and
// HTML-safe highlights.
package meili

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/meilisearch/meilisearch-go"

	"github.com/communs-numerique/communs/node"
)

// Config locates the server and the index.
type Config struct {
	URL    string
	APIKey string
	// Index is the index uid; it is created if missing.
	Index string
	// Timeout bounds each request and each wait for an indexing task.
	// Zero means 30 seconds.
	Timeout time.Duration
}

// BatchSize is the number of documents sent per request: large enough for
// Meilisearch to batch efficiently, small enough to stay well under its
// payload limit with long descriptions.
const BatchSize = 1000

const defaultTimeout = 30 * time.Second

var indexUIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,400}$`)

// Index is a node.Index on a Meilisearch index. It is safe for concurrent
// use (the client is).
type Index struct {
	client  meilisearch.ServiceManager
	index   meilisearch.IndexManager
	uid     string
	timeout time.Duration
	// pollEvery is how often task status is polled.
	pollEvery time.Duration
}

var (
	_ node.Index           = (*Index)(nil)
	_ node.SettingsChecker = (*Index)(nil)
)

// Open connects to the server, creates the index if needed and applies the
// settings. It fails with node.ErrUnavailable when the server cannot be
// reached.
func Open(ctx context.Context, cfg Config) (*Index, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("meilisearch: no server URL: %w", node.ErrInvalid)
	}
	if !indexUIDRe.MatchString(cfg.Index) {
		return nil, fmt.Errorf("meilisearch: index name %q: use letters, digits, - and _: %w", cfg.Index, node.ErrInvalid)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	client := meilisearch.New(cfg.URL,
		meilisearch.WithAPIKey(cfg.APIKey),
		meilisearch.WithCustomClient(&http.Client{Timeout: cfg.Timeout}),
		// One attempt: a node falls back or reports; retrying three times
		// on a dead server only makes the failure slower.
		meilisearch.DisableRetries(),
	)
	x := &Index{client: client, index: client.Index(cfg.Index), uid: cfg.Index, timeout: cfg.Timeout, pollEvery: 50 * time.Millisecond}

	rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if _, err := client.HealthWithContext(rctx); err != nil {
		return nil, x.wrap("health check", err)
	}
	localized := true
	if v, err := client.VersionWithContext(rctx); err == nil {
		localized = supportsLocalized(v.PkgVersion)
	}
	task, err := client.CreateIndexWithContext(rctx, &meilisearch.IndexConfig{Uid: cfg.Index, PrimaryKey: "id"})
	if err != nil {
		return nil, x.wrap("create index", err)
	}
	if err := x.wait(ctx, task.TaskUID); err != nil && !isCode(err, "index_already_exists") {
		return nil, fmt.Errorf("meilisearch: create index %s: %w", cfg.Index, err)
	}
	task, err = x.index.UpdateSettingsWithContext(rctx, Settings(localized))
	if err != nil {
		return nil, x.wrap("update settings", err)
	}
	if err := x.wait(ctx, task.TaskUID); err != nil {
		return nil, fmt.Errorf("meilisearch: apply settings: %w", err)
	}
	return x, nil
}

// Upsert adds or replaces documents, BatchSize per request. All batches are
// sent before waiting, so the server indexes one while the next arrives.
func (x *Index) Upsert(ctx context.Context, rs []node.Resource) error {
	pk := "id"
	var tasks []int64
	for start := 0; start < len(rs); start += BatchSize {
		batch := rs[start:min(start+BatchSize, len(rs))]
		docs := make([]map[string]any, len(batch))
		for i, r := range batch {
			if r.ID == "" {
				return fmt.Errorf("meilisearch: resource without id: %w", node.ErrInvalid)
			}
			docs[i] = document(r)
		}
		rctx, cancel := context.WithTimeout(ctx, x.timeout)
		task, err := x.index.AddDocumentsWithContext(rctx, docs, &meilisearch.DocumentOptions{PrimaryKey: &pk})
		cancel()
		if err != nil {
			return x.wrap("add documents", err)
		}
		tasks = append(tasks, task.TaskUID)
	}
	return x.waitAll(ctx, "index documents", tasks)
}

// Delete removes documents by id.
func (x *Index) Delete(ctx context.Context, ids []string) error {
	var tasks []int64
	for start := 0; start < len(ids); start += BatchSize {
		rctx, cancel := context.WithTimeout(ctx, x.timeout)
		task, err := x.index.DeleteDocumentsWithContext(rctx, ids[start:min(start+BatchSize, len(ids))], nil)
		cancel()
		if err != nil {
			return x.wrap("delete documents", err)
		}
		tasks = append(tasks, task.TaskUID)
	}
	return x.waitAll(ctx, "delete documents", tasks)
}

// Count returns the number of documents.
func (x *Index) Count(ctx context.Context) (int, error) {
	rctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	st, err := x.index.GetStatsWithContext(rctx, nil)
	if err != nil {
		return 0, x.wrap("stats", err)
	}
	return int(st.NumberOfDocuments), nil
}

// Reset deletes every document, keeping the settings.
func (x *Index) Reset(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, x.timeout)
	task, err := x.index.DeleteAllDocumentsWithContext(rctx, nil)
	cancel()
	if err != nil {
		return x.wrap("delete all documents", err)
	}
	return x.waitAll(ctx, "delete all documents", []int64{task.TaskUID})
}

// Close releases idle connections.
func (x *Index) Close() error {
	x.client.Close()
	return nil
}

func (x *Index) waitAll(ctx context.Context, what string, tasks []int64) error {
	for _, uid := range tasks {
		if err := x.wait(ctx, uid); err != nil {
			return fmt.Errorf("meilisearch: %s: %w", what, err)
		}
	}
	return nil
}

// taskError is a task that Meilisearch processed and failed.
type taskError struct {
	uid           int64
	code, message string
}

func (e *taskError) Error() string {
	return fmt.Sprintf("task %d failed: %s (%s)", e.uid, e.message, e.code)
}

// wait waits for a task to finish, at most x.timeout, and turns a failed or
// canceled task into an error.
func (x *Index) wait(ctx context.Context, uid int64) error {
	wctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	task, err := x.client.WaitForTaskWithContext(wctx, uid, x.pollEvery)
	if err != nil {
		if wctx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("task %d not finished after %v: %w", uid, x.timeout, node.ErrUnavailable)
		}
		return x.wrap(fmt.Sprintf("wait for task %d", uid), err)
	}
	switch task.Status {
	case meilisearch.TaskStatusSucceeded:
		return nil
	case meilisearch.TaskStatusFailed:
		return &taskError{uid: uid, code: task.Error.Code, message: task.Error.Message}
	default:
		return &taskError{uid: uid, code: string(task.Status), message: "task " + string(task.Status)}
	}
}

func isCode(err error, code string) bool {
	var te *taskError
	return errors.As(err, &te) && te.code == code
}

// wrap adds context to a client error and marks the failures that mean the
// server cannot serve (unreachable, timing out, overloaded) with
// node.ErrUnavailable, so callers can fall back or answer 503.
func (x *Index) wrap(what string, err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("meilisearch: %s: %w", what, err)
	}
	var me *meilisearch.Error
	if errors.As(err, &me) {
		switch {
		case me.ErrCode == meilisearch.MeilisearchCommunicationError,
			me.ErrCode == meilisearch.MeilisearchTimeoutError,
			me.ErrCode == meilisearch.MeilisearchMaxRetriesExceeded,
			me.StatusCode >= 500:
			return fmt.Errorf("meilisearch: %s: %v: %w", what, err, node.ErrUnavailable)
		case me.StatusCode == http.StatusUnauthorized || me.StatusCode == http.StatusForbidden:
			return fmt.Errorf("meilisearch: %s: the API key is missing or refused: %v: %w", what, err, node.ErrUnavailable)
		}
		return fmt.Errorf("meilisearch: %s: %w", what, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("meilisearch: %s: %v: %w", what, err, node.ErrUnavailable)
	}
	return fmt.Errorf("meilisearch: %s: %w", what, err)
}

// CheckSettings compares the server's settings with the ones the node
// applies at start: an index edited by hand, or restored from another
// tool's dump, may rank or filter differently. It names the first
// difference.
func (x *Index) CheckSettings(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	got, err := x.index.GetSettingsWithContext(rctx)
	if err != nil {
		return x.wrap("read settings", err)
	}
	want := Settings(false)
	for _, c := range []struct {
		name      string
		got, want []string
	}{
		{"searchableAttributes", got.SearchableAttributes, want.SearchableAttributes},
		{"filterableAttributes", got.FilterableAttributes, want.FilterableAttributes},
		{"sortableAttributes", got.SortableAttributes, want.SortableAttributes},
		{"rankingRules", got.RankingRules, want.RankingRules},
	} {
		if !sameSet(c.got, c.want) {
			return fmt.Errorf("meilisearch index %s: %s is %v, the node expects %v", x.uid, c.name, c.got, c.want)
		}
	}
	if got.TypoTolerance == nil || got.TypoTolerance.MinWordSizeForTypos != want.TypoTolerance.MinWordSizeForTypos {
		return fmt.Errorf("meilisearch index %s: typo tolerance differs from the node's (1 typo from 5 letters, 2 from 9)", x.uid)
	}
	return nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, v := range a {
		seen[v]++
	}
	for _, v := range b {
		if seen[v] == 0 {
			return false
		}
		seen[v]--
	}
	return true
}
