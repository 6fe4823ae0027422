package embedded

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	bsearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/blevesearch/bleve/v2/search/searcher"
	index "github.com/blevesearch/bleve_index_api"
	"github.com/blevesearch/vellum/levenshtein"
)

// Query shaping, in the spirit of Meilisearch's defaults.
const (
	// maxWords caps the words of a query, as Meilisearch does: a pasted
	// paragraph must not turn into hundreds of clauses.
	maxWords = 10
	// oneTypo and twoTypos are Meilisearch's minWordSizeForTypos.
	oneTypo  = 5
	twoTypos = 9
	// minPrefix is the shortest word completed as typed: one letter would
	// expand to a large part of the dictionary for little meaning.
	minPrefix = 2
	// Expansions keep the most useful candidates only (closest, then most
	// frequent), which bounds latency on a big dictionary the way
	// Meilisearch bounds its word derivations.
	maxFuzzyTerms  = 12
	maxPrefixTerms = 24
)

// Field weights. Exact (stemmed) matches weigh most; typo and prefix
// matches on the raw fields rank a document that only has a near word below
// one that has the word itself.
const (
	boostTitle       = 4.0
	boostSummary     = 2.5
	boostDescription = 1.0
	boostFuzzyTitle  = 1.5
	boostFuzzyHead   = 0.8
	boostFuzzyBody   = 0.3
	boostPrefixTitle = 1.8
	boostPrefixHead  = 1.0
	boostPrefixBody  = 0.35
	// Two words typed next to each other, in this order, also next to each
	// other in a title or a summary: Meilisearch's proximity rule, as a
	// bonus. The French and English forms of the pairs share a
	// coordination factor, so a document gets about half of it per pair.
	boostPair = 8.0
)

// word is one word of the query, analysed every way the index analyses text.
type word struct {
	raw    string   // folded, lower-cased, elided: what typo and prefix matching compare
	stems  []string // French and English stems
	fr, en string
	typos  int
	prefix bool // the last word, which may still be being typed
	dfa    *levenshtein.DFA
	// sameStem reports whether a raw term stems like the word. Such terms
	// are left out of typo and prefix expansions: the stem clauses already
	// match them, and for a common word ("numerique") expanding them again
	// meant reading its huge postings several more times.
	sameStem func(term string) bool
}

// parse splits text into words. Words that are stop words in French or in
// English are dropped: they are not indexed in one language and only add
// noise in the other (the English "en" would otherwise pull in every
// French "en ligne"). It returns no words when nothing meaningful is left.
func (x *Index) parse(text string) []word {
	toks := x.raw.Analyze([]byte(text))
	var words []word
	for i, t := range toks {
		orig := []byte(text[t.Start:t.End])
		fr, en := x.fr.Analyze(orig), x.en.Analyze(orig)
		if len(fr) == 0 || len(en) == 0 {
			continue
		}
		w := word{raw: string(t.Term), prefix: i == len(toks)-1, fr: string(fr[0].Term), en: string(en[0].Term)}
		for _, s := range []string{string(fr[0].Term), string(en[0].Term)} {
			if !slices.Contains(w.stems, s) {
				w.stems = append(w.stems, s)
			}
		}
		w.sameStem = x.sameStem(w.stems)
		w.typos = typoBudget(w.raw)
		if w.typos > 0 {
			d, err := wordDFA(w.raw, w.typos)
			if err != nil {
				// An automaton that cannot be built (a very long word)
				// only costs this word its typo tolerance.
				w.typos = 0
			}
			w.dfa = d
		}
		if j := slices.IndexFunc(words, func(o word) bool { return o.raw == w.raw }); j >= 0 {
			words[j].prefix = words[j].prefix || w.prefix
			continue
		}
		words = append(words, w)
		if len(words) == maxWords {
			break
		}
	}
	return words
}

func (x *Index) sameStem(stems []string) func(string) bool {
	var mu sync.Mutex // searchers of one query may be built in parallel
	memo := map[string]bool{}
	return func(term string) bool {
		mu.Lock()
		v, ok := memo[term]
		mu.Unlock()
		if ok {
			return v
		}
		span := []span{{Start: 0, End: len(term)}}
		v = slices.Contains(stems, x.frChain.run(term, span)[0]) || slices.Contains(stems, x.enChain.run(term, span)[0])
		mu.Lock()
		memo[term] = v
		mu.Unlock()
		return v
	}
}

