package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/blob"
	"github.com/communs-numerique/communs/storage/catalog"
	"github.com/communs-numerique/communs/storage/search"
	"github.com/communs-numerique/communs/storage/search/embedded"
	"github.com/communs-numerique/communs/storage/search/meili"
)

// Stores are the concrete adapters a node runs on.
type Stores struct {
	Catalog *catalog.Store
	Blobs   node.Blobs
	// Index and Indexer are opened only where searching or indexing
	// happens (serve, index commands): the embedded index locks its files
	// like bbolt does, and the feed lets the indexer catch up later on
	// what a CLI command wrote.
	Index   node.Index
	Indexer *node.Indexer
	// notify are the workers woken after each committed change.
	notify []func()
	// flush writes what the service batches for the catalog (blobs'
	// CRC-32) before it closes.
	flush func()
}

// Close closes what was opened; each part may be missing.
func (s *Stores) Close() error {
	if s == nil {
		return nil
	}
	var err error
	if s.Index != nil {
		err = s.Index.Close()
	}
	if s.flush != nil {
		s.flush()
	}
	if s.Catalog != nil {
		err = errors.Join(err, s.Catalog.Close())
	}
	return err
}

// OpenStores opens the catalog and the blob store of cfg's data folder,
// without search index: what the offline CLI commands need.
func OpenStores(ctx context.Context, cfg Config) (*Stores, error) {
	if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
		return nil, fmt.Errorf("create data folder %s: %w", cfg.Data, err)
	}
	cat, err := catalog.Open(filepath.Join(cfg.Data, "catalog.db"))
	if err != nil {
		return nil, err
	}
	st := &Stores{Catalog: cat}
	switch {
	case cfg.Blobs != nil:
		st.Blobs = cfg.Blobs
	case cfg.Storage == "s3":
		s3, err := blob.NewS3(ctx, cfg.S3)
		if err != nil {
			cat.Close()
			return nil, fmt.Errorf("S3 storage at %s: %w", cfg.S3.Endpoint, err)
		}
		st.Blobs = s3
	default:
		d, err := blob.NewDisk(filepath.Join(cfg.Data, "blobs"))
		if err != nil {
			cat.Close()
			return nil, err
		}
		st.Blobs = d
	}
	return st, nil
}

// OpenService opens the stores and the service on them; withIndex also
// opens the search engine and the indexer that follows the catalog.
func OpenService(ctx context.Context, cfg Config, log *slog.Logger, withIndex bool) (*node.Service, *Stores, error) {
	st, err := OpenStores(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	if cfg.metrics != nil {
		st.Blobs = cfg.metrics.Blobs(st.Blobs)
	}
	changed := func() {
		for _, n := range st.notify {
			n()
		}
	}
	if withIndex {
		idx, engine, err := OpenIndex(cfg)
		if err != nil {
			st.Close()
			return nil, nil, err
		}
		if cfg.metrics != nil {
			idx = cfg.metrics.Index(idx)
		}
		st.Index = idx
		st.Indexer = node.NewIndexer(st.Catalog, idx, engine, log)
		st.notify = append(st.notify, st.Indexer.Notify)
	}
	policy, err := node.NewPolicy(cfg.Allow...)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	svc, err := node.New(node.Config{Catalog: st.Catalog, Accounts: st.Catalog, Organisations: st.Catalog, Collections: st.Catalog, Adaptations: st.Catalog, Downloads: st.Catalog, Reports: st.Catalog, Blobs: st.Blobs, Policy: policy,
		Hub: cfg.Hub, MaxFileSize: cfg.MaxFileSize, Logger: log, Index: st.Index, Changed: changed})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	st.flush = svc.FlushChecksums
	return svc, st, nil
}

// OpenIndex opens the configured search engine. A Meilisearch server that is
// down does not stop the node: the index reconnects when it is back, and
// until then searches answer 503 while browsing works.
func OpenIndex(cfg Config) (node.Index, string, error) {
	if cfg.Index != nil {
		return cfg.Index, "test", nil
	}
	switch cfg.Search {
	case "meilisearch":
		mc := cfg.Meili
		idx := search.NewReconnecting(func(ctx context.Context) (node.Index, error) {
			return meili.Open(ctx, mc)
		}, 5*time.Second)
		return idx, "meilisearch " + mc.URL + " index " + mc.Index, nil
	default:
		dir := filepath.Join(cfg.Data, "search")
		idx, err := embedded.Open(dir)
		if err != nil {
			return nil, "", fmt.Errorf("open the search index in %s: %w", dir, err)
		}
		return idx, "embedded " + dir, nil
	}
}
