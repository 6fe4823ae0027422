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

	e, err := x.newExecution(q, snap)
	if err != nil {
		return node.Results{}, err
	}
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
	// tiers holds, per ranking tier, the documents of each segment the
	// tier's query matches (read from postings, see textSet).
	tiers [][]bitset
	top   topN
}

// newExecution prepares a search of q over a snapshot: its words, the
// segments' caches and numbering, and the filters' bitsets.
func (x *Index) newExecution(q node.Query, snap *scorch.IndexSnapshot) (*execution, error) {
	e := &execution{q: q, words: x.parse(q.Text), segs: snap.Segments()}
	e.sort = q.Sort
	if len(e.words) == 0 {
		// Nothing to rank by (no text, or only stop words).
		e.sort = search.SortNewest
	}
	var err error
	if e.caches, err = x.caches.get(e.segs); err != nil {
		return nil, fmt.Errorf("embedded search: %w", err)
	}
	e.offsets = make([]uint64, len(e.segs))
	var running uint64
	for i, s := range e.segs {
		e.offsets[i] = running
		running += s.Segment().Count()
	}
	e.filters()
	return e, nil
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
	// asked for.
	tiers := p.tiers()
	// Each tier scores only its own documents that pass the filters and
	// that no tier before had: known from postings before scoring, so an
	// empty tier costs nothing and a tier's scorer jumps from one of its
	// documents to the next instead of walking every posting of its terms.
	covered := make([]bitset, len(e.segs))
	for i, s := range e.segs {
		covered[i] = newBitset(s.Segment().Count())
	}
	passing := 0
	for tier, q := range tiers {
		cands := make([]bitset, len(e.segs))
		n, matched := 0, 0
		for i := range e.segs {
			c := e.tiers[tier][i].clone()
			matched += c.count()
			for _, a := range e.allowed {
				c.and(a[i])
			}
			c.andNot(covered[i])
			n += c.count()
			cands[i] = c
		}
		if n > 0 {
			// Stepping through a conjunction leapfrogs over every
			// posting of its words; jumping lands on its documents
			// only. Through a disjunction, jumping costs more per
			// document than stepping: it pays when it skips at least
			// half of them.
			conjunction := len(e.words) > 1 && tier < 3
			jump := conjunction || n*2 < matched
			found, err := e.scan(ctx, x, reader, q, tier, cands, jump)
			if err != nil {
				return err
			}
			passing += found
			if passing >= keep {
				return nil
			}
		}
		for i := range covered {
			covered[i].or(e.tiers[tier][i])
		}
	}
	return nil
}

