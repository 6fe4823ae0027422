// Package search holds what the search engines (embedded bleve, Meilisearch)
// share: query normalisation, facet names and the HTML marking of
// highlights (Markdown-to-text for indexing lives in internal/text). Keeping these in one place is
// what lets the two engines pass the same contract suite.
package search

import (
	"fmt"
	"html"
	"path"
	"slices"
	"strings"

	"github.com/communs-numerique/communs/node"
)

// Paging limits, taken from node where they are written once. MaxOffset
// bounds deep paging: both engines pay for every skipped hit, and
// Meilisearch refuses to count past its maxTotalHits.
const (
	DefaultPerPage = node.DefaultPerPage
	MaxPerPage     = node.MaxPerPage
	MaxOffset      = node.MaxSearchOffset
)

// Sort orders accepted in node.Query.Sort.
const (
	SortRelevance = "relevance"
	SortNewest    = "newest"
)

// Attribute returns the document attribute holding a facet: the facet is
// named "theme" in queries (one value is picked) but a resource has
// "themes".
func Attribute(facet string) string {
	if facet == "theme" {
		return "themes"
	}
	return facet
}

// Normalize checks a query and fills its defaults: page 1, 20 per page (at
// most 100), relevance order, or newest when there is no text to rank by.
// Filters are cleaned (empty lists dropped, duplicates removed) so engines
// can treat "facet present" as "facet filtered". Unknown facets and sorts
// are refused with node.ErrInvalid rather than silently ignored: a typo in a
// filter name would otherwise widen the results without anyone noticing.
func Normalize(q node.Query) (node.Query, error) {
	q.Text = strings.TrimSpace(q.Text)
	switch q.Sort {
	case "":
		q.Sort = SortRelevance
	case SortRelevance, SortNewest:
	default:
		return q, fmt.Errorf("sort %q: want %q or %q: %w", q.Sort, SortRelevance, SortNewest, node.ErrInvalid)
	}
	if q.Text == "" {
		q.Sort = SortNewest
	}
	if q.Page < 1 {
		q.Page = 1
	}
	switch {
	case q.PerPage < 1:
		q.PerPage = DefaultPerPage
	case q.PerPage > MaxPerPage:
		q.PerPage = MaxPerPage
	}
	if (q.Page-1)*q.PerPage > MaxOffset {
		return q, fmt.Errorf("page %d: results are browsable up to the %dth hit, refine the query: %w", q.Page, MaxOffset, node.ErrInvalid)
	}
	var filters map[string][]string
	for facet, values := range q.Filters {
		if !slices.Contains(node.Facets, facet) {
			return q, fmt.Errorf("filter %q: want one of %s: %w", facet, strings.Join(node.Facets, ", "), node.ErrInvalid)
		}
		var clean []string
		for _, v := range values {
			if !slices.Contains(clean, v) {
				clean = append(clean, v)
			}
		}
		if len(clean) == 0 {
			continue
		}
		if filters == nil {
			filters = map[string][]string{}
		}
		filters[facet] = clean
	}
	q.Filters = filters
	return q, nil
}

// Offset is the number of hits before the query's page.
func Offset(q node.Query) int { return (q.Page - 1) * q.PerPage }

// SortCounts orders facet values by count, then value, so the UI lists the
// most useful values first and equal counts do not shuffle between calls.
func SortCounts(fc []node.FacetCount) {
	slices.SortFunc(fc, func(a, b node.FacetCount) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Value, b.Value)
	})
}

// FileWords returns the words of a resource's file names ("fiche-wifi-box.pdf"
// gives "fiche wifi box"): mediators remember a kit by the file they printed,
// and a file added to a resource must make it findable.
func FileWords(r node.Resource) string {
	var words []string
	for _, f := range r.Files {
		name := strings.TrimSuffix(f.Name, path.Ext(f.Name))
		name = strings.Map(func(c rune) rune {
			if c == '-' || c == '_' || c == '.' {
				return ' '
			}
			return c
		}, name)
		words = append(words, name)
	}
	return strings.Join(words, " ; ")
}

// Span is a byte range [Start, End) of a text to mark.
type Span struct{ Start, End int }

// MarkHTML escapes text for HTML and wraps the spans (sorted or not,
// possibly overlapping) in <mark></mark>. Out-of-range spans are clipped, so
// a wrong offset can never cut an escape sequence or an UTF-8 character in
// a way that produces markup.
func MarkHTML(text string, spans []Span) string {
	spans = mergeSpans(text, spans)
	var b strings.Builder
	b.Grow(len(text) + len(spans)*13)
	pos := 0
	for _, s := range spans {
		b.WriteString(html.EscapeString(text[pos:s.Start]))
		b.WriteString("<mark>")
		b.WriteString(html.EscapeString(text[s.Start:s.End]))
		b.WriteString("</mark>")
		pos = s.End
	}
	b.WriteString(html.EscapeString(text[pos:]))
	return b.String()
}

func mergeSpans(text string, spans []Span) []Span {
	var out []Span
	for _, s := range spans {
		s.Start = max(0, min(s.Start, len(text)))
		s.End = max(s.Start, min(s.End, len(text)))
		if s.Start < s.End {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b Span) int { return a.Start - b.Start })
	merged := out[:0]
	for _, s := range out {
		if n := len(merged); n > 0 && s.Start <= merged[n-1].End {
			merged[n-1].End = max(merged[n-1].End, s.End)
			continue
		}
		merged = append(merged, s)
	}
	return merged
}

// TaggedToHTML converts an engine's highlighted string, where matches sit
// between pre and post markers, into escaped HTML with <mark> tags. Markers
// that do not pair up are dropped rather than trusted.
func TaggedToHTML(s, pre, post string) string {
	if pre == "" || post == "" {
		return MarkHTML(s, nil)
	}
	var plain strings.Builder
	var spans []Span
	open := -1
	for len(s) > 0 {
		switch {
		case strings.HasPrefix(s, pre):
			s = s[len(pre):]
			open = plain.Len()
		case strings.HasPrefix(s, post):
			s = s[len(post):]
			if open >= 0 {
				spans = append(spans, Span{open, plain.Len()})
				open = -1
			}
		default:
			next := len(s)
			if i := strings.Index(s, pre); i >= 0 {
				next = i
			}
			if i := strings.Index(s, post); i >= 0 && i < next {
				next = i
			}
			plain.WriteString(s[:next])
			s = s[next:]
		}
	}
	return MarkHTML(plain.String(), spans)
}
