package embedded

import (
	"reflect"
	"sync"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/lang/fr"
	"github.com/blevesearch/bleve/v2/analysis/token/porter"
	blevedoc "github.com/blevesearch/bleve/v2/document"
)

// Analysing each text once. The mapping sends a title through three
// analysers (stemmed, raw, pairs), a summary and the tags through three and
// two, a description through two; each analyser splits the text into words
// again, and splitting (Unicode word boundaries) is most of the cost. The
// chains share their start: raw is lower-case, elision, fold; French adds
// stop words and stemming to that; pairs are made from the stemmed words.
// So a document's text fields are given analysers that split each distinct
// text once and run each chain on a copy of those words. What comes out is
// what the named analysers give, token for token (TestSharedAnalysisSame),
// so the index is the same and needs no new schema version.

// sharedAnalyzers holds the analysers the mapping names and what the
// shared analysis needs of them.
type sharedAnalyzers struct {
	fr, en, raw, frPairs, enPairs analysis.Analyzer
	tokenizer                     analysis.Tokenizer
	rawFilters                    []analysis.TokenFilter
	// frRest is what French adds after the raw filters, or nil when the
	// French chain does not start with them (then it runs whole).
	frRest, frAll, enAll []analysis.TokenFilter
	pairs                analysis.TokenFilter
}

// newSharedAnalyzers returns nil when the analysers are not the plain
// chains this file knows: documents are then analysed the usual way.
func newSharedAnalyzers(fr, en, raw, frPairs, enPairs analysis.Analyzer) *sharedAnalyzers {
	dfr, ok1 := fr.(*analysis.DefaultAnalyzer)
	den, ok2 := en.(*analysis.DefaultAnalyzer)
	draw, ok3 := raw.(*analysis.DefaultAnalyzer)
	dfp, ok4 := frPairs.(*analysis.DefaultAnalyzer)
	dep, ok5 := enPairs.(*analysis.DefaultAnalyzer)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return nil
	}
	all := []*analysis.DefaultAnalyzer{dfr, den, draw, dfp, dep}
	for _, a := range all {
		if len(a.CharFilters) != 0 || a.Tokenizer == nil || reflect.TypeOf(a.Tokenizer) != reflect.TypeOf(draw.Tokenizer) {
			return nil
		}
	}
	// The pairs chains must be their language's chain plus the pair
	// filter.
	if !sameTypes(dfp.TokenFilters, append(append([]analysis.TokenFilter{}, dfr.TokenFilters...), pairFilter{})) ||
		!sameTypes(dep.TokenFilters, append(append([]analysis.TokenFilter{}, den.TokenFilters...), pairFilter{})) {
		return nil
	}
	s := &sharedAnalyzers{
		fr: fr, en: en, raw: raw, frPairs: frPairs, enPairs: enPairs,
		tokenizer:  draw.Tokenizer,
		rawFilters: draw.TokenFilters,
		frAll:      withStemCache(dfr.TokenFilters),
		enAll:      withStemCache(den.TokenFilters),
		pairs:      pairFilter{},
	}
	if n := len(draw.TokenFilters); len(dfr.TokenFilters) >= n && sameTypes(dfr.TokenFilters[:n], draw.TokenFilters) {
		s.frRest = s.frAll[n:]
	}
	return s
}

// withStemCache is filters with each stemmer remembering its stems.
func withStemCache(filters []analysis.TokenFilter) []analysis.TokenFilter {
	out := make([]analysis.TokenFilter, len(filters))
	for i, f := range filters {
		switch f.(type) {
		case *fr.FrenchLightStemmerFilter, *porter.PorterStemmer:
			out[i] = &cachedStemmer{inner: f}
		default:
			out[i] = f
		}
	}
	return out
}

// Stemming a word converts it to runes and back, for every occurrence of
// every word: a fifth of the analysis. Words repeat (a few thousand make
// most of any text), so stems are remembered, up to maxStems words of at
// most maxStemmed bytes: whatever the texts, the cache stays within a few
// megabytes. A stemmer depends on the word alone, so a remembered stem is
// the one it would give.
const (
	maxStems   = 50_000
	maxStemmed = 32
)

// cachedStemmer is a stemmer and the stems it gave. A plain map under a
// read lock: sync.Map boxes each looked-up word in an interface, which
// cost as much as the stemming it saved.
type cachedStemmer struct {
	inner analysis.TokenFilter
	mu    sync.RWMutex
	stems map[string]string // word -> stem
}

