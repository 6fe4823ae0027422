package web

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// The collections API: curated, ordered sets of this node's resources.
// node.Service does every check (fields, items, ownership); the handlers
// read the request, act for the caller and show the answer.

// CollectionItemInput is one item a client sends: a resource of this
// node and an optional note.
type CollectionItemInput struct {
	Resource string `json:"resource"`
	Note     string `json:"note,omitempty"`
}

// CollectionInput is what a client sends to create a collection.
type CollectionInput struct {
	// ID is optional: the node makes one from the title.
	ID          string                `json:"id,omitempty"`
	Title       string                `json:"title"`
	Summary     string                `json:"summary,omitempty"`
	Description string                `json:"description,omitempty"`
	Items       []CollectionItemInput `json:"items"`
	// Organisation is for admins; an editor's collections are their
	// organisation's.
	Organisation string `json:"organisation,omitempty"`
}

// CollectionPatchInput changes the fields it carries; items, when given,
// replace the whole list.
type CollectionPatchInput struct {
	Title       *string                `json:"title,omitempty"`
	Summary     *string                `json:"summary,omitempty"`
	Description *string                `json:"description,omitempty"`
	Items       *[]CollectionItemInput `json:"items,omitempty"`
	// Organisation gives the collection to another organisation: admins.
	Organisation *string `json:"organisation,omitempty"`
}

func itemsOf(in []CollectionItemInput) []node.CollectionItem {
	out := make([]node.CollectionItem, 0, len(in))
	for _, it := range in {
		out = append(out, node.CollectionItem{Resource: it.Resource, Note: it.Note})
	}
	return out
}

func (in CollectionInput) collection() node.Collection {
	return node.Collection{ID: in.ID, Title: in.Title, Summary: in.Summary, Description: in.Description, Items: itemsOf(in.Items),
		Organisation: in.Organisation}
}

func (in CollectionPatchInput) patch() node.CollectionPatch {
	p := node.CollectionPatch{Title: in.Title, Summary: in.Summary, Description: in.Description, Organisation: in.Organisation}
	if in.Items != nil {
		items := itemsOf(*in.Items)
		p.Items = &items
	}
	return p
}

// CollectionItemJSON is an item as the API shows it: the resource's id
// and page, and, in a collection read alone, what the resource is.
type CollectionItemJSON struct {
	Resource string `json:"resource"`
	Note     string `json:"note,omitempty"`
	URL      string `json:"url"`
	// Available is false when this node does not have the resource (an
	// item a peer listed that this hub refused or lost); the other fields
	// are then empty.
	Available bool   `json:"available"`
	Title     string `json:"title,omitempty"`
	Kind      string `json:"kind,omitempty"`
	Level     string `json:"level,omitempty"`
	License   string `json:"license,omitempty"`
	Language  string `json:"language,omitempty"`
	Hub       string `json:"hub,omitempty"`
}

// UnavailableItemJSON is an item of a peer's collection that this hub
// does not hold, with why.
type UnavailableItemJSON struct {
	URL    string `json:"url"`
	Title  string `json:"title,omitempty"`
	Note   string `json:"note,omitempty"`
	Reason string `json:"reason"`
}

// CollectionJSON is a collection as the API shows it.
type CollectionJSON struct {
	ID               string                `json:"id"`
	Title            string                `json:"title"`
	Summary          string                `json:"summary"`
	Description      string                `json:"description"`
	Items            []CollectionItemJSON  `json:"items"`
	ItemCount        int                   `json:"item_count"`
	Unavailable      []UnavailableItemJSON `json:"unavailable"`
	Organisation     string                `json:"organisation,omitempty"`
	OrganisationName string                `json:"organisation_name,omitempty"`
	OrganisationURL  string                `json:"organisation_url,omitempty"`
	Hub              string                `json:"hub"`
	Origin           string                `json:"origin,omitempty"`
	Local            bool                  `json:"local"`
	Created          time.Time             `json:"created"`
	Updated          time.Time             `json:"updated"`
	URL              string                `json:"url"`
	ZipURL           string                `json:"zip_url"`
	// SharedBy is, for a copy received through another hub's share, the
	// hub that shared it.
	SharedBy string `json:"shared_by,omitempty"`
}

// CollectionPageJSON is one page of GET /api/v1/collections.
type CollectionPageJSON struct {
	Items []CollectionJSON `json:"items"`
	Next  string           `json:"next,omitempty"`
	Total int              `json:"total"`
}

