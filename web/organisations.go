package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// OrganisationJSON is an organisation as the API shows it.
type OrganisationJSON struct {
	node.Organisation
	// Page is the organisation's public page on this hub.
	Page string `json:"page"`
}

// OrganisationDetailJSON is one organisation with its figures and newest
// resources.
type OrganisationDetailJSON struct {
	OrganisationJSON
	ResourceCount int `json:"resource_count"`
	// DownloadsThisMonth counts downloads of the organisation's files and
	// kits since the first of the month (UTC).
	DownloadsThisMonth uint64         `json:"downloads_this_month"`
	Resources          []ResourceJSON `json:"resources"`
}

// orgPageResources bounds the resources an organisation page lists.
const orgPageResources = 100

// orgIndexLimit bounds the resources whose downloads an organisation's
// figures add up.
const orgIndexLimit = 100000

func (s *Server) organisationJSON(o node.Organisation) OrganisationJSON {
	return OrganisationJSON{Organisation: o, Page: paths.Base(s.publicURL).Organisation(o.Slug)}
}

// organisationRoutes registers the organisation API (part of the API:
// the OpenAPI document describes it).
func (s *Server) organisationRoutes(mux routeMux) {
	mux.HandleFunc("GET "+paths.APIOrganisations, s.api(s.apiListOrganisations))
	mux.HandleFunc("POST "+paths.APIOrganisations, s.api(s.apiAddOrganisation))
	mux.HandleFunc("GET "+paths.APIOrganisation, s.api(s.apiGetOrganisation))
	mux.HandleFunc("DELETE "+paths.APIOrganisation, s.api(s.apiRemoveOrganisation))
}

// organisationPageRoutes registers the public pages, French and English
// paths.
func (s *Server) organisationPageRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+paths.Organisation, s.page(s.organisationPage))
	mux.HandleFunc("GET "+paths.OrganisationEN, s.page(s.organisationPage))
}

