package embedded

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/search/searchtest"
)

func open(t *testing.T) node.Index {
	t.Helper()
	x, err := Open(t.TempDir())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

func TestContract(t *testing.T) { searchtest.Run(t, open) }

func TestRelevance(t *testing.T) { searchtest.Relevance(t, open(t)) }

// Large indexes match the text in two halves in parallel; the suites run
// again with that path forced on.
func TestParallelMatching(t *testing.T) {
	old := parallelFrom
	parallelFrom = 1
	t.Cleanup(func() { parallelFrom = old })
	t.Run("contract", func(t *testing.T) { searchtest.Run(t, open) })
	t.Run("relevance", func(t *testing.T) { searchtest.Relevance(t, open(t)) })
}

func TestReopenKeepsDocuments(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Upsert(ctx, searchtest.Fixtures()); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	x, err = Open(dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer x.Close()
	if n, _ := x.Count(ctx); n != len(searchtest.Fixtures()) {
		t.Errorf("Count after reopen = %d, want %d", n, len(searchtest.Fixtures()))
	}
	res, err := x.Search(ctx, node.Query{Text: "l’arnaque"})
	if err != nil || len(res.Hits) == 0 || res.Hits[0].ID != "arnaque-colis" {
		t.Errorf("search after reopen: %v, %+v", err, res.Hits)
	}
}

func TestOutdatedSchemaIsRecreated(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Upsert(ctx, searchtest.Fixtures()); err != nil {
		t.Fatal(err)
	}
	x.mu.RLock()
	err = x.idx.SetInternal([]byte(schemaKey), []byte("communs-embedded-0"))
	x.mu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	x.Close()
	x, err = Open(dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer x.Close()
	if n, _ := x.Count(ctx); n != 0 {
		t.Errorf("an index of another schema must be recreated empty, has %d documents", n)
	}
}

func TestClosed(t *testing.T) {
	x, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	ctx := context.Background()
	if _, err := x.Search(ctx, node.Query{Text: "x"}); !errors.Is(err, node.ErrUnavailable) {
		t.Errorf("Search on a closed index: %v, want ErrUnavailable", err)
	}
	if err := x.Upsert(ctx, searchtest.Fixtures()); !errors.Is(err, node.ErrUnavailable) {
		t.Errorf("Upsert on a closed index: %v, want ErrUnavailable", err)
	}
}

func TestOpenKeepsOtherFiles(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "keep.txt")
	if err := os.WriteFile(keep, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	x.Close()
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("Open/Reset removed a file of the folder: %v", err)
	}
}

// Stemming proper (not plural-as-typo) is something Meilisearch does not do,
// so it is checked here rather than in the shared contract.
func TestStemming(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	rs := []node.Resource{
		{ID: "en-organize", Metadata: node.Metadata{Title: "How to organize a community workshop", Kind: "tutorial", Language: "en"}},
		{ID: "fr-reconditionnement", Metadata: node.Metadata{Title: "Réparer les ordinateurs", Summary: "Nous réparons des ordinateurs donnés.", Kind: "tutorial", Language: "fr"}},
	}
	if err := x.Upsert(ctx, rs); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ text, want string }{
		{"organizing workshops", "en-organize"},
		{"organized", "en-organize"},
		{"l’ordinateur réparé", "fr-reconditionnement"},
	} {
		res, err := x.Search(ctx, node.Query{Text: c.text})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range res.Hits {
			got = append(got, h.ID)
		}
		if !slices.Contains(got, c.want) {
			t.Errorf("%q: want %s, got %v", c.text, c.want, got)
		}
	}
}

func TestParse(t *testing.T) {
	x := open(t).(*Index)
	for _, c := range []struct {
		text  string
		raws  []string
		typos []int
	}{
		{"l'arnaque au colis", []string{"arnaque", "colis"}, []int{1, 1}},
		{"Démarches en ligne", []string{"demarches", "ligne"}, []int{2, 1}},
		{"mot de pase", []string{"mot", "pase"}, []int{0, 0}},
		{"de la", nil, nil},
		{"the phishing", []string{"phishing"}, []int{1}},
		{"2026 facturation", []string{"2026", "facturation"}, []int{0, 2}},
		{"colis colis", []string{"colis"}, []int{1}},
	} {
		words := x.parse(c.text)
		var raws []string
		var typos []int
		for _, w := range words {
			raws = append(raws, w.raw)
			typos = append(typos, w.typos)
		}
		if !slices.Equal(raws, c.raws) || !slices.Equal(typos, c.typos) {
			t.Errorf("parse(%q) = %v %v, want %v %v", c.text, raws, typos, c.raws, c.typos)
		}
		if len(words) > 0 && !words[len(words)-1].prefix {
			t.Errorf("parse(%q): last word not completed as typed", c.text)
		}
	}
}

func TestWithinDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		k    int
		want bool
	}{
		{"pase", "passe", 1, true},
		{"smartfone", "smartphone", 2, true},
		{"smartfone", "smartphone", 1, false},
		{"colis", "colis", 0, true},
		{"écran", "ecran", 1, true},
		{"abc", "abcdef", 2, false},
		{"andriod", "android", 1, true}, // a swap is one typo, as in the query automata
		{"tbalete", "tablette", 2, true},
		{"", "ab", 2, true},
	} {
		if got := withinDistance(c.a, c.b, c.k); got != c.want {
			t.Errorf("withinDistance(%q, %q, %d) = %v", c.a, c.b, c.k, got)
		}
	}
}

