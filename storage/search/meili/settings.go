package meili

import (
	"strconv"
	"strings"

	"github.com/meilisearch/meilisearch-go"

	"github.com/communs-numerique/communs/internal/text"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/search"
)

// Language-specific attributes. Meilisearch picks the tokenizer and
// normaliser per attribute, not per document, so a French resource fills
// title_fr... and an English one title_en...: localizedAttributes can then
// say which is which.
const (
	suffixFR = "_fr"
	suffixEN = "_en"
)

func suffix(lang string) string {
	if lang == "en" {
		return suffixEN
	}
	return suffixFR
}

var (
	textAttributes = []string{"title", "summary", "description"}
	// searchable lists attributes in rank order, which Meilisearch's
	// "attribute" rule uses: title, summary, themes, description, authors, file names.
	searchable = []string{
		"title" + suffixFR, "title" + suffixEN,
		"summary" + suffixFR, "summary" + suffixEN,
		"themes",
		"description" + suffixFR, "description" + suffixEN,
		"authors",
		"files",
	}
	// highlighted are the attributes a hit's snippets come from.
	highlighted = []string{
		"title" + suffixFR, "title" + suffixEN,
		"summary" + suffixFR, "summary" + suffixEN,
		"description" + suffixFR, "description" + suffixEN,
	}
	cropped = []string{"description" + suffixFR, "description" + suffixEN}
)

// maxTotalHits bounds the exhaustive hit count: Meilisearch counts at most
// that many, and pages beyond search.MaxOffset are refused anyway.
const maxTotalHits = 100_000

// stopWords are ignored in queries, as the embedded engine does: "en" in
// "démarches en ligne" must not decide the ranking.
var stopWords = []string{
	// French
	"au", "aux", "avec", "ce", "ces", "dans", "de", "des", "du", "elle", "en", "et", "il", "je",
	"la", "le", "les", "leur", "lui", "ma", "mais", "me", "mes", "mon", "ne", "nos", "notre",
	"nous", "on", "ou", "par", "pas", "pour", "qu", "que", "qui", "sa", "se", "ses", "son",
	"sur", "ta", "te", "tes", "ton", "tu", "un", "une", "vos", "votre", "vous", "c", "d", "j",
	"l", "à", "m", "n", "s", "t", "y", "est", "sont",
	// English
	"a", "an", "the", "and", "or", "of", "to", "in", "for", "on", "with", "at", "by", "from",
	"is", "are", "it", "its", "this", "that", "your", "how",
}

// Settings returns the index settings. localized adds localizedAttributes,
// which servers before 1.10 reject.
func Settings(localized bool) *meilisearch.Settings {
	filterable := make([]string, len(node.Facets))
	for i, f := range node.Facets {
		filterable[i] = search.Attribute(f)
	}
	s := &meilisearch.Settings{
		// "sort" first: when a sort is asked for ("newest") it decides the
		// order; with no sort it is a no-op and relevance rules apply.
		RankingRules:         []string{"sort", "words", "typo", "proximity", "attribute", "exactness"},
		SearchableAttributes: searchable,
		FilterableAttributes: filterable,
		SortableAttributes:   []string{"published", "id"},
		StopWords:            stopWords,
		TypoTolerance: &meilisearch.TypoTolerance{
			Enabled:             true,
			MinWordSizeForTypos: meilisearch.MinWordSizeForTypos{OneTypo: 5, TwoTypos: 9},
			DisableOnWords:      []string{},
			DisableOnAttributes: []string{},
			DisableOnNumbers:    true,
		},
		Faceting: &meilisearch.Faceting{
			MaxValuesPerFacet: 500,
			SortFacetValuesBy: map[string]meilisearch.SortFacetType{"*": meilisearch.SortFacetTypeCount},
		},
		Pagination: &meilisearch.Pagination{MaxTotalHits: maxTotalHits},
	}
	if localized {
		s.LocalizedAttributes = []*meilisearch.LocalizedAttributes{
			{Locales: []string{"fra"}, AttributePatterns: []string{"*" + suffixFR}},
			{Locales: []string{"eng"}, AttributePatterns: []string{"*" + suffixEN}},
		}
	}
	return s
}

// supportsLocalized reports whether a server version ("1.12.3") knows
// localizedAttributes, added in 1.10. Unknown versions are assumed recent.
func supportsLocalized(version string) bool {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) < 2 {
		return true
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return true
	}
	return major > 1 || (major == 1 && minor >= 10)
}

// document is what is sent to Meilisearch for a resource.
func document(r node.Resource) map[string]any {
	sfx := suffix(r.Language)
	d := map[string]any{
		"id":                r.ID,
		"title" + sfx:       r.Title,
		"summary" + sfx:     r.Summary,
		"description" + sfx: text.PlainText(r.Description),
		"kind":              r.Kind,
		"themes":            nonNil(r.Themes),
		"audience":          nonNil(r.Audience),
		"level":             r.Level,
		"license":           r.License,
		"language":          r.Language,
		"hub":               r.Hub,
		"published":         r.Published,
		"authors":           nonNil(r.Authors),
		"files":             search.FileWords(r),
	}
	if r.Organisation != "" { // absent rather than "": no empty facet value
		d["organisation"] = r.Organisation
	}
	return d
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