// collectionJSON shows c; with resolve, each item is looked up and
// described (one read per item: a collection read alone).
func (s *Server) collectionJSON(ctx context.Context, c node.Collection, resolve bool, names map[string]node.Organisation) CollectionJSON {
	b := paths.Base(s.publicURL)
	out := CollectionJSON{ID: c.ID, Title: c.Title, Summary: c.Summary, Description: c.Description,
		Items: []CollectionItemJSON{}, ItemCount: len(c.Items), Unavailable: []UnavailableItemJSON{},
		Organisation: c.Organisation, OrganisationName: c.OrganisationName, OrganisationURL: c.OrganisationURL,
		Hub: c.Hub, Origin: c.Origin, Local: c.Origin == "", Created: c.Created, Updated: c.Updated,
		URL: b.Collection(c.ID), ZipURL: b.CollectionZip(c.ID), SharedBy: c.SharedBy}
	if out.Local && c.Organisation != "" {
		out.OrganisationURL = b.Organisation(c.Organisation)
		if out.OrganisationName == "" {
			if o, ok := s.orgNamed(ctx, c.Organisation, names); ok {
				out.OrganisationName = o.Name
			}
		}
	}
	for _, it := range c.Items {
		ij := CollectionItemJSON{Resource: it.Resource, Note: it.Note, URL: b.Resource(it.Resource), Available: true}
		if resolve {
			r, err := s.svc.Get(ctx, it.Resource)
			if err != nil {
				ij.Available = false
				if !errors.Is(err, node.ErrNotFound) {
					s.log.Warn("resolve a collection item", "collection", c.ID, "resource", it.Resource, "err", err)
				}
			} else {
				ij.Title, ij.Kind, ij.Level, ij.License, ij.Language, ij.Hub = r.Title, r.Kind, r.Level, r.License, r.Language, r.Hub
			}
		}
		out.Items = append(out.Items, ij)
	}
	for _, u := range c.Unavailable {
		uj := UnavailableItemJSON{Title: u.Title, Note: u.Note, Reason: u.Reason}
		if isWebURL(u.URL) {
			uj.URL = u.URL
		}
		out.Unavailable = append(out.Unavailable, uj)
	}
	return out
}

// orgNamed looks an organisation up once per answer.
func (s *Server) orgNamed(ctx context.Context, slug string, names map[string]node.Organisation) (node.Organisation, bool) {
	if o, ok := names[slug]; ok {
		return o, true
	}
	o, err := s.svc.Organisation(ctx, slug)
	if err != nil {
		return node.Organisation{}, false
	}
	if names != nil {
		names[slug] = o
	}
	return o, true
}

// collectionRoutes registers the collections API (part of the API: the
// OpenAPI document describes it).
func (s *Server) collectionRoutes(mux routeMux) {
	mux.HandleFunc("GET "+paths.APICollections, s.api(s.apiListCollections))
	mux.HandleFunc("POST "+paths.APICollections, s.api(s.apiCreateCollection))
	mux.HandleFunc("GET "+paths.APICollection, s.api(s.apiGetCollection))
	mux.HandleFunc("PATCH "+paths.APICollection, s.api(s.apiPatchCollection))
	mux.HandleFunc("DELETE "+paths.APICollection, s.api(s.apiDeleteCollection))
	mux.HandleFunc("POST "+paths.APICollectionShare, s.api(s.apiShare(s.collectionShares())))
	mux.HandleFunc("DELETE "+paths.APICollectionShare, s.api(s.apiUnshare(s.collectionShares())))
}

// maxCollectionOffset bounds how deep a list of collections pages.
const maxCollectionOffset = 1_000_000

// offsetCursor and cursorOffset write a list position as the opaque
// cursor every list of the API uses.
func offsetCursor(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o" + strconv.Itoa(n)))
}

func cursorOffset(v url.Values, name string) (int, error) {
	c, err := pageCursor(v, name)
	if err != nil || c == "" {
		return 0, err
	}
	b, _ := base64.RawURLEncoding.DecodeString(c)
	n, err := strconv.Atoi(string(b[min(1, len(b)):]))
	if len(b) < 2 || b[0] != 'o' || err != nil || n < 0 || n > maxCollectionOffset {
		return 0, &node.ValidationError{Field: name, Code: "invalid", Rule: "not a page cursor this node returned; follow the next link of the previous page"}
	}
	return n, nil
}

// collectionQuery reads the list parameters shared by the API and the
// list page: origin and organisation filters.
func collectionQuery(v url.Values) (node.ListCollectionsQuery, error) {
	q := node.ListCollectionsQuery{Origin: v.Get("origin"), Organisation: v.Get("organisation")}
	if q.Origin != "" && q.Origin != "local" && q.Origin != "remote" {
		return q, &node.ValidationError{Field: "origin", Rule: "must be local or remote", Code: "invalid"}
	}
	if q.Organisation != "" && node.ValidateID(q.Organisation) != nil {
		return q, &node.ValidationError{Field: "organisation", Rule: "must be the slug of one of this hub's organisations", Code: "invalid"}
	}
	return q, nil
}

