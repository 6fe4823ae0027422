package embedded

import (
	"fmt"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/char/asciifolding"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/lang/fr"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/token/porter"
	"github.com/blevesearch/bleve/v2/analysis/token/stop"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/registry"

	// Registered by name and looked up through the registry cache.
	_ "github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
)

// Analyzer names. They are stored in the index mapping, so renaming one or
// changing what it does needs a schemaVersion bump (documents indexed with
// the old chain would no longer match the new query analysis).
const (
	analyzerFR      = "communs_fr"
	analyzerEN      = "communs_en"
	analyzerRaw     = "communs_raw"
	analyzerFRPairs = "communs_fr_pairs"
	analyzerENPairs = "communs_en_pairs"
	foldName        = "communs_fold"
	pairsName       = "communs_pairs"
)

// pairFilter turns a stream of stems into the pairs of neighbours ("aide aux
// démarches en ligne" -> "aid demarch", "demarch lign"). Stop words are
// already gone, so words separated only by them count as neighbours. An
// indexed pair is a cheap stand-in for a phrase query: looking up the pairs
// of a query costs a term lookup instead of checking positions for every
// matching document.
type pairFilter struct{}

func (pairFilter) Filter(in analysis.TokenStream) analysis.TokenStream {
	out := make(analysis.TokenStream, 0, len(in))
	for i := 1; i < len(in); i++ {
		a, b := in[i-1], in[i]
		term := make([]byte, 0, len(a.Term)+1+len(b.Term))
		term = append(append(append(term, a.Term...), ' '), b.Term...)
		out = append(out, &analysis.Token{Term: term, Start: a.Start, End: b.End, Position: i, Type: analysis.Shingle})
	}
	return out
}

func pairTerm(a, b string) string { return a + " " + b }

// fold removes accents and ligatures from a token ("Démarches" ->
// "demarches", "œuvre" -> "oeuvre"). It is a token filter rather than
// bleve's asciifolding char filter because a char filter shifts byte
// offsets, and highlighting needs offsets into the original text.
type foldFilter struct {
	f *asciifolding.AsciiFoldingFilter
}

func (ff foldFilter) Filter(in analysis.TokenStream) analysis.TokenStream {
	for _, t := range in {
		if isASCII(t.Term) {
			continue
		}
		t.Term = ff.f.Filter(t.Term)
	}
	return in
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// foldedStopMap folds a stop list the same way tokens are folded, since the
// stop filter runs after folding: "à", "été" and "même" must still be
// recognised once they read "a", "ete" and "meme".
func foldedStopMap(words []byte) (analysis.TokenMap, error) {
	raw := analysis.NewTokenMap()
	if err := raw.LoadBytes(words); err != nil {
		return nil, err
	}
	f := asciifolding.New()
	out := analysis.NewTokenMap()
	for w := range raw {
		out.AddToken(string(f.Filter([]byte(w))))
	}
	return out, nil
}

func init() {
	must := func(err error) {
		if err != nil {
			panic(fmt.Sprintf("embedded search: register analysis: %v", err))
		}
	}
	must(registry.RegisterTokenFilter(foldName, func(map[string]any, *registry.Cache) (analysis.TokenFilter, error) {
		return foldFilter{asciifolding.New()}, nil
	}))
	must(registry.RegisterTokenFilter("communs_stop_fr", func(map[string]any, *registry.Cache) (analysis.TokenFilter, error) {
		m, err := foldedStopMap(fr.FrenchStopWords)
		if err != nil {
			return nil, err
		}
		return stop.NewStopTokensFilter(m), nil
	}))
	must(registry.RegisterTokenFilter("communs_stop_en", func(map[string]any, *registry.Cache) (analysis.TokenFilter, error) {
		m, err := foldedStopMap(en.EnglishStopWords)
		if err != nil {
			return nil, err
		}
		return stop.NewStopTokensFilter(m), nil
	}))
	must(registry.RegisterTokenFilter(pairsName, func(map[string]any, *registry.Cache) (analysis.TokenFilter, error) {
		return pairFilter{}, nil
	}))
	chain := func(filters ...string) registry.AnalyzerConstructor {
		return func(_ map[string]any, cache *registry.Cache) (analysis.Analyzer, error) {
			tok, err := cache.TokenizerNamed(unicode.Name)
			if err != nil {
				return nil, err
			}
			a := &analysis.DefaultAnalyzer{Tokenizer: tok}
			for _, name := range filters {
				f, err := cache.TokenFilterNamed(name)
				if err != nil {
					return nil, fmt.Errorf("token filter %s: %w", name, err)
				}
				a.TokenFilters = append(a.TokenFilters, f)
			}
			return a, nil
		}
	}
	// French: elision before folding so both ' and ’ are handled by the
	// elision filter itself; the light stemmer (plural and gender endings)
	// runs on folded text so "demarches" and "démarches" stem alike.
	frFilters := []string{lowercase.Name, fr.ElisionName, foldName, "communs_stop_fr", fr.LightStemmerName}
	enFilters := []string{en.PossessiveName, lowercase.Name, foldName, "communs_stop_en", porter.Name}
	must(registry.RegisterAnalyzer(analyzerFR, chain(frFilters...)))
	must(registry.RegisterAnalyzer(analyzerEN, chain(enFilters...)))
	must(registry.RegisterAnalyzer(analyzerFRPairs, chain(append(frFilters, pairsName)...)))
	must(registry.RegisterAnalyzer(analyzerENPairs, chain(append(enFilters, pairsName)...)))
	// Raw keeps whole words (no stemming, no stop words): typo and prefix
	// matching compare what people type with what authors wrote, and a
	// stem ("ordin" for "ordinateur") would break "as you type" prefixes.
	must(registry.RegisterAnalyzer(analyzerRaw, chain(lowercase.Name, fr.ElisionName, foldName)))
}