func (s *Server) apiListOrganisations(w http.ResponseWriter, r *http.Request) error {
	os, err := s.svc.Organisations(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		Items []OrganisationJSON `json:"items"`
	}{Items: []OrganisationJSON{}}
	for _, o := range os {
		out.Items = append(out.Items, s.organisationJSON(o))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// organisationDetail gathers an organisation's figures for the API and
// its page.
func (s *Server) organisationDetail(ctx context.Context, slug string) (OrganisationDetailJSON, []node.Resource, error) {
	o, err := s.svc.Organisation(ctx, slug)
	if err != nil {
		return OrganisationDetailJSON{}, nil, err
	}
	rs, total, err := s.svc.OrganisationResources(ctx, slug, orgPageResources)
	if err != nil {
		return OrganisationDetailJSON{}, nil, err
	}
	ids := make([]string, 0, len(rs))
	if total > len(rs) {
		all, _, err := s.svc.OrganisationResources(ctx, slug, orgIndexLimit)
		if err != nil {
			return OrganisationDetailJSON{}, nil, err
		}
		rs = all
	}
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	dls, err := s.svc.DownloadsThisMonth(ctx, ids)
	if err != nil {
		return OrganisationDetailJSON{}, nil, err
	}
	if len(rs) > orgPageResources {
		rs = rs[:orgPageResources]
	}
	d := OrganisationDetailJSON{OrganisationJSON: s.organisationJSON(o), ResourceCount: total, DownloadsThisMonth: dls,
		Resources: []ResourceJSON{}}
	names := map[string]node.Organisation{o.Slug: o}
	for _, r := range rs {
		d.Resources = append(d.Resources, s.resourceJSONWith(r, names))
	}
	return d, rs, nil
}

func (s *Server) apiGetOrganisation(w http.ResponseWriter, r *http.Request) error {
	d, _, err := s.organisationDetail(r.Context(), r.PathValue("slug"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) apiAddOrganisation(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.admin(r); err != nil {
		return err
	}
	var in struct {
		Slug        string `json:"slug"`
		Name        string `json:"name"`
		URL         string `json:"url,omitempty"`
		Description string `json:"description,omitempty"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	o, err := s.svc.AddOrganisation(r.Context(), node.Organisation{Slug: in.Slug, Name: in.Name, URL: in.URL, Description: in.Description})
	if err != nil {
		return err
	}
	w.Header().Set("Location", paths.Base(s.publicURL).Organisation(o.Slug))
	writeJSON(w, http.StatusCreated, s.organisationJSON(o))
	return nil
}

func (s *Server) apiRemoveOrganisation(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.admin(r); err != nil {
		return err
	}
	if err := s.svc.RemoveOrganisation(r.Context(), r.PathValue("slug")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// adminSetUserOrganisation attaches a user to an organisation (admin
// socket only, like the other account routes).
func (s *Server) adminSetUserOrganisation(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.admin(r); err != nil {
		return err
	}
	var in struct {
		Organisation string `json:"organisation"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.svc.SetUserOrganisation(r.Context(), r.PathValue("name"), in.Organisation); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// resourceJSONWith is resourceJSON with the owning organisation's name and
// page filled for a local resource; names caches the organisations looked
// up for one answer.
func (s *Server) resourceJSONWith(r node.Resource, names map[string]node.Organisation) ResourceJSON {
	out := s.resourceJSON(r)
	if r.Local() && r.Organisation != "" {
		o, ok := names[r.Organisation]
		if !ok {
			if got, err := s.svc.Organisation(context.Background(), r.Organisation); err == nil {
				o, ok = got, true
				names[r.Organisation] = got
			}
		}
		if ok {
			out.OrganisationName = o.Name
			out.OrganisationURL = paths.Base(s.publicURL).Organisation(o.Slug)
		}
	}
	return out
}

// fillOrganisations sets what the editor form shows of the resource's
// organisation for the acting user: a choice for admins, the name for
// editors (theirs, for a new resource).
func (s *Server) fillOrganisations(ctx context.Context, f *editorForm) {
	u, ok := node.ActorFrom(ctx)
	if !ok {
		return
	}
	if f.New && f.V.Organisation == "" && !f.V.OrgSent {
		f.V.Organisation = u.Organisation
	}
	if u.Role == node.RoleAdmin {
		os, err := s.svc.Organisations(ctx)
		if err != nil {
			s.log.Warn("list organisations for the editor form", "err", err)
		}
		f.Orgs, f.ChooseOrg = os, len(os) > 0
		return
	}
	if f.V.Organisation != "" {
		f.OrgName = f.V.Organisation
		if o, err := s.svc.Organisation(ctx, f.V.Organisation); err == nil {
			f.OrgName = o.Name
		}
	}
}

// organisationNames maps "organisation\x00SLUG" to the organisation's name
// for the search page's facet, when it shows any organisation (n > 0).
func (s *Server) organisationNames(ctx context.Context, n int) map[string]string {
	out := map[string]string{}
	if n == 0 {
		return out
	}
	os, err := s.svc.Organisations(ctx)
	if err != nil {
		s.log.Warn("organisation names for the search page", "err", err)
		return out
	}
	for _, o := range os {
		out["organisation\x00"+o.Slug] = o.Name
	}
	return out
}

// browseOrganisation is the browse page filtered by organisation
// (/ressources?organisation=SLUG): its newest resources, from the
// catalog's organisation index, so it works while search is down.
func (s *Server) browseOrganisation(w http.ResponseWriter, r *http.Request, slug string) error {
	if _, err := s.svc.Organisation(r.Context(), slug); err != nil {
		return err
	}
	items, _, err := s.svc.OrganisationResources(r.Context(), slug, orgPageResources)
	if err != nil {
		return err
	}
	s.renderPage(w, r, http.StatusOK, "browse.html", s.newPage(w, r, "browse", "browse.title", browseData{Items: items}))
	return nil
}

// orgCredit is who made a resource, as its page and cards show it: the
// organisation's name and where to read about it.
type orgCredit struct {
	Name, URL string
	// Hub is the origin hub of a copy ("par X (hub-du-sud)").
	Hub string
}

func (s *Server) creditOf(ctx context.Context, r node.Resource) *orgCredit {
	if !r.Local() {
		if r.OrganisationName == "" {
			return nil
		}
		c := &orgCredit{Name: r.OrganisationName, Hub: r.Hub}
		if isWebURL(r.OrganisationURL) {
			c.URL = r.OrganisationURL
		}
		return c
	}
	if r.Organisation == "" {
		return nil
	}
	o, err := s.svc.Organisation(ctx, r.Organisation)
	if err != nil {
		return &orgCredit{Name: r.Organisation, URL: paths.OrganisationPath(r.Organisation)}
	}
	return &orgCredit{Name: o.Name, URL: paths.OrganisationPath(o.Slug)}
}

type organisationData struct {
	O                  node.Organisation
	Items              []node.Resource
	ResourceCount      int
	DownloadsThisMonth int
	JSONLD             map[string]any
	APIURL             string
	// Collections are the organisation's newest collections.
	Collections []node.Collection
}

func (s *Server) organisationPage(w http.ResponseWriter, r *http.Request) error {
	d, rs, err := s.organisationDetail(r.Context(), r.PathValue("slug"))
	if err != nil {
		return err
	}
	page := paths.Base(s.publicURL).Organisation(d.Slug)
	ld := map[string]any{
		"@context": "https://schema.org",
		"@type":    "Organization",
		"@id":      page,
		"name":     d.Name,
		"url":      page,
		"memberOf": map[string]any{"@type": "Organization", "name": s.name, "url": s.publicURL + "/"},
	}
	if d.Description != "" {
		ld["description"] = d.Description
	}
	if d.URL != "" {
		ld["sameAs"] = d.URL
	}
	p := s.newPage(w, r, "", "", organisationData{O: d.Organisation, Items: rs, ResourceCount: d.ResourceCount,
		DownloadsThisMonth: int(min(d.DownloadsThisMonth, 1<<31)), JSONLD: ld, APIURL: paths.APIOrganisationPath(d.Slug),
		Collections: s.latestCollections(r.Context(), node.ListCollectionsQuery{Organisation: d.Slug, Limit: orgPageResources})})
	p.Title = d.Name
	p.Meta.Canonical = page
	if desc := metaDescription(d.Description); desc != "" {
		p.Meta.Description = desc
	}
	s.renderPage(w, r, http.StatusOK, "organisation.html", p)
	return nil
}

// ownerSentence explains an ownership refusal on the error page, naming
// the owner in the page's language.
func ownerSentence(p *uiPage, oe *node.OwnerError) string {
	noun := "error.owner."
	if oe.Collection {
		noun = "error.owner.collection." // ui_collections.go
	}
	switch {
	case oe.Moving && oe.Giving == "":
		return p.T("error.owner.taking")
	case oe.Moving:
		return p.T("error.owner.giving", oe.Giving)
	case oe.Organisation != "":
		name := oe.Organisation
		if oe.OrganisationName != "" {
			name = oe.OrganisationName + " (" + oe.Organisation + ")"
		}
		return p.T(noun+"org", name)
	case oe.CreatedBy != "":
		return p.T(noun+"creator", oe.CreatedBy)
	}
	return p.T(noun + "none")
}

func ownerOf(err error) *node.OwnerError {
	var oe *node.OwnerError
	if errors.As(err, &oe) {
		return oe
	}
	return nil
}

// Client methods for the organisation commands.

// Organisations lists the hub's organisations.
func (c *Client) Organisations(ctx context.Context) ([]node.Organisation, error) {
	var out struct {
		Items []OrganisationJSON `json:"items"`
	}
	if err := c.doJSON(ctx, http.MethodGet, paths.APIOrganisations, nil, &out); err != nil {
		return nil, err
	}
	os := make([]node.Organisation, 0, len(out.Items))
	for _, o := range out.Items {
		os = append(os, o.Organisation)
	}
	return os, nil
}

// Organisation returns one organisation.
func (c *Client) Organisation(ctx context.Context, slug string) (node.Organisation, error) {
	var out OrganisationDetailJSON
	err := c.doJSON(ctx, http.MethodGet, paths.APIOrganisationPath(slug), nil, &out)
	return out.Organisation, err
}

// OrganisationResources returns up to limit of the organisation's
// resources and how many it owns.
func (c *Client) OrganisationResources(ctx context.Context, slug string, limit int) ([]node.Resource, int, error) {
	var out OrganisationDetailJSON
	if err := c.doJSON(ctx, http.MethodGet, paths.APIOrganisationPath(slug), nil, &out); err != nil {
		return nil, 0, err
	}
	var rs []node.Resource
	for _, r := range out.Resources {
		if len(rs) == limit {
			break
		}
		rs = append(rs, r.toResource())
	}
	return rs, out.ResourceCount, nil
}

// AddOrganisation creates an organisation.
func (c *Client) AddOrganisation(ctx context.Context, o node.Organisation) (node.Organisation, error) {
	var out OrganisationJSON
	in := map[string]string{"slug": o.Slug, "name": o.Name}
	if o.URL != "" {
		in["url"] = o.URL
	}
	if o.Description != "" {
		in["description"] = o.Description
	}
	err := c.doJSON(ctx, http.MethodPost, paths.APIOrganisations, in, &out)
	return out.Organisation, err
}

// RemoveOrganisation deletes an organisation that owns nothing.
func (c *Client) RemoveOrganisation(ctx context.Context, slug string) error {
	return c.doJSON(ctx, http.MethodDelete, paths.APIOrganisationPath(slug), nil, nil)
}

// SetUserOrganisation attaches a user to an organisation ("" detaches).
func (c *Client) SetUserOrganisation(ctx context.Context, name, slug string) error {
	return c.doJSON(ctx, http.MethodPut, "/admin/v1/users/"+url.PathEscape(name)+"/organisation", map[string]string{"organisation": slug}, nil)
}

// Update changes a resource's metadata.
func (c *Client) Update(ctx context.Context, id string, p node.Patch) (node.Resource, error) {
	var out ResourceJSON
	if err := c.doJSON(ctx, http.MethodPatch, paths.APIResourcePath(id), p, &out); err != nil {
		return node.Resource{}, err
	}
	return out.toResource(), nil
}