func TestNewestKey(t *testing.T) {
	keys := []string{
		newestKey("2025-01-02", "b"),
		newestKey("2025-01-02", "a"),
		newestKey("2024-12-31", "a"),
		newestKey("", "a"),
	}
	want := []string{keys[1], keys[0], keys[2], keys[3]}
	slices.Sort(keys)
	if !slices.Equal(keys, want) {
		t.Errorf("newest keys sort as %v, want %v", keys, want)
	}
}

func TestWordSpans(t *testing.T) {
	for text, want := range map[string][]string{
		"L’arnaque au colis":       {"L’arnaque", "au", "colis"},
		"l'hameçonnage (phishing)": {"l'hameçonnage", "phishing"},
		"impots.gouv.fr, e-mail":   {"impots.gouv.fr", "e", "mail"},
		"« Déjouer » : 3D…":        {"Déjouer", "3D"},
		"fin.":                     {"fin"},
		"":                         nil,
	} {
		var got []string
		for _, sp := range wordSpans(text) {
			got = append(got, text[sp.Start:sp.End])
		}
		if !slices.Equal(got, want) {
			t.Errorf("wordSpans(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestBitset(t *testing.T) {
	a, b := newBitset(130), newBitset(130)
	for _, i := range []uint32{0, 63, 64, 129} {
		a.set(i)
	}
	b.set(64)
	b.set(100)
	if a.count() != 4 || !a.has(129) || a.has(128) || a.has(5000) {
		t.Errorf("set/has/count wrong: %v", a)
	}
	if n := andCount(a, b); n != 1 {
		t.Errorf("andCount = %d, want 1", n)
	}
	c := a.clone()
	c.and(b)
	if c.count() != 1 || a.count() != 4 {
		t.Errorf("and changed the clone's source or kept too much: %v %v", a, c)
	}
	c.or(b)
	var got []uint32
	c.each(func(i uint32) { got = append(got, i) })
	if !slices.Equal(got, []uint32{64, 100}) {
		t.Errorf("each = %v", got)
	}
	if !newBitset(10).empty() || a.empty() {
		t.Error("empty wrong")
	}
}

func TestCrop(t *testing.T) {
	x := open(t).(*Index)
	words := x.parse("sextorsion")
	long := strings.Repeat("avant ", 40) + "la sextorsion est un chantage " + strings.Repeat("après ", 40)
	toks := []span{}
	marks := x.matches(long, x.fr, words, queryInitials(words), &toks)
	got := crop(long, toks, marks)
	if !strings.HasPrefix(got, "…") || !strings.HasSuffix(got, "…") || !strings.Contains(got, "<mark>sextorsion</mark>") {
		t.Errorf("crop = %q", got)
	}
	if n := len(strings.Fields(got)); n > snippetWords+2 {
		t.Errorf("crop has %d words, want about %d", n, snippetWords)
	}
	short := "la sextorsion"
	toks = nil
	marks = x.matches(short, x.fr, words, queryInitials(words), &toks)
	if got := crop(short, toks, marks); got != "la <mark>sextorsion</mark>" {
		t.Errorf("crop of a short text = %q", got)
	}
}
