package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// The collection pages: the public page of one collection, the list of
// the hub's collections, and the editor's forms. Like the resource
// editor, the forms are thin: node.Service checks every field, the items
// and the ownership; the pages turn its refusals into messages.

// collectionPageRoutes registers the public pages (the same path in
// French and English) and the editor's forms.
func (s *Server) collectionPageRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+paths.Collections, s.page(s.collectionsPage))
	mux.HandleFunc("GET "+paths.Collection, s.page(s.collectionPage))
	mux.HandleFunc("POST "+paths.CollectionShare, s.page(s.shareSubmit(s.collectionShares())))
	mux.HandleFunc("GET /editeur/nouvelle-collection", s.page(s.collectionNew))
	mux.HandleFunc("POST /editeur/nouvelle-collection", s.page(s.collectionCreate))
	mux.HandleFunc("GET /editeur/c/{id}", s.page(s.collectionEdit))
	mux.HandleFunc("POST /editeur/c/{id}", s.page(s.collectionUpdate))
	mux.HandleFunc("GET /editeur/c/{id}/supprimer", s.page(s.collectionDeleteConfirm))
	mux.HandleFunc("POST /editeur/c/{id}/supprimer", s.page(s.collectionDelete))
}

// collectionItemView is one item on the collection page.
type collectionItemView struct {
	Position int
	ID, Note string
	// Available is false when this hub has no such resource (deleted
	// since, or never received); R is then empty.
	Available bool
	R         node.Resource
}

type unavailableView struct {
	Title, URL, Note, Reason string
}

type collectionData struct {
	C           node.Collection
	Description template.HTML
	Items       []collectionItemView
	Unavailable []unavailableView
	ZipURL      string
	APIURL      string
	Org         *orgCredit
	Local       bool
	OriginURL   string
	CanEdit     bool
	JSONLD      map[string]any
	Created     bool
	// Share is a copy's share form for editors (collection_share.go).
	Share *shareView
}

// resolveItems looks each item up on this hub, in order.
func (s *Server) resolveItems(ctx context.Context, c node.Collection) []collectionItemView {
	out := make([]collectionItemView, 0, len(c.Items))
	for i, it := range c.Items {
		v := collectionItemView{Position: i + 1, ID: it.Resource, Note: it.Note}
		r, err := s.svc.Get(ctx, it.Resource)
		switch {
		case err == nil:
			v.Available, v.R = true, r
		case !errors.Is(err, node.ErrNotFound):
			s.log.Warn("resolve a collection item", "collection", c.ID, "resource", it.Resource, "err", err)
		}
		out = append(out, v)
	}
	return out
}

// collectionPage serves /collections/{id} and, for an id ending in .zip,
// the whole collection as one archive.
func (s *Server) collectionPage(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if zipID, ok := strings.CutSuffix(id, paths.ZipSuffix); ok {
		if err := s.collectionZip(w, r, zipID); err != nil {
			s.downloadError(w, r, err)
		}
		return nil
	}
	c, err := s.svc.GetCollection(r.Context(), id)
	if err != nil {
		return err
	}
	p := s.newPage(w, r, "", "", nil)
	p.Title = c.Title
	base := paths.Base(s.publicURL)
	d := collectionData{C: c, Description: renderMarkdown(c.Description), Items: s.resolveItems(r.Context(), c),
		ZipURL: paths.CollectionZipPath(c.ID), APIURL: paths.APICollectionPath(c.ID), Local: c.Origin == "",
		CanEdit: p.User != nil && c.Origin == "", Created: r.URL.Query().Get("enregistree") == "1"}
	if !d.Local && isWebURL(c.Origin) {
		d.OriginURL = c.Origin
	}
	for _, u := range c.Unavailable {
		v := unavailableView{Title: u.Title, Note: u.Note, Reason: u.Reason}
		if isWebURL(u.URL) {
			v.URL = u.URL
		}
		if v.Title == "" {
			v.Title = v.URL
		}
		d.Unavailable = append(d.Unavailable, v)
	}
	d.Org = s.collectionCredit(r.Context(), c)
	d.JSONLD = s.collectionLD(c, d.Items, d.Org)
	d.Share = s.collectionShareState(r.Context(), p.User, c, r.URL.Query().Get("partage"))
	p.Data = d
	p.Meta.Canonical, p.Meta.Type = base.Collection(c.ID), "website"
	if d.OriginURL != "" {
		p.Meta.Canonical = d.OriginURL
	}
	if desc := metaDescription(c.Summary); desc != "" {
		p.Meta.Description = desc
	}
	s.renderPage(w, r, http.StatusOK, "collection.html", p)
	return nil
}

