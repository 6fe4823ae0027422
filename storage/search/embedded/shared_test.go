package embedded

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/blevesearch/bleve/v2/analysis"
	blevedoc "github.com/blevesearch/bleve/v2/document"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/node"
)

// TestSharedAnalysisSame: a document analysed with the shared analysers
// gives every field the same terms, counts, positions and offsets as the
// analysers the mapping names, so the index (and ranking) is unchanged.
func TestSharedAnalysisSame(t *testing.T) {
	x, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if x.shared == nil {
		t.Fatal("shared analysis is off: the analysers are not the chains shared.go knows")
	}
	rs := corpus.Synthetic(corpus.MustLoad(t), 3000, 5)
	odd := []string{
		"", " ", "l'", "L’Œuvre d’art", "aujourd'hui", "qu'il s'en aille", "ΟΔΟΣ ΣΟΦΟΣ", "Ⱥ Ⱦ ȺȾ façade",
		"John's and Mary’s kits", "C'EST l'été à l'école", "même été à", "dé-ma-té-ria-li-sa-tion",
		"1,5 % 2024-01-02 v2.0 e-mail @x #tag", "日本語のテキスト", "emoji 😀 test", "a a a a a",
		"\u00a0espace\u2009fine", "le la les des", "the of and", "x'y'z", "ﬁnance ﬂux", "İstanbul ǅ",
	}
	for i, s := range odd {
		for _, lang := range []string{"fr", "en", "de", ""} {
			rs = append(rs, node.Resource{ID: fmt.Sprintf("odd-%d-%s", i, lang), Metadata: node.Metadata{
				Title: s, Summary: s + " " + s, Description: "<p>" + s + "</p>", Language: lang,
				Themes: []string{s, "inclusion-numerique"}, Authors: []string{s}}})
		}
	}
	// Title and summary alike share one analysis.
	rs = append(rs, node.Resource{ID: "same", Metadata: node.Metadata{Title: "Aide aux démarches", Summary: "Aide aux démarches", Language: "fr"}})
	m := x.idx.Mapping()
	checked := 0
	for _, r := range rs {
		d, err := newDocument(r)
		if err != nil {
			t.Fatal(err)
		}
		plain, shared := blevedoc.NewDocument(r.ID), blevedoc.NewDocument(r.ID)
		if err := m.MapDocument(plain, d); err != nil {
			t.Fatal(err)
		}
		if err := m.MapDocument(shared, d); err != nil {
			t.Fatal(err)
		}
		x.shared.share(shared)
		if len(plain.Fields) != len(shared.Fields) {
			t.Fatalf("%s: %d fields, want %d", r.ID, len(shared.Fields), len(plain.Fields))
		}
		swapped := 0
		for i := range plain.Fields {
			p, s := plain.Fields[i], shared.Fields[i]
			if st, ok := s.(*blevedoc.TextField); ok && st.Analyzer() != p.(*blevedoc.TextField).Analyzer() {
				swapped++
				// Positions and offsets too, though the index keeps
				// no term vectors today.
				pt := p.(*blevedoc.TextField)
				want := tokens(pt.Analyzer().Analyze(slices.Clone(pt.Value())))
				if got := tokens(st.Analyzer().Analyze(slices.Clone(st.Value()))); got != want {
					t.Errorf("%s %s (%q) tokens:\n got %s\nwant %s", r.ID, p.Name(), pt.Value(), got, want)
				}
			}
			if !p.Options().IsIndexed() {
				continue
			}
			p.Analyze()
			s.Analyze()
			if p.Name() != s.Name() || !slices.Equal(p.ArrayPositions(), s.ArrayPositions()) || p.Options() != s.Options() {
				t.Fatalf("%s field %d: %s %v, want %s %v", r.ID, i, s.Name(), s.ArrayPositions(), p.Name(), p.ArrayPositions())
			}
			if p.AnalyzedLength() != s.AnalyzedLength() {
				t.Errorf("%s %s (%q): %d tokens, want %d", r.ID, p.Name(), p.Value(), s.AnalyzedLength(), p.AnalyzedLength())
			}
			if got, want := freqs(s.AnalyzedTokenFrequencies()), freqs(p.AnalyzedTokenFrequencies()); got != want {
				t.Errorf("%s %s (%q):\n got %s\nwant %s", r.ID, p.Name(), p.Value(), got, want)
			}
			checked++
		}
		// title, title_raw, pairs, summary, head_raw, pairs, tags (2), description (2)
		if swapped != 10 {
			t.Fatalf("%s: %d fields with shared analysis, want 10", r.ID, swapped)
		}
	}
	if checked == 0 {
		t.Fatal("no field compared")
	}
}

