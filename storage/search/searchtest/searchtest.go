// Package searchtest is the contract every node.Index implementation must
// meet: French matching (accents, elision, plurals, typos, prefixes),
// filters, disjunctive facets, sorting, paging, writes and HTML-safe
// highlights. The embedded engine runs it in every test run; the
// Meilisearch engine runs it when a server is available.
package searchtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/communs-numerique/communs/node"
)

// Fixtures returns the small hand-written set the contract suite indexes.
// Each resource exists for one or two checks; the comments say which.
func Fixtures() []node.Resource {
	return []node.Resource{
		{ // accents in the document, none in the query
			ID: "impots-en-ligne", Metadata: node.Metadata{Title: "Déclarer ses impôts en ligne",
				Summary:     "Tutoriel pour la première déclaration de revenus sur internet.",
				Description: "**Objectifs**\n- Créer son espace particulier\n- Déclarer ses revenus et vérifier le montant",
				Kind:        "tutorial", Themes: []string{"demarches-en-ligne", "emploi"}, Audience: []string{"grand-public", "jeunes"},
				Level: "debutant", License: "CC-BY-SA-4.0", Language: "fr", Authors: []string{"Pôle Numérique Test"},
				Hub: "hub-a", Published: "2024-04-10", Organisation: "tilleuls"},
		},
		{ // no accents in the document, accents in the query
			ID: "compte-securise", Metadata: node.Metadata{Title: "Creer un compte securise",
				Summary:     "Fiche ecrite sans accents pour verifier la recherche accentuee.",
				Description: "Choisir un identifiant et le proteger avec une phrase secrete.",
				Kind:        "practical-sheet", Themes: []string{"identite-numerique", "donnees-personnelles"}, Audience: []string{"seniors"},
				Level: "debutant", License: "CC-BY-4.0", Language: "fr", Hub: "hub-b", Published: "2023-02-01", Organisation: "mediatheque"},
		},
		{ // typographic apostrophe in the title, ASCII one in the description
			ID: "arnaque-colis", Metadata: node.Metadata{Title: "L’arnaque au faux colis",
				Summary:     "Reconnaître le SMS frauduleux d’un faux transporteur.",
				Description: "Un atelier court pour repérer l'hameçonnage par SMS et savoir à qui le signaler.",
				Kind:        "workshop-kit", Themes: []string{"cybersecurite", "messagerie"}, Audience: []string{"grand-public", "seniors"},
				Level: "intermediaire", License: "CC-BY-SA-4.0", Language: "fr", Hub: "hub-a", Published: "2024-06-18", Organisation: "tilleuls"},
		},
		{ // plural in the document
			ID: "ordinateurs-reconditionnes", Metadata: node.Metadata{Title: "Choisir des ordinateurs reconditionnés",
				Summary:     "Guide pour équiper une association en matériel d'occasion garanti.",
				Description: "Grades, garantie, batterie : les points à vérifier avant l'achat.",
				Kind:        "transition-guide", Themes: []string{"reparation", "numerique-responsable"}, Audience: []string{"associations"},
				Level: "avance", License: "etalab-2.0", Language: "fr", Hub: "hub-c", Published: "2022-09-15"},
		},
		{ // singular in the document, one-typo and prefix queries
			ID: "tablette-premiers-reglages", Metadata: node.Metadata{Title: "Prendre en main sa tablette",
				Summary:     "Les premiers réglages d'une tablette neuve ou donnée.",
				Description: "Connexion sans fil, compte, code de verrouillage et confort de lecture.",
				Kind:        "tutorial", Themes: []string{"premiers-pas", "smartphone"}, Audience: []string{"seniors"},
				Level: "debutant", License: "CC0-1.0", Language: "fr", Hub: "hub-b", Published: "2022-01-20"},
		},
		{ // prefix as you type
			ID: "smartphone-android", Metadata: node.Metadata{Title: "Découvrir son smartphone Android",
				Summary:     "Quatre séances pour apprivoiser l'écran tactile.",
				Description: "Allumer, déverrouiller, téléphoner et envoyer un message.",
				Kind:        "workshop-kit", Themes: []string{"smartphone", "premiers-pas"}, Audience: []string{"seniors", "grand-public"},
				Level: "debutant", License: "CC-BY-SA-4.0", Language: "fr", Hub: "hub-c", Published: "2021-05-18"},
		},
		{ // two-typo query on a long word
			ID: "accessibilite-rgaa", Metadata: node.Metadata{Title: "Introduction à l'accessibilité numérique",
				Summary:     "Tester un site avec le référentiel général d'amélioration de l'accessibilité.",
				Description: "Une journée pour comprendre les besoins des personnes aveugles, sourdes ou dyslexiques.",
				Kind:        "training-module", Themes: []string{"accessibilite", "communication"}, Audience: []string{"collectivites"},
				Level: "intermediaire", License: "CC-BY-4.0", Language: "fr", Hub: "hub-a", Published: "2023-11-20"},
		},
		{ // English analysis
			ID: "phishing-workshop", Metadata: node.Metadata{Title: "Spotting phishing scams",
				Summary:     "A workshop for small groups of adults.",
				Description: "Participants learn to recognise a fake delivery message and report it.",
				Kind:        "workshop-kit", Themes: []string{"cybersecurite", "messagerie"}, Audience: []string{"grand-public", "allophones"},
				Level: "debutant", License: "CC-BY-4.0", Language: "en", Hub: "hub-b", Published: "2021-03-22"},
		},
		{ // one-typo query, description-only word
			ID: "visioconference-famille", Metadata: node.Metadata{Title: "Appeler sa famille en visioconférence",
				Summary:     "Passer un appel vidéo depuis un smartphone.",
				Description: "Régler le son et la caméra, puis raccrocher sans fermer l'application.",
				Kind:        "tutorial", Themes: []string{"visioconference", "smartphone"}, Audience: []string{"seniors", "parents"},
				Level: "debutant", License: "CC-BY-SA-4.0", Language: "fr", Hub: "hub-c", Published: "2020-05-04"},
		},
		{ // markup in text must come back escaped
			ID: "titre-piege", Metadata: node.Metadata{Title: "<script>alert('x')</script> Sécurité & confiance",
				Summary:     "Un résumé <b>piégé</b> pour vérifier l'échappement.",
				Description: "La sécurité des pages <img src=x onerror=alert(1)> commence par l'échappement.",
				Kind:        "practical-sheet", Themes: []string{"cybersecurite"}, Audience: []string{"mediateurs"},
				Level: "avance", License: "CC0-1.0", Language: "fr", Hub: "hub-a", Published: "2020-01-01"},
		},
		{ // same date as arnaque-colis: newest order breaks the tie by id
			ID: "box-internet-maison", Metadata: node.Metadata{Title: "Brancher sa box internet",
				Summary:     "Relier la box, le téléphone fixe et la télévision.",
				Description: "Schéma des prises et voyants de la box.",
				Kind:        "practical-sheet", Themes: []string{"premiers-pas"}, Audience: []string{"grand-public"},
				Level: "debutant", License: "CC-BY-NC-SA-4.0", Language: "fr", Hub: "hub-c", Published: "2024-06-18"},
		},
	}
}

