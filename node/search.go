package node

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// MaxPerPage bounds a search page.
const MaxPerPage = 100

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
	if len(q.Text) > 500 {
		return invalid("q", "must be at most 500 characters")
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
	if q.Page < 1 || q.Page > 1000 {
		return invalid("page", "must be between 1 and 1000")
	}
	if q.PerPage == 0 {
		q.PerPage = 20
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
