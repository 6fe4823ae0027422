package node

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Search and list paging bounds, the one place they are written: web
// (parameters, pages), storage/search (both engines) and the OpenAPI
// document (checked by a test in web) take them from here.
const (
	// DefaultPerPage is the page size when the client gives none.
	DefaultPerPage = 20
	// MaxPerPage bounds a page of search hits or resources.
	MaxPerPage = 100
	// MaxPage is the deepest search page.
	MaxPage = 1000
	// MaxSearchOffset is the deep-paging window: the offset of a page's
	// first hit. Both engines pay for every skipped hit, and Meilisearch
	// refuses to count past its maxTotalHits.
	MaxSearchOffset = 10000
	// MaxQueryLen bounds the search text, in bytes of UTF-8.
	MaxQueryLen = 500
)

// Search validates a query and runs it on the index.
func (s *Service) Search(ctx context.Context, q Query) (Results, error) {
	if s.index == nil {
		return Results{}, fmt.Errorf("search is not configured: %w", ErrUnavailable)
	}
	if err := q.normalize(); err != nil {
		return Results{}, err
	}
	start := time.Now()
	res, err := s.index.Search(ctx, q)
	if err != nil {
		return Results{}, fmt.Errorf("search: %w", err)
	}
	if res.Took == 0 {
		res.Took = time.Since(start)
	}
	return res, nil
}

func (q *Query) normalize() error {
	q.Text = strings.TrimSpace(q.Text)
	if len(q.Text) > MaxQueryLen {
		return invalid("q", "must be at most %d characters", MaxQueryLen)
	}
	switch q.Sort {
	case "":
		q.Sort = "relevance"
	case "relevance", "newest":
	default:
		return invalid("sort", "must be relevance or newest (got %q)", q.Sort)
	}
	if q.Page == 0 {
		q.Page = 1
	}
	if q.Page < 1 || q.Page > MaxPage {
		return invalid("page", "must be between 1 and %d", MaxPage)
	}
	if q.PerPage == 0 {
		q.PerPage = DefaultPerPage
	}
	if q.PerPage < 1 || q.PerPage > MaxPerPage {
		return invalid("per_page", "must be between 1 and %d", MaxPerPage)
	}
	for f, vs := range q.Filters {
		if !contains(Facets, f) {
			return invalid(f, "unknown filter; filters are %s", strings.Join(Facets, ", "))
		}
		if len(vs) > 50 {
			return invalid(f, "at most 50 values")
		}
	}
	return nil
}
