package meili

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/meilisearch/meilisearch-go"

	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/search"
)

// Highlight markers: private-use characters that do not occur in kit
// texts, so the highlighted strings can be escaped for HTML first and the
// markers turned into <mark> tags after (Meilisearch's own tags would be
// escaped with the text, or let the text's markup through).
const (
	preTag  = "\uE000"
	postTag = "\uE001"
)

// snippetWords is the description snippet length, as in the embedded
// engine.
const snippetWords = 28

// Requests builds the multi-search of a query: the page of hits with the
// facets that are not filtered, then one hits-less query per filtered facet
// counting that facet under the other filters (disjunctive facets). The
// query must be normalised.
func Requests(uid string, q node.Query) []*meilisearch.SearchRequest {
	perPage := int64(q.PerPage)
	main := &meilisearch.SearchRequest{
		IndexUID:         uid,
		Query:            q.Text,
		Filter:           filterOrNil(Filter(q.Filters, "")),
		Page:             int64(q.Page),
		HitsPerPage:      &perPage,
		ShowRankingScore: true,
	}
	if q.Sort == search.SortNewest {
		main.Sort = []string{"published:desc", "id:asc"}
	}
	if q.Text != "" {
		main.AttributesToHighlight = highlighted
		main.HighlightPreTag = preTag
		main.HighlightPostTag = postTag
		main.AttributesToCrop = cropped
		main.CropLength = snippetWords
		main.CropMarker = "…"
	}
	out := []*meilisearch.SearchRequest{main}
	zero := int64(0)
	for _, f := range node.Facets {
		if len(q.Filters[f]) == 0 {
			main.Facets = append(main.Facets, search.Attribute(f))
			continue
		}
		out = append(out, &meilisearch.SearchRequest{
			IndexUID:             uid,
			Query:                q.Text,
			Filter:               filterOrNil(Filter(q.Filters, f)),
			Page:                 1,
			HitsPerPage:          &zero,
			Facets:               []string{search.Attribute(f)},
			AttributesToRetrieve: []string{"id"},
		})
	}
	return out
}

func filterOrNil(f string) any {
	if f == "" {
		return nil
	}
	return f
}

// Search runs a query as one multi-search request.
func (x *Index) Search(ctx context.Context, q node.Query) (node.Results, error) {
	start := time.Now()
	q, err := search.Normalize(q)
	if err != nil {
		return node.Results{}, err
	}
	reqs := Requests(x.uid, q)
	rctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	resp, err := x.client.MultiSearchWithContext(rctx, &meilisearch.MultiSearchRequest{Queries: reqs})
	if err != nil {
		return node.Results{}, x.wrap("search", err)
	}
	out, err := convert(q, reqs, resp)
	if err != nil {
		return node.Results{}, err
	}
	out.Took = time.Since(start)
	return out, nil
}

// convert turns a multi-search response into results.
func convert(q node.Query, reqs []*meilisearch.SearchRequest, resp *meilisearch.MultiSearchResponse) (node.Results, error) {
	if len(resp.Results) != len(reqs) {
		return node.Results{}, fmt.Errorf("meilisearch: %d results for %d queries", len(resp.Results), len(reqs))
	}
	main := resp.Results[0]
	out := node.Results{Total: int(main.TotalHits), Facets: map[string][]node.FacetCount{}}
	if main.TotalHits == 0 && main.EstimatedTotalHits > 0 {
		out.Total = int(main.EstimatedTotalHits)
	}
	counts := map[string]map[string]int{}
	if err := mergeFacets(counts, main.FacetDistribution); err != nil {
		return node.Results{}, err
	}
	for _, r := range resp.Results[1:] {
		if err := mergeFacets(counts, r.FacetDistribution); err != nil {
			return node.Results{}, err
		}
	}
	for _, f := range node.Facets {
		fc := []node.FacetCount{}
		for v, n := range counts[search.Attribute(f)] {
			fc = append(fc, node.FacetCount{Value: v, Count: n})
		}
		for _, v := range q.Filters[f] {
			if _, ok := counts[search.Attribute(f)][v]; !ok {
				fc = append(fc, node.FacetCount{Value: v, Count: 0})
			}
		}
		search.SortCounts(fc)
		out.Facets[f] = fc
	}
	out.Hits = make([]node.Hit, 0, len(main.Hits))
	for _, h := range main.Hits {
		hit, err := convertHit(h, q.Text != "")
		if err != nil {
			return node.Results{}, err
		}
		out.Hits = append(out.Hits, hit)
	}
	return out, nil
}

func mergeFacets(into map[string]map[string]int, raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var dist map[string]map[string]int
	if err := json.Unmarshal(raw, &dist); err != nil {
		return fmt.Errorf("meilisearch: decode facet distribution: %w", err)
	}
	for attr, values := range dist {
		if into[attr] == nil {
			into[attr] = map[string]int{}
		}
		for v, n := range values {
			into[attr][v] = n
		}
	}
	return nil
}

// stored is a document as Meilisearch returns it.
type stored struct {
	ID            string         `json:"id"`
	TitleFR       string         `json:"title_fr"`
	TitleEN       string         `json:"title_en"`
	SummaryFR     string         `json:"summary_fr"`
	SummaryEN     string         `json:"summary_en"`
	DescriptionFR string         `json:"description_fr"`
	DescriptionEN string         `json:"description_en"`
	Kind          string         `json:"kind"`
	Themes        []string       `json:"themes"`
	Audience      []string       `json:"audience"`
	Level         string         `json:"level"`
	License       string         `json:"license"`
	Language      string         `json:"language"`
	Hub           string         `json:"hub"`
	Organisation  string         `json:"organisation"`
	Published     string         `json:"published"`
	Formatted     map[string]any `json:"_formatted"`
	Score         float64        `json:"_rankingScore"`
}

func convertHit(h meilisearch.Hit, highlights bool) (node.Hit, error) {
	raw, err := json.Marshal(h)
	if err != nil {
		return node.Hit{}, fmt.Errorf("meilisearch: re-encode hit: %w", err)
	}
	var s stored
	if err := json.Unmarshal(raw, &s); err != nil {
		return node.Hit{}, fmt.Errorf("meilisearch: decode hit: %w", err)
	}
	hit := node.Hit{
		ID: s.ID, Title: first(s.TitleFR, s.TitleEN), Summary: first(s.SummaryFR, s.SummaryEN),
		Kind: s.Kind, Themes: s.Themes, Audience: s.Audience, Level: s.Level, License: s.License,
		Language: s.Language, Hub: s.Hub, Published: s.Published, Organisation: s.Organisation, Score: s.Score,
	}
	if !highlights || s.Formatted == nil {
		return hit, nil
	}
	hit.Highlights = map[string]string{}
	for _, attr := range textAttributes {
		v := first(formatted(s.Formatted, attr+suffixFR), formatted(s.Formatted, attr+suffixEN))
		if v == "" {
			continue
		}
		// A description is shown only where it matched; titles and
		// summaries always, so the UI needs a single code path.
		if attr == "description" && !strings.Contains(v, preTag) {
			continue
		}
		hit.Highlights[attr] = search.TaggedToHTML(v, preTag, postTag)
	}
	return hit, nil
}

func formatted(f map[string]any, attr string) string {
	s, _ := f[attr].(string)
	return s
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
