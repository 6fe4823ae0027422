package node

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Organisation is a member organisation of the hub (an association, a
// social centre, a library, a tiers-lieu): it owns the resources its
// editors publish.
type Organisation struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
	// URL is the organisation's own web site.
	URL string `json:"url,omitempty"`
	// Description is plain text shown on the organisation's page.
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created"`
}

// Limits on an organisation's text, also applied to what peers send.
const (
	MinOrgSlugLen      = 2
	MaxOrgSlugLen      = 64
	MaxOrgNameLen      = 200
	maxOrgURLLen       = 500
	maxOrgDescription  = 5000
	maxOrgsInAnError   = 20
	orgSlugRuleMessage = "must be 2 to 64 lowercase letters, digits and single hyphens, like centre-social-tilleuls"
)

// Organisations stores the hub's member organisations. Implementation:
// storage/catalog, whose resource writes also refuse (in the same
// transaction) a local resource naming an organisation that does not exist.
type Organisations interface {
	AddOrganisation(ctx context.Context, o Organisation) error // ErrConflict when the slug exists
	GetOrganisation(ctx context.Context, slug string) (Organisation, error)
	ListOrganisations(ctx context.Context) ([]Organisation, error)
	// RemoveOrganisation deletes the organisation unless resources or users
	// still name it: then nothing changes and it returns their counts.
	RemoveOrganisation(ctx context.Context, slug string) (resources, users int, err error)
	// SetUserOrganisation attaches a user to an existing organisation
	// ("" detaches).
	SetUserOrganisation(ctx context.Context, user, slug string) error
	// OrganisationResources returns the ids of the organisation's
	// resources, newest first, at most limit, and their total.
	OrganisationResources(ctx context.Context, slug string, limit int) ([]string, int, error)
}

