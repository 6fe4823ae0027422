package node

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Adaptations: an editor adapts a kit (local, or a copy from another hub)
// into a new local resource of their organisation, with the same metadata
// and files and the attribution chain in BasedOn. The source's licence
// decides (adaptlicence.go): NoDerivatives refuses, ShareAlike and
// NonCommercial bind the adaptation's licence for good. The hub of the
// source learns of it through federation and lists it (Adaptation).

// Source is one link of an adaptation's attribution chain.
type Source struct {
	// URL is the source's page (its ActivityPub object id).
	URL     string   `json:"url"`
	Title   string   `json:"title"`
	Hub     string   `json:"hub"`
	Authors []string `json:"authors,omitempty"`
	License string   `json:"license"`
}

// MaxBasedOn bounds an attribution chain (a hostile peer's object, or an
// adaptation of an adaptation of ... ).
const MaxBasedOn = 20

// validateSources checks an attribution chain's bounds.
func validateSources(chain []Source) error {
	if len(chain) > MaxBasedOn {
		return invalid("based_on", "at most %d sources in an attribution chain (got %d)", MaxBasedOn, len(chain))
	}
	for _, s := range chain {
		if err := checkSourceURL("based_on", s.URL); err != nil {
			return err
		}
		if err := checkLine("based_on title", s.Title, 1, maxTitleLen); err != nil {
			return err
		}
		if err := checkLine("based_on hub", s.Hub, 0, 100); err != nil {
			return err
		}
		if len(s.Authors) > maxAuthors {
			return invalid("based_on authors", "at most %d authors", maxAuthors)
		}
		for _, a := range s.Authors {
			if err := checkLine("based_on authors", a, 1, 200); err != nil {
				return err
			}
		}
		if err := checkLine("based_on license", s.License, 1, 64); err != nil {
			return err
		}
	}
	return nil
}

// checkLine is checkText for one line: no line break either.
func checkLine(field, v string, min, max int) error {
	if err := checkText(field, v, min, max); err != nil {
		return err
	}
	if strings.ContainsFunc(v, unicode.IsControl) {
		return invalid(field, "must be one line")
	}
	return nil
}

func checkSourceURL(field, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(v) > 2000 || u.User != nil {
		return invalid(field, "url must be an absolute http(s) URL of at most 2000 bytes (got %q)", truncate(v, 80))
	}
	return nil
}

// AdaptOptions are an adaptation's choices.
type AdaptOptions struct {
	// Title of the adaptation; empty keeps the source's.
	Title string
	// SourceURL is the public page of a local source (the edge builds it
	// from the node's public URL); a copy's is its origin's object id.
	SourceURL string
	// Organisation owns the adaptation when no account acts (the CLI);
	// an acting editor's adaptation is their organisation's.
	Organisation string
}

// SetFileFetcher sets how files a copy only links to are fetched from
// their origin (the federation's client and its address guard); without
// it such a copy cannot be adapted.
func (s *Service) SetFileFetcher(fn Fetch) { s.fetch = fn }

// Adapt creates a new local resource adapted from the resource id: same
// metadata and files, the attribution chain of the source followed by the
// source itself. Files this node stores are shared (content-addressed);
// a file only linked to is fetched from its origin and verified against
// its announced digest. A failure stores nothing.
func (s *Service) Adapt(ctx context.Context, id string, opt AdaptOptions) (Resource, error) {
	if u, ok := ActorFrom(ctx); ok && u.Role != RoleAdmin && u.Role != RoleEditor {
		return Resource{}, fmt.Errorf("user %q may not publish: role %q, editor or admin needed: %w", u.Name, u.Role, ErrForbidden)
	}
	src, err := s.Get(ctx, id)
	if err != nil {
		return Resource{}, err
	}
	if err := CheckAdaptable(src.License); err != nil {
		return Resource{}, err
	}
	srcURL := src.Origin
	if src.Local() {
		srcURL = opt.SourceURL
	}
	if err := checkSourceURL("source", srcURL); err != nil {
		return Resource{}, fmt.Errorf("adapt %s: the source's public URL is unknown: %w", id, err)
	}
	link := Source{URL: srcURL, Title: src.Title, Hub: src.Hub, Authors: slices.Clone(src.Authors), License: src.License}
	if len(link.Authors) == 0 && src.OrganisationName != "" {
		link.Authors = []string{src.OrganisationName}
	}
	chain := append(slices.Clone(src.BasedOn), link)
	if len(chain) > MaxBasedOn {
		return Resource{}, fmt.Errorf("adapt %s: its attribution chain already has %d sources, the most this node keeps: %w", id, len(src.BasedOn), ErrConflict)
	}
	r := Resource{Metadata: src.Metadata, BasedOn: chain}
	r.Themes, r.Audience, r.Authors = slices.Clone(src.Themes), slices.Clone(src.Audience), slices.Clone(src.Authors)
	r.Organisation = strings.TrimSpace(opt.Organisation)
	if _, acting := ActorFrom(ctx); acting {
		r.Organisation = "" // the editor's own (assignOrganisation)
	}
	r.Published = ""
	if t := strings.TrimSpace(opt.Title); t != "" {
		r.Title = t
	}
	if err := s.prepare(ctx, &r); err != nil {
		return Resource{}, err
	}
	if err := checkChainLicence(r.BasedOn, r.License); err != nil {
		return Resource{}, err
	}
	if err := s.assignOrganisation(ctx, &r, nil); err != nil {
		return Resource{}, s.nameOwner(ctx, err)
	}
	now := s.now().UTC()
	r.Created, r.Updated = now, now
	var stored, held []string
	for _, f := range src.Files {
		nf := File{Name: f.Name, MediaType: f.MediaType, Size: f.Size, SHA256: f.SHA256, Added: now}
		if nf.SHA256 == "" {
			nf, err = s.fetchForAdaptation(ctx, src, f, now)
			if err != nil {
				s.dropUnreferenced(ctx, stored)
				return Resource{}, err
			}
			stored = append(stored, nf.SHA256)
		} else {
			held = append(held, nf.SHA256)
		}
		if err := addFile(&r, nf); err != nil {
			s.dropUnreferenced(ctx, stored)
			return Resource{}, err
		}
	}
	err = s.withDigests(ctx, append(slices.Clone(stored), held...), func() error {
		return s.catalog.Create(ctx, r)
	})
	if err != nil {
		s.dropUnreferenced(ctx, stored)
		return Resource{}, err
	}
	s.changed()
	if src.Local() {
		s.listLocalAdaptation(ctx, src, srcURL, r)
	}
	return r, nil
}

