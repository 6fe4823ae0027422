package node

import (
	"context"
	"fmt"
)

// Sharing a collection copy: like a resource copy (share.go), an editor
// passes a collection received from another hub on to this hub's
// followers; federation announces the origin's object id.

// CollectionSharer is what a Sharer also implements to share collection
// copies (federation does); without it, collection shares are refused.
type CollectionSharer interface {
	// ShareCollection announces c (a copy) once: a second call returns the
	// first share.
	ShareCollection(ctx context.Context, c Collection) (Share, error)
	// UnshareCollection sends the undo of c's share; ErrNotFound when c is
	// not shared.
	UnshareCollection(ctx context.Context, c Collection) (Share, error)
	// SharedCollection returns c's share, ErrNotFound when c is not shared.
	SharedCollection(ctx context.Context, c Collection) (Share, error)
}

func (s *Service) collectionSharer() (CollectionSharer, bool) {
	cs, ok := s.sharer.(CollectionSharer)
	return cs, ok
}

// CanShareCollections reports whether collection copies can be shared on
// this node.
func (s *Service) CanShareCollections() bool {
	_, ok := s.collectionSharer()
	return ok && s.colls != nil
}

// collectionShareTarget checks that the actor in ctx (editor or admin) may
// share the collection id, and that it is a copy.
func (s *Service) collectionShareTarget(ctx context.Context, id string) (Collection, CollectionSharer, error) {
	if u, ok := ActorFrom(ctx); ok && !CanEdit(u) {
		return Collection{}, nil, fmt.Errorf("user %q may not share: role %q, editor or admin needed: %w", u.Name, u.Role, ErrForbidden)
	}
	c, err := s.GetCollection(ctx, id)
	if err != nil {
		return Collection{}, nil, err
	}
	if c.Local() {
		return Collection{}, nil, fmt.Errorf("collection %q is this hub's own: its followers already receive it; only a copy received from another hub can be shared: %w", c.ID, ErrConflict)
	}
	cs, ok := s.collectionSharer()
	if !ok {
		return Collection{}, nil, fmt.Errorf("this hub does not federate (no https public URL), so it has no followers to share with: %w", ErrConflict)
	}
	return c, cs, nil
}

// ShareCollection announces the collection copy id to this hub's
// followers; sharing it again returns the same share.
func (s *Service) ShareCollection(ctx context.Context, id string) (Share, error) {
	c, cs, err := s.collectionShareTarget(ctx, id)
	if err != nil {
		return Share{}, err
	}
	return cs.ShareCollection(ctx, c)
}

// UnshareCollection takes back the share of the collection copy id.
func (s *Service) UnshareCollection(ctx context.Context, id string) (Share, error) {
	c, cs, err := s.collectionShareTarget(ctx, id)
	if err != nil {
		return Share{}, err
	}
	return cs.UnshareCollection(ctx, c)
}

// SharedCollection returns the share of the collection copy c,
// ErrNotFound when it is not shared (or not a copy, or sharing is off).
func (s *Service) SharedCollection(ctx context.Context, c Collection) (Share, error) {
	cs, ok := s.collectionSharer()
	if c.Local() || !ok {
		return Share{}, fmt.Errorf("collection %q is not shared: %w", c.ID, ErrNotFound)
	}
	return cs.SharedCollection(ctx, c)
}
