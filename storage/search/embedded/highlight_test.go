package embedded

import (
	"slices"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/corpus"
)

// referenceMatches is matches without its shortcuts: every word analysed by
// the index's own raw chain, every word sharing a start with a query form
// stemmed. The shortcuts (first-byte filter, ASCII fast paths) must not
// change which words are marked.
func referenceMatches(x *Index, text string, words []word) []span {
	if text == "" {
		return nil
	}
	spans := wordSpans(text)
	raws := x.rawChain.run(text, spans)
	var out []span
	for i, sp := range spans {
		raw := raws[i]
		if raw == "" {
			continue
		}
		matched := slices.ContainsFunc(words, func(w word) bool { return w.matches(raw, "", false) })
		if !matched && slices.ContainsFunc(words, func(w word) bool { return w.sharesStart(raw) }) {
			if stem, ok := x.stem(x.fr, text[sp.Start:sp.End]); ok {
				matched = slices.ContainsFunc(words, func(w word) bool { return slices.Contains(w.stems, stem) })
			}
		}
		if !matched {
			continue
		}
		orig := text[sp.Start:sp.End]
		if i := strings.IndexAny(orig, "'’"); i >= 0 && i <= len("jusqu") {
			sp.Start += i + len(string([]rune(orig[i:])[0]))
		}
		out = append(out, sp)
	}
	return out
}

var highlightQueries = []string{
	"demarches en ligne", "Démarches", "l'arnaque", "l’arnaque au colis", "smartph", "sm", "visioconferance",
	"accesibilite numerique", "ordinateurs reconditionnés", "œuvre", "Écran tactile", "impots.gouv", "qu'est",
	"ia generative mediateurs", "mot de pase", "franceconect", "phishing scams", "RGPD", "2026", "_x",
}

func TestMatchesAgreeWithTheFullAnalysis(t *testing.T) {
	x := open(t).(*Index)
	texts := []string{"L’ÉCRAN d'accueil, l'Écran, qu'ils; Œuvre œuvres — jusqu’où ? Smartphones/SMS", "É", "'", "’a"}
	for _, r := range corpus.MustLoad(t) {
		texts = append(texts, r.Title, r.Summary, r.Description)
	}
	marked := 0
	for _, q := range highlightQueries {
		words := x.parse(q)
		in := queryInitials(words)
		for _, text := range texts {
			got := x.matches(text, x.fr, words, in, nil)
			want := referenceMatches(x, text, words)
			if !slices.Equal(got, want) {
				t.Fatalf("query %q on %q:\n got %v\nwant %v", q, text, got, want)
			}
			marked += len(got)
		}
	}
	if marked < 500 {
		t.Errorf("only %d words marked over the corpus: the comparison proves little", marked)
	}
}

func FuzzMatches(f *testing.F) {
	x, err := Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { x.Close() })
	for _, q := range highlightQueries {
		f.Add(q, "L’Écran d'accueil des démarches en ligne : l'arnaque au colis, smartphones.")
	}
	f.Fuzz(func(t *testing.T, q, text string) {
		words := x.parse(q)
		if len(words) == 0 {
			return
		}
		got := x.matches(text, x.fr, words, queryInitials(words), nil)
		if want := referenceMatches(x, text, words); !slices.Equal(got, want) {
			t.Fatalf("query %q on %q:\n got %v\nwant %v", q, text, got, want)
		}
	})
}