// ValidateOrganisationSlug checks an organisation slug; field names the
// input it came from in the error.
func ValidateOrganisationSlug(field, slug string) error {
	if slug == "" {
		return invalid(field, "required")
	}
	if len(slug) < MinOrgSlugLen || len(slug) > MaxOrgSlugLen || !slugRe.MatchString(slug) {
		return invalid(field, "%s (got %q)", orgSlugRuleMessage, truncate(slug, 80))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Normalize trims the organisation's text.
func (o *Organisation) Normalize() {
	o.Slug = strings.TrimSpace(o.Slug)
	o.Name = strings.TrimSpace(o.Name)
	o.URL = strings.TrimSpace(o.URL)
	o.Description = strings.TrimSpace(o.Description)
}

// Validate checks an organisation before it is stored.
func (o *Organisation) Validate() error {
	if err := ValidateOrganisationSlug("slug", o.Slug); err != nil {
		return err
	}
	if err := checkText("name", o.Name, 1, MaxOrgNameLen); err != nil {
		return err
	}
	if strings.ContainsAny(o.Name, "\n\r\t") {
		return invalid("name", "must be one line")
	}
	if err := checkText("description", o.Description, 0, maxOrgDescription); err != nil {
		return err
	}
	if o.URL != "" {
		if err := checkWebURL("url", o.URL); err != nil {
			return err
		}
	}
	return nil
}

// checkWebURL accepts an absolute http or https URL of bounded length.
func checkWebURL(field, v string) error {
	if len(v) > maxOrgURLLen {
		return invalid(field, "must be at most %d characters", maxOrgURLLen)
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return invalid(field, "must be a web address starting with https:// or http:// (got %q)", truncate(v, 80))
	}
	return nil
}

// ValidateRemoteOrganisation checks the organisation a peer names for its
// resource: a one-line name of bounded length and, when given, the URL of
// its page on the peer's own host (never a link elsewhere wearing the
// peer's credit). A resource without organisation passes.
func ValidateRemoteOrganisation(name, pageURL, peerHost string) error {
	if name == "" && pageURL == "" {
		return nil
	}
	if err := checkText("organisation name", name, 1, MaxOrgNameLen); err != nil {
		return err
	}
	if strings.ContainsAny(name, "\n\r\t") {
		return invalid("organisation name", "must be one line")
	}
	if pageURL == "" {
		return nil
	}
	if err := checkWebURL("organisation url", pageURL); err != nil {
		return err
	}
	u, _ := url.Parse(pageURL)
	if !strings.EqualFold(u.Host, peerHost) {
		return invalid("organisation url", "must be on the origin hub's host %s (got %s)", peerHost, u.Host)
	}
	return nil
}

func (s *Service) needOrgs() error {
	if s.orgs == nil {
		return fmt.Errorf("this node keeps no organisations: %w", ErrUnavailable)
	}
	return nil
}

// AddOrganisation creates a member organisation.
func (s *Service) AddOrganisation(ctx context.Context, o Organisation) (Organisation, error) {
	if err := s.needOrgs(); err != nil {
		return Organisation{}, err
	}
	o.Normalize()
	if err := o.Validate(); err != nil {
		return Organisation{}, err
	}
	o.Created = s.now().UTC()
	if err := s.orgs.AddOrganisation(ctx, o); err != nil {
		if errors.Is(err, ErrConflict) {
			return Organisation{}, fmt.Errorf("organisation %q already exists: %w", o.Slug, ErrConflict)
		}
		return Organisation{}, fmt.Errorf("add organisation %q: %w", o.Slug, err)
	}
	return o, nil
}

// Organisation returns one organisation.
func (s *Service) Organisation(ctx context.Context, slug string) (Organisation, error) {
	if err := s.needOrgs(); err != nil {
		return Organisation{}, err
	}
	if ValidateOrganisationSlug("slug", slug) != nil {
		return Organisation{}, fmt.Errorf("organisation %q: %w", truncate(slug, 80), ErrNotFound)
	}
	return s.orgs.GetOrganisation(ctx, slug)
}

// Organisations lists the hub's organisations sorted by slug.
func (s *Service) Organisations(ctx context.Context) ([]Organisation, error) {
	if err := s.needOrgs(); err != nil {
		return nil, err
	}
	return s.orgs.ListOrganisations(ctx)
}

// OrganisationResources returns up to limit of the organisation's
// resources, newest first, and how many it owns.
func (s *Service) OrganisationResources(ctx context.Context, slug string, limit int) ([]Resource, int, error) {
	if err := s.needOrgs(); err != nil {
		return nil, 0, err
	}
	ids, total, err := s.orgs.OrganisationResources(ctx, slug, limit)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Resource, 0, len(ids))
	for _, id := range ids {
		r, err := s.catalog.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	return out, total, nil
}

// RemoveOrganisation deletes an organisation that owns nothing any more.
func (s *Service) RemoveOrganisation(ctx context.Context, slug string) error {
	if _, err := s.Organisation(ctx, slug); err != nil {
		return err
	}
	if err := s.organisationHasNoCollections(ctx, slug); err != nil {
		return err
	}
	res, users, err := s.orgs.RemoveOrganisation(ctx, slug)
	if err != nil {
		return fmt.Errorf("remove organisation %q: %w", slug, err)
	}
	if res > 0 || users > 0 {
		return fmt.Errorf("organisation %q still owns %d resource(s) and has %d user(s); give the resources to another organisation (communs resource set ID --org SLUG) or delete them, and detach the users (communs user set NAME --org \"\") first: %w",
			slug, res, users, ErrConflict)
	}
	return nil
}

// SetUserOrganisation attaches a user to one organisation, or detaches
// them with "".
func (s *Service) SetUserOrganisation(ctx context.Context, name, slug string) error {
	if err := s.needOrgs(); err != nil {
		return err
	}
	slug = strings.TrimSpace(slug)
	if slug != "" {
		if err := s.checkOrganisation(ctx, "organisation", slug); err != nil {
			return err
		}
	}
	if err := s.orgs.SetUserOrganisation(ctx, name, slug); err != nil {
		return fmt.Errorf("user %q: %w", name, err)
	}
	return nil
}

// checkOrganisation refuses a slug that names no organisation of this
// hub, listing those that exist.
func (s *Service) checkOrganisation(ctx context.Context, field, slug string) error {
	_, err := s.lookupOrganisation(ctx, field, slug)
	return err
}

// lookupOrganisation is checkOrganisation returning the organisation.
func (s *Service) lookupOrganisation(ctx context.Context, field, slug string) (Organisation, error) {
	if err := ValidateOrganisationSlug(field, slug); err != nil {
		return Organisation{}, err
	}
	if s.orgs == nil {
		return Organisation{}, invalid(field, "this node keeps no organisations (got %q)", slug)
	}
	o, err := s.orgs.GetOrganisation(ctx, slug)
	if err == nil {
		return o, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Organisation{}, err
	}
	return Organisation{}, s.unknownOrganisation(ctx, field, slug)
}

func (s *Service) unknownOrganisation(ctx context.Context, field, slug string) error {
	all, _ := s.orgs.ListOrganisations(ctx)
	var known []string
	for _, o := range all {
		if len(known) == maxOrgsInAnError {
			known = append(known, "…")
			break
		}
		known = append(known, o.Slug)
	}
	if len(known) == 0 {
		return invalid(field, "unknown organisation %q: this hub has none yet (communs org add SLUG --name NAME)", slug)
	}
	return invalid(field, "unknown organisation %q; this hub's organisations: %s", slug, strings.Join(known, ", "))
}

type actorKey struct{}

// WithActor marks ctx as acting for user u: the Service's writes then
// apply the ownership rules (CanChange) for u. Every edge acting for an
// account (API, editor forms) sets it; a context without actor is the
// node's operator (CLI on the data folder, kit import, federation), who
// may change everything.
func WithActor(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, actorKey{}, u)
}

// ActorFrom returns the user a context acts for.
func ActorFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(actorKey{}).(User)
	return u, ok
}