func tokens(ts analysis.TokenStream) string {
	out := ""
	for _, t := range ts {
		out += fmt.Sprintf("[%q %d-%d @%d %d %v] ", t.Term, t.Start, t.End, t.Position, t.Type, t.KeyWord)
	}
	return out
}

func freqs(tf index.TokenFrequencies) string {
	keys := make([]string, 0, len(tf))
	for k := range tf {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := ""
	for _, k := range keys {
		f := tf[k]
		out += fmt.Sprintf("%q=%d", k, f.Frequency())
		if string(f.Term) != k {
			out += fmt.Sprintf("(term %q)", f.Term)
		}
		for _, l := range f.Locations {
			out += fmt.Sprintf("[%s %d-%d @%d %v]", l.Field, l.Start, l.End, l.Position, l.ArrayPositions)
		}
		out += " "
	}
	return out
}

// BenchmarkAnalyse: mapping and analysing documents, each field with its
// named analyser (plain) or with the shared analysis (shared).
func BenchmarkAnalyse(b *testing.B) {
	x, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	rs := corpus.Synthetic(corpus.MustLoad(b), 2000, 9)
	ds := make([]*document, len(rs))
	for i, r := range rs {
		if ds[i], err = newDocument(r); err != nil {
			b.Fatal(err)
		}
	}
	m := x.idx.Mapping()
	for _, share := range []bool{false, true} {
		name := "plain"
		if share {
			name = "shared"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				for i, d := range ds {
					doc := blevedoc.NewDocument(rs[i].ID)
					if err := m.MapDocument(doc, d); err != nil {
						b.Fatal(err)
					}
					if share {
						x.shared.share(doc)
					}
					doc.VisitFields(func(f index.Field) {
						if f.Options().IsIndexed() {
							f.Analyze()
						}
					})
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(ds)), "µs/doc")
		})
	}
}

// TestStemCache: a remembered stem is the stemmer's, the cache stops
// growing at maxStems words and never keeps long words.
func TestStemCache(t *testing.T) {
	x, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	for _, chain := range []struct {
		name  string
		plain chain
		all   []analysis.TokenFilter
	}{{"fr", x.frChain, x.shared.frAll}, {"en", x.enChain, x.shared.enAll}} {
		plain := chain.plain[len(chain.plain)-1]
		c, ok := chain.all[len(chain.all)-1].(*cachedStemmer)
		if !ok {
			t.Fatalf("%s: the stemmer is not cached", chain.name)
		}
		long := strings.Repeat("démarches", 10)
		words := []string{"démarches", "demarches", "chevaux", "kits'", long, long}
		for i := range maxStems + 100 {
			words = append(words, fmt.Sprintf("mot%dees", i), "ordinateurs")
		}
		for pass := range 2 {
			for _, w := range words {
				want := plain.Filter(analysis.TokenStream{{Term: []byte(w)}})[0].Term
				got := c.Filter(analysis.TokenStream{{Term: []byte(w)}})[0].Term
				if string(got) != string(want) {
					t.Fatalf("%s pass %d: %q stems to %q, want %q", chain.name, pass, w, got, want)
				}
			}
		}
		if n := len(c.stems); n != maxStems {
			t.Errorf("%s: %d stems kept, want at most %d", chain.name, n, maxStems)
		}
		if _, ok := c.stems[long]; ok {
			t.Errorf("%s: a %d-byte word was kept", chain.name, len(long))
		}
	}
}
