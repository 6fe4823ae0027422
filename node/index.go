package node

import (
	"context"
	"time"
)

// Facet names accepted in a Query's filters and returned in Results.Facets.
var Facets = []string{"kind", "theme", "audience", "level", "language", "license", "hub", "organisation"}

// Query is a search request.
type Query struct {
	Text string
	// Filters maps a facet name to the values wanted: OR within a facet,
	// AND across facets.
	Filters map[string][]string
	Sort    string // "relevance" (default) or "newest"
	Page    int    // 1-based
	PerPage int    // 1..100
}

// Hit is one search result.
type Hit struct {
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	Summary   string   `json:"summary"`
	Kind      string   `json:"kind"`
	Themes    []string `json:"themes"`
	Audience  []string `json:"audience"`
	Level     string   `json:"level"`
	License   string   `json:"license"`
	Language  string   `json:"language"`
	Hub       string   `json:"hub"`
	Published string   `json:"published"`
	// Organisation is the slug of the member organisation of this hub
	// owning a local resource.
	Organisation string `json:"organisation,omitempty"`
	// Highlights maps a field ("title", "summary", "description") to a
	// snippet that is safe to insert in HTML: the text is HTML-escaped and
	// matched words are wrapped in <mark>...</mark>.
	Highlights map[string]string `json:"highlights,omitempty"`
	Score      float64           `json:"-"`
}

// FacetCount is the number of hits having a facet value.
type FacetCount struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// Results is a page of hits.
type Results struct {
	Hits  []Hit
	Total int
	// Facets holds counts per value for every facet, computed for the query
	// text and the filters on the other facets (so a user sees what picking
	// another value of the same facet would give).
	Facets map[string][]FacetCount
	Took   time.Duration
}

// Index is a search engine. Implementations: storage/search (embedded, Meilisearch).
type Index interface {
	// Upsert adds or replaces documents.
	Upsert(ctx context.Context, rs []Resource) error
	// Delete removes documents by id; unknown ids are not an error.
	Delete(ctx context.Context, ids []string) error
	Search(ctx context.Context, q Query) (Results, error)
	// Count returns the number of indexed documents.
	Count(ctx context.Context) (int, error)
	// Reset empties the index (used by a rebuild).
	Reset(ctx context.Context) error
	Close() error
}

// SettingsChecker is an optional interface of an Index whose engine keeps
// settings of its own (Meilisearch: searchable attributes, ranking rules):
// CheckSettings reports an engine whose settings differ from the node's.
// Wrappers (metrics, the reconnecting engine) forward it when the engine
// they wrap has it; doctor runs it.
type SettingsChecker interface {
	CheckSettings(ctx context.Context) error
}

// Compacter is an optional interface of an Index that reorganises itself
// after a bulk load to search faster (the embedded engine merges its
// segments). A rebuild calls it; wrappers forward it.
type Compacter interface {
	Compact(ctx context.Context) error
}
