package node

import (
	"context"
	"fmt"
	"time"
)

// Sharing a copy: an editor passes a resource received from another hub on
// to this hub's followers (federation sends an Announce of the origin's
// object id). Only copies are shared: this hub's own resources already go
// to its followers.

// Share is a copy this hub announced to its followers.
type Share struct {
	// Resource is the copy's local id; Object the origin's object id;
	// Activity the id of the Announce sent.
	Resource string    `json:"resource"`
	Object   string    `json:"object"`
	Activity string    `json:"activity"`
	Shared   time.Time `json:"shared"`
}

// Sharer announces copies to this hub's followers and takes them back
// (federation implements it).
type Sharer interface {
	// Share announces r (a copy) once: a second call returns the first
	// share.
	Share(ctx context.Context, r Resource) (Share, error)
	// Unshare sends the undo of r's share; ErrNotFound when r is not
	// shared.
	Unshare(ctx context.Context, r Resource) (Share, error)
	// Shared returns r's share, ErrNotFound when r is not shared.
	Shared(ctx context.Context, r Resource) (Share, error)
}

// SetSharer sets what announces shared copies (federation); call it before
// serving. Without one, sharing is refused: the hub does not federate.
func (s *Service) SetSharer(sh Sharer) { s.sharer = sh }

// CanShare reports whether sharing is possible at all on this node.
func (s *Service) CanShare() bool { return s.sharer != nil }

// shareTarget checks that the actor in ctx (editor or admin) may share the
// resource id, and that it is a copy.
func (s *Service) shareTarget(ctx context.Context, id string) (Resource, error) {
	if u, ok := ActorFrom(ctx); ok && !CanEdit(u) {
		return Resource{}, fmt.Errorf("user %q may not share: role %q, editor or admin needed: %w", u.Name, u.Role, ErrForbidden)
	}
	r, err := s.Get(ctx, id)
	if err != nil {
		return Resource{}, err
	}
	if r.Local() {
		return Resource{}, fmt.Errorf("resource %q is this hub's own: its followers already receive it; only a copy received from another hub can be shared: %w", r.ID, ErrConflict)
	}
	if s.sharer == nil {
		return Resource{}, fmt.Errorf("this hub does not federate (no https public URL), so it has no followers to share with: %w", ErrConflict)
	}
	return r, nil
}

// ShareResource announces the copy id to this hub's followers; sharing it
// again returns the same share.
func (s *Service) ShareResource(ctx context.Context, id string) (Share, error) {
	r, err := s.shareTarget(ctx, id)
	if err != nil {
		return Share{}, err
	}
	return s.sharer.Share(ctx, r)
}

// UnshareResource takes back the share of the copy id (an Undo of the
// Announce).
func (s *Service) UnshareResource(ctx context.Context, id string) (Share, error) {
	r, err := s.shareTarget(ctx, id)
	if err != nil {
		return Share{}, err
	}
	return s.sharer.Unshare(ctx, r)
}

// SharedResource returns the share of the copy id, ErrNotFound when it is
// not shared (or not a copy, or sharing is off).
func (s *Service) SharedResource(ctx context.Context, r Resource) (Share, error) {
	if r.Local() || s.sharer == nil {
		return Share{}, fmt.Errorf("resource %q is not shared: %w", r.ID, ErrNotFound)
	}
	return s.sharer.Shared(ctx, r)
}
