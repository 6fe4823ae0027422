package web

import (
	"cmp"
	"embed"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

//go:embed templates/*.html
var templateFS embed.FS

// facetLink is an entry point into filtered search results.
type facetLink struct {
	Value string
	Count int // -1 when the search engine could not count
	URL   string
}

type homeData struct {
	Kinds, Audiences, Themes []facetLink
	Latest                   []node.Resource
	Peers                    []PeerInfo
	// Collections are the newest collections (ui_collections.go).
	Collections []node.Collection
	// FirstRun: the catalog is empty, so the page tells the admin what
	// to do next.
	FirstRun bool
}

func searchURL(facet, value string) string {
	return "/recherche?" + url.Values{facet: {value}}.Encode()
}

// entryLinks lists a vocabulary as search links with the engine's counts;
// with counts, values no resource uses are left out so no link leads to an
// empty page.
func entryLinks(facet string, vocab []string, counts map[string][]node.FacetCount) []facetLink {
	n := map[string]int{}
	for _, c := range counts[facet] {
		n[c.Value] = c.Count
	}
	var out []facetLink
	for _, v := range vocab {
		l := facetLink{Value: v, Count: -1, URL: searchURL(facet, v)}
		if counts != nil {
			if l.Count = n[v]; l.Count == 0 {
				continue
			}
		}
		out = append(out, l)
	}
	return out
}

func (s *Server) homePage(w http.ResponseWriter, r *http.Request) error {
	latest, _, err := s.svc.List(r.Context(), node.ListOptions{Limit: 8})
	if err != nil {
		return err
	}
	// The counts are a bonus: with the search engine down the home page
	// still offers every entry point, without numbers.
	var counts map[string][]node.FacetCount
	if res, err := s.svc.Search(r.Context(), node.Query{PerPage: 1}); err == nil {
		counts = res.Facets
	} else {
		s.log.Warn("home page without facet counts", "err", err)
	}
	d := homeData{
		Kinds:     entryLinks("kind", node.Kinds, counts),
		Audiences: entryLinks("audience", node.Audiences, counts),
		Themes:    entryLinks("theme", node.Themes, counts),
		Latest:    latest,
		Peers:     s.peerList(r.Context()),
		FirstRun:  len(latest) == 0,
	}
	d.Collections = s.latestCollections(r.Context(), node.ListCollectionsQuery{Limit: 6})
	p := s.newPage(w, r, "home", "", d)
	p.Title = s.name
	p.Actor = s.actorURL
	s.renderPage(w, r, http.StatusOK, "home.html", p)
	return nil
}

type browseData struct {
	Items []node.Resource
	Next  string
}

// browsePage lists every resource, newest first, from the catalog alone: it
// keeps working while the search engine is down.
func (s *Server) browsePage(w http.ResponseWriter, r *http.Request) error {
	if org := r.URL.Query().Get("organisation"); org != "" {
		return s.browseOrganisation(w, r, org)
	}
	items, next, err := s.svc.List(r.Context(), node.ListOptions{Limit: 20, After: r.URL.Query().Get("apres")})
	if err != nil {
		return err
	}
	s.renderPage(w, r, http.StatusOK, "browse.html", s.newPage(w, r, "browse", "browse.title", browseData{Items: items, Next: next}))
	return nil
}

type fileView struct {
	Name, Type, URL string
	Size            int64
	Remote          bool
}

type resourceData struct {
	R            node.Resource
	Description  template.HTML
	Licence      node.License
	KnownLicence bool
	Attribution  string
	Files        []fileView
	ZipURL       string
	OriginURL    string
	JSONLD       map[string]any
	CanEdit      bool
	Local        bool
	Org          *orgCredit
	// Report is the report form's state.
	Report reportForm
	// Reasons lists the report reasons for the form.
	Reasons []string
	// Share is a copy's share form for editors (share.go), nil for others.
	Share *shareView
}

// resourcePage serves /r/{id} as HTML and /r/{id}.zip as the kit archive.
func (s *Server) resourcePage(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if zipID, ok := strings.CutSuffix(id, paths.ZipSuffix); ok {
		// A zip is a download: its failures answer like a file's.
		if err := s.zipKit(w, r, zipID); err != nil {
			s.downloadError(w, r, err)
		}
		return nil
	}
	res, err := s.svc.Get(r.Context(), id)
	if err != nil {
		return err
	}
	var form reportForm
	if r.URL.Query().Get("signalement") == "merci" {
		form.Sent, form.Open = true, true
	}
	s.showResource(w, r, http.StatusOK, res, form)
	return nil
}

// showResource renders a resource page with its report form in the given
// state (a refused report answers 400 or 429 with the form kept).
func (s *Server) showResource(w http.ResponseWriter, r *http.Request, status int, res node.Resource, form reportForm) {
	p := s.newPage(w, r, "", "", nil)
	p.Title = res.Title
	lic, known := node.LookupLicense(res.License)
	d := resourceData{R: res, Description: renderMarkdown(res.Description), Licence: lic, KnownLicence: known,
		Attribution: attributionIn(p.Lang, res), ZipURL: paths.ZipPath(res.ID),
		CanEdit: p.User != nil && res.Local(), Local: res.Local(), Report: form, Reasons: node.ReportReasons}
	if !res.Local() && isWebURL(res.Origin) {
		d.OriginURL = res.Origin
	}
	for _, f := range res.Files {
		fv := fileView{Name: f.Name, Type: fileTypeLabel(p, f), Size: f.Size, URL: paths.FilePath(res.ID, f.Name)}
		if f.SHA256 == "" && isWebURL(f.RemoteURL) {
			fv.URL, fv.Remote = f.RemoteURL, true
		}
		d.Files = append(d.Files, fv)
	}
	d.Share = s.shareState(r.Context(), p.User, res, r.URL.Query().Get("partage"))
	d.JSONLD = s.jsonLD(res, lic, known)
	d.Org = s.creditOf(r.Context(), res)
	if d.Org != nil {
		// The member organisation that made the kit, for search engines
		// and the funders' reports that read them.
		org := map[string]any{"@type": "Organization", "name": d.Org.Name}
		if d.Org.URL != "" {
			org["url"] = d.Org.URL
			if !strings.HasPrefix(d.Org.URL, "http") {
				org["url"] = s.publicURL + d.Org.URL
			}
		}
		d.JSONLD["creator"] = org
	}
	p.Data = d
	// A copy's canonical page is the origin's: search engines credit the
	// hub that wrote the kit, and this node's copy is not listed twice.
	p.Meta.Canonical, p.Meta.Type = s.resourceURL(res.ID), "article"
	if d.OriginURL != "" {
		p.Meta.Canonical = d.OriginURL
	}
	if desc := metaDescription(res.Summary); desc != "" {
		p.Meta.Description = desc
	}
	if form.Error != "" {
		p.NoRobots = true
	}
	s.renderPage(w, r, status, "resource.html", p)
}

func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// fileTypeLabel names a file's format for people ("Document PDF") rather
// than by its media type.
func fileTypeLabel(p *uiPage, f node.File) string {
	ext := strings.TrimPrefix(strings.ToLower(path.Ext(f.Name)), ".")
	if key := "filetype." + ext; ext != "" && hasKey(p.Lang, key) {
		return p.T(key)
	}
	return f.MediaType
}

// attributionIn is the credit line in the page's language; the French one
// is exactly the line LICENCE.txt carries.
func attributionIn(lang string, r node.Resource) string {
	if lang == uiLangs[0] {
		return Attribution(r)
	}
	l, _ := node.LookupLicense(r.License)
	return translate(lang, "resource.attribution.line", r.Title, cmp.Or(strings.Join(r.Authors, ", "), r.Hub), r.Hub, cmp.Or(l.Short, r.License))
}

// jsonLD describes the resource with schema.org so search engines and
// harvesters understand it. html/template encodes it as JSON inside the
// script element, escaping < and > so a title cannot close the element.
func (s *Server) jsonLD(r node.Resource, lic node.License, known bool) map[string]any {
	lang := r.Language
	if !validLang(lang) {
		lang = uiLangs[0]
	}
	ld := map[string]any{
		"@context":             "https://schema.org",
		"@type":                "LearningResource",
		"@id":                  s.resourceURL(r.ID),
		"url":                  s.resourceURL(r.ID),
		"name":                 r.Title,
		"description":          r.Summary,
		"inLanguage":           r.Language,
		"learningResourceType": translate(lang, "kind."+r.Kind),
		"isAccessibleForFree":  true,
		"publisher":            map[string]any{"@type": "Organization", "name": r.Hub},
	}
	if known {
		ld["license"] = lic.URL
	} else if r.License != "" {
		ld["license"] = r.License
	}
	if r.Published != "" {
		ld["datePublished"] = r.Published
	}
	if !r.Updated.IsZero() {
		ld["dateModified"] = r.Updated.UTC().Format("2006-01-02")
	}
	if r.Level != "" {
		ld["educationalLevel"] = translate(lang, "level."+r.Level)
	}
	if len(r.Themes) > 0 {
		var kw []string
		for _, t := range r.Themes {
			kw = append(kw, translate(lang, "theme."+t))
		}
		ld["keywords"] = strings.Join(kw, ", ")
	}
	var aud []map[string]any
	for _, a := range r.Audience {
		aud = append(aud, map[string]any{"@type": "Audience", "audienceType": translate(lang, "audience."+a)})
	}
	if len(aud) > 0 {
		ld["audience"] = aud
	}
	var authors []map[string]any
	for _, a := range r.Authors {
		authors = append(authors, map[string]any{"@type": "Organization", "name": a})
	}
	if len(authors) > 0 {
		ld["author"] = authors
	}
	var media []map[string]any
	for _, f := range r.Files {
		u := s.fileURL(r.ID, f.Name)
		if f.SHA256 == "" && f.RemoteURL != "" {
			u = f.RemoteURL
		}
		media = append(media, map[string]any{"@type": "MediaObject", "name": f.Name, "contentUrl": u,
			"encodingFormat": f.MediaType, "contentSize": f.Size})
	}
	if len(media) > 0 {
		ld["associatedMedia"] = media
	}
	return ld
}