func typoBudget(w string) int {
	if strings.ContainsFunc(w, unicode.IsDigit) {
		// "2026" and "3d" are not misspellings of "2025" and "4d".
		return 0
	}
	switch n := utf8.RuneCountInString(w); {
	case n >= twoTypos:
		return 2
	case n >= oneTypo:
		return 1
	}
	return 0
}

// textPlan is a text query in the pieces the executor runs separately: the
// set of matching documents is read straight from postings (words), and
// only the best documents are scored, first among those having every word
// (all), then among those having any (any).
type textPlan struct {
	clauses []query.Query // one per word
	// head has, per word, its exact forms in the title and the summary
	// only: Meilisearch's attribute rule ranks such documents first.
	head []query.Query
	// title is the same for the title alone, which the attribute rule puts
	// before the summary.
	title []query.Query
	pairs []query.Query
	// words has, per word, the terms it matches by the tier where they
	// start to count, so each tier's set of documents can be read from
	// postings before any scoring.
	words []wordTerms
}

// leaf is an exact term of a field.
type leaf struct{ field, term string }

// wordTerms are the terms a word matches: title ones count in every tier,
// head ones from the title-or-summary tier on, rest ones only where
// anywhere counts. Expansions are resolved against the snapshot.
type wordTerms struct {
	title, head, rest       []leaf
	titleEx, headEx, restEx []*expandQuery
}

func plan(words []word) *textPlan {
	p := &textPlan{}
	for _, w := range words {
		var c, h, t []query.Query
		var wt wordTerms
		for _, s := range w.stems {
			wt.title = append(wt.title, leaf{fieldTitle, s})
			wt.head = append(wt.head, leaf{fieldSummary, s})
			wt.rest = append(wt.rest, leaf{fieldDescription, s})
			c = append(c,
				termQuery(s, fieldTitle, boostTitle),
				termQuery(s, fieldSummary, boostSummary),
				termQuery(s, fieldDescription, boostDescription))
			h = append(h, termQuery(s, fieldTitle, boostTitle), termQuery(s, fieldSummary, boostSummary))
			t = append(t, termQuery(s, fieldTitle, boostTitle))
		}
		var ex []*expandQuery
		if w.typos > 0 {
			ex = append(ex,
				&expandQuery{field: fieldTitleRaw, term: w.raw, fuzziness: w.typos, boost: boostFuzzyTitle, dfa: w.dfa, skip: w.sameStem},
				&expandQuery{field: fieldHeadRaw, term: w.raw, fuzziness: w.typos, boost: boostFuzzyHead, dfa: w.dfa, skip: w.sameStem},
				&expandQuery{field: fieldBodyRaw, term: w.raw, fuzziness: w.typos, boost: boostFuzzyBody, dfa: w.dfa, skip: w.sameStem})
			wt.restEx = append(wt.restEx, ex...)
		}
		if w.prefix && utf8.RuneCountInString(w.raw) >= minPrefix {
			pt := &expandQuery{field: fieldTitleRaw, term: w.raw, prefix: true, boost: boostPrefixTitle, skip: w.sameStem}
			ph := &expandQuery{field: fieldHeadRaw, term: w.raw, prefix: true, boost: boostPrefixHead, skip: w.sameStem}
			pb := &expandQuery{field: fieldBodyRaw, term: w.raw, prefix: true, boost: boostPrefixBody, skip: w.sameStem}
			ex = append(ex, pt, ph, pb)
			wt.titleEx, wt.headEx = append(wt.titleEx, pt), append(wt.headEx, ph)
			wt.restEx = append(wt.restEx, pb)
			// A completion of the word being typed is the word for
			// Meilisearch (a prefix match costs no typo), so it counts
			// for the attribute tiers too: "sm" finds the titles with
			// "smartphone" first, and when they fill the page the far
			// larger set of documents mentioning it in their body is
			// never scored.
			h = append(h, pt, ph)
			t = append(t, pt)
		}
		for _, e := range ex {
			c = append(c, e)
		}
		p.words = append(p.words, wt)
		p.clauses = append(p.clauses, query.NewDisjunctionQuery(c))
		p.head = append(p.head, query.NewDisjunctionQuery(h))
		p.title = append(p.title, query.NewDisjunctionQuery(t))
	}
	for i := 1; i < len(words); i++ {
		a, b := words[i-1], words[i]
		fr, en := pairTerm(a.fr, b.fr), pairTerm(a.en, b.en)
		p.pairs = append(p.pairs, termQuery(fr, fieldPairs, boostPair))
		if en != fr {
			p.pairs = append(p.pairs, termQuery(en, fieldPairs, boostPair))
		}
	}
	return p
}

