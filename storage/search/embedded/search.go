package embedded

import (
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	bsearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"
	segment "github.com/blevesearch/scorch_segment_api/v2"

	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/search"
)

// Search runs a query.
//
// Only ranking goes through bleve's scoring; the rest works on one dense
// bitset per segment. The documents matching the text are the union of the
// postings of every term the query can match (read as bitmaps, not
// iterated); filters and disjunctive facet counts are intersections with
// the per-segment value bitsets cached in segcache.go; the newest order
// walks a cached per-segment order. Scoring looks at the documents having
// every word first and at the others only when those do not fill the page
// (Meilisearch's "words" rule, and far fewer documents for common words);
// on large indexes it runs on two goroutines, each over half of the
// documents. bleve's own collector would read doc values for every match
// and need one more full search per filtered facet: at 100k documents that
// alone was several times the latency budget.
func (x *Index) Search(ctx context.Context, q node.Query) (node.Results, error) {
	start := time.Now()
	q, err := search.Normalize(q)
	if err != nil {
		return node.Results{}, err
	}
	x.searching.Add(1)
	defer x.searching.Add(-1)
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.idx == nil {
		return node.Results{}, errClosed
	}
	adv, err := x.idx.Advanced()
	if err != nil {
		return node.Results{}, fmt.Errorf("embedded search: %w", err)
	}
	reader, err := adv.Reader()
	if err != nil {
		return node.Results{}, fmt.Errorf("embedded search: open reader: %w", err)
	}
	defer reader.Close()
	snap, ok := reader.(*scorch.IndexSnapshot)
	if !ok {
		return node.Results{}, fmt.Errorf("embedded search: unexpected index reader %T", reader)
	}

	e := &execution{q: q, words: x.parse(q.Text), segs: snap.Segments()}
	e.sort = q.Sort
	if len(e.words) == 0 {
		// Nothing to rank by (no text, or only stop words).
		e.sort = search.SortNewest
	}
	if e.caches, err = x.caches.get(e.segs); err != nil {
		return node.Results{}, fmt.Errorf("embedded search: %w", err)
	}
	e.offsets = make([]uint64, len(e.segs))
	var running uint64
	for i, s := range e.segs {
		e.offsets[i] = running
		running += s.Segment().Count()
	}
	e.filters()
	if err := e.match(ctx, x, reader); err != nil {
		return node.Results{}, err
	}

	var out node.Results
	var page []docRef
	for i := range e.segs {
		e.main[i] = e.text[i].clone()
		for _, a := range e.allowed {
			e.main[i].and(a[i])
		}
		out.Total += e.main[i].count()
	}
	if e.sort == search.SortNewest {
		page = e.newest()
	} else {
		page = e.top.page(search.Offset(q), q.PerPage)
	}
	// Facets and the first half of the page on one core, the second half
	// (stored fields, highlighting) on the other.
	out.Hits = make([]node.Hit, len(page))
	errs := make([]error, len(page))
	half := len(page) / 2
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		out.Facets = e.facets()
		for i := range page[:half] {
			out.Hits[i], errs[i] = x.load(e, page[i])
		}
	}()
	for i := half; i < len(page); i++ {
		out.Hits[i], errs[i] = x.load(e, page[i])
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return node.Results{}, err
		}
	}
	out.Took = time.Since(start)
	return out, nil
}

// execution is the state of one search over one index snapshot.
type execution struct {
	q       node.Query
	words   []word
	sort    string
	segs    []*scorch.SegmentSnapshot
	caches  []*segCache
	offsets []uint64
	// allowed holds, per filtered facet, the documents of each segment
	// having one of the picked values.
	allowed map[string][]bitset
	// text holds the documents of each segment matching the text (all live
	// documents when there is none); main the ones passing the filters too.
	text []bitset
	main []bitset
	top  topN
}

// live is the set of a segment's documents that are not deleted.
func live(s *scorch.SegmentSnapshot) bitset {
	n := s.Segment().Count()
	b := newBitset(n)
	for i := range b {
		b[i] = ^uint64(0)
	}
	if r := n % 64; r != 0 {
		b[len(b)-1] = 1<<r - 1
	}
	if d := s.Deleted(); d != nil {
		it := d.Iterator()
		for it.HasNext() {
			if v := it.Next(); uint64(v) < n {
				b[v>>6] &^= 1 << (v & 63)
			}
		}
	}
	return b
}

