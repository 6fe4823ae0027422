package web

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/communs-numerique/communs/internal/httperr"
	"github.com/communs-numerique/communs/node"
)

// HitJSON is a search hit as the API shows it.
type HitJSON struct {
	node.Hit
	URL string `json:"url"`
}

// SearchJSON is the body of GET /api/v1/search.
type SearchJSON struct {
	Query   string                       `json:"q"`
	Hits    []HitJSON                    `json:"hits"`
	Total   int                          `json:"total"`
	Page    int                          `json:"page"`
	PerPage int                          `json:"per_page"`
	Facets  map[string][]node.FacetCount `json:"facets"`
	TookMS  float64                      `json:"took_ms"`
}

// ParseQuery reads a search from URL parameters: q, one parameter per facet
// (repeatable, OR within a facet), sort, page, per_page. The HTML search
// page reads the same parameters.
func ParseQuery(v url.Values) (node.Query, error) {
	if err := validUTF8Values(v); err != nil {
		return node.Query{}, err
	}
	q := node.Query{Text: v.Get("q"), Sort: v.Get("sort"), Filters: map[string][]string{}}
	for _, f := range node.Facets {
		for _, val := range v[f] {
			if val = strings.TrimSpace(val); val != "" {
				q.Filters[f] = append(q.Filters[f], val)
			}
		}
	}
	for name := range v {
		switch name {
		case "q", "sort", "page", "per_page", "type":
		default:
			if !slices.Contains(node.Facets, name) {
				return q, &node.ValidationError{Field: name, Code: "invalid",
					Rule: "unknown search parameter; use q, sort, page, per_page or a filter among " + strings.Join(node.Facets, ", ")}
			}
		}
	}
	size, err := pageSize(v, "per_page")
	if err != nil {
		return q, err
	}
	if v.Get("per_page") != "" {
		q.PerPage = size // absent stays 0: the default, and links stay short
	}
	if q.Page, err = pageNumber(v, size); err != nil {
		return q, err
	}
	return q, nil
}

func (s *Server) apiSearch(w http.ResponseWriter, r *http.Request) error {
	q, err := ParseQuery(r.URL.Query())
	if err != nil {
		return err
	}
	if t, err := searchType(r.URL.Query()); err != nil {
		return err
	} else if t == "collection" {
		return s.apiSearchCollections(w, r, q) // collection_search.go
	}
	res, err := s.svc.Search(r.Context(), q)
	if errors.Is(err, node.ErrUnavailable) {
		w.Header().Set("Retry-After", "10")
		return httperr.Hide(err, "la recherche est indisponible pour le moment, réessayez dans un instant ; la liste des ressources reste consultable / search is unavailable right now, try again in a moment; browsing /api/v1/resources still works")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.searchJSON(q, res))
	return nil
}

func (s *Server) searchJSON(q node.Query, res node.Results) SearchJSON {
	out := SearchJSON{Query: strings.TrimSpace(q.Text), Hits: []HitJSON{}, Total: res.Total, Page: max(q.Page, 1), PerPage: q.PerPage,
		Facets: map[string][]node.FacetCount{}, TookMS: float64(res.Took.Microseconds()) / 1000}
	if out.PerPage == 0 {
		out.PerPage = DefaultPerPage
	}
	for _, h := range res.Hits {
		if h.Themes == nil {
			h.Themes = []string{}
		}
		if h.Audience == nil {
			h.Audience = []string{}
		}
		out.Hits = append(out.Hits, HitJSON{Hit: h, URL: s.resourceURL(h.ID)})
	}
	for _, f := range node.Facets {
		out.Facets[f] = res.Facets[f]
		if out.Facets[f] == nil {
			out.Facets[f] = []node.FacetCount{}
		}
	}
	return out
}

// indexerAdmin authorises an index command and checks there is an indexer
// to run it.
func (s *Server) indexerAdmin(r *http.Request) error {
	if _, err := s.admin(r); err != nil {
		return err
	}
	if s.indexer == nil {
		return fmt.Errorf("this node runs no search indexer: %w", node.ErrUnavailable)
	}
	return nil
}

// adminIndexStatus answers `communs index status`.
func (s *Server) adminIndexStatus(w http.ResponseWriter, r *http.Request) error {
	if err := s.indexerAdmin(r); err != nil {
		return err
	}
	st, err := s.indexer.Status(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// RebuildEvent is one line of the rebuild stream: progress, then a last
// line with Done set, or Error.
type RebuildEvent struct {
	Indexed int    `json:"indexed"`
	Total   int    `json:"total"`
	Done    bool   `json:"done,omitempty"`
	Error   string `json:"error,omitempty"`
}

// adminIndexRebuild streams NDJSON progress lines while the index is
// recreated, so the CLI can draw a progress bar over the admin socket.
func (s *Server) adminIndexRebuild(w http.ResponseWriter, r *http.Request) error {
	if err := s.indexerAdmin(r); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	send := func(ev RebuildEvent) {
		_ = enc.Encode(ev)
		_ = bw.Flush()
		_ = rc.Flush()
	}
	last := RebuildEvent{}
	err := s.indexer.Rebuild(r.Context(), func(done, total int) {
		last = RebuildEvent{Indexed: done, Total: total}
		send(last)
	})
	if err != nil {
		s.log.Error("index rebuild failed", "err", err)
		last.Error = err.Error()
	} else {
		last.Done = true
	}
	send(last)
	return nil
}