// tierQuery is the query of a ranking tier: the words it must match, and
// the pairs of neighbouring words that add a bonus when they match too.
type tierQuery struct {
	must  []query.Query
	pairs []query.Query
}

// query is the tier as one bleve query, for stepping through its matches.
func (t tierQuery) query() query.Query {
	if len(t.pairs) == 0 {
		if len(t.must) == 1 {
			return t.must[0]
		}
		return query.NewConjunctionQuery(t.must)
	}
	return query.NewBooleanQuery(t.must, t.pairs, nil)
}

// tiers are the ranking tiers in order: every word in the title; in the
// title or the summary; anywhere; any word. For a single word "anywhere"
// is "any", so there are three.
func (p *textPlan) tiers() []tierQuery {
	if p.tierCount() == 3 {
		return []tierQuery{p.titleAll(), p.headAll(), p.any()}
	}
	return []tierQuery{p.titleAll(), p.headAll(), p.all(), p.any()}
}

func (p *textPlan) tierCount() int {
	if len(p.words) == 1 {
		return 3
	}
	return 4
}

// any matches documents having any of the words; bleve's coordination
// factor ranks them by the share of words they have. A pair bonus lifts
// documents where the words stand together ("aide aux démarches en ligne"
// over a title with "en ligne" and a description with "démarches").
func (p *textPlan) any() tierQuery {
	var q query.Query = p.clauses[0]
	if len(p.clauses) > 1 {
		q = query.NewDisjunctionQuery(p.clauses)
	}
	return p.withPairs([]query.Query{q})
}

// all matches documents having every word: Meilisearch's "words" rule puts
// them first, and they are usually far fewer than those having any word,
// so scoring them first is also what keeps common words cheap.
func (p *textPlan) all() tierQuery { return p.withPairs(p.clauses) }

// headAll matches documents having every word as typed (or its stem) in
// their title or summary. Under Meilisearch's rules (words, typo,
// proximity, attribute) they outrank every other document, so when they
// fill the page the far larger set of documents that only mention the
// words in their description need not be scored at all: for a common word
// ("numérique") that is most of the index.
func (p *textPlan) headAll() tierQuery { return p.withPairs(p.head) }

// titleAll is headAll for the title alone.
func (p *textPlan) titleAll() tierQuery { return p.withPairs(p.title) }

func (p *textPlan) withPairs(must []query.Query) tierQuery {
	return tierQuery{must: must, pairs: p.pairs}
}

// jumpers returns the scorers of a tier for advancing from one candidate
// to the next: the must part and the pairs apart, normalised together and
// added up exactly as bleve's boolean searcher scores them (its own
// Advance loses the pairs' bonus of documents after a skipped one).
func (t tierQuery) jumpers(ctx context.Context, r index.IndexReader, m mapping.IndexMapping) (must, pairs bsearch.Searcher, err error) {
	if len(t.pairs) == 0 {
		must, err = t.query().Searcher(ctx, r, m, bsearch.SearcherOptions{})
		return must, nil, err
	}
	must, err = query.NewConjunctionQuery(t.must).Searcher(ctx, r, m, bsearch.SearcherOptions{})
	if err != nil {
		return nil, nil, err
	}
	pairs, err = query.NewDisjunctionQuery(t.pairs).Searcher(ctx, r, m, bsearch.SearcherOptions{})
	if err != nil {
		must.Close()
		return nil, nil, err
	}
	if _, none := pairs.(*searcher.MatchNoneSearcher); none {
		pairs.Close()
		pairs = nil
	}
	sum := must.Weight()
	if pairs != nil {
		sum += pairs.Weight()
	}
	norm := 1 / math.Sqrt(sum)
	must.SetQueryNorm(norm)
	if pairs != nil {
		pairs.SetQueryNorm(norm)
	}
	return must, pairs, nil
}