// docRef is a document of the snapshot: its segment and local number, and
// for relevance order its tier (0: has every word) and score.
type docRef struct {
	seg   int
	local uint32
	tier  int
	score float64
	// key is the document's sort key (newest first, unique): equal scores
	// are ordered by it, because segment and local numbers change when
	// segments merge and page 2 would then repeat a hit of page 1.
	key string
}

func (e *execution) filters() {
	e.allowed = map[string][]bitset{}
	for _, f := range node.Facets {
		values := e.q.Filters[f]
		if len(values) == 0 {
			continue
		}
		per := make([]bitset, len(e.segs))
		for i, c := range e.caches {
			bs := newBitset(e.segs[i].Segment().Count())
			for _, v := range values {
				if vb := c.values[f][v]; vb != nil {
					bs.or(vb)
				}
			}
			per[i] = bs
		}
		e.allowed[f] = per
	}
	e.text = make([]bitset, len(e.segs))
	e.main = make([]bitset, len(e.segs))
}

func (e *execution) passes(seg int, local uint32) bool {
	for _, a := range e.allowed {
		if !a[seg].has(local) {
			return false
		}
	}
	return true
}

// match fills e.text and, for relevance order, the top hits passing the
// filters.
func (e *execution) match(ctx context.Context, x *Index, reader index.IndexReader) error {
	if len(e.words) == 0 {
		for i, s := range e.segs {
			e.text[i] = live(s)
		}
		return nil
	}
	p := plan(e.words)
	if err := e.textSet(reader, p); err != nil {
		return searchErr(ctx, err)
	}
	if e.sort == search.SortNewest {
		return nil
	}
	keep := search.Offset(e.q) + e.q.PerPage
	// Tiers, each scored only when the ones before do not fill the pages
	// asked for: every word in the title; in the title or the summary;
	// anywhere; any word (for a single word, "anywhere" is "any").
	tiers := []query.Query{p.titleAll(), p.headAll(), p.all()}
	if len(e.words) == 1 {
		tiers = []query.Query{p.titleAll(), p.headAll(), p.any()}
	} else {
		tiers = append(tiers, p.any())
	}
	var seen []bitset
	passing := 0
	for tier, q := range tiers {
		found, err := e.scan(ctx, x, reader, q, tier, seen)
		if err != nil {
			return err
		}
		passing += found.passing
		if passing >= keep {
			return nil
		}
		if seen == nil {
			seen = found.seen
		} else {
			for i := range seen {
				seen[i].or(found.seen[i])
			}
		}
	}
	return nil
}

// textSet reads the documents matching the text from the postings of every
// term the query can match, without scoring: a union of bitmaps, where
// iterating the matches through bleve would cost as much as scoring them.
// The segments' postings stay valid while the reader is open.
func (e *execution) textSet(reader index.IndexReader, p *textPlan) error {
	leaves := slices.Clone(p.leaves)
	for _, ex := range p.expands {
		cands, err := ex.expansions(reader)
		if err != nil {
			return err
		}
		for _, c := range cands {
			leaves = append(leaves, leaf{ex.field, c.term})
		}
	}
	slices.SortFunc(leaves, func(a, b leaf) int {
		if c := strings.Compare(a.field, b.field); c != 0 {
			return c
		}
		return strings.Compare(a.term, b.term)
	})
	leaves = slices.Compact(leaves)
	for i, seg := range e.segs {
		rb := roaring.New()
		var dict segment.TermDictionary
		field := ""
		for _, l := range leaves {
			if dict == nil || l.field != field {
				d, err := seg.Segment().Dictionary(l.field)
				if err != nil {
					return err
				}
				dict, field = d, l.field
			}
			pl, err := dict.PostingsList([]byte(l.term), nil, nil)
			if err != nil {
				return err
			}
			if o, ok := pl.(interface{ OrInto(*roaring.Bitmap) }); ok {
				o.OrInto(rb)
				continue
			}
			it := pl.Iterator(false, false, false, nil)
			for {
				p, err := it.Next()
				if err != nil {
					return err
				}
				if p == nil {
					break
				}
				rb.Add(uint32(p.Number()))
			}
		}
		bs := live(seg)
		text := newBitset(seg.Segment().Count())
		rb.WriteDenseTo(text)
		text.and(bs)
		e.text[i] = text
	}
	return nil
}

// parallelFrom is the number of documents from which a query is scored by
// two goroutines, each over half of the document numbers. Below it the
// second searcher costs more than it saves. A variable so tests can force
// the parallel path on small indexes.
var parallelFrom uint64 = 20000