func (c *cachedStemmer) Filter(in analysis.TokenStream) analysis.TokenStream {
	for i, t := range in {
		if t.KeyWord || len(t.Term) > maxStemmed {
			c.inner.Filter(in[i : i+1])
			continue
		}
		c.mu.RLock()
		stem, ok := c.stems[string(t.Term)]
		c.mu.RUnlock()
		if ok {
			// A copy: the token's term is its own to change.
			t.Term = []byte(stem)
			continue
		}
		word := string(t.Term)
		c.inner.Filter(in[i : i+1])
		c.mu.Lock()
		if c.stems == nil {
			c.stems = make(map[string]string)
		}
		if len(c.stems) < maxStems {
			c.stems[word] = string(t.Term)
		}
		c.mu.Unlock()
	}
	return in
}

// sameTypes reports whether two filter lists hold filters of the same
// types in the same order. The filters here are configured once, by name,
// so their type says what they do.
func sameTypes(a, b []analysis.TokenFilter) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if reflect.TypeOf(a[i]) != reflect.TypeOf(b[i]) {
			return false
		}
	}
	return true
}

// share replaces the analysers of doc's text fields by ones that split
// each distinct text once. Fields with other analysers are left alone.
func (s *sharedAnalyzers) share(doc *blevedoc.Document) {
	var texts []*sharedText
	for i, f := range doc.Fields {
		tf, ok := f.(*blevedoc.TextField)
		if !ok || !tf.Options().IsIndexed() {
			continue
		}
		var kind sharedKind
		en := false
		switch tf.Analyzer() {
		case s.fr:
			kind = kindStemmed
		case s.en:
			kind, en = kindStemmed, true
		case s.frPairs:
			kind = kindPairs
		case s.enPairs:
			kind, en = kindPairs, true
		case s.raw:
			kind = kindRaw
		default:
			continue
		}
		value := tf.Value()
		var st *sharedText
		for _, t := range texts {
			if t.en == en && t.text == string(value) {
				st = t
				break
			}
		}
		if st == nil {
			st = &sharedText{s: s, text: string(value), en: en}
			texts = append(texts, st)
		}
		doc.Fields[i] = blevedoc.NewTextFieldCustom(tf.Name(), tf.ArrayPositions(), value, tf.Options(), sharedAnalyzer{st: st, kind: kind, fallback: tf.Analyzer()})
	}
}

type sharedKind int

const (
	kindStemmed sharedKind = iota
	kindRaw
	kindPairs
)

// sharedText is one text of a document and its analyses, made at the
// first field's analysis. A document's fields are analysed one after the
// other by one goroutine (scorch's analyze), so it needs no lock.
type sharedText struct {
	s                   *sharedAnalyzers
	text                string
	en                  bool
	done                bool
	stemmed, raw, pairs analysis.TokenStream
}

func (t *sharedText) analyse() {
	t.done = true
	s := t.s
	words := s.tokenizer.Tokenize([]byte(t.text))
	if t.en {
		t.stemmed = run(copyTokens(words), s.enAll)
		t.raw = run(words, s.rawFilters)
	} else {
		t.raw = run(words, s.rawFilters)
		if s.frRest != nil {
			t.stemmed = run(copyTokens(t.raw), s.frRest)
		} else {
			t.stemmed = run(copyTokens(words), s.frAll)
		}
	}
	// The pair filter makes new tokens and leaves its input as it is.
	t.pairs = s.pairs.Filter(t.stemmed)
}

func run(ts analysis.TokenStream, filters []analysis.TokenFilter) analysis.TokenStream {
	for _, f := range filters {
		ts = f.Filter(ts)
	}
	return ts
}

// copyTokens copies tokens and their terms: filters change both in place.
func copyTokens(in analysis.TokenStream) analysis.TokenStream {
	n := 0
	for _, t := range in {
		n += len(t.Term)
	}
	buf := make([]byte, 0, n)
	toks := make([]analysis.Token, len(in))
	out := make(analysis.TokenStream, len(in))
	for i, t := range in {
		toks[i] = *t
		start := len(buf)
		buf = append(buf, t.Term...)
		toks[i].Term = buf[start:len(buf):len(buf)]
		out[i] = &toks[i]
	}
	return out
}

// sharedAnalyzer is one field's view of a sharedText.
type sharedAnalyzer struct {
	st       *sharedText
	kind     sharedKind
	fallback analysis.Analyzer
}

func (a sharedAnalyzer) Analyze(input []byte) analysis.TokenStream {
	if string(input) != a.st.text {
		// Not the text it was made for: analyse it the usual way.
		return a.fallback.Analyze(input)
	}
	if !a.st.done {
		a.st.analyse()
	}
	switch a.kind {
	case kindRaw:
		return a.st.raw
	case kindPairs:
		return a.st.pairs
	default:
		return a.st.stemmed
	}
}