// collectionCredit is the organisation that curated c, as its page
// shows it.
func (s *Server) collectionCredit(ctx context.Context, c node.Collection) *orgCredit {
	if c.Origin != "" {
		if c.OrganisationName == "" {
			return nil
		}
		cr := &orgCredit{Name: c.OrganisationName, Hub: c.Hub}
		if isWebURL(c.OrganisationURL) {
			cr.URL = c.OrganisationURL
		}
		return cr
	}
	if c.Organisation == "" {
		return nil
	}
	if o, err := s.svc.Organisation(ctx, c.Organisation); err == nil {
		return &orgCredit{Name: o.Name, URL: paths.OrganisationPath(o.Slug)}
	}
	return &orgCredit{Name: c.Organisation, URL: paths.OrganisationPath(c.Organisation)}
}

// collectionLD describes the collection with schema.org: a Collection
// whose parts are the items in order (an ItemList for the order).
func (s *Server) collectionLD(c node.Collection, items []collectionItemView, org *orgCredit) map[string]any {
	b := paths.Base(s.publicURL)
	page := b.Collection(c.ID)
	var parts, list []map[string]any
	for _, it := range items {
		if !it.Available {
			continue
		}
		u := b.Resource(it.ID)
		part := map[string]any{"@type": "LearningResource", "@id": u, "url": u, "name": it.R.Title}
		if l, ok := node.LookupLicense(it.R.License); ok {
			part["license"] = l.URL
		}
		parts = append(parts, part)
		list = append(list, map[string]any{"@type": "ListItem", "position": len(list) + 1, "url": u, "name": it.R.Title})
	}
	ld := map[string]any{
		"@context":       "https://schema.org",
		"@type":          "Collection",
		"@id":            page,
		"url":            page,
		"name":           c.Title,
		"collectionSize": len(parts),
		"publisher":      map[string]any{"@type": "Organization", "name": c.Hub},
		"mainEntity":     map[string]any{"@type": "ItemList", "numberOfItems": len(list), "itemListOrder": "https://schema.org/ItemListOrderAscending", "itemListElement": list},
	}
	if c.Summary != "" {
		ld["description"] = c.Summary
	}
	if len(parts) > 0 {
		ld["hasPart"] = parts
	}
	if !c.Updated.IsZero() {
		ld["dateModified"] = c.Updated.UTC().Format("2006-01-02")
	}
	if org != nil {
		o := map[string]any{"@type": "Organization", "name": org.Name}
		if org.URL != "" {
			o["url"] = org.URL
			if !strings.HasPrefix(org.URL, "http") {
				o["url"] = s.publicURL + org.URL
			}
		}
		ld["creator"] = o
	}
	return ld
}

// The list page: newest collections, or those matching q.

// collectionsPerPage is the list page's page size.
const collectionsPerPage = 20

type collectionsData struct {
	Q        string
	Items    []node.Collection
	Total    int
	Page     int
	Pages    int
	PrevURL  string
	NextURL  string
	Searched bool
}

func (s *Server) collectionsPage(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query()
	if err := validUTF8Values(v); err != nil {
		return err
	}
	text := strings.TrimSpace(v.Get("q"))
	if len(text) > node.MaxQueryLen {
		return &node.ValidationError{Field: "q", Code: "invalid", Rule: fmt.Sprintf("at most %d bytes", node.MaxQueryLen)}
	}
	q, err := collectionQuery(v)
	if err != nil {
		return err
	}
	page, _, err := boundedInt(v, "page", 1, maxCollectionOffset/collectionsPerPage)
	if err != nil {
		return err
	}
	page = max(page, 1)
	d := collectionsData{Q: text, Page: page, Searched: text != ""}
	if text != "" {
		all, err := s.matchCollections(r.Context(), text, q)
		if err != nil {
			return err
		}
		d.Total = len(all)
		lo := min((page-1)*collectionsPerPage, len(all))
		d.Items = all[lo:min(lo+collectionsPerPage, len(all))]
	} else {
		q.Offset, q.Limit = (page-1)*collectionsPerPage, collectionsPerPage
		d.Items, d.Total, err = s.svc.ListCollections(r.Context(), q)
		if err != nil {
			return err
		}
	}
	d.Pages = (d.Total + collectionsPerPage - 1) / collectionsPerPage
	link := func(n int) string {
		out := url.Values{}
		if text != "" {
			out.Set("q", text)
		}
		if q.Origin != "" {
			out.Set("origin", q.Origin)
		}
		if q.Organisation != "" {
			out.Set("organisation", q.Organisation)
		}
		if n > 1 {
			out.Set("page", strconv.Itoa(n))
		}
		if len(out) == 0 {
			return paths.Collections
		}
		return paths.Collections + "?" + out.Encode()
	}
	if page > 1 {
		d.PrevURL = link(page - 1)
	}
	if page < d.Pages {
		d.NextURL = link(page + 1)
	}
	p := s.newPage(w, r, "collections", "collections.title", d)
	if text != "" {
		p.Title = p.T("collections.title.query", text)
		p.NoRobots = true
	}
	s.renderPage(w, r, http.StatusOK, "collections.html", p)
	return nil
}