// OwnerError refuses a change to a resource the user does not own. It
// names the owner, so the editor knows whom to ask.
type OwnerError struct {
	User, UserOrganisation string
	Resource               string
	// Organisation owns the resource; OrganisationName is filled when known.
	Organisation, OrganisationName string
	// CreatedBy published it, for a resource without organisation.
	CreatedBy string
	// Moving is set when the user tried to publish for, or give a
	// resource to, another organisation than their own: Giving (""
	// for none).
	Moving bool
	Giving string
	// Collection is set when the refused change is to a collection
	// (Resource then holds its id).
	Collection bool
}

func (e *OwnerError) noun() string {
	if e.Collection {
		return "collection"
	}
	return "resource"
}

func (e *OwnerError) owner() string {
	if e.OrganisationName != "" {
		return fmt.Sprintf("the organisation %s (%s)", e.OrganisationName, e.Organisation)
	}
	return fmt.Sprintf("the organisation %s", e.Organisation)
}

func (e *OwnerError) who() string {
	if e.UserOrganisation == "" {
		return fmt.Sprintf("user %s belongs to no organisation", e.User)
	}
	return fmt.Sprintf("user %s is an editor of %s", e.User, e.UserOrganisation)
}

func (e *OwnerError) Error() string {
	switch {
	case e.Moving && e.Giving == "":
		return fmt.Sprintf("%s and may not take a %s away from its organisation; only an admin may: %s", e.who(), e.noun(), ErrForbidden)
	case e.Moving:
		return fmt.Sprintf("%s and may not publish for the organisation %s; only an admin may: %s", e.who(), e.Giving, ErrForbidden)
	case e.Organisation != "":
		return fmt.Sprintf("%s %s belongs to %s; %s, so only an editor of %s or an admin may change it: %s",
			e.noun(), e.Resource, e.owner(), e.who(), e.Organisation, ErrForbidden)
	case e.CreatedBy != "":
		return fmt.Sprintf("%s %s has no organisation and was published by user %s; only they or an admin may change it: %s",
			e.noun(), e.Resource, e.CreatedBy, ErrForbidden)
	default:
		if e.Collection {
			return fmt.Sprintf("collection %s has no organisation yet; only an admin may change it: %s", e.Resource, ErrForbidden)
		}
		return fmt.Sprintf("resource %s has no organisation yet; only an admin may change it (communs resource set %s --org SLUG gives it one): %s",
			e.Resource, e.Resource, ErrForbidden)
	}
}

