package embedded

import (
	"fmt"
	"sort"
	"sync"

	"github.com/blevesearch/bleve/v2/index/scorch"
	segment "github.com/blevesearch/scorch_segment_api/v2"
	"github.com/blevesearch/vellum"

	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/search"
)

// segCache is what facets and the newest order need from one segment, read
// once: scorch segments are immutable (deletions are kept beside them), so
// this stays valid for the segment's whole life. It lets a search count
// facets by intersecting bitsets instead of reading doc values for every
// matching document, which is what makes facets affordable at 100k
// documents.
type segCache struct {
	// values maps a facet to its values and the local numbers of the
	// documents having them, deleted documents included (they are removed
	// by intersecting with the live matches).
	values map[string]map[string]bitset
	// order lists local document numbers newest first (sort key order);
	// keys holds each document's sort key, by local number.
	order []uint32
	keys  []string
}

type cacheEntry struct {
	once sync.Once
	c    *segCache
	err  error
}

// segCaches keys entries by segment identity. Entries of segments merged
// away are dropped once the map outgrows the live segments.
type segCaches struct {
	mu sync.Mutex
	m  map[segment.Segment]*cacheEntry
}

func (sc *segCaches) get(segs []*scorch.SegmentSnapshot) ([]*segCache, error) {
	entries := make([]*cacheEntry, len(segs))
	sc.mu.Lock()
	if sc.m == nil {
		sc.m = map[segment.Segment]*cacheEntry{}
	}
	for i, s := range segs {
		e := sc.m[s.Segment()]
		if e == nil {
			e = &cacheEntry{}
			sc.m[s.Segment()] = e
		}
		entries[i] = e
	}
	if len(sc.m) > 2*len(segs)+8 {
		live := make(map[segment.Segment]bool, len(segs))
		for _, s := range segs {
			live[s.Segment()] = true
		}
		for k := range sc.m {
			if !live[k] {
				delete(sc.m, k)
			}
		}
	}
	sc.mu.Unlock()

	out := make([]*segCache, len(segs))
	for i, e := range entries {
		// Building outside the map lock lets searches that only need
		// cached segments go on while a new segment is read.
		e.once.Do(func() { e.c, e.err = buildSegCache(segs[i].Segment()) })
		if e.err != nil {
			return nil, e.err
		}
		out[i] = e.c
	}
	return out, nil
}

func (sc *segCaches) reset() {
	sc.mu.Lock()
	sc.m = nil
	sc.mu.Unlock()
}

func buildSegCache(seg segment.Segment) (*segCache, error) {
	n := seg.Count()
	c := &segCache{values: make(map[string]map[string]bitset, len(node.Facets))}
	for _, f := range node.Facets {
		vals := map[string]bitset{}
		err := eachTerm(seg, search.Attribute(f), func(term string, docs []uint32) {
			bs := newBitset(n)
			for _, d := range docs {
				if uint64(d) < n {
					bs.set(d)
				}
			}
			vals[term] = bs
		})
		if err != nil {
			return nil, fmt.Errorf("read facet %s: %w", f, err)
		}
		c.values[f] = vals
	}
	c.keys = make([]string, n)
	c.order = make([]uint32, 0, n)
	err := eachTerm(seg, fieldSortKey, func(term string, docs []uint32) {
		for _, d := range docs {
			if uint64(d) < n {
				c.keys[d] = term
				c.order = append(c.order, d)
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read sort keys: %w", err)
	}
	// Dictionary order is key order already; sorting again only guards
	// against a segment format that would not iterate in order.
	if !sort.SliceIsSorted(c.order, func(a, b int) bool { return c.keys[c.order[a]] < c.keys[c.order[b]] }) {
		sort.SliceStable(c.order, func(a, b int) bool { return c.keys[c.order[a]] < c.keys[c.order[b]] })
	}
	return c, nil
}

// eachTerm calls fn with every term of a field and the documents having it.
// Document numbers are copied out of the postings rather than sharing the
// segment's bitmaps, which may point into a memory-mapped file that goes
// away when the segment is merged.
func eachTerm(seg segment.Segment, field string, fn func(term string, docs []uint32)) error {
	dict, err := seg.Dictionary(field)
	if err != nil {
		return err
	}
	it := dict.AutomatonIterator(&vellum.AlwaysMatch{}, nil, nil)
	var docs []uint32
	var pl segment.PostingsList
	var pi segment.PostingsIterator
	for {
		e, err := it.Next()
		if err != nil {
			return err
		}
		if e == nil {
			return nil
		}
		pl, err = dict.PostingsList([]byte(e.Term), nil, pl)
		if err != nil {
			return err
		}
		pi = pl.Iterator(false, false, false, pi)
		docs = docs[:0]
		for {
			p, err := pi.Next()
			if err != nil {
				return err
			}
			if p == nil {
				break
			}
			docs = append(docs, uint32(p.Number()))
		}
		fn(e.Term, docs)
	}
}