func termQuery(term, field string, boost float64) query.Query {
	q := query.NewTermQuery(term)
	q.SetField(field)
	q.SetBoost(boost)
	return q
}

// expandQuery matches the terms of a field within an edit distance of a
// word (fuzziness > 0) or starting with it (prefix). It exists because
// bleve's own fuzzy and prefix queries score a document matching one of k
// candidate terms at 1/k of its worth (the disjunction's coordination
// factor), so a typo matched against a rich dictionary was worth almost
// nothing; here each candidate is boosted by k to cancel that, and divided
// by edit distance + 1 so closer words weigh more. Candidates are capped.
type expandQuery struct {
	field     string
	term      string
	fuzziness int
	prefix    bool
	boost     float64
	dfa       *levenshtein.DFA
	skip      func(term string) bool

	// The parallel searchers of one search share the candidates: they read
	// the same snapshot.
	once  sync.Once
	cands []candidate
	err   error
}

type candidate struct {
	term  string
	count uint64
	edits uint8
}

// expansions returns the candidates, computed once per search: the
// parallel searchers and the match set of one search share them, as they
// read the same snapshot.
func (q *expandQuery) expansions(r index.IndexReader) ([]candidate, error) {
	q.once.Do(func() { q.cands, q.err = q.candidates(r) })
	if q.err != nil {
		return nil, fmt.Errorf("expand %q in %s: %w", q.term, q.field, q.err)
	}
	return q.cands, nil
}

func (q *expandQuery) Searcher(ctx context.Context, r index.IndexReader, _ mapping.IndexMapping, opts bsearch.SearcherOptions) (bsearch.Searcher, error) {
	cands, err := q.expansions(r)
	if err != nil {
		return nil, err
	}
	if len(cands) == 0 {
		return searcher.NewMatchNoneSearcher(r)
	}
	k := float64(len(cands))
	ss := make([]bsearch.Searcher, 0, len(cands))
	for _, c := range cands {
		s, err := searcher.NewTermSearcher(ctx, r, c.term, q.field, q.boost*k/float64(c.edits+1), opts)
		if err != nil {
			for _, s := range ss {
				s.Close()
			}
			return nil, err
		}
		ss = append(ss, s)
	}
	if len(ss) == 1 {
		return ss[0], nil
	}
	return searcher.NewDisjunctionSearcher(ctx, r, ss, 1, opts)
}

func (q *expandQuery) candidates(r index.IndexReader) ([]candidate, error) {
	if !q.prefix {
		return q.fuzzyCandidates(r)
	}
	dict, err := r.FieldDictPrefix(q.field, []byte(q.term))
	if err != nil {
		return nil, err
	}
	defer dict.Close()
	var out []candidate
	for {
		e, err := dict.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			break
		}
		if q.skip != nil && q.skip(e.Term) {
			continue
		}
		out = append(out, candidate{term: e.Term, count: e.Count})
	}
	return q.best(out, maxPrefixTerms), nil
}

// fuzzyCandidates walks each segment's dictionary with the word's
// automaton, built once per word (bleve would build it again for each of
// the three raw fields, which cost more than the search itself on small
// indexes). Terms must start with the word's first letter: Meilisearch
// counts a first-letter typo as two, and the cut spares most of the
// dictionary.
func (q *expandQuery) fuzzyCandidates(r index.IndexReader) ([]candidate, error) {
	snap, ok := r.(*scorch.IndexSnapshot)
	if !ok || q.dfa == nil {
		return nil, fmt.Errorf("fuzzy search needs a scorch index (got %T)", r)
	}
	first, size := utf8.DecodeRuneInString(q.term)
	start := []byte(string(first))
	end := prefixEnd(q.term[:size])
	seen := map[string]int{}
	var out []candidate
	for _, seg := range snap.Segments() {
		d, err := seg.Segment().Dictionary(q.field)
		if err != nil {
			return nil, err
		}
		it := d.AutomatonIterator(q.dfa, start, end)
		for {
			e, err := it.Next()
			if err != nil {
				return nil, err
			}
			if e == nil {
				break
			}
			if i, ok := seen[e.Term]; ok {
				if i >= 0 {
					out[i].count += e.Count
				}
				continue
			}
			if q.skip != nil && q.skip(e.Term) {
				seen[e.Term] = -1
				continue
			}
			_, ed := q.dfa.MatchAndDistance(e.Term)
			seen[e.Term] = len(out)
			out = append(out, candidate{term: e.Term, count: e.Count, edits: ed})
		}
	}
	return q.best(out, maxFuzzyTerms), nil
}