// textSet reads the documents matching the text, and those of each
// ranking tier, from the postings of every term the query can match,
// without scoring: per word, a union of bitmaps for the terms counting in
// the title tier, then the title-or-summary tier, then anywhere; across
// words, intersections (every word) and the union (any word). Iterating
// the matches through bleve would cost as much as scoring them. The
// segments' postings stay valid while the reader is open.
func (e *execution) textSet(reader index.IndexReader, p *textPlan) error {
	resolve := func(ls []leaf, exs []*expandQuery) ([]leaf, error) {
		out := slices.Clone(ls)
		for _, ex := range exs {
			cands, err := ex.expansions(reader)
			if err != nil {
				return nil, err
			}
			for _, c := range cands {
				out = append(out, leaf{ex.field, c.term})
			}
		}
		return out, nil
	}
	type groups struct{ title, head, rest []leaf }
	gs := make([]groups, len(p.words))
	for w, wt := range p.words {
		var err error
		if gs[w].title, err = resolve(wt.title, wt.titleEx); err != nil {
			return err
		}
		if gs[w].head, err = resolve(wt.head, wt.headEx); err != nil {
			return err
		}
		if gs[w].rest, err = resolve(wt.rest, wt.restEx); err != nil {
			return err
		}
	}
	tiers := p.tierCount()
	e.tiers = make([][]bitset, tiers)
	for k := range e.tiers {
		e.tiers[k] = make([]bitset, len(e.segs))
	}
	for i, seg := range e.segs {
		n := seg.Segment().Count()
		dicts := map[string]segment.TermDictionary{}
		rb := roaring.New()
		add := func(ls []leaf) error {
			for _, l := range ls {
				dict := dicts[l.field]
				if dict == nil {
					d, err := seg.Segment().Dictionary(l.field)
					if err != nil {
						return err
					}
					dict, dicts[l.field] = d, d
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
			return nil
		}
		dense := func() bitset {
			b := newBitset(n)
			rb.WriteDenseTo(b)
			return b
		}
		text := newBitset(n)
		var title, head, all bitset
		for w := range gs {
			rb.Clear()
			if err := add(gs[w].title); err != nil {
				return err
			}
			t := dense()
			if err := add(gs[w].head); err != nil {
				return err
			}
			h := dense()
			if err := add(gs[w].rest); err != nil {
				return err
			}
			a := dense()
			text.or(a)
			if w == 0 {
				title, head, all = t, h, a
			} else {
				title.and(t)
				head.and(h)
				all.and(a)
			}
		}
		lv := live(seg)
		for _, b := range []bitset{text, title, head, all} {
			b.and(lv)
		}
		e.text[i] = text
		e.tiers[0][i], e.tiers[1][i], e.tiers[2][i] = title, head, all
		if tiers == 4 {
			e.tiers[3][i] = text
		}
	}
	return nil
}

// parallelFrom is the number of documents from which a query is scored by
// two goroutines, each over half of the document numbers. Below it the
// second searcher costs more than it saves. A variable so tests can force
// the parallel path on small indexes.
var parallelFrom uint64 = 20000

// scan scores q on the documents in cands and offers them to e.top in the
// given tier; it returns how many it offered.
func (e *execution) scan(ctx context.Context, x *Index, reader index.IndexReader, q tierQuery, tier int, cands []bitset, jump bool) (int, error) {
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
		parts[0] = e.scanRange(ctx, x, reader, q, tier, cands, jump, bounds[0], bounds[1])
	} else {
		var wg sync.WaitGroup
		for i := range parts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				parts[i] = e.scanRange(ctx, x, reader, q, tier, cands, jump, bounds[i], bounds[i+1])
			}()
		}
		wg.Wait()
	}
	keep := search.Offset(e.q) + e.q.PerPage
	offered := 0
	for _, p := range parts {
		if p.err != nil {
			return offered, p.err
		}
		offered += p.offered
		for _, d := range p.top.h {
			e.top.offer(d, keep)
		}
	}
	return offered, nil
}

type matchPart struct {
	offered int
	top     topN
	err     error
}

// scanRange scores q on the candidates numbered [lo, hi). With jump, the
// scorer is advanced from one candidate to the next: bleve's disjunctions
// and conjunctions then skip whole runs of postings that only documents of
// earlier tiers, or filtered out, have. Without, it steps through its
// matches, which is cheaper per document when most are candidates.
func (e *execution) scanRange(ctx context.Context, x *Index, reader index.IndexReader, q tierQuery, tier int, cands []bitset, jump bool, lo, hi uint64) (p matchPart) {
	first, ok := e.nextCandidate(cands, lo, hi)
	if !ok {
		return p
	}
	if jump {
		p.err = e.jump(ctx, x, reader, q, tier, cands, first, hi, &p.top, &p.offered)
	} else {
		p.err = e.step(ctx, x, reader, q, tier, cands, first, hi, &p.top, &p.offered)
	}
	if p.err != nil {
		p.err = searchErr(ctx, p.err)
	}
	return p
}

