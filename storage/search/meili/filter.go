package meili

import (
	"strings"

	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/search"
)

// Filter builds a Meilisearch filter expression: the values of a facet are
// ORed, the facets ANDed, in node.Facets order so the same filters always
// give the same string. The except facet is left out (disjunctive facet
// counts). It returns "" when nothing is filtered.
//
// Values always go inside double quotes with \ and " escaped, so a value
// such as `x" OR hub = "y` stays one value and cannot add a condition.
// Attribute names come from node.Facets, never from the request.
func Filter(filters map[string][]string, except string) string {
	var groups []string
	for _, f := range node.Facets {
		values := filters[f]
		if f == except || len(values) == 0 {
			continue
		}
		attr := search.Attribute(f)
		terms := make([]string, len(values))
		for i, v := range values {
			terms[i] = attr + " = " + Quote(v)
		}
		g := strings.Join(terms, " OR ")
		if len(terms) > 1 {
			g = "(" + g + ")"
		}
		groups = append(groups, g)
	}
	return strings.Join(groups, " AND ")
}

// Quote returns v as a Meilisearch filter string literal.
func Quote(v string) string {
	var b strings.Builder
	b.Grow(len(v) + 2)
	b.WriteByte('"')
	for _, c := range v {
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	b.WriteByte('"')
	return b.String()
}
