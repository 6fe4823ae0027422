package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/communs-numerique/communs/node"
)

// Collections are searched in the catalog, not in the search index: a
// hub has tens or hundreds of collections, not the thousands of
// resources the index is for, so reading them (at most
// maxCollectionScan) and matching their words costs less than keeping a
// second kind of document in two engines. Every word of the query (accents
// and case aside, the last one as a prefix) must appear in the title,
// summary or description; collections matching in the title come first,
// then in the summary, then the rest, newest first within each tier.

// maxCollectionScan bounds the collections one search reads.
const maxCollectionScan = 10000

var foldAccents = transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)

// searchWords lowercases, removes accents and splits s into words.
func searchWords(s string) []string {
	folded := strings.ToLower(s)
	if !isASCII(folded) {
		if f, _, err := transform.String(foldAccents, folded); err == nil {
			folded = f
		}
	}
	return strings.FieldsFunc(folded, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// hasWords says whether text holds every query word: whole words, the
// last one also as the start of a word (typing as one searches).
func hasWords(text []string, query []string) bool {
	for i, q := range query {
		last := i == len(query)-1
		if !slices.ContainsFunc(text, func(w string) bool { return w == q || last && strings.HasPrefix(w, q) }) {
			return false
		}
	}
	return true
}

// matchCollections returns the collections matching text, best first.
func (s *Server) matchCollections(ctx context.Context, text string, q node.ListCollectionsQuery) ([]node.Collection, error) {
	words := searchWords(text)
	var tiers [3][]node.Collection
	for off := 0; off < maxCollectionScan; {
		q.Offset, q.Limit = off, MaxPerPage
		cs, total, err := s.svc.ListCollections(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			title := searchWords(c.Title)
			switch {
			case hasWords(title, words):
				tiers[0] = append(tiers[0], c)
			case hasWords(append(title, searchWords(c.Summary)...), words):
				tiers[1] = append(tiers[1], c)
			case hasWords(append(append(title, searchWords(c.Summary)...), searchWords(c.Description)...), words):
				tiers[2] = append(tiers[2], c)
			}
		}
		off += len(cs)
		if len(cs) == 0 || off >= total {
			break
		}
	}
	return slices.Concat(tiers[0], tiers[1], tiers[2]), nil
}

// CollectionSearchJSON is the body of GET /api/v1/search?type=collection:
// the envelope of a resource search, hits being collections (their items
// as ids) and no facets.
type CollectionSearchJSON struct {
	Query   string                       `json:"q"`
	Type    string                       `json:"type"`
	Hits    []CollectionJSON             `json:"hits"`
	Total   int                          `json:"total"`
	Page    int                          `json:"page"`
	PerPage int                          `json:"per_page"`
	Facets  map[string][]node.FacetCount `json:"facets"`
	TookMS  float64                      `json:"took_ms"`
}

// searchType reads the type parameter of a search: resource (default)
// or collection.
func searchType(v map[string][]string) (string, error) {
	t := ""
	if vs := v["type"]; len(vs) > 1 {
		return "", &node.ValidationError{Field: "type", Code: "invalid", Rule: "give it once"}
	} else if len(vs) == 1 {
		t = vs[0]
	}
	switch t {
	case "", "resource":
		return "resource", nil
	case "collection":
		return t, nil
	}
	return "", &node.ValidationError{Field: "type", Code: "invalid", Rule: fmt.Sprintf("must be resource or collection (got %q)", t)}
}

// apiSearchCollections answers a search of type collection: q, page and
// per_page apply; the facet filters and sort are for resources.
func (s *Server) apiSearchCollections(w http.ResponseWriter, r *http.Request, q node.Query) error {
	start := time.Now()
	for f, vs := range q.Filters {
		if len(vs) > 0 {
			return &node.ValidationError{Field: f, Code: "invalid", Rule: "filters apply to resources; a search with type=collection takes q, page and per_page"}
		}
	}
	if len(q.Text) > node.MaxQueryLen {
		return &node.ValidationError{Field: "q", Code: "invalid", Rule: fmt.Sprintf("must be at most %d characters", node.MaxQueryLen)}
	}
	perPage := q.PerPage
	if perPage == 0 {
		perPage = DefaultPerPage
	}
	page := max(q.Page, 1)
	var all []node.Collection
	var err error
	var total int
	lo := (page - 1) * perPage
	if strings.TrimSpace(q.Text) == "" {
		all, total, err = s.svc.ListCollections(r.Context(), node.ListCollectionsQuery{Offset: lo, Limit: perPage})
		lo = 0
	} else {
		all, err = s.matchCollections(r.Context(), q.Text, node.ListCollectionsQuery{})
		total = len(all)
	}
	if err != nil {
		return err
	}
	out := CollectionSearchJSON{Query: strings.TrimSpace(q.Text), Type: "collection", Hits: []CollectionJSON{}, Total: total,
		Page: page, PerPage: perPage, Facets: map[string][]node.FacetCount{}}
	for _, f := range node.Facets {
		out.Facets[f] = []node.FacetCount{}
	}
	names := map[string]node.Organisation{}
	for _, c := range all[min(lo, len(all)):min(lo+perPage, len(all))] {
		out.Hits = append(out.Hits, s.collectionJSON(r.Context(), c, false, names))
	}
	out.TookMS = float64(time.Since(start).Microseconds()) / 1000
	writeJSON(w, http.StatusOK, out)
	return nil
}

// searchPageCollections is the search page's "Collections" section: the
// first matches of the words typed, when there is no resource filter.
type collectionHits struct {
	Items []node.Collection
	Total int
	URL   string
}

// searchPageCollectionsShown is how many collections the search page shows.
const searchPageCollectionsShown = 3

func (s *Server) searchPageCollections(ctx context.Context, q node.Query) *collectionHits {
	text := strings.TrimSpace(q.Text)
	if text == "" || q.Page > 1 {
		return nil
	}
	for _, vs := range q.Filters {
		if len(vs) > 0 {
			return nil
		}
	}
	all, err := s.matchCollections(ctx, text, node.ListCollectionsQuery{})
	if err != nil {
		s.log.Warn("collections for the search page", "err", err)
		return nil
	}
	if len(all) == 0 {
		return nil
	}
	return &collectionHits{Items: all[:min(len(all), searchPageCollectionsShown)], Total: len(all),
		URL: "/collections?q=" + url.QueryEscape(text)}
}