// prefixEnd is the first key after every key starting with p, or nil.
func prefixEnd(p string) []byte {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return b[:i+1]
		}
	}
	return nil
}

func (q *expandQuery) best(out []candidate, max int) []candidate {
	slices.SortFunc(out, func(a, b candidate) int {
		// The typed word itself first, then closest, then most frequent.
		if (a.term == q.term) != (b.term == q.term) {
			if a.term == q.term {
				return -1
			}
			return 1
		}
		if a.edits != b.edits {
			return int(a.edits) - int(b.edits)
		}
		if a.count != b.count {
			if a.count > b.count {
				return -1
			}
			return 1
		}
		return strings.Compare(a.term, b.term)
	})
	if len(out) > max {
		out = out[:max]
	}
	return out
}

var (
	levBuilders = sync.OnceValues(func() ([2]*levenshtein.LevenshteinAutomatonBuilder, error) {
		// Transpositions count as one typo, as in Meilisearch and bleve.
		b1, err := levenshtein.NewLevenshteinAutomatonBuilder(1, true)
		if err != nil {
			return [2]*levenshtein.LevenshteinAutomatonBuilder{}, err
		}
		b2, err := levenshtein.NewLevenshteinAutomatonBuilder(2, true)
		return [2]*levenshtein.LevenshteinAutomatonBuilder{b1, b2}, err
	})
	dfaMu    sync.Mutex
	dfaCache = map[string]*levenshtein.DFA{}
	// dfaBytes is the estimated memory of the cached automata.
	dfaBytes int
)

// dfaCacheBytes bounds the memory of the cached automata. An automaton
// is not small: vellum keeps a 1 KiB transition table per state, about
// 9 KiB per letter of the word for one typo and 70 KiB per letter for two
// (a 10-letter word with two typos is 0.75 MiB). Bounded by count alone,
// 4,096 distinct words typed by visitors (or sent by a client on purpose)
// would have held gigabytes.
const dfaCacheBytes = 32 << 20

// dfaSize estimates the memory of the automaton of a word of n letters
// (measured on vellum 1.2: the builder reserves its tables from the word's
// length).
func dfaSize(n, typos int) int {
	if typos == 1 {
		return (n + 1) * 9 << 10
	}
	return (n + 1) * 70 << 10
}

// wordDFA returns the automaton of the words within typos edits of w.
// People retype the same words (and a query grows letter by letter), so
// automata are cached; the cache is simply emptied when it would outgrow
// dfaCacheBytes.
func wordDFA(w string, typos int) (*levenshtein.DFA, error) {
	key := fmt.Sprintf("%d:%s", typos, w)
	dfaMu.Lock()
	d := dfaCache[key]
	dfaMu.Unlock()
	if d != nil {
		return d, nil
	}
	bs, err := levBuilders()
	if err != nil {
		return nil, err
	}
	d, err = bs[typos-1].BuildDfa(w, uint8(typos))
	if err != nil {
		return nil, err
	}
	size := dfaSize(utf8.RuneCountInString(w), typos)
	dfaMu.Lock()
	if dfaBytes+size > dfaCacheBytes {
		clear(dfaCache)
		dfaBytes = 0
	}
	if _, ok := dfaCache[key]; !ok && size <= dfaCacheBytes {
		dfaCache[key] = d
		dfaBytes += size
	}
	dfaMu.Unlock()
	return d, nil
}