// The editor's forms. Items are a textarea, one resource per line,
// optionally followed by " | note": it works without JavaScript, by
// keyboard and at 320 px, and reordering is moving lines. A line may also
// be the address of a resource page (/r/ID), pasted from the browser.

// maxFormItems bounds the lines a collection form may hold before any is
// looked up.
const maxFormItems = 500

type collectionValues struct {
	Title, Summary, Description, Items string
	// Organisation is the admin's choice; OrgSent says the form had it.
	Organisation string
	OrgSent      bool
}

type collectionForm struct {
	New     bool
	ID      string
	V       collectionValues
	Errors  []fieldError
	ByField map[string]string
	// Items are the current items, resolved, shown beside the textarea.
	Items []collectionItemView
	// OrgName is the organisation the collection belongs (or will);
	// admins choose it among Orgs instead.
	OrgName   string
	ChooseOrg bool
	Orgs      []node.Organisation
}

func (f *collectionForm) addError(field, msg string) {
	if _, ok := f.ByField[field]; ok {
		return
	}
	f.ByField[field] = msg
	f.Errors = append(f.Errors, fieldError{Field: field, Message: msg})
}

// itemLines writes items as the textarea shows them.
func itemLines(items []node.CollectionItem) string {
	var b strings.Builder
	for _, it := range items {
		b.WriteString(it.Resource)
		if it.Note != "" {
			b.WriteString(" | ")
			b.WriteString(it.Note)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// itemLine is one line of the items textarea that could not be read.
type itemLine struct {
	Line int
	Text string
}

// parseItemLines reads the textarea: blank lines are skipped; a line is
// an id or a resource address, then optionally "|" and a note.
func parseItemLines(text string) ([]node.CollectionItem, *itemLine) {
	var out []node.CollectionItem
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		ref, note, _ := strings.Cut(line, "|")
		ref, note = strings.TrimSpace(ref), strings.TrimSpace(note)
		if ref == "" && note == "" {
			continue
		}
		id := resourceRef(ref)
		if node.ValidateID(id) != nil {
			return nil, &itemLine{Line: i + 1, Text: ref}
		}
		out = append(out, node.CollectionItem{Resource: id, Note: note})
	}
	return out, nil
}

// resourceRef takes the id out of a resource page's address (absolute or
// not); anything else is taken as an id.
func resourceRef(ref string) string {
	u, err := url.Parse(ref)
	if err != nil || !strings.Contains(u.Path, paths.ResourcePrefix) {
		return ref
	}
	_, rest, _ := strings.Cut(u.Path, paths.ResourcePrefix)
	id, _, _ := strings.Cut(rest, "/")
	return id
}

// checkItemLines resolves each line's resource, so the form names the
// line at fault rather than a position in a list.
func (s *Server) checkItemLines(ctx context.Context, p *uiPage, f *collectionForm) ([]node.CollectionItem, bool) {
	lines := strings.Count(f.V.Items, "\n") + 1
	if lines > maxFormItems {
		f.addError("items", p.T("collection.form.error.toomany", maxFormItems))
		return nil, false
	}
	items, bad := parseItemLines(f.V.Items)
	if bad != nil {
		f.addError("items", p.T("collection.form.error.line", bad.Line, bad.Text))
		return nil, false
	}
	if len(items) == 0 {
		f.addError("items", p.T("collection.form.error.empty"))
		return nil, false
	}
	for i, it := range items {
		if _, err := s.svc.Get(ctx, it.Resource); errors.Is(err, node.ErrNotFound) {
			f.addError("items", p.T("collection.form.error.unknown", i+1, it.Resource))
			return nil, false
		}
	}
	return items, true
}

func readCollectionValues(v url.Values) collectionValues {
	return collectionValues{Title: v.Get("title"), Summary: v.Get("summary"), Description: v.Get("description"), Items: v.Get("items"),
		Organisation: v.Get("organisation"), OrgSent: v.Has("organisation")}
}

// collectionFields maps the domain's field names to the form's controls.
func collectionField(field string) string {
	switch {
	case field == "title" || field == "summary" || field == "description" || field == "organisation":
		return field
	case strings.HasPrefix(field, "item"):
		return "items"
	}
	return "title"
}

func (s *Server) renderCollectionForm(w http.ResponseWriter, r *http.Request, status int, f *collectionForm) {
	if u, ok := node.ActorFrom(r.Context()); ok && u.Role == node.RoleAdmin {
		os, err := s.svc.Organisations(r.Context())
		if err != nil {
			s.log.Warn("list organisations for the collection form", "err", err)
		}
		f.Orgs, f.ChooseOrg = os, len(os) > 0
	}
	if f.OrgName == "" {
		if u, ok := node.ActorFrom(r.Context()); ok && u.Organisation != "" && f.New {
			f.OrgName = u.Organisation
			if o, err := s.svc.Organisation(r.Context(), u.Organisation); err == nil {
				f.OrgName = o.Name
			}
		}
	}
	title := "collection.form.edit"
	if f.New {
		title = "collection.form.new"
	}
	p := s.newPage(w, r, "editor", title, f)
	p.NoRobots = true
	if len(f.Errors) > 0 {
		p.Title = p.T("form.title.errors") + " " + p.Title
	}
	s.renderPage(w, r, status, "collection_form.html", p)
}

// collectionFailed shows the form again with the service's refusal by
// its field; other failures get the error page.
func (s *Server) collectionFailed(w http.ResponseWriter, r *http.Request, f *collectionForm, err error) error {
	p := s.newPage(w, r, "editor", "", nil)
	var ve *node.ValidationError
	switch {
	case errors.As(err, &ve):
		field := collectionField(ve.Field)
		if field == "items" {
			f.addError(field, p.T("collection.form.error.items", ve.Rule))
		} else {
			f.addError(field, p.T("form.error."+field))
		}
		s.renderCollectionForm(w, r, http.StatusBadRequest, f)
		return nil
	case errors.Is(err, node.ErrTooLarge):
		f.addError("items", p.T("collection.form.error.toomany", maxFormItems))
		s.renderCollectionForm(w, r, http.StatusRequestEntityTooLarge, f)
		return nil
	case errors.Is(err, node.ErrConflict):
		f.addError("title", p.T("form.error.conflict"))
		s.renderCollectionForm(w, r, http.StatusConflict, f)
		return nil
	}
	return err
}

func (s *Server) collectionNew(w http.ResponseWriter, r *http.Request) error {
	u, err := s.editorOrLogin(r)
	if err != nil {
		return err
	}
	r = r.WithContext(node.WithActor(r.Context(), u))
	f := &collectionForm{New: true, ByField: map[string]string{}}
	// "Add to a collection" links from resource pages prefill an item.
	if id := r.URL.Query().Get("ressource"); id != "" && node.ValidateID(id) == nil {
		f.V.Items = id + "\n"
	}
	s.renderCollectionForm(w, r, http.StatusOK, f)
	return nil
}

func (s *Server) collectionCreate(w http.ResponseWriter, r *http.Request) error {
	u, err := s.editorOrLogin(r)
	if err != nil {
		return err
	}
	r = r.WithContext(node.WithActor(r.Context(), u)) // the service applies the ownership rules for u
	if err := s.postedForm(w, r, 4*maxFormField); err != nil {
		return err
	}
	f := &collectionForm{New: true, ByField: map[string]string{}, V: readCollectionValues(r.PostForm)}
	p := s.newPage(w, r, "editor", "", nil)
	items, ok := s.checkItemLines(r.Context(), p, f)
	if !ok {
		s.renderCollectionForm(w, r, http.StatusBadRequest, f)
		return nil
	}
	c, err := s.svc.CreateCollection(r.Context(), node.Collection{Title: f.V.Title, Summary: f.V.Summary, Description: f.V.Description, Items: items,
		Organisation: f.V.Organisation})
	if err != nil {
		return s.collectionFailed(w, r, f, err)
	}
	s.log.Info("collection created from the editor", "id", c.ID, "items", len(c.Items), "user", u.Name)
	http.Redirect(w, r, paths.CollectionPath(c.ID)+"?enregistree=1", http.StatusSeeOther)
	return nil
}

// editableCollection loads a local collection the editor may change; the
// service checks the ownership again in the write itself.
func (s *Server) editableCollection(r *http.Request) (node.Collection, *http.Request, error) {
	u, err := s.editorOrLogin(r)
	if err != nil {
		return node.Collection{}, r, err
	}
	r = r.WithContext(node.WithActor(r.Context(), u))
	c, err := s.svc.GetCollection(r.Context(), r.PathValue("id"))
	if err == nil && c.Origin != "" {
		err = fmt.Errorf("collection %q comes from another hub and is edited there: %w", c.ID, node.ErrForbidden)
	}
	if err == nil {
		err = s.svc.CheckCollectionOwner(r.Context(), c)
	}
	return c, r, err
}

func (s *Server) collectionEditForm(r *http.Request, c node.Collection) *collectionForm {
	f := &collectionForm{ID: c.ID, ByField: map[string]string{}, Items: s.resolveItems(r.Context(), c),
		V: collectionValues{Title: c.Title, Summary: c.Summary, Description: c.Description, Items: itemLines(c.Items), Organisation: c.Organisation}}
	if cr := s.collectionCredit(r.Context(), c); cr != nil {
		f.OrgName = cr.Name
	}
	return f
}

func (s *Server) collectionEdit(w http.ResponseWriter, r *http.Request) error {
	c, r, err := s.editableCollection(r)
	if err != nil {
		return err
	}
	s.renderCollectionForm(w, r, http.StatusOK, s.collectionEditForm(r, c))
	return nil
}

func (s *Server) collectionUpdate(w http.ResponseWriter, r *http.Request) error {
	c, r, err := s.editableCollection(r)
	if err != nil {
		return err
	}
	if err := s.postedForm(w, r, 4*maxFormField); err != nil {
		return err
	}
	f := s.collectionEditForm(r, c)
	f.V = readCollectionValues(r.PostForm)
	p := s.newPage(w, r, "editor", "", nil)
	items, ok := s.checkItemLines(r.Context(), p, f)
	if !ok {
		s.renderCollectionForm(w, r, http.StatusBadRequest, f)
		return nil
	}
	patch := node.CollectionPatch{Title: &f.V.Title, Summary: &f.V.Summary, Description: &f.V.Description, Items: &items}
	if f.V.OrgSent { // only admins get the field; the service refuses it to others
		patch.Organisation = &f.V.Organisation
	}
	if _, err := s.svc.UpdateCollection(r.Context(), c.ID, patch); err != nil {
		return s.collectionFailed(w, r, f, err)
	}
	http.Redirect(w, r, paths.CollectionPath(c.ID)+"?enregistree=1", http.StatusSeeOther)
	return nil
}

func (s *Server) collectionDeleteConfirm(w http.ResponseWriter, r *http.Request) error {
	c, r, err := s.editableCollection(r)
	if err != nil {
		return err
	}
	p := s.newPage(w, r, "editor", "collection.delete.title", c)
	p.NoRobots = true
	s.renderPage(w, r, http.StatusOK, "collection_delete.html", p)
	return nil
}

func (s *Server) collectionDelete(w http.ResponseWriter, r *http.Request) error {
	c, r, err := s.editableCollection(r)
	if err != nil {
		return err
	}
	if err := s.postedForm(w, r, 64<<10); err != nil {
		return err
	}
	if err := s.svc.DeleteCollection(r.Context(), c.ID); err != nil {
		return err
	}
	s.log.Info("collection deleted from the editor", "id", c.ID)
	http.Redirect(w, r, "/editeur?collection-supprimee=1#collections", http.StatusSeeOther)
	return nil
}

// editorCollections lists the hub's own collections on the editor's home.
func (s *Server) editorCollections(ctx context.Context) []node.Collection {
	cs, _, err := s.svc.ListCollections(ctx, node.ListCollectionsQuery{Origin: "local", Limit: 50})
	if err != nil {
		s.log.Warn("list collections for the editor", "err", err)
	}
	return cs
}

// latestCollections lists a few collections for the home and organisation
// pages; a failure leaves the section out, logged.
func (s *Server) latestCollections(ctx context.Context, q node.ListCollectionsQuery) []node.Collection {
	cs, _, err := s.svc.ListCollections(ctx, q)
	if err != nil {
		s.log.Warn("list collections for a page", "err", err)
	}
	return cs
}

func init() {
	// collectionPath links to a collection page; collections hands a list
	// and the page to the shared "collection-list" template (layout.html).
	uiFuncs["collectionPath"] = paths.CollectionPath
	uiFuncs["collections"] = func(p *uiPage, cs []node.Collection) any {
		return struct {
			P     *uiPage
			Items []node.Collection
		}{p, cs}
	}
}