// Is makes an OwnerError match ErrForbidden.
func (e *OwnerError) Is(target error) bool { return target == ErrForbidden }

// CanChange says whether u may change or delete r: admins change
// everything; an editor changes the resources of their organisation, and
// those without organisation that their own account published.
func CanChange(u User, r Resource) error {
	switch {
	case u.Role == RoleAdmin:
		return nil
	case u.Role != RoleEditor:
		return fmt.Errorf("user %q may not publish: role %q, editor or admin needed: %w", u.Name, u.Role, ErrForbidden)
	case r.Organisation != "" && r.Organisation == u.Organisation:
		return nil
	case r.Organisation == "" && r.CreatedBy != "" && r.CreatedBy == u.Name:
		return nil
	}
	return &OwnerError{User: u.Name, UserOrganisation: u.Organisation, Resource: r.ID, Organisation: r.Organisation, CreatedBy: r.CreatedBy}
}

// checkOwner applies CanChange for the context's actor, if any.
func checkOwner(ctx context.Context, r Resource) error {
	u, ok := ActorFrom(ctx)
	if !ok {
		return nil
	}
	return CanChange(u, r)
}

// CheckOwner says whether the context's actor may change r, naming the
// owner when not (edit pages check it before showing a form).
func (s *Service) CheckOwner(ctx context.Context, r Resource) error {
	return s.nameOwner(ctx, checkOwner(ctx, r))
}

// nameOwner fills an OwnerError's organisation name, read outside the
// catalog transaction that refused the change.
func (s *Service) nameOwner(ctx context.Context, err error) error {
	var oe *OwnerError
	if s.orgs == nil || !errors.As(err, &oe) || oe.Organisation == "" || oe.OrganisationName != "" {
		return err
	}
	if o, gerr := s.orgs.GetOrganisation(ctx, oe.Organisation); gerr == nil {
		cp := *oe
		cp.OrganisationName = o.Name
		return &cp
	}
	return err
}

// assignOrganisation settles who owns a resource being published, before
// it is stored: old is the stored version when it is replaced.
func (s *Service) assignOrganisation(ctx context.Context, r *Resource, old *Resource) error {
	u, acting := ActorFrom(ctx)
	if old != nil {
		if acting {
			if err := CanChange(u, *old); err != nil {
				return err
			}
		}
		r.CreatedBy = old.CreatedBy
		if r.Organisation == "" {
			r.Organisation = old.Organisation // a kit re-imported without one keeps its owner
		}
	}
	if acting {
		if r.CreatedBy == "" {
			r.CreatedBy = u.Name
		}
		if r.Organisation == "" {
			r.Organisation = u.Organisation
		}
		if u.Role != RoleAdmin && r.Organisation != u.Organisation {
			return &OwnerError{User: u.Name, UserOrganisation: u.Organisation, Moving: true, Giving: r.Organisation}
		}
	}
	r.OrganisationName = ""
	if r.Organisation != "" {
		// The name travels with the resource (federation, pages of
		// copies); organisations are not renamed, so it stays true.
		o, err := s.lookupOrganisation(ctx, "organisation", r.Organisation)
		if err != nil {
			return err
		}
		r.OrganisationName = o.Name
	}
	return nil
}