func (e *execution) step(ctx context.Context, x *Index, reader index.IndexReader, q tierQuery, tier int, cands []bitset, first, hi uint64, top *topN, offered *int) error {
	s, err := q.query().Searcher(ctx, reader, x.idx.Mapping(), bsearch.SearcherOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	sctx := &bsearch.SearchContext{
		DocumentMatchPool: bsearch.NewDocumentMatchPool(s.DocumentMatchPoolSize(), 0),
		IndexReader:       reader,
	}
	keep := search.Offset(e.q) + e.q.PerPage
	// The last candidate below hi: past it, nothing more is offered.
	last := first
	for seg := e.segmentOf(hi - 1); seg >= 0; seg-- {
		top := hi - 1 - e.offsets[seg]
		if n := e.segs[seg].Segment().Count(); top >= n {
			top = n - 1
		}
		if local, ok := cands[seg].prevFrom(top); ok {
			last = e.offsets[seg] + uint64(local)
			break
		}
	}
	d, err := s.Advance(sctx, index.NewIndexInternalID(nil, first))
	seg := e.segmentOf(first)
	for n := 0; d != nil && err == nil; n++ {
		if n&1023 == 1023 {
			if err = ctx.Err(); err != nil {
				break
			}
		}
		g := d.IndexInternalID.Value()
		if g > last {
			break
		}
		// Matches come in document number order, so the segment only
		// moves forward.
		for seg+1 < len(e.offsets) && e.offsets[seg+1] <= g {
			seg++
		}
		local := uint32(g - e.offsets[seg])
		if cands[seg].has(local) {
			*offered++
			top.offer(docRef{seg: seg, local: local, score: d.Score, tier: tier, key: e.caches[seg].keys[local]}, keep)
		}
		sctx.DocumentMatchPool.Put(d)
		d, err = s.Next(sctx)
	}
	return err
}

func (e *execution) jump(ctx context.Context, x *Index, reader index.IndexReader, q tierQuery, tier int, cands []bitset, next, hi uint64, top *topN, offered *int) error {
	s, pairs, err := q.jumpers(ctx, reader, x.idx.Mapping())
	if err != nil {
		return err
	}
	defer s.Close()
	size := s.DocumentMatchPoolSize()
	if pairs != nil {
		defer pairs.Close()
		size += pairs.DocumentMatchPoolSize()
	}
	sctx := &bsearch.SearchContext{
		DocumentMatchPool: bsearch.NewDocumentMatchPool(size, 0),
		IndexReader:       reader,
	}
	keep := search.Offset(e.q) + e.q.PerPage
	var pd *bsearch.DocumentMatch // the pairs' current match
	for n, ok := 0, true; ok; n++ {
		if n&1023 == 1023 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		d, err := s.Advance(sctx, index.NewIndexInternalID(nil, next))
		if err != nil || d == nil {
			return err
		}
		g := d.IndexInternalID.Value()
		seg := e.segmentOf(g)
		local := uint32(g - e.offsets[seg])
		if g < hi && cands[seg].has(local) {
			score := d.Score
			if pairs != nil {
				if pd != nil && pd.IndexInternalID.Value() < g {
					sctx.DocumentMatchPool.Put(pd)
					pd = nil
				}
				if pd == nil {
					if pd, err = pairs.Advance(sctx, index.NewIndexInternalID(nil, g)); err != nil {
						return err
					}
				}
				if pd != nil && pd.IndexInternalID.Value() == g {
					score += pd.Score
				}
			}
			*offered++
			top.offer(docRef{seg: seg, local: local, score: score, tier: tier, key: e.caches[seg].keys[local]}, keep)
			g++
		}
		sctx.DocumentMatchPool.Put(d)
		next, ok = e.nextCandidate(cands, g, hi)
	}
	return nil
}

// segmentOf returns the segment holding the document numbered g.
func (e *execution) segmentOf(g uint64) int {
	seg, _ := slices.BinarySearch(e.offsets, g+1)
	return seg - 1
}

// nextCandidate returns the first candidate numbered at least from and
// below hi.
func (e *execution) nextCandidate(cands []bitset, from, hi uint64) (uint64, bool) {
	if from >= hi {
		return 0, false
	}
	for seg := e.segmentOf(from); seg < len(cands); seg++ {
		start := uint64(0)
		if from > e.offsets[seg] {
			start = from - e.offsets[seg]
		}
		if local, ok := cands[seg].nextFrom(start); ok {
			g := e.offsets[seg] + uint64(local)
			return g, g < hi
		}
	}
	return 0, false
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
