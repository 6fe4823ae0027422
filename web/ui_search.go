package web

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/communs-numerique/communs/internal/httperr"
	"github.com/communs-numerique/communs/node"
)

type hitView struct {
	node.Hit
	TitleHTML, SummaryHTML, Snippet template.HTML
}

type facetValue struct {
	Value   string
	Count   int
	Checked bool
	// Label names the value when the vocabulary does not (organisations).
	Label string
}

type facetGroup struct {
	Name   string
	Values []facetValue
	Open   bool
}

type activeFilter struct {
	Facet, Value, RemoveURL string
}

type searchData struct {
	Q        string
	Sort     string
	Page     int
	Pages    int
	Total    int
	Hits     []hitView
	Facets   []facetGroup
	Active   []activeFilter
	PrevURL  string
	NextURL  string
	ClearURL string
	// Collections are the collections matching the words (collection_search.go).
	Collections *collectionHits
}

// searchPage renders /recherche: the same parameters as the search API,
// facets as checkboxes of one GET form, so it all works without JavaScript.
func (s *Server) searchPage(w http.ResponseWriter, r *http.Request) error {
	q, err := ParseQuery(r.URL.Query())
	if err != nil {
		return err
	}
	if t, err := searchType(r.URL.Query()); err != nil {
		return err
	} else if t == "collection" { // the collections list page searches them
		http.Redirect(w, r, "/collections?"+url.Values{"q": {q.Text}}.Encode(), http.StatusSeeOther)
		return nil
	}
	res, err := s.svc.Search(r.Context(), q)
	if errors.Is(err, node.ErrUnavailable) {
		// Its own page: browsing still works, the page links to it.
		if a, ok := httperr.Resolve(s.log, r, err); ok {
			s.errorPage(w, r, a.Status, errorInfo{Key: "error.searchdown", ID: a.ID})
		}
		return nil
	}
	if err != nil {
		return err
	}
	page, perPage := max(q.Page, 1), q.PerPage
	if perPage == 0 {
		perPage = 20
	}
	d := searchData{Q: q.Text, Sort: q.Sort, Page: page, Total: res.Total, ClearURL: "/recherche"}
	d.Pages = (res.Total + perPage - 1) / perPage
	d.Pages = min(d.Pages, lastPage(perPage)) // no link to a page the API refuses
	base := url.Values{}
	if q.Text != "" {
		base.Set("q", q.Text)
	}
	if q.Sort != "" && q.Sort != "relevance" {
		base.Set("sort", q.Sort)
	}
	if q.PerPage != 0 {
		base.Set("per_page", strconv.Itoa(q.PerPage))
	}
	for _, f := range node.Facets {
		for _, v := range q.Filters[f] {
			base.Add(f, v)
		}
	}
	for _, h := range res.Hits {
		hv := hitView{Hit: h, TitleHTML: template.HTML(template.HTMLEscapeString(h.Title)),
			SummaryHTML: template.HTML(template.HTMLEscapeString(h.Summary))}
		// Highlights are the only HTML taken from the engine: it escapes
		// the text and adds nothing but <mark>.
		if v, ok := h.Highlights["title"]; ok && v != "" {
			hv.TitleHTML = template.HTML(v)
		}
		if v, ok := h.Highlights["summary"]; ok && v != "" {
			hv.SummaryHTML = template.HTML(v)
		}
		if v, ok := h.Highlights["description"]; ok && v != "" {
			hv.Snippet = template.HTML(v)
		}
		d.Hits = append(d.Hits, hv)
	}
	orgNames := s.organisationNames(r.Context(), len(res.Facets["organisation"])+len(q.Filters["organisation"]))
	for _, f := range node.Facets {
		g := facetGroup{Name: f, Open: f == "kind"}
		seen := map[string]bool{}
		for _, c := range res.Facets[f] {
			checked := slices.Contains(q.Filters[f], c.Value)
			g.Values = append(g.Values, facetValue{Value: c.Value, Count: c.Count, Checked: checked, Label: orgNames[f+"\x00"+c.Value]})
			seen[c.Value] = true
		}
		// A chosen value with no hit left stays on screen so it can be unticked.
		for _, v := range q.Filters[f] {
			if !seen[v] {
				g.Values = append(g.Values, facetValue{Value: v, Checked: true, Label: orgNames[f+"\x00"+v]})
			}
		}
		if len(q.Filters[f]) > 0 {
			g.Open = true
		}
		for _, v := range q.Filters[f] {
			d.Active = append(d.Active, activeFilter{Facet: f, Value: v, RemoveURL: "/recherche?" + without(base, f, v).Encode()})
		}
		if len(g.Values) > 0 {
			d.Facets = append(d.Facets, g)
		}
	}
	if page > 1 {
		d.PrevURL = "/recherche?" + withPage(base, page-1).Encode()
	}
	if page < d.Pages {
		d.NextURL = "/recherche?" + withPage(base, page+1).Encode()
	}
	d.Collections = s.searchPageCollections(r.Context(), q)
	p := s.newPage(w, r, "search", "search.title", d)
	if q.Text != "" {
		p.Title = p.T("search.title.query", q.Text)
	}
	s.renderPage(w, r, http.StatusOK, "search.html", p)
	return nil
}

func without(v url.Values, facet, value string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		for _, x := range vs {
			if k == facet && x == value {
				continue
			}
			out.Add(k, x)
		}
	}
	return out
}

func withPage(v url.Values, page int) url.Values {
	out := without(v, "", "")
	if page > 1 {
		out.Set("page", strconv.Itoa(page))
	}
	return out
}