// scanned is what scoring a query found.
type scanned struct {
	seen    []bitset // every document matched (for the next tier to skip)
	passing int      // documents matched that pass the filters
}

// scan scores q and offers the documents passing the filters, and not in
// skip, to e.top in the given tier.
func (e *execution) scan(ctx context.Context, x *Index, reader index.IndexReader, q query.Query, tier int, skip []bitset) (scanned, error) {
	var total uint64
	if n := len(e.segs); n > 0 {
		total = e.offsets[n-1] + e.segs[n-1].Segment().Count()
	}
	bounds := []uint64{0, total}
	// With another search running, both cores are already busy: splitting
	// would only add goroutine and merge overhead to both.
	if total >= parallelFrom && runtime.GOMAXPROCS(0) >= 2 && x.searching.Load() <= 1 {
		bounds = []uint64{0, total / 2, total}
	}
	parts := make([]matchPart, len(bounds)-1)
	if len(parts) == 1 {
		parts[0] = e.scanRange(ctx, x, reader, q, tier, skip, bounds[0], bounds[1])
	} else {
		var wg sync.WaitGroup
		for i := range parts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				parts[i] = e.scanRange(ctx, x, reader, q, tier, skip, bounds[i], bounds[i+1])
			}()
		}
		wg.Wait()
	}
	out := scanned{seen: make([]bitset, len(e.segs))}
	for i, s := range e.segs {
		out.seen[i] = newBitset(s.Segment().Count())
	}
	keep := search.Offset(e.q) + e.q.PerPage
	for _, p := range parts {
		if p.err != nil {
			return out, p.err
		}
		for i, bs := range p.seen {
			out.seen[i].or(bs)
		}
		out.passing += p.passing
		for _, d := range p.top.h {
			e.top.offer(d, keep)
		}
	}
	return out, nil
}

type matchPart struct {
	seen    []bitset
	passing int
	top     topN
	err     error
}

// scanRange scores q on the documents numbered [lo, hi).
func (e *execution) scanRange(ctx context.Context, x *Index, reader index.IndexReader, q query.Query, tier int, skip []bitset, lo, hi uint64) (p matchPart) {
	p.seen = make([]bitset, len(e.segs))
	for i, s := range e.segs {
		p.seen[i] = newBitset(s.Segment().Count())
	}
	s, err := q.Searcher(ctx, reader, x.idx.Mapping(), bsearch.SearcherOptions{})
	if err != nil {
		p.err = searchErr(ctx, err)
		return p
	}
	defer s.Close()
	sctx := &bsearch.SearchContext{
		DocumentMatchPool: bsearch.NewDocumentMatchPool(s.DocumentMatchPoolSize(), 0),
		IndexReader:       reader,
	}
	keep := search.Offset(e.q) + e.q.PerPage
	var d *bsearch.DocumentMatch
	if lo > 0 {
		d, err = s.Advance(sctx, index.NewIndexInternalID(nil, lo))
	} else {
		d, err = s.Next(sctx)
	}
	seg := 0
	for n := 0; d != nil && err == nil; n++ {
		if n&1023 == 1023 {
			if err = ctx.Err(); err != nil {
				break
			}
		}
		g := d.IndexInternalID.Value()
		if g >= hi {
			break
		}
		// Matches come in document number order, so the segment only
		// moves forward.
		for seg+1 < len(e.offsets) && e.offsets[seg+1] <= g {
			seg++
		}
		local := uint32(g - e.offsets[seg])
		p.seen[seg].set(local)
		if (skip == nil || !skip[seg].has(local)) && e.passes(seg, local) {
			p.passing++
			p.top.offer(docRef{seg: seg, local: local, score: d.Score, tier: tier, key: e.caches[seg].keys[local]}, keep)
		}
		sctx.DocumentMatchPool.Put(d)
		d, err = s.Next(sctx)
	}
	if err != nil {
		p.err = searchErr(ctx, err)
	}
	return p
}