func (s *Server) apiListCollections(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query()
	for name := range v {
		switch name {
		case "limit", "cursor", "origin", "organisation":
		default:
			return &node.ValidationError{Field: name, Code: "invalid", Rule: "unknown parameter; use limit, cursor, origin or organisation"}
		}
	}
	limit, err := pageSize(v, "limit")
	if err != nil {
		return err
	}
	offset, err := cursorOffset(v, "cursor")
	if err != nil {
		return err
	}
	q, err := collectionQuery(v)
	if err != nil {
		return err
	}
	q.Offset, q.Limit = offset, limit
	cs, total, err := s.svc.ListCollections(r.Context(), q)
	if err != nil {
		return err
	}
	out := CollectionPageJSON{Items: []CollectionJSON{}, Total: total}
	names := map[string]node.Organisation{}
	for _, c := range cs {
		out.Items = append(out.Items, s.collectionJSON(r.Context(), c, false, names))
	}
	if offset+len(cs) < total && len(cs) > 0 {
		out.Next = offsetCursor(offset + len(cs))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiGetCollection(w http.ResponseWriter, r *http.Request) error {
	c, err := s.svc.GetCollection(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.collectionJSON(r.Context(), c, true, nil))
	return nil
}

func (s *Server) apiCreateCollection(w http.ResponseWriter, r *http.Request) error {
	u, err := s.editor(r)
	if err != nil {
		return err
	}
	r = r.WithContext(node.WithActor(r.Context(), u)) // the service applies the ownership rules for u
	var in CollectionInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	c, err := s.svc.CreateCollection(r.Context(), in.collection())
	if err != nil {
		return err
	}
	s.log.Info("collection created", "id", c.ID, "items", len(c.Items), "user", u.Name)
	w.Header().Set("Location", paths.Base(s.publicURL).Collection(c.ID))
	writeJSON(w, http.StatusCreated, s.collectionJSON(r.Context(), c, true, nil))
	return nil
}

func (s *Server) apiPatchCollection(w http.ResponseWriter, r *http.Request) error {
	u, err := s.editor(r)
	if err != nil {
		return err
	}
	r = r.WithContext(node.WithActor(r.Context(), u))
	var in CollectionPatchInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	c, err := s.svc.UpdateCollection(r.Context(), r.PathValue("id"), in.patch())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.collectionJSON(r.Context(), c, true, nil))
	return nil
}

func (s *Server) apiDeleteCollection(w http.ResponseWriter, r *http.Request) error {
	u, err := s.editor(r)
	if err != nil {
		return err
	}
	r = r.WithContext(node.WithActor(r.Context(), u))
	if err := s.svc.DeleteCollection(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	s.log.Info("collection deleted", "id", r.PathValue("id"), "user", u.Name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Client methods for `communs collection`.

func (c CollectionJSON) toCollection() node.Collection {
	out := node.Collection{ID: c.ID, Title: c.Title, Summary: c.Summary, Description: c.Description,
		Organisation: c.Organisation, OrganisationName: c.OrganisationName, OrganisationURL: c.OrganisationURL,
		Hub: c.Hub, Origin: c.Origin, Created: c.Created, Updated: c.Updated}
	for _, it := range c.Items {
		out.Items = append(out.Items, node.CollectionItem{Resource: it.Resource, Note: it.Note})
	}
	for _, u := range c.Unavailable {
		out.Unavailable = append(out.Unavailable, node.UnavailableItem{URL: u.URL, Title: u.Title, Note: u.Note, Reason: u.Reason})
	}
	return out
}

// CreateCollection creates a collection.
func (c *Client) CreateCollection(ctx context.Context, col node.Collection) (node.Collection, error) {
	in := CollectionInput{Title: col.Title, Summary: col.Summary, Description: col.Description, Organisation: col.Organisation,
		Items: []CollectionItemInput{}}
	for _, it := range col.Items {
		in.Items = append(in.Items, CollectionItemInput{Resource: it.Resource, Note: it.Note})
	}
	var out CollectionJSON
	if err := c.doJSON(ctx, http.MethodPost, paths.APICollections, in, &out); err != nil {
		return node.Collection{}, err
	}
	return out.toCollection(), nil
}

// GetCollection returns one collection.
func (c *Client) GetCollection(ctx context.Context, id string) (node.Collection, error) {
	var out CollectionJSON
	if err := c.doJSON(ctx, http.MethodGet, paths.APICollectionPath(id), nil, &out); err != nil {
		return node.Collection{}, err
	}
	return out.toCollection(), nil
}

// ListCollections returns a page of collections and how many match.
func (c *Client) ListCollections(ctx context.Context, q node.ListCollectionsQuery) ([]node.Collection, int, error) {
	v := url.Values{}
	if q.Offset > 0 {
		v.Set("cursor", offsetCursor(q.Offset))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(min(q.Limit, MaxPerPage)))
	}
	if q.Origin != "" {
		v.Set("origin", q.Origin)
	}
	if q.Organisation != "" {
		v.Set("organisation", q.Organisation)
	}
	var out CollectionPageJSON
	if err := c.doJSON(ctx, http.MethodGet, paths.APICollections+"?"+v.Encode(), nil, &out); err != nil {
		return nil, 0, err
	}
	cs := make([]node.Collection, 0, len(out.Items))
	for _, it := range out.Items {
		cs = append(cs, it.toCollection())
	}
	return cs, out.Total, nil
}

// DeleteCollection removes a collection (not its resources).
func (c *Client) DeleteCollection(ctx context.Context, id string) error {
	return c.doJSON(ctx, http.MethodDelete, paths.APICollectionPath(id), nil, nil)
}
