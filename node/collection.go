package node

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// CollectionItem is one entry of a collection: a resource of this node
// (local, or a copy from another hub) with an optional note ("Séance 2 :
// créer son adresse e-mail").
type CollectionItem struct {
	Resource string `json:"resource"`
	Note     string `json:"note,omitempty"`
}

// UnavailableItem is an item of a collection copied from another hub that
// this node could not resolve to one of its resources: refused by its
// licence policy or blocks, or unreachable. It is shown with its reason,
// never silently dropped.
type UnavailableItem struct {
	// URL is the item's object id on its origin hub.
	URL   string `json:"url"`
	Title string `json:"title,omitempty"`
	Note  string `json:"note,omitempty"`
	// Reason is plain French for the visitor ("non disponible sur ce hub :
	// licence hors politique").
	Reason string `json:"reason"`
}

// Collection is a curated, ordered set of resources of this node: a
// workshop series, a training path.
type Collection struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Summary string `json:"summary,omitempty"`
	// Description is Markdown.
	Description string           `json:"description,omitempty"`
	Items       []CollectionItem `json:"items"`
	// Organisation owns a local collection (a slug of this hub's
	// organisations), like a resource; CreatedBy is the account that
	// created it (not shown by the API).
	Organisation string    `json:"organisation,omitempty"`
	CreatedBy    string    `json:"created_by,omitempty"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
	// Origin is empty for a local collection and holds the origin's
	// object id for a copy received from a peer.
	Origin string `json:"origin,omitempty"`
	// Hub is this node's hub for a local collection, the origin hub's
	// name for a copy.
	Hub string `json:"hub,omitempty"`
	// OrganisationName is the owning organisation's name (for a copy as
	// its origin sent it); OrganisationURL is a copy's link to the
	// organisation's page on its origin hub.
	OrganisationName string `json:"organisation_name,omitempty"`
	OrganisationURL  string `json:"organisation_url,omitempty"`
	// Unavailable lists, for a copy, the items of the origin's collection
	// this node refused or could not resolve. Always empty for a local
	// collection.
	Unavailable []UnavailableItem `json:"unavailable,omitempty"`
	// SharedBy is, for a copy received through another hub's share (an
	// Announce), the hub name of the sharer ("partagé par").
	SharedBy string `json:"shared_by,omitempty"`
}

// Local reports whether this node is the collection's origin.
func (c *Collection) Local() bool { return c.Origin == "" }

// Limits on a collection, also applied to what peers send.
const (
	MaxCollectionItems     = 200
	maxCollectionNote      = 300
	maxUnavailableReason   = 300
	maxCollectionsPage     = 100
	defaultCollectionsPage = 20
)

// Normalize trims the collection's text.
func (c *Collection) Normalize() {
	c.ID = strings.TrimSpace(c.ID)
	c.Title = strings.TrimSpace(c.Title)
	c.Summary = strings.TrimSpace(c.Summary)
	c.Description = strings.TrimSpace(c.Description)
	c.Organisation = strings.TrimSpace(c.Organisation)
	c.Hub = strings.TrimSpace(c.Hub)
	c.OrganisationName = strings.TrimSpace(c.OrganisationName)
	c.OrganisationURL = strings.TrimSpace(c.OrganisationURL)
	for i := range c.Items {
		c.Items[i].Resource = strings.TrimSpace(c.Items[i].Resource)
		c.Items[i].Note = strings.TrimSpace(c.Items[i].Note)
	}
	for i := range c.Unavailable {
		u := &c.Unavailable[i]
		u.URL, u.Title, u.Note, u.Reason = strings.TrimSpace(u.URL), strings.TrimSpace(u.Title), strings.TrimSpace(u.Note), strings.TrimSpace(u.Reason)
	}
	if c.Items == nil {
		c.Items = []CollectionItem{}
	}
}

// Validate checks a collection's own fields (not whether its items exist:
// the Service and the catalog check that).
func (c *Collection) Validate() error {
	if err := ValidateID(c.ID); err != nil {
		return err
	}
	if err := checkText("title", c.Title, 1, maxTitleLen); err != nil {
		return err
	}
	if err := checkText("summary", c.Summary, 0, maxSummaryLen); err != nil {
		return err
	}
	if err := checkText("description", c.Description, 0, maxDescriptionLen); err != nil {
		return err
	}
	if n := len(c.Items) + len(c.Unavailable); n > MaxCollectionItems {
		return invalid("items", "at most %d items per collection (got %d)", MaxCollectionItems, n)
	}
	seen := make(map[string]int, len(c.Items))
	for i, it := range c.Items {
		field := fmt.Sprintf("items[%d].resource", i)
		if it.Resource == "" {
			return invalid(field, "required")
		}
		if ValidateID(it.Resource) != nil {
			return invalid(field, "must be a resource id of this hub (got %q)", truncate(it.Resource, 80))
		}
		if j, dup := seen[it.Resource]; dup {
			return invalid(field, "resource %q is already item %d; each resource appears once", it.Resource, j+1)
		}
		seen[it.Resource] = i
		if err := checkText(fmt.Sprintf("items[%d].note", i), it.Note, 0, maxCollectionNote); err != nil {
			return err
		}
	}
	if c.Hub != "" && (!slugRe.MatchString(c.Hub) || len(c.Hub) > MaxIDLen) {
		return invalid("hub", "must be a slug of lowercase letters, digits and hyphens (got %q)", truncate(c.Hub, 80))
	}
	if c.Organisation != "" {
		if err := ValidateOrganisationSlug("organisation", c.Organisation); err != nil {
			return err
		}
	}
	if c.Local() {
		if len(c.Unavailable) > 0 {
			return invalid("unavailable", "only a copy from another hub lists unavailable items")
		}
		return nil
	}
	if c.Organisation != "" {
		return invalid("organisation", "a copy from another hub belongs to none of this hub's organisations")
	}
	ou, err := url.Parse(c.Origin)
	if err != nil || (ou.Scheme != "https" && ou.Scheme != "http") || ou.Host == "" || len(c.Origin) > maxOrgURLLen {
		return invalid("origin", "must be the absolute URL of the origin's object (got %q)", truncate(c.Origin, 80))
	}
	if err := ValidateRemoteOrganisation(c.OrganisationName, c.OrganisationURL, ou.Host); err != nil {
		return err
	}
	for i, u := range c.Unavailable {
		field := fmt.Sprintf("unavailable[%d]", i)
		if err := checkWebURL(field+".url", u.URL); err != nil {
			return err
		}
		if err := checkText(field+".title", u.Title, 0, maxTitleLen); err != nil {
			return err
		}
		if err := checkText(field+".note", u.Note, 0, maxCollectionNote); err != nil {
			return err
		}
		if err := checkText(field+".reason", u.Reason, 1, maxUnavailableReason); err != nil {
			return err
		}
	}
	return nil
}

// ListCollectionsQuery selects and pages collections, newest created first.
type ListCollectionsQuery struct {
	// Origin is "local", "remote" or "" for all.
	Origin string
	// Organisation keeps the collections of one organisation of this hub.
	Organisation string
	Offset       int
	Limit        int
}

// CollectionPatch holds the fields an update changes; nil fields are kept.
type CollectionPatch struct {
	Title       *string           `json:"title"`
	Summary     *string           `json:"summary"`
	Description *string           `json:"description"`
	Items       *[]CollectionItem `json:"items"`
	// Organisation gives the collection to another organisation ("" for
	// none): admins only, or an editor naming their own.
	Organisation *string `json:"organisation,omitempty"`
}

// Collections stores collections. Implementation: storage/catalog, which
// writes each change of a collection with its entry in the change feed
// (Change.Collection) in one transaction, and refuses there a local
// collection whose items name no stored resource. Deleting a resource
// (local or a copy) in the catalog drops it from every local collection
// and moves it to Unavailable in every copy, in the resource's own
// transaction, each changed collection getting its change entry (so
// followers receive the shorter collection).
type Collections interface {
	// CreateCollection stores a new collection; ErrConflict when the id
	// exists.
	CreateCollection(ctx context.Context, c Collection) error
	GetCollection(ctx context.Context, id string) (Collection, error)
	// CollectionByOrigin finds the copy of a peer's collection by the
	// origin's object id; ErrNotFound when none.
	CollectionByOrigin(ctx context.Context, origin string) (Collection, error)
	// ListCollections returns a page and the number of collections the
	// query selects.
	ListCollections(ctx context.Context, q ListCollectionsQuery) ([]Collection, int, error)
	// UpdateCollection applies fn to the stored collection atomically.
	UpdateCollection(ctx context.Context, id string, fn func(*Collection) error) (Collection, error)
	// PutRemoteCollection creates or replaces a copy (found by its
	// Origin); check sees the stored copy (nil if none) and may refuse.
	PutRemoteCollection(ctx context.Context, c Collection, check func(old *Collection) error) (Collection, error)
	// DeleteCollection removes a collection and returns it.
	DeleteCollection(ctx context.Context, id string) (Collection, error)
	// CollectionsWith returns the ids of the collections listing a
	// resource among their items.
	CollectionsWith(ctx context.Context, resourceID string) ([]string, error)
}

// KeepsCollections says whether this node stores collections.
func (s *Service) KeepsCollections() bool { return s.colls != nil }

func (s *Service) needCollections() error {
	if s.colls == nil {
		return fmt.Errorf("this node keeps no collections: %w", ErrUnavailable)
	}
	return nil
}

// CanChangeCollection says whether u may change or delete c, with the
// rules of resources (CanChange).
func CanChangeCollection(u User, c Collection) error {
	err := CanChange(u, Resource{ID: c.ID, Metadata: Metadata{Organisation: c.Organisation}, CreatedBy: c.CreatedBy})
	var oe *OwnerError
	if errors.As(err, &oe) {
		oe.Collection = true
	}
	return err
}

func checkCollectionOwner(ctx context.Context, c Collection) error {
	u, ok := ActorFrom(ctx)
	if !ok {
		return nil
	}
	return CanChangeCollection(u, c)
}

// CheckCollectionOwner says whether the context's actor may change c,
// naming the owner when not (edit pages check it before showing a form).
func (s *Service) CheckCollectionOwner(ctx context.Context, c Collection) error {
	return s.nameOwner(ctx, checkCollectionOwner(ctx, c))
}

// checkItems refuses items naming no resource of this node, naming the
// item (the catalog checks again in its transaction).
func (s *Service) checkItems(ctx context.Context, items []CollectionItem) error {
	for i, it := range items {
		_, err := s.catalog.Get(ctx, it.Resource)
		if errors.Is(err, ErrNotFound) {
			return invalid(fmt.Sprintf("items[%d].resource", i), "no resource %q on this hub", it.Resource)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// CreateCollection validates and stores a new local collection. Its id
// comes from the title (like a resource's) unless given; the context's
// actor owns it (their organisation), with the ownership rules of
// resources.
func (s *Service) CreateCollection(ctx context.Context, c Collection) (Collection, error) {
	if err := s.needCollections(); err != nil {
		return Collection{}, err
	}
	c.Normalize()
	c.Origin, c.Unavailable = "", nil
	c.OrganisationName, c.OrganisationURL = "", ""
	c.Hub = s.hub
	c.CreatedBy = ""
	if u, ok := ActorFrom(ctx); ok {
		c.CreatedBy = u.Name
		if c.Organisation == "" {
			c.Organisation = u.Organisation
		}
		if u.Role != RoleAdmin && u.Role != RoleEditor {
			return Collection{}, fmt.Errorf("user %q may not publish: role %q, editor or admin needed: %w", u.Name, u.Role, ErrForbidden)
		}
		if u.Role != RoleAdmin && c.Organisation != u.Organisation {
			return Collection{}, s.nameOwner(ctx, &OwnerError{User: u.Name, UserOrganisation: u.Organisation, Moving: true, Giving: c.Organisation, Collection: true})
		}
	}
	if c.ID == "" {
		if c.Title == "" {
			return Collection{}, invalid("title", "required")
		}
		id, err := freeID(ctx, Slugify(c.Title), func(ctx context.Context, id string) error {
			_, err := s.colls.GetCollection(ctx, id)
			return err
		})
		if err != nil {
			return Collection{}, err
		}
		c.ID = id
	}
	if err := c.Validate(); err != nil {
		return Collection{}, err
	}
	if c.Organisation != "" {
		o, err := s.lookupOrganisation(ctx, "organisation", c.Organisation)
		if err != nil {
			return Collection{}, err
		}
		c.OrganisationName = o.Name
	}
	if err := s.checkItems(ctx, c.Items); err != nil {
		return Collection{}, err
	}
	now := s.now().UTC()
	c.Created, c.Updated = now, now
	if err := s.colls.CreateCollection(ctx, c); err != nil {
		if errors.Is(err, ErrConflict) {
			return Collection{}, fmt.Errorf("collection %q already exists: %w", c.ID, ErrConflict)
		}
		return Collection{}, err
	}
	s.changed()
	return c, nil
}

// GetCollection returns a collection.
func (s *Service) GetCollection(ctx context.Context, id string) (Collection, error) {
	if err := s.needCollections(); err != nil {
		return Collection{}, err
	}
	if ValidateID(id) != nil {
		return Collection{}, fmt.Errorf("collection %q: %w", truncate(id, 80), ErrNotFound)
	}
	return s.colls.GetCollection(ctx, id)
}

// ListCollections returns a page of collections, newest first, and how
// many the query selects.
func (s *Service) ListCollections(ctx context.Context, q ListCollectionsQuery) ([]Collection, int, error) {
	if err := s.needCollections(); err != nil {
		return nil, 0, err
	}
	switch q.Origin {
	case "", "local", "remote":
	default:
		return nil, 0, invalid("origin", "use local, remote or nothing (got %q)", truncate(q.Origin, 40))
	}
	if q.Organisation != "" {
		if err := ValidateOrganisationSlug("organisation", q.Organisation); err != nil {
			return nil, 0, err
		}
	}
	if q.Offset < 0 {
		return nil, 0, invalid("offset", "must be 0 or more")
	}
	if q.Limit <= 0 || q.Limit > maxCollectionsPage {
		q.Limit = defaultCollectionsPage
	}
	return s.colls.ListCollections(ctx, q)
}

// UpdateCollection changes a local collection.
func (s *Service) UpdateCollection(ctx context.Context, id string, p CollectionPatch) (Collection, error) {
	if err := s.needCollections(); err != nil {
		return Collection{}, err
	}
	if ValidateID(id) != nil {
		return Collection{}, fmt.Errorf("collection %q: %w", truncate(id, 80), ErrNotFound)
	}
	var orgName string
	if p.Organisation != nil && strings.TrimSpace(*p.Organisation) != "" {
		o, err := s.lookupOrganisation(ctx, "organisation", strings.TrimSpace(*p.Organisation))
		if err != nil {
			return Collection{}, err
		}
		orgName = o.Name
	}
	if p.Items != nil {
		// Checked before the transaction for a message naming the item;
		// the catalog checks again in it.
		items := append([]CollectionItem(nil), (*p.Items)...)
		probe := Collection{ID: id, Title: "x", Items: items}
		probe.Normalize()
		if err := probe.Validate(); err != nil {
			return Collection{}, err
		}
		if err := s.checkItems(ctx, probe.Items); err != nil {
			return Collection{}, err
		}
	}
	c, err := s.colls.UpdateCollection(ctx, id, func(c *Collection) error {
		if !c.Local() {
			return fmt.Errorf("collection %q comes from another hub and is edited there: %w", id, ErrForbidden)
		}
		if err := checkCollectionOwner(ctx, *c); err != nil {
			return err
		}
		was := c.Organisation
		if p.Title != nil {
			c.Title = *p.Title
		}
		if p.Summary != nil {
			c.Summary = *p.Summary
		}
		if p.Description != nil {
			c.Description = *p.Description
		}
		if p.Items != nil {
			c.Items = append([]CollectionItem(nil), (*p.Items)...)
		}
		if p.Organisation != nil {
			c.Organisation = strings.TrimSpace(*p.Organisation)
			c.OrganisationName = orgName
		}
		if u, ok := ActorFrom(ctx); ok && u.Role != RoleAdmin && c.Organisation != was {
			return &OwnerError{User: u.Name, UserOrganisation: u.Organisation, Moving: true, Giving: c.Organisation, Collection: true}
		}
		c.Hub = s.hub
		c.Normalize()
		if err := c.Validate(); err != nil {
			return err
		}
		c.Updated = s.now().UTC()
		return nil
	})
	if err != nil {
		return Collection{}, s.nameOwner(ctx, err)
	}
	s.changed()
	return c, nil
}

// DeleteCollection removes a local collection (never its resources). A
// copy from another hub is removed by its origin's Delete.
func (s *Service) DeleteCollection(ctx context.Context, id string) error {
	if err := s.needCollections(); err != nil {
		return err
	}
	if ValidateID(id) != nil {
		return fmt.Errorf("collection %q: %w", truncate(id, 80), ErrNotFound)
	}
	cur, err := s.colls.GetCollection(ctx, id)
	if err != nil {
		return err
	}
	if !cur.Local() {
		return fmt.Errorf("collection %q comes from another hub and is deleted there: %w", id, ErrForbidden)
	}
	if err := checkCollectionOwner(ctx, cur); err != nil {
		return s.nameOwner(ctx, err)
	}
	if _, err := s.colls.DeleteCollection(ctx, id); err != nil {
		return err
	}
	s.changed()
	return nil
}

// CollectionsWith returns the ids of the collections that list a
// resource.
func (s *Service) CollectionsWith(ctx context.Context, resourceID string) ([]string, error) {
	if err := s.needCollections(); err != nil {
		return nil, err
	}
	return s.colls.CollectionsWith(ctx, resourceID)
}

// SaveRemoteCollection stores or replaces the copy of a peer's collection,
// whose items federation has already resolved to resources of this node
// (Items) or listed as Unavailable. Its local id comes from the origin's
// object id (RemoteID), so the same collection always gets the same id. A
// copy older than the stored one is refused (ErrConflict).
func (s *Service) SaveRemoteCollection(ctx context.Context, c Collection) (Collection, error) {
	if err := s.needCollections(); err != nil {
		return Collection{}, err
	}
	if c.Origin == "" {
		return Collection{}, invalid("origin", "a remote collection needs the origin's object id")
	}
	c.Normalize()
	c.Organisation, c.CreatedBy = "", ""
	slug := c.ID
	if slug == "" {
		slug = c.Title
	}
	c.ID = RemoteID(c.Origin, slug)
	if err := c.Validate(); err != nil {
		return Collection{}, fmt.Errorf("remote collection %s: %w", truncate(c.Origin, 200), err)
	}
	if err := s.checkItems(ctx, c.Items); err != nil {
		return Collection{}, fmt.Errorf("remote collection %s: %w", truncate(c.Origin, 200), err)
	}
	now := s.now().UTC()
	c.Created = now
	if c.Updated.IsZero() {
		c.Updated = now
	}
	saved, err := s.colls.PutRemoteCollection(ctx, c, func(old *Collection) error {
		if old == nil {
			return nil
		}
		if old.Updated.After(c.Updated) {
			return fmt.Errorf("collection %q: this copy (%s) is older than the stored one (%s): %w",
				old.ID, c.Updated.Format(time.RFC3339), old.Updated.Format(time.RFC3339), ErrConflict)
		}
		return nil
	})
	if err != nil {
		return Collection{}, err
	}
	s.changed()
	return saved, nil
}

// DeleteRemoteCollection removes the copy of the peer's collection with
// that origin object id. An unknown origin is not an error.
func (s *Service) DeleteRemoteCollection(ctx context.Context, origin string) error {
	if s.colls == nil {
		return nil // nothing was ever stored
	}
	c, err := s.colls.CollectionByOrigin(ctx, origin)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := s.colls.DeleteCollection(ctx, c.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	s.changed()
	return nil
}

// CollectionByOrigin returns the copy of a peer's collection.
func (s *Service) CollectionByOrigin(ctx context.Context, origin string) (Collection, error) {
	if err := s.needCollections(); err != nil {
		return Collection{}, err
	}
	return s.colls.CollectionByOrigin(ctx, origin)
}

// deleteRemoteCollectionsFrom removes the copies of the collections whose
// origin starts with originPrefix (a hub unfollowed, blocked or gone).
func (s *Service) deleteRemoteCollectionsFrom(ctx context.Context, originPrefix string) error {
	if s.colls == nil {
		return nil
	}
	var gone []string
	for offset := 0; ; offset += maxCollectionsPage {
		page, total, err := s.colls.ListCollections(ctx, ListCollectionsQuery{Origin: "remote", Offset: offset, Limit: maxCollectionsPage})
		if err != nil {
			return err
		}
		for _, c := range page {
			if strings.HasPrefix(c.Origin, originPrefix) {
				gone = append(gone, c.Origin)
			}
		}
		if len(page) == 0 || offset+len(page) >= total {
			break
		}
	}
	for _, origin := range gone {
		if err := s.DeleteRemoteCollection(ctx, origin); err != nil {
			return err
		}
	}
	return nil
}

// organisationHasNoCollections refuses to remove an organisation that
// still owns collections, with their count.
func (s *Service) organisationHasNoCollections(ctx context.Context, slug string) error {
	if s.colls == nil {
		return nil
	}
	_, n, err := s.colls.ListCollections(ctx, ListCollectionsQuery{Organisation: slug, Limit: 1})
	if err != nil {
		return fmt.Errorf("remove organisation %q: %w", slug, err)
	}
	if n > 0 {
		return fmt.Errorf("organisation %q still owns %d collection(s); give them to another organisation or delete them first: %w", slug, n, ErrConflict)
	}
	return nil
}
