package federation

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/node"
)

// Shares of collections (issue 12 §3): an editor of hub B shares its copy
// of hub A's collection; B announces A's collection id like a resource's.
// A follower C of B fetches the collection from A (fetchShared's checks:
// id as announced, attributedTo on A's host, blocks of A and B), resolves
// its items to its own copies, fetching those on A's host from A through
// the share path (same checks, licence policy, B's mirror policy), and
// stores it credited to A, shared by B. Anything else it cannot resolve
// is listed as unavailable with its reason. The refresh worker, a 404/410
// and the last sharer's Undo treat it like a shared resource copy.

// errShareUnreachable is a shared object whose origin did not answer it.
var errShareUnreachable = errors.New("origin unreachable")

var _ node.CollectionSharer = (*Federation)(nil)

// ShareCollection announces the collection copy c to this hub's
// followers, once.
func (f *Federation) ShareCollection(ctx context.Context, c node.Collection) (node.Share, error) {
	if c.Local() || hostOf(c.Origin) == f.host {
		return node.Share{}, fmt.Errorf("collection %q is this hub's own; only a copy received from another hub can be shared: %w", c.ID, node.ErrConflict)
	}
	return f.shareObject(ctx, c.ID, c.Origin)
}

// UnshareCollection sends the Undo of c's share and forgets it.
func (f *Federation) UnshareCollection(ctx context.Context, c node.Collection) (node.Share, error) {
	return f.unshareObject(ctx, "collection", c.ID, c.Origin)
}

// SharedCollection returns c's share, node.ErrNotFound when this hub has
// not shared it.
func (f *Federation) SharedCollection(ctx context.Context, c node.Collection) (node.Share, error) {
	if c.Local() {
		return node.Share{}, fmt.Errorf("collection %q is this hub's own: %w", c.ID, node.ErrNotFound)
	}
	sh, err := f.shareStore().GetShare(ctx, c.Origin)
	if err != nil {
		return node.Share{}, err
	}
	return nodeShare(sh), nil
}

