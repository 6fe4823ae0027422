package embedded

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/blevesearch/bleve/v2/index/scorch"
	bsearch "github.com/blevesearch/bleve/v2/search"

	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/search"
)

// plainPage ranks the documents the slow, obvious way: every tier's query
// run as one bleve boolean query over every document, each document in the
// first tier matching it, filters checked afterwards. The executor reads
// tier sets from postings and advances its scorers from candidate to
// candidate; it must give the same page, scores included.
func plainPage(t *testing.T, x *Index, q node.Query) []string {
	t.Helper()
	q, err := search.Normalize(q)
	if err != nil {
		t.Fatal(err)
	}
	adv, _ := x.idx.Advanced()
	reader, err := adv.Reader()
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	snap := reader.(*scorch.IndexSnapshot)
	e, err := x.newExecution(q, snap)
	if err != nil {
		t.Fatal(err)
	}
	p := plan(e.words)
	tiers := p.tiers()
	placed := map[uint64]bool{}
	var all []docRef
	for tier, tq := range tiers {
		s, err := tq.query().Searcher(context.Background(), reader, x.idx.Mapping(), bsearch.SearcherOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sctx := &bsearch.SearchContext{DocumentMatchPool: bsearch.NewDocumentMatchPool(s.DocumentMatchPoolSize(), 0), IndexReader: reader}
		for {
			d, err := s.Next(sctx)
			if err != nil {
				t.Fatal(err)
			}
			if d == nil {
				break
			}
			g := d.IndexInternalID.Value()
			seg := e.segmentOf(g)
			local := uint32(g - e.offsets[seg])
			if !placed[g] && e.passes(seg, local) {
				all = append(all, docRef{seg: seg, local: local, tier: tier, score: d.Score, key: e.caches[seg].keys[local]})
			}
			placed[g] = true
			sctx.DocumentMatchPool.Put(d)
		}
		s.Close()
	}
	slices.SortFunc(all, func(a, b docRef) int {
		if better(a, b) {
			return -1
		}
		return 1
	})
	from := min(search.Offset(q), len(all))
	var out []string
	for _, d := range all[from:min(from+q.PerPage, len(all))] {
		var id string
		err := e.segs[d.seg].VisitDocument(uint64(d.local), func(field string, _ byte, value []byte, _ []uint64) bool {
			if field == "_id" {
				id = string(value)
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s/%.9f", id, math.Round(d.score*1e9)/1e9))
	}
	return out
}

func TestTiersMatchAPlainScan(t *testing.T) {
	x := compactFixture(t, 1500)
	queries := append(slices.Clone(benchQueries),
		node.Query{Text: "creer son compte", Page: 2},
		node.Query{Text: "atelier", Filters: map[string][]string{"kind": {"workshop-kit"}}, Page: 4},
		node.Query{Text: "sm", Page: 5},
		node.Query{Text: "demarches en ligne impots", Filters: map[string][]string{"level": {"debutant"}}})
	for _, parallel := range []bool{false, true} {
		if parallel {
			old := parallelFrom
			parallelFrom = 1
			t.Cleanup(func() { parallelFrom = old })
		}
		for _, q := range queries {
			if q.Text == "" || q.Sort == search.SortNewest {
				continue // no ranking
			}
			res, err := x.Search(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range res.Hits {
				// Scores are compared to 9 places: summing in another
				// order moves the last bits.
				got = append(got, fmt.Sprintf("%s/%.9f", h.ID, math.Round(h.Score*1e9)/1e9))
			}
			if want := plainPage(t, x, q); !slices.Equal(got, want) {
				t.Errorf("parallel=%v %+v:\n got %v\nwant %v", parallel, q, got, want)
			}
		}
	}
}