// Run runs the contract suite. open must return an empty index; Run closes
// every index it opens.
func Run(t *testing.T, open func(t *testing.T) node.Index) {
	fx := Fixtures()
	seeded := func(t *testing.T) node.Index {
		t.Helper()
		idx := open(t)
		t.Cleanup(func() { idx.Close() })
		if err := idx.Upsert(context.Background(), fx); err != nil {
			t.Fatalf("upsert fixtures: %v", err)
		}
		return idx
	}

	t.Run("count", func(t *testing.T) {
		idx := seeded(t)
		n, err := idx.Count(context.Background())
		if err != nil || n != len(fx) {
			t.Fatalf("Count = %d, %v; want %d", n, err, len(fx))
		}
	})

	t.Run("matching", func(t *testing.T) {
		idx := seeded(t)
		for _, c := range []struct {
			name, text string
			want       []string
		}{
			{"no accent finds accent", "impots", []string{"impots-en-ligne"}},
			{"no accent finds accent 2", "declarer revenus", []string{"impots-en-ligne"}},
			{"accent finds no accent", "sécurisé", []string{"compte-securise"}},
			{"accent finds no accent 2", "créer un compte", []string{"compte-securise"}},
			{"capitals", "IMPÔTS", []string{"impots-en-ligne"}},
			{"elision with ASCII apostrophe", "l'arnaque", []string{"arnaque-colis"}},
			{"elision with typographic apostrophe", "l’arnaque", []string{"arnaque-colis"}},
			{"no article", "arnaque", []string{"arnaque-colis"}},
			{"typographic apostrophe finds ASCII one", "l’hameçonnage", []string{"arnaque-colis"}},
			{"plural query, plural document", "ordinateurs", []string{"ordinateurs-reconditionnes"}},
			{"singular query, plural document", "ordinateur", []string{"ordinateurs-reconditionnes"}},
			{"plural query, singular document", "tablettes", []string{"tablette-premiers-reglages"}},
			{"plural query 2", "arnaques", []string{"arnaque-colis"}},
			{"one typo (5-8 letters)", "famile", []string{"visioconference-famille"}},
			{"one typo 2", "tablete", []string{"tablette-premiers-reglages"}},
			{"two typos (9+ letters)", "visiokonferense", []string{"visioconference-famille"}},
			{"two typos 2", "accesibilitee", []string{"accessibilite-rgaa"}},
			{"prefix as you type", "smartph", []string{"smartphone-android", "visioconference-famille"}},
			{"prefix with accent folding", "décou", []string{"smartphone-android"}},
			{"prefix on the last word only", "reglages tabl", []string{"tablette-premiers-reglages"}},
			{"description-only word", "raccrocher", []string{"visioconference-famille"}},
			{"English plural", "workshops", []string{"phishing-workshop"}},
			{"English singular finds plural", "scam", []string{"phishing-workshop"}},
			{"English multi-word", "phishing delivery message", []string{"phishing-workshop"}},
			{"theme words are searchable", "numerique responsable", []string{"ordinateurs-reconditionnes"}},
		} {
			res := search(t, idx, node.Query{Text: c.text})
			for _, id := range c.want {
				if !slices.Contains(ids(res), id) {
					t.Errorf("%s: %q: want %s among %v", c.name, c.text, id, ids(res))
				}
			}
		}
		for _, c := range []struct{ name, text, notWant string }{
			// Meilisearch's minWordSizeForTypos: a 4-letter word must match
			// as typed, or "mail" would find "main", "mais", "maïs"...
			{"no typo under 5 letters", "maim", "tablette-premiers-reglages"},
			// Only the word being typed is completed.
			{"no prefix before the last word", "smartph famille", "smartphone-android"},
		} {
			res := search(t, idx, node.Query{Text: c.text})
			if slices.Contains(ids(res), c.notWant) {
				t.Errorf("%s: %q: %s must not match, got %v", c.name, c.text, c.notWant, ids(res))
			}
		}
		res := search(t, idx, node.Query{Text: "zzyzx qwvt"})
		if res.Total != 0 || len(res.Hits) != 0 {
			t.Errorf("nonsense query: total %d hits %v, want none", res.Total, ids(res))
		}
	})

	t.Run("ranking", func(t *testing.T) {
		idx := seeded(t)
		for _, c := range []struct{ text, first string }{
			{"arnaque colis sms", "arnaque-colis"},
			{"tablette", "tablette-premiers-reglages"},
			{"smartphone android", "smartphone-android"},
			{"famille visioconference", "visioconference-famille"},
		} {
			res := search(t, idx, node.Query{Text: c.text})
			if len(res.Hits) == 0 || res.Hits[0].ID != c.first {
				t.Errorf("%q: want %s first, got %v", c.text, c.first, ids(res))
			}
		}
		// A document with the word itself ranks above one with a near word.
		res := search(t, idx, node.Query{Text: "colis", PerPage: 100})
		if len(res.Hits) == 0 || res.Hits[0].ID != "arnaque-colis" {
			t.Errorf("colis: want arnaque-colis first, got %v", ids(res))
		}
		// More of the words wins: both words beat one word.
		res = search(t, idx, node.Query{Text: "smartphone appel"})
		if len(res.Hits) == 0 || res.Hits[0].ID != "visioconference-famille" {
			t.Errorf("smartphone appel: want visioconference-famille first, got %v", ids(res))
		}
	})

	t.Run("hits carry metadata", func(t *testing.T) {
		idx := seeded(t)
		res := search(t, idx, node.Query{Text: "impots"})
		if len(res.Hits) == 0 {
			t.Fatal("no hit")
		}
		h := res.Hits[0]
		want := fx[0]
		if h.ID != want.ID || h.Title != want.Title || h.Summary != want.Summary || h.Kind != want.Kind ||
			!slices.Equal(h.Themes, want.Themes) || !slices.Equal(h.Audience, want.Audience) || h.Level != want.Level ||
			h.License != want.License || h.Language != want.Language || h.Hub != want.Hub || h.Published != want.Published {
			t.Errorf("hit %+v does not carry the resource's metadata %+v", h, want)
		}
	})

	t.Run("filters", func(t *testing.T) {
		idx := seeded(t)
		for _, c := range []struct {
			name    string
			text    string
			filters map[string][]string
		}{
			{"one value", "", map[string][]string{"kind": {"tutorial"}}},
			{"OR within a facet", "", map[string][]string{"kind": {"tutorial", "workshop-kit"}}},
			{"AND across facets", "", map[string][]string{"kind": {"tutorial", "workshop-kit"}, "hub": {"hub-c"}}},
			{"theme matches any of the themes", "", map[string][]string{"theme": {"smartphone"}}},
			{"audience", "", map[string][]string{"audience": {"seniors"}, "level": {"debutant"}}},
			{"language and license", "", map[string][]string{"language": {"en", "fr"}, "license": {"CC-BY-4.0"}}},
			{"with text", "smartphone", map[string][]string{"kind": {"workshop-kit"}}},
			{"organisation", "", map[string][]string{"organisation": {"tilleuls"}}},
			{"organisation and kind", "", map[string][]string{"organisation": {"tilleuls", "mediatheque"}, "level": {"debutant"}}},
			{"unknown value", "", map[string][]string{"hub": {"nowhere"}}},
			{"value with quotes", "", map[string][]string{"hub": {`hub-a" OR hub = "hub-b`}}},
		} {
			res := search(t, idx, node.Query{Text: c.text, Filters: c.filters, PerPage: 100})
			for _, h := range res.Hits {
				r := byID(fx, h.ID)
				if !Matches(r, c.filters) {
					t.Errorf("%s: %s does not match %v", c.name, h.ID, c.filters)
				}
			}
			if c.text == "" {
				var want []string
				for _, r := range fx {
					if Matches(r, c.filters) {
						want = append(want, r.ID)
					}
				}
				if got := ids(res); !sameSet(got, want) || res.Total != len(want) {
					t.Errorf("%s: got %v (total %d), want %v", c.name, got, res.Total, want)
				}
			} else if res.Total == 0 {
				t.Errorf("%s: no hit", c.name)
			}
		}
	})

	t.Run("facets", func(t *testing.T) {
		idx := seeded(t)
		// Browsing: every facet counts every resource.
		res := search(t, idx, node.Query{})
		for _, f := range node.Facets {
			want := countValues(fx, f, nil)
			if got := asMap(res.Facets[f]); !maps.Equal(got, want) {
				t.Errorf("facet %s: got %v, want %v", f, got, want)
			}
			checkFacetOrder(t, f, res.Facets[f])
		}
		// Disjunctive: a facet's counts ignore its own filter and apply the
		// others.
		filters := map[string][]string{"kind": {"tutorial"}, "audience": {"seniors"}}
		res = search(t, idx, node.Query{Filters: filters})
		for _, f := range node.Facets {
			want := countValues(fx, f, without(filters, f))
			if got := asMap(res.Facets[f]); !maps.Equal(withoutZeros(got), want) {
				t.Errorf("disjunctive facet %s with %v: got %v, want %v", f, filters, got, want)
			}
		}
		if kinds := asMap(res.Facets["kind"]); kinds["workshop-kit"] == 0 {
			t.Errorf("kind facet must still count the other kinds when kind is filtered: %v", kinds)
		}
		// A picked value is listed even when the other filters leave it
		// no hit, so the UI can show it picked.
		res = search(t, idx, node.Query{Filters: map[string][]string{"hub": {"hub-a"}, "kind": {"tutorial", "transition-guide"}}})
		if got := asMap(res.Facets["kind"]); !has(res.Facets["kind"], "transition-guide") {
			t.Errorf("picked value transition-guide missing from kind facet %v", got)
		}
		// With text: each count equals the total of picking that value.
		for _, text := range []string{"smartphone", "arnaque"} {
			filters := map[string][]string{"level": {"debutant", "intermediaire"}}
			res := search(t, idx, node.Query{Text: text, Filters: filters})
			if res.Total == 0 {
				t.Fatalf("%q: no hit", text)
			}
			for _, f := range []string{"kind", "level", "theme"} {
				for _, fc := range res.Facets[f] {
					fl := without(filters, f)
					fl[f] = []string{fc.Value}
					n := search(t, idx, node.Query{Text: text, Filters: fl}).Total
					if n != fc.Count {
						t.Errorf("%q facet %s=%s: count %d, but picking it gives %d hits", text, f, fc.Value, fc.Count, n)
					}
				}
			}
		}
	})

	t.Run("sort newest", func(t *testing.T) {
		idx := seeded(t)
		want := slices.Clone(fx)
		slices.SortFunc(want, func(a, b node.Resource) int {
			if c := strings.Compare(b.Published, a.Published); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		var wantIDs []string
		for _, r := range want {
			wantIDs = append(wantIDs, r.ID)
		}
		// Browsing sorts newest even when relevance is asked for.
		for _, sort := range []string{"", "relevance", "newest"} {
			res := search(t, idx, node.Query{Sort: sort, PerPage: 100})
			if got := ids(res); !slices.Equal(got, wantIDs) {
				t.Errorf("browse sort %q: got %v, want %v", sort, got, wantIDs)
			}
		}
		res := search(t, idx, node.Query{Text: "smartphone", Sort: "newest", PerPage: 100})
		if len(res.Hits) < 2 {
			t.Fatalf("smartphone: want several hits, got %v", ids(res))
		}
		for i := 1; i < len(res.Hits); i++ {
			if res.Hits[i-1].Published < res.Hits[i].Published {
				t.Errorf("newest: %v not sorted by date", ids(res))
			}
		}
	})

	t.Run("paging", func(t *testing.T) {
		idx := seeded(t)
		for _, text := range []string{"", "smartphone tablette arnaque securite"} {
			all := search(t, idx, node.Query{Text: text, PerPage: 100})
			if all.Total < 4 {
				t.Fatalf("%q: want at least 4 hits, got %d", text, all.Total)
			}
			var paged []string
			for page := 1; page <= (all.Total+2)/3+1; page++ {
				res := search(t, idx, node.Query{Text: text, Page: page, PerPage: 3})
				if res.Total != all.Total {
					t.Errorf("%q page %d: total %d, want %d", text, page, res.Total, all.Total)
				}
				if len(res.Hits) > 3 {
					t.Errorf("%q page %d: %d hits for 3 per page", text, page, len(res.Hits))
				}
				paged = append(paged, ids(res)...)
			}
			if !slices.Equal(paged, ids(all)) {
				t.Errorf("%q: pages give %v, one page gives %v", text, paged, ids(all))
			}
		}
		res := search(t, idx, node.Query{PerPage: 1000})
		if len(res.Hits) != len(fx) {
			t.Errorf("PerPage 1000 (capped to 100): %d hits, want %d", len(res.Hits), len(fx))
		}
		res = search(t, idx, node.Query{})
		if len(res.Hits) != len(fx) { // default 20 per page
			t.Errorf("default page: %d hits, want %d", len(res.Hits), len(fx))
		}
	})

	t.Run("invalid queries", func(t *testing.T) {
		idx := seeded(t)
		for _, q := range []node.Query{
			{Filters: map[string][]string{"colour": {"red"}}},
			{Sort: "oldest"},
			{Page: 1 << 20, PerPage: 100},
		} {
			if _, err := idx.Search(context.Background(), q); !errors.Is(err, node.ErrInvalid) {
				t.Errorf("%+v: err = %v, want node.ErrInvalid", q, err)
			}
		}
	})

	t.Run("delete", func(t *testing.T) {
		idx := seeded(t)
		ctx := context.Background()
		if err := idx.Delete(ctx, []string{"box-internet-maison", "never-indexed"}); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if n, err := idx.Count(ctx); err != nil || n != len(fx)-1 {
			t.Errorf("Count after delete = %d, %v; want %d", n, err, len(fx)-1)
		}
		res := search(t, idx, node.Query{Text: "box internet"})
		if slices.Contains(ids(res), "box-internet-maison") {
			t.Errorf("deleted document still found: %v", ids(res))
		}
		res = search(t, idx, node.Query{})
		if got := asMap(res.Facets["license"]); got["CC-BY-NC-SA-4.0"] != 0 {
			t.Errorf("deleted document still counted in facets: %v", got)
		}
		if err := idx.Delete(ctx, nil); err != nil {
			t.Errorf("Delete(nil): %v", err)
		}
	})

	t.Run("upsert replaces", func(t *testing.T) {
		idx := seeded(t)
		ctx := context.Background()
		r := byID(fx, "tablette-premiers-reglages")
		r.Title = "Prendre en main sa liseuse"
		r.Summary = "Les premiers réglages d'une liseuse neuve."
		r.Kind = "practical-sheet"
		if err := idx.Upsert(ctx, []node.Resource{r}); err != nil {
			t.Fatalf("Upsert: %v", err)
		}
		if n, _ := idx.Count(ctx); n != len(fx) {
			t.Errorf("Count after replacing = %d, want %d", n, len(fx))
		}
		res := search(t, idx, node.Query{Text: "liseuse"})
		if len(res.Hits) == 0 || res.Hits[0].ID != r.ID || res.Hits[0].Title != r.Title || res.Hits[0].Kind != "practical-sheet" {
			t.Errorf("liseuse: want the replaced document, got %+v", res.Hits)
		}
		res = search(t, idx, node.Query{Text: "tablette"})
		if slices.Contains(ids(res), r.ID) {
			t.Errorf("old text still indexed: tablette finds %v", ids(res))
		}
		res = search(t, idx, node.Query{Filters: map[string][]string{"kind": {"tutorial"}}})
		if slices.Contains(ids(res), r.ID) {
			t.Errorf("old kind still indexed: %v", ids(res))
		}
	})

	t.Run("file names are searchable", func(t *testing.T) {
		idx := seeded(t)
		ctx := context.Background()
		r := byID(fx, "compte-securise")
		r.Files = append(r.Files, node.File{Name: "memento-franceconnect.pdf", MediaType: "application/pdf", Size: 1000})
		if err := idx.Upsert(ctx, []node.Resource{r}); err != nil {
			t.Fatalf("Upsert: %v", err)
		}
		res := search(t, idx, node.Query{Text: "memento"})
		if !slices.Contains(ids(res), r.ID) {
			t.Errorf("a word of an added file's name should find the resource: memento gives %v", ids(res))
		}
	})

	t.Run("reset", func(t *testing.T) {
		idx := seeded(t)
		ctx := context.Background()
		if err := idx.Reset(ctx); err != nil {
			t.Fatalf("Reset: %v", err)
		}
		if n, err := idx.Count(ctx); err != nil || n != 0 {
			t.Errorf("Count after reset = %d, %v; want 0", n, err)
		}
		if res := search(t, idx, node.Query{Text: "tablette"}); res.Total != 0 {
			t.Errorf("search after reset: %v", ids(res))
		}
		if err := idx.Upsert(ctx, fx); err != nil {
			t.Fatalf("Upsert after reset: %v", err)
		}
		if n, _ := idx.Count(ctx); n != len(fx) {
			t.Errorf("Count after rebuild = %d, want %d", n, len(fx))
		}
		if res := search(t, idx, node.Query{Text: "tablette"}); res.Total == 0 {
			t.Error("rebuilt index finds nothing")
		}
	})

	t.Run("highlights", func(t *testing.T) {
		idx := seeded(t)
		res := search(t, idx, node.Query{Text: "sécurité"})
		h, ok := hit(res, "titre-piege")
		if !ok {
			t.Fatalf("sécurité: titre-piege not found in %v", ids(res))
		}
		title := h.Highlights["title"]
		if strings.Contains(title, "<script") || !strings.Contains(title, "&lt;script&gt;") {
			t.Errorf("title highlight not escaped: %q", title)
		}
		if !strings.Contains(title, "<mark>Sécurité</mark>") {
			t.Errorf("title highlight does not mark Sécurité: %q", title)
		}
		if !strings.Contains(title, "&amp;") {
			t.Errorf("& not escaped in %q", title)
		}
		if s := h.Highlights["summary"]; strings.Contains(s, "<b>") {
			t.Errorf("summary highlight not escaped: %q", s)
		}
		if d := h.Highlights["description"]; strings.Contains(d, "<img") || !strings.Contains(d, "<mark>sécurité</mark>") {
			t.Errorf("description highlight %q: want escaped markup and a marked sécurité", d)
		}

		for _, c := range []struct {
			text, id, field, marked string
			// A completed word may be marked whole or only as far as it
			// was typed (Meilisearch marks "<mark>smartph</mark>one").
			partial bool
		}{
			{"l'arnaque", "arnaque-colis", "title", "arnaque", false},
			{"impots", "impots-en-ligne", "title", "impôts", false},
			{"hameçonnage", "arnaque-colis", "description", "hameçonnage", false},
			{"raccrocher", "visioconference-famille", "description", "raccrocher", false},
			{"smartph", "smartphone-android", "title", "smartphone", true},
		} {
			res := search(t, idx, node.Query{Text: c.text})
			h, ok := hit(res, c.id)
			if !ok {
				t.Errorf("%q: %s not found", c.text, c.id)
				continue
			}
			ok = slices.ContainsFunc(marked(h.Highlights[c.field]), func(m string) bool {
				if c.partial {
					return len(m) >= len(c.text) && strings.HasPrefix(strings.ToLower(c.marked), strings.ToLower(m))
				}
				return strings.EqualFold(m, c.marked)
			})
			if !ok {
				t.Errorf("%q: %s %s highlight %q marks %v, want %q", c.text, c.id, c.field, h.Highlights[c.field], marked(h.Highlights[c.field]), c.marked)
			}
		}
	})

	t.Run("concurrent use", func(t *testing.T) {
		idx := seeded(t)
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 5 {
					if i%4 == 0 {
						r := fx[(i+j)%len(fx)]
						if err := idx.Upsert(ctx, []node.Resource{r}); err != nil {
							errs <- err
						}
						continue
					}
					if _, err := idx.Search(ctx, node.Query{Text: "smartphone arnaque", Filters: map[string][]string{"level": {"debutant"}}}); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n, _ := idx.Count(ctx); n != len(fx) {
			t.Errorf("Count after concurrent upserts = %d, want %d", n, len(fx))
		}
	})
}

// Matches reports whether r passes the filters: OR within a facet, AND
// across facets. It is the reference the engines are checked against.
func Matches(r node.Resource, filters map[string][]string) bool {
	for f, values := range filters {
		if len(values) == 0 {
			continue
		}
		if !slices.ContainsFunc(facetValues(r, f), func(v string) bool { return slices.Contains(values, v) }) {
			return false
		}
	}
	return true
}

func facetValues(r node.Resource, f string) []string {
	switch f {
	case "kind":
		return []string{r.Kind}
	case "theme":
		return r.Themes
	case "audience":
		return r.Audience
	case "level":
		return []string{r.Level}
	case "language":
		return []string{r.Language}
	case "license":
		return []string{r.License}
	case "hub":
		return []string{r.Hub}
	case "organisation":
		return []string{r.Organisation}
	}
	panic("unknown facet " + f)
}

func countValues(rs []node.Resource, f string, filters map[string][]string) map[string]int {
	out := map[string]int{}
	for _, r := range rs {
		if !Matches(r, filters) {
			continue
		}
		for _, v := range facetValues(r, f) {
			if v != "" {
				out[v]++
			}
		}
	}
	return out
}

func without(filters map[string][]string, f string) map[string][]string {
	out := map[string][]string{}
	for k, v := range filters {
		if k != f {
			out[k] = v
		}
	}
	return out
}

func asMap(fc []node.FacetCount) map[string]int {
	out := map[string]int{}
	for _, c := range fc {
		out[c.Value] = c.Count
	}
	return out
}

func withoutZeros(m map[string]int) map[string]int {
	maps.DeleteFunc(m, func(_ string, n int) bool { return n == 0 })
	return m
}

func has(fc []node.FacetCount, v string) bool {
	return slices.ContainsFunc(fc, func(c node.FacetCount) bool { return c.Value == v })
}

func checkFacetOrder(t *testing.T, f string, fc []node.FacetCount) {
	t.Helper()
	for i := 1; i < len(fc); i++ {
		a, b := fc[i-1], fc[i]
		if a.Count < b.Count || (a.Count == b.Count && a.Value > b.Value) {
			t.Errorf("facet %s not sorted by count then value: %v", f, fc)
			return
		}
	}
}

func search(t *testing.T, idx node.Index, q node.Query) node.Results {
	t.Helper()
	res, err := idx.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("Search(%+v): %v", q, err)
	}
	checkSafe(t, q, res)
	return res
}

var markRe = regexp.MustCompile(`<mark>(.*?)</mark>`)

// checkSafe checks every highlight of every search: once the <mark> tags
// are removed no markup is left, and marks are not nested or empty.
func checkSafe(t *testing.T, q node.Query, res node.Results) {
	t.Helper()
	for _, h := range res.Hits {
		for field, s := range h.Highlights {
			rest := strings.ReplaceAll(strings.ReplaceAll(s, "<mark>", ""), "</mark>", "")
			if strings.ContainsAny(rest, "<>") {
				t.Errorf("%q: %s highlight %s is not HTML-safe: %q", q.Text, h.ID, field, s)
			}
			if strings.Count(s, "<mark>") != strings.Count(s, "</mark>") || strings.Contains(s, "<mark></mark>") {
				t.Errorf("%q: %s highlight %s has unbalanced or empty marks: %q", q.Text, h.ID, field, s)
			}
			if q.Text == "" && strings.Contains(s, "<mark>") {
				t.Errorf("browsing marks words: %s %s %q", h.ID, field, s)
			}
		}
	}
}

func marked(s string) []string {
	var out []string
	for _, m := range markRe.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

func ids(res node.Results) []string {
	out := make([]string, 0, len(res.Hits))
	for _, h := range res.Hits {
		out = append(out, h.ID)
	}
	return out
}

func hit(res node.Results, id string) (node.Hit, bool) {
	for _, h := range res.Hits {
		if h.ID == id {
			return h, true
		}
	}
	return node.Hit{}, false
}

func byID(rs []node.Resource, id string) node.Resource {
	for _, r := range rs {
		if r.ID == id {
			return r
		}
	}
	panic(fmt.Sprintf("no fixture %s", id))
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