// holdsSharedCopy reports whether the copy rec names (a resource or a
// collection) is still on this node.
func (f *Federation) holdsSharedCopy(ctx context.Context, rec state.SharedCopy) (bool, error) {
	r, err := f.svc.Get(ctx, rec.ID)
	if err == nil && r.Origin == rec.Object {
		return true, nil
	}
	if err != nil && !errors.Is(err, node.ErrNotFound) {
		return false, err
	}
	if !f.svc.KeepsCollections() {
		return false, nil
	}
	_, err = f.svc.CollectionByOrigin(ctx, rec.Object)
	if errors.Is(err, node.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// fetchSharedCollection stores or refreshes the copy of a collection
// fetched from its origin for a share (fetchShared checked its id, its
// host and the blocks). sharer is nil for the periodic refresh.
func (f *Federation) fetchSharedCollection(ctx context.Context, obj map[string]any, origin string, sharer *state.Peer) error {
	object := idOf(obj)
	if !f.svc.KeepsCollections() {
		return fmt.Errorf("%w: collection %s: this node keeps no collections", errShareRefused, object)
	}
	originPeer, rec, err := f.sharedOrigin(ctx, object, origin)
	if err != nil {
		return err
	}
	followed := originPeer.Following == state.StateAccepted
	if sharer == nil && followed {
		// Followed since: the origin's own activities keep it true.
		return f.shareStore().DeleteSharedCopy(ctx, object)
	}
	sharedBy, resolve := "", itemResolver(f.resolveItem)
	if !followed {
		via := f.followedSharer(ctx, rec, sharer)
		if via == nil {
			return fmt.Errorf("%w: no hub this node follows shares %s any more", errShareRefused, object)
		}
		if sharedBy, _, err = f.sharerOf(ctx, rec, via); err != nil {
			return err
		}
		resolve = f.sharedItemResolver(hostOf(object), via)
	}
	before, gerr := f.svc.CollectionByOrigin(ctx, object)
	if gerr != nil && !errors.Is(gerr, node.ErrNotFound) {
		return gerr
	}
	saved, err := f.saveCollectionAs(ctx, originPeer, obj, sharedBy, resolve)
	if errors.Is(err, node.ErrConflict) {
		return nil // older than the copy held
	}
	if err != nil {
		if errors.Is(err, node.ErrUnavailable) {
			return err
		}
		return fmt.Errorf("%w: collection %s: %w", errShareRefused, object, err)
	}
	if !followed {
		f.share.mu.Lock()
		rec, err := f.shareStore().GetSharedCopy(ctx, object)
		if errors.Is(err, node.ErrNotFound) {
			rec, err = state.SharedCopy{Object: object}, nil
		}
		if err == nil {
			rec.ID, rec.OriginActor, rec.Fetched = saved.ID, originPeer.ActorID, f.now().UTC()
			if sharer != nil && !slices.Contains(rec.Sharers, sharer.ActorID) {
				rec.Sharers = append(rec.Sharers, sharer.ActorID)
			}
			err = f.shareStore().PutSharedCopy(ctx, rec)
		}
		f.share.mu.Unlock()
		if err != nil {
			return err
		}
	}
	f.log.Info("shared collection stored", "id", saved.ID, "object", object, "hub", saved.Hub, "shared_by", saved.SharedBy,
		"items", len(saved.Items), "unavailable", len(saved.Unavailable))
	if gerr == nil && saved.Updated.After(before.Updated) {
		return f.reannounce(ctx, object)
	}
	return nil
}

// followedSharer is the hub a shared copy is held through: the one that
// announced it, else (a refresh) the first of its sharers still followed.
func (f *Federation) followedSharer(ctx context.Context, rec state.SharedCopy, sharer *state.Peer) *state.Peer {
	if sharer != nil {
		return sharer
	}
	for _, id := range rec.Sharers {
		if p, err := f.peers.GetPeer(ctx, id); err == nil && p.Following == state.StateAccepted {
			return &p
		}
	}
	return nil
}

// sharedItemResolver resolves the items of a collection held through
// via's share: an item on the collection's origin host this node has no
// copy of is fetched from that origin through the share path (as if via
// had shared it: checks, licence policy, via's mirror policy, refreshed
// and dropped like a shared copy); any other item as for a followed hub's
// collection.
func (f *Federation) sharedItemResolver(originHost string, via *state.Peer) itemResolver {
	return func(ctx, fetchCtx context.Context, objectID string) (string, string, string, error) {
		if hostOf(objectID) != originHost {
			return f.resolveItem(ctx, fetchCtx, objectID)
		}
		if id, ok, err := f.copyOf(ctx, objectID); err != nil || ok {
			return id, "", "", err
		}
		if blocked, err := f.blocks.Blocked(ctx, hostname(originHost)); err != nil {
			return "", "", "", err
		} else if blocked {
			return "", "", reasonBlocked, nil
		}
		if fetchCtx.Err() != nil {
			return "", "", reasonUnreachable, nil // the collection's fetch budget is spent
		}
		err := f.fetchSharedObject(ctx, objectID, via, false)
		var ve *node.ValidationError
		switch {
		case err == nil:
			if id, ok, err := f.copyOf(ctx, objectID); err != nil || ok {
				return id, "", "", err
			}
			return "", "", reasonRefused, nil
		case ctx.Err() != nil:
			return "", "", "", ctx.Err() // the node stops: retried
		case errors.Is(err, errGone):
			return "", "", reasonNotFound, nil
		case errors.Is(err, errDropped):
			return "", "", reasonDropped, nil
		case errors.As(err, &ve) && ve.Code == "license_refused":
			return "", "", reasonLicence, nil
		case errors.Is(err, errShareUnreachable):
			return "", "", reasonUnreachable, nil
		case errors.Is(err, errShareRefused):
			f.log.Info("shared collection item refused", "object", objectID, "err", err)
			return "", "", reasonRefused, nil
		}
		return "", "", "", err
	}
}

// copyOf finds this node's copy of a remote object id.
func (f *Federation) copyOf(ctx context.Context, objectID string) (string, bool, error) {
	slug := objectID[lastSlash(objectID)+1:]
	for _, cand := range []string{node.RemoteID(objectID, slug), node.LegacyRemoteID(objectID, slug)} {
		r, err := f.svc.Get(ctx, cand)
		if err == nil && r.Origin == objectID {
			return r.ID, true, nil
		}
		if err != nil && !errors.Is(err, node.ErrNotFound) {
			return "", false, err
		}
	}
	return "", false, nil
}