// localAdaptationURL is the page of adaptation id when its source, this
// node's resource srcID, is at srcURL: both are this node's /r/{id}
// pages. "" when srcURL does not end with the source's id.
func localAdaptationURL(srcURL, srcID, id string) string {
	prefix, ok := strings.CutSuffix(srcURL, "/"+srcID)
	if !ok {
		return ""
	}
	return prefix + "/" + id
}

// listLocalAdaptation lists an adaptation of one of this node's own kits
// on its source, as a notice from another hub is: no federation notice
// is sent to this node itself. The adaptation exists whatever happens
// here, so a failure is logged, not returned.
func (s *Service) listLocalAdaptation(ctx context.Context, src Resource, srcURL string, r Resource) {
	u := localAdaptationURL(srcURL, src.ID, r.ID)
	if s.adaptations == nil || u == "" {
		return
	}
	a := Adaptation{URL: u, Title: r.Title, Hub: r.Hub, Received: s.now().UTC()}
	if err := s.adaptations.PutAdaptation(context.WithoutCancel(ctx), src.ID, a, MaxAdaptations); err != nil {
		s.log.Warn("adaptation not listed on its source", "source", src.ID, "adaptation", r.ID, "err", err)
	}
}

// unlistLocalAdaptation takes a deleted local adaptation of a local kit
// off its source's list (Actor "" marks this node's own entries).
func (s *Service) unlistLocalAdaptation(ctx context.Context, r Resource) {
	if s.adaptations == nil || len(r.BasedOn) == 0 {
		return
	}
	last := r.BasedOn[len(r.BasedOn)-1]
	srcID := last.URL[strings.LastIndexByte(last.URL, '/')+1:]
	u := localAdaptationURL(last.URL, srcID, r.ID)
	if u == "" || ValidateID(srcID) != nil {
		return
	}
	if src, err := s.catalog.Get(ctx, srcID); err != nil || !src.Local() {
		return // not adapted from this node's kit, or that kit is gone with its list
	}
	if err := s.adaptations.DeleteAdaptation(context.WithoutCancel(ctx), u, ""); err != nil {
		s.log.Warn("deleted adaptation still listed on its source", "adaptation", r.ID, "err", err)
	}
}

// fetchForAdaptation copies a file the node only links to, refusing bytes
// other than the origin announced.
func (s *Service) fetchForAdaptation(ctx context.Context, src Resource, f File, now time.Time) (File, error) {
	want := strings.ToLower(f.RemoteSHA256)
	switch {
	case f.RemoteURL == "":
		return File{}, fmt.Errorf("file %q of %s has neither bytes here nor an origin to fetch them from; nothing was created: %w", f.Name, src.ID, ErrConflict)
	case want == "":
		return File{}, fmt.Errorf("file %q of %s: its origin announced no sha256, so its bytes cannot be verified; nothing was created: %w", f.Name, src.ID, ErrConflict)
	case s.fetch == nil:
		return File{}, fmt.Errorf("file %q of %s lives on its origin hub and this node cannot fetch it (federation off); nothing was created: %w", f.Name, src.ID, ErrConflict)
	}
	body, err := s.fetch(ctx, f.RemoteURL)
	if err != nil {
		s.log.Warn("adaptation: file not fetched from its origin", "resource", src.ID, "url", f.RemoteURL, "err", err)
		return File{}, fmt.Errorf("file %q could not be fetched from its origin hub (%s); nothing was created, try again later: %w", f.Name, hostOfURL(f.RemoteURL), ErrConflict)
	}
	defer body.Close()
	lr := &limitReader{r: body, left: s.maxFile, err: s.tooLarge(f.Name)}
	b, err := s.putBlob(ctx, s.blobs, lr, want)
	switch {
	case errors.Is(err, ErrDigestMismatch):
		return File{}, fmt.Errorf("file %q: the bytes served by its origin do not match the sha256 it announced (%s); nothing was created: %w", f.Name, want, ErrConflict)
	case errors.Is(err, ErrTooLarge):
		return File{}, s.tooLarge(f.Name)
	case err != nil:
		s.log.Warn("adaptation: file not stored", "resource", src.ID, "url", f.RemoteURL, "err", err)
		if errors.Is(err, ErrUnavailable) {
			return File{}, err
		}
		return File{}, fmt.Errorf("file %q could not be fetched from its origin hub (%s); nothing was created, try again later: %w", f.Name, hostOfURL(f.RemoteURL), ErrConflict)
	}
	return File{Name: f.Name, MediaType: f.MediaType, Size: b.Size, SHA256: b.SHA256, Added: now}, nil
}

func hostOfURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Host
	}
	return "?"
}

// Adaptation is an adaptation another hub made of one of this node's
// resources, as its notice said (checked text).
type Adaptation struct {
	URL   string `json:"url"`
	Title string `json:"title"`
	Hub   string `json:"hub"`
	// Actor is the hub that sent the notice: only it may remove it.
	Actor    string    `json:"actor,omitempty"`
	Received time.Time `json:"received"`
}

// MaxAdaptations bounds the adaptations listed per resource, and
// MaxAdaptationsPerHub those one hub may add to it, so one hub cannot
// fill a kit's page with notices.
const (
	MaxAdaptations       = 1000
	MaxAdaptationsPerHub = 20
)

// Adaptations stores the adaptations other hubs made of local resources.
// Implementation: storage/catalog.
type Adaptations interface {
	// PutAdaptation records or refreshes a's entry (by URL) under
	// resourceID; ErrTooMany when the resource already lists max others.
	PutAdaptation(ctx context.Context, resourceID string, a Adaptation, max int) error
	// DeleteAdaptation removes the entries of url sent by actor, wherever
	// listed; none is not an error.
	DeleteAdaptation(ctx context.Context, url, actor string) error
	// ListAdaptations returns a resource's adaptations, oldest first.
	ListAdaptations(ctx context.Context, resourceID string) ([]Adaptation, error)
	// DropAdaptationsOf forgets the list of a deleted resource, so a
	// resource that later takes its id does not inherit it.
	DropAdaptationsOf(ctx context.Context, resourceID string) error
}

// ReceiveAdaptation records that another hub adapted the local resource
// id (a federated notice, already verified as signed by actor).
func (s *Service) ReceiveAdaptation(ctx context.Context, id string, a Adaptation) error {
	if s.adaptations == nil {
		return fmt.Errorf("adaptations are not kept on this node: %w", ErrUnavailable)
	}
	res, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if !res.Local() {
		return fmt.Errorf("resource %q is a copy; its origin lists its adaptations: %w", id, ErrForbidden)
	}
	a.Title, a.Hub = strings.TrimSpace(a.Title), strings.TrimSpace(a.Hub)
	if err := checkSourceURL("url", a.URL); err != nil {
		return err
	}
	if err := checkLine("title", a.Title, 1, maxTitleLen); err != nil {
		return err
	}
	if err := checkLine("hub", a.Hub, 1, 200); err != nil {
		return err
	}
	a.Received = s.now().UTC()
	return s.adaptations.PutAdaptation(ctx, id, a, MaxAdaptations)
}

// RemoveAdaptation forgets the adaptation at url, as its hub (actor) said
// (a federated Delete).
func (s *Service) RemoveAdaptation(ctx context.Context, url, actor string) error {
	if s.adaptations == nil {
		return nil
	}
	return s.adaptations.DeleteAdaptation(ctx, url, actor)
}

// dropAdaptationsOf forgets a deleted local resource's adaptations; a
// failure leaves entries no page shows until the id is reused, so it is
// logged, not returned.
func (s *Service) dropAdaptationsOf(ctx context.Context, id string) {
	if s.adaptations == nil {
		return
	}
	if err := s.adaptations.DropAdaptationsOf(context.WithoutCancel(ctx), id); err != nil {
		s.log.Warn("adaptations of a deleted resource not forgotten", "resource", id, "err", err)
	}
}

// AdaptationsOf lists the adaptations other hubs made of a resource.
func (s *Service) AdaptationsOf(ctx context.Context, id string) ([]Adaptation, error) {
	if s.adaptations == nil {
		return nil, nil
	}
	return s.adaptations.ListAdaptations(ctx, id)
}

// keepChain gives a resource replacing old (a re-publication) old's
// attribution chain, and checks its licence against it when it changed.
func keepChain(r *Resource, old Resource) error {
	r.BasedOn = old.BasedOn
	if r.License != old.License {
		return checkChainLicence(r.BasedOn, r.License)
	}
	return nil
}
