// Package embedded is the in-process search engine: a bleve index in a
// folder, with French and English analysis, typo tolerance, prefix search on
// the word being typed, disjunctive facets and HTML-safe highlights. It needs
// no server, so a small hub runs search out of the box.
//
// Scoring uses bleve's searchers; matching sets, filters, facets and the
// newest order are computed here on scorch's segments (search.go,
// segcache.go), which ties this package to bleve's scorch index and zap
// segments: when upgrading bleve, run the contract suite and the benchmarks.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	blevedoc "github.com/blevesearch/bleve/v2/document"

	"github.com/communs-numerique/communs/node"
)

// batchSize bounds the memory of one bleve batch; bigger batches index
// faster until the analysed batch no longer fits comfortably in memory.
const batchSize = 1000

const schemaKey = "communs_schema"

var errClosed = fmt.Errorf("embedded search index is closed: %w", node.ErrUnavailable)

// Index is a node.Index backed by bleve. It is safe for concurrent use.
type Index struct {
	dir string
	// searching counts searches in flight: a search splits its scoring
	// over two cores only when it has them to itself.
	searching atomic.Int32

	// mu guards idx: searches and writes share it (bleve serialises what it
	// must), Reset and Close take it exclusively to swap or drop the index.
	mu  sync.RWMutex
	idx bleve.Index

	fr, en, raw analysis.Analyzer
	// The analyzers' filters, for highlighting words split without the
	// (slow) index tokenizer.
	frChain, enChain, rawChain chain
	caches                     segCaches
	compaction                 compactor
	// shared analyses each text of a document once for all its fields
	// (shared.go); nil when the analysers are not the known chains.
	shared *sharedAnalyzers
}

var _ node.Index = (*Index)(nil)

// Open opens the index stored in dir, creating dir and an empty index if
// needed. An index written by an incompatible version of this package is
// recreated empty, and Count then reports 0 so the node knows to rebuild.
func Open(dir string) (*Index, error) {
	if dir == "" {
		return nil, fmt.Errorf("embedded search: no index folder given: %w", node.ErrInvalid)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("embedded search: create %s: %w", dir, err)
	}
	x := &Index{dir: dir}
	idx, err := x.open()
	if err != nil {
		return nil, err
	}
	x.idx = idx
	m := idx.Mapping()
	x.fr, x.en, x.raw = m.AnalyzerNamed(analyzerFR), m.AnalyzerNamed(analyzerEN), m.AnalyzerNamed(analyzerRaw)
	x.frChain, x.enChain, x.rawChain = newChain(x.fr), newChain(x.en), newChain(x.raw)
	if x.frChain == nil || x.enChain == nil || x.rawChain == nil {
		idx.Close()
		return nil, errors.New("embedded search: analyzers not registered")
	}
	x.shared = newSharedAnalyzers(x.fr, x.en, x.raw, m.AnalyzerNamed(analyzerFRPairs), m.AnalyzerNamed(analyzerENPairs))
	x.startCompactor()
	return x, nil
}

// path is a subfolder so Reset can delete the whole bleve folder without
// touching whatever else the caller keeps in dir.
func (x *Index) path() string { return filepath.Join(x.dir, "bleve") }

func (x *Index) open() (bleve.Index, error) {
	p := x.path()
	if _, err := os.Stat(filepath.Join(p, "index_meta.json")); err == nil {
		idx, err := bleve.Open(p)
		if err != nil {
			return nil, fmt.Errorf("embedded search: open %s: %w", p, err)
		}
		v, err := idx.GetInternal([]byte(schemaKey))
		if err == nil && string(v) == schemaVersion {
			return idx, nil
		}
		if err := idx.Close(); err != nil {
			return nil, fmt.Errorf("embedded search: close outdated index %s: %w", p, err)
		}
	}
	return x.create()
}

func (x *Index) create() (bleve.Index, error) {
	p := x.path()
	if err := os.RemoveAll(p); err != nil {
		return nil, fmt.Errorf("embedded search: remove %s: %w", p, err)
	}
	idx, err := bleve.New(p, newMapping())
	if err != nil {
		return nil, fmt.Errorf("embedded search: create %s: %w", p, err)
	}
	if err := idx.SetInternal([]byte(schemaKey), []byte(schemaVersion)); err != nil {
		idx.Close()
		return nil, fmt.Errorf("embedded search: write schema version: %w", err)
	}
	return idx, nil
}

// Upsert adds or replaces documents, in batches.
func (x *Index) Upsert(ctx context.Context, rs []node.Resource) error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.idx == nil {
		return errClosed
	}
	b := x.idx.NewBatch()
	m := x.idx.Mapping()
	flush := func() error {
		if b.Size() == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := x.idx.Batch(b); err != nil {
			return fmt.Errorf("embedded search: index batch: %w", err)
		}
		x.wrote(b.Size())
		b.Reset()
		return nil
	}
	for _, r := range rs {
		if r.ID == "" {
			return fmt.Errorf("embedded search: resource without id: %w", node.ErrInvalid)
		}
		d, err := newDocument(r)
		if err != nil {
			return fmt.Errorf("embedded search: %w", err)
		}
		// What Batch.Index does, with the text fields' analysers
		// replaced by shared ones.
		doc := blevedoc.NewDocument(r.ID)
		if err := m.MapDocument(doc, d); err != nil {
			return fmt.Errorf("embedded search: analyse %s: %w", r.ID, err)
		}
		if x.shared != nil {
			x.shared.share(doc)
		}
		if err := b.IndexAdvanced(doc); err != nil {
			return fmt.Errorf("embedded search: analyse %s: %w", r.ID, err)
		}
		if b.Size() >= batchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// Delete removes documents by id.
func (x *Index) Delete(ctx context.Context, ids []string) error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.idx == nil {
		return errClosed
	}
	for start := 0; start < len(ids); start += batchSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		b := x.idx.NewBatch()
		for _, id := range ids[start:min(start+batchSize, len(ids))] {
			b.Delete(id)
		}
		if err := x.idx.Batch(b); err != nil {
			return fmt.Errorf("embedded search: delete batch: %w", err)
		}
		x.wrote(b.Size())
	}
	return nil
}

// Count returns the number of documents.
func (x *Index) Count(context.Context) (int, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.idx == nil {
		return 0, errClosed
	}
	n, err := x.idx.DocCount()
	if err != nil {
		return 0, fmt.Errorf("embedded search: count: %w", err)
	}
	return int(n), nil
}

// Reset empties the index by recreating it, which is much faster than
// deleting every document and leaves no deleted-document overhead behind.
func (x *Index) Reset(context.Context) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.idx == nil {
		return errClosed
	}
	if err := x.idx.Close(); err != nil {
		return fmt.Errorf("embedded search: close before reset: %w", err)
	}
	x.idx = nil
	x.caches.reset()
	idx, err := x.create()
	if err != nil {
		return err
	}
	x.idx = idx
	return nil
}

// Close releases the index. Later calls fail with node.ErrUnavailable.
func (x *Index) Close() error {
	x.stopCompactor()
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.idx == nil {
		return nil
	}
	err := x.idx.Close()
	x.idx = nil
	if err != nil {
		return fmt.Errorf("embedded search: close: %w", err)
	}
	return nil
}