// facets counts, for each facet, the documents matching the text and the
// filters on the other facets, per value.
func (e *execution) facets() map[string][]node.FacetCount {
	out := make(map[string][]node.FacetCount, len(node.Facets))
	base := make([]bitset, len(e.segs))
	for _, f := range node.Facets {
		for i := range e.segs {
			b := e.text[i]
			cloned := false
			for g, a := range e.allowed {
				if g == f {
					continue
				}
				if !cloned {
					b, cloned = b.clone(), true
				}
				b.and(a[i])
			}
			base[i] = b
		}
		counts := map[string]int{}
		for i, c := range e.caches {
			if base[i].empty() {
				continue
			}
			for v, bs := range c.values[f] {
				if n := andCount(base[i], bs); n > 0 {
					counts[v] += n
				}
			}
		}
		// A picked value stays listed (at 0) so the UI can show it as
		// picked and let the user remove it.
		for _, v := range e.q.Filters[f] {
			if _, ok := counts[v]; !ok {
				counts[v] = 0
			}
		}
		fc := make([]node.FacetCount, 0, len(counts))
		for v, n := range counts {
			fc = append(fc, node.FacetCount{Value: v, Count: n})
		}
		search.SortCounts(fc)
		out[f] = fc
	}
	return out
}

// newest returns the page of e.main in newest order: each segment's cached
// order is walked until it has given enough documents, then the segments'
// candidates are merged by sort key.
func (e *execution) newest() []docRef {
	keep := search.Offset(e.q) + e.q.PerPage
	var cands []docRef
	for i, c := range e.caches {
		m := e.main[i]
		size := m.count()
		if size == 0 {
			continue
		}
		n := 0
		if size < len(c.order)/16 {
			// Few matches: sorting them beats scanning the whole order.
			mine := make([]docRef, 0, size)
			m.each(func(d uint32) { mine = append(mine, docRef{seg: i, local: d}) })
			slices.SortFunc(mine, func(a, b docRef) int { return strings.Compare(c.keys[a.local], c.keys[b.local]) })
			cands = append(cands, mine[:min(keep, len(mine))]...)
			continue
		}
		for _, d := range c.order {
			if m.has(d) {
				cands = append(cands, docRef{seg: i, local: d})
				if n++; n == keep {
					break
				}
			}
		}
	}
	slices.SortFunc(cands, func(a, b docRef) int {
		return strings.Compare(e.caches[a.seg].keys[a.local], e.caches[b.seg].keys[b.local])
	})
	from := min(search.Offset(e.q), len(cands))
	return cands[from:min(from+e.q.PerPage, len(cands))]
}

// load reads a hit's stored fields and highlights it.
func (x *Index) load(e *execution, d docRef) (node.Hit, error) {
	var id, src string
	err := e.segs[d.seg].VisitDocument(uint64(d.local), func(field string, _ byte, value []byte, _ []uint64) bool {
		switch field {
		case "_id":
			id = string(value)
		case fieldSource:
			src = string(value)
		}
		return true
	})
	if err != nil {
		return node.Hit{}, fmt.Errorf("embedded search: read stored hit: %w", err)
	}
	var s stored
	if err := json.Unmarshal([]byte(src), &s); err != nil {
		return node.Hit{}, fmt.Errorf("embedded search: decode stored hit %s: %w", id, err)
	}
	h := s.Hit
	h.ID = id
	h.Score = d.score
	if len(e.words) > 0 {
		h.Highlights = x.highlight(e.words, &s)
	}
	return h, nil
}

func searchErr(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("embedded search: %w", ctxErr)
	}
	return fmt.Errorf("embedded search: %w", err)
}

// topN keeps the best hits by score; equal scores are ordered by sort key
// (newest first), so pages do not overlap even across segment merges.
type topN struct{ h docHeap }

func (t *topN) offer(d docRef, keep int) {
	if len(t.h) < keep {
		heap.Push(&t.h, d)
		return
	}
	if better(d, t.h[0]) {
		t.h[0] = d
		heap.Fix(&t.h, 0)
	}
}

func (t *topN) page(offset, size int) []docRef {
	all := slices.Clone(t.h)
	slices.SortFunc(all, func(a, b docRef) int {
		switch {
		case better(a, b):
			return -1
		case better(b, a):
			return 1
		}
		return 0
	})
	from := min(offset, len(all))
	return all[from:min(from+size, len(all))]
}

func better(a, b docRef) bool {
	if a.tier != b.tier {
		return a.tier < b.tier
	}
	if a.score != b.score {
		return a.score > b.score
	}
	if a.key != b.key {
		return a.key < b.key
	}
	if a.seg != b.seg {
		return a.seg < b.seg
	}
	return a.local < b.local
}

// docHeap is a min-heap on quality: the root is the worst hit kept.
type docHeap []docRef

func (h docHeap) Len() int           { return len(h) }
func (h docHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h docHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *docHeap) Push(x any)        { *h = append(*h, x.(docRef)) }
func (h *docHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
