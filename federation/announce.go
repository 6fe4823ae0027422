package federation

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/httperr"
	"github.com/communs-numerique/communs/node"
)

// Sharing across hubs. An editor of hub B shares a copy of hub A's kit:
// B sends its followers an Announce whose object is A's object id (what
// Mastodon and GoToSocial show as a boost). A follower C of B that does
// not follow A fetches the object from A itself (signed GET through the
// guarded client), checks it (id as announced, attributed to an actor on
// the same host, domains not blocked, licence policy) and stores a copy
// credited to A, noting that B shared it. Such copies stay true to A: B
// announces again when A's Update reaches it, C re-reads A at most daily,
// and a 404/410, A's Delete or the last sharer's Undo drops them.

// Collections (issue 12 §3): a share is keyed by the origin's object id
// whatever the object is, so state.Share and the Announce/Undo builders
// serve a collection as they are; fetchShared hands a fetched Collection
// to collection_share.go.

// DefaultShareRefresh is how old a copy held through a share gets before
// the refresh worker reads its origin again.
const DefaultShareRefresh = 24 * time.Hour

// shareFetchTimeout bounds reading a shared object (and its actor) from
// its origin; getJSON bounds the size (maxFetchBody).
const shareFetchTimeout = 30 * time.Second

// errShareRefused is an Announce this node will not act on: logged and
// dropped by the inbox worker, nothing stored.
var errShareRefused = errors.New("share refused")

// shares is the federation's share state and the refresh worker's knobs.
type shares struct {
	mu sync.Mutex // orders read-modify-writes of share records
	// refresh is the age (ns) past which a shared copy is read again.
	refresh atomic.Int64
	wake    chan struct{}
}

func (f *Federation) shareStore() state.Shares { return f.sharesStore }

// SetShareRefresh sets how old a copy held through a share gets before its
// origin is read again (default a day); tests shorten it.
func (f *Federation) SetShareRefresh(d time.Duration) {
	if d <= 0 {
		d = DefaultShareRefresh
	}
	f.share.refresh.Store(int64(d))
	wake(f.share.wake)
}

func (f *Federation) shareRefresh() time.Duration {
	if d := time.Duration(f.share.refresh.Load()); d > 0 {
		return d
	}
	return DefaultShareRefresh
}

// announceActivity is the Announce of object by this hub: to its
// followers, cc Public (an unlisted boost on Mastodon).
func (f *Federation) announceActivity(id, object string, at time.Time) (map[string]any, error) {
	act, err := activity("Announce", id, f.urls.actor(), object, []string{f.urls.followers()}, []string{asPublic})
	if err != nil {
		return nil, err
	}
	act["published"] = at.UTC().Truncate(time.Second).Format(time.RFC3339)
	return act, nil
}

// undoAnnounceActivity takes back the Announce sh.Activity.
func (f *Federation) undoAnnounceActivity(id string, sh state.Share) (map[string]any, error) {
	inner := map[string]any{"id": sh.Activity, "type": "Announce", "actor": f.urls.actor(), "object": sh.Object}
	return activity("Undo", id, f.urls.actor(), inner, []string{f.urls.followers()}, []string{asPublic})
}

func nodeShare(sh state.Share) node.Share {
	return node.Share{Resource: sh.ID, Object: sh.Object, Activity: sh.Activity, Shared: sh.At}
}

var _ node.Sharer = (*Federation)(nil)

// Share announces the copy r to this hub's followers, once: a copy already
// shared returns its share and sends nothing.
func (f *Federation) Share(ctx context.Context, r node.Resource) (node.Share, error) {
	if r.Local() || hostOf(r.Origin) == f.host {
		return node.Share{}, fmt.Errorf("resource %q is this hub's own; only a copy received from another hub can be shared: %w", r.ID, node.ErrConflict)
	}
	return f.shareObject(ctx, r.ID, r.Origin)
}

// shareObject announces the origin's object (a copy's, local id id) to the
// followers, once.
func (f *Federation) shareObject(ctx context.Context, id, object string) (node.Share, error) {
	f.share.mu.Lock()
	defer f.share.mu.Unlock()
	sh, err := f.shareStore().GetShare(ctx, object)
	if err == nil {
		return nodeShare(sh), nil
	}
	if !errors.Is(err, node.ErrNotFound) {
		return node.Share{}, err
	}
	now := f.now().UTC()
	sh = state.Share{Object: object, ID: id, Activity: f.urls.activity("announce", newID()), At: now}
	act, err := f.announceActivity(sh.Activity, sh.Object, now)
	if err != nil {
		return node.Share{}, err
	}
	inboxes, err := f.followerInboxes(ctx)
	if err != nil {
		return node.Share{}, err
	}
	// Recorded first: a crash before the queue write leaves a share that
	// Undo can still take back (receivers ignore an Undo of what they
	// never got).
	if err := f.shareStore().PutShare(ctx, sh); err != nil {
		return node.Share{}, err
	}
	if err := f.enqueue(ctx, act, inboxes); err != nil {
		_ = f.shareStore().DeleteShare(context.WithoutCancel(ctx), sh.Object)
		return node.Share{}, err
	}
	f.log.Info("copy shared with the followers", "id", id, "object", object, "announce", sh.Activity, "followers", len(inboxes))
	return nodeShare(sh), nil
}

// Unshare sends the Undo of r's share to the followers and forgets it.
func (f *Federation) Unshare(ctx context.Context, r node.Resource) (node.Share, error) {
	return f.unshareObject(ctx, "resource", r.ID, r.Origin)
}

// unshareObject sends the Undo of the share of object (kind id's) and
// forgets it.
func (f *Federation) unshareObject(ctx context.Context, kind, id, object string) (node.Share, error) {
	f.share.mu.Lock()
	defer f.share.mu.Unlock()
	sh, err := f.shareStore().GetShare(ctx, object)
	if errors.Is(err, node.ErrNotFound) {
		return node.Share{}, fmt.Errorf("%s %q is not shared by this hub: %w", kind, id, node.ErrNotFound)
	}
	if err != nil {
		return node.Share{}, err
	}
	if err := f.undoShare(ctx, sh); err != nil {
		return node.Share{}, err
	}
	f.log.Info("share taken back", "id", id, "object", object)
	return nodeShare(sh), nil
}

// undoShare queues the Undo of sh and forgets it; share.mu is held.
func (f *Federation) undoShare(ctx context.Context, sh state.Share) error {
	act, err := f.undoAnnounceActivity(f.urls.activity("undo", newID()), sh)
	if err != nil {
		return err
	}
	inboxes, err := f.followerInboxes(ctx)
	if err != nil {
		return err
	}
	if err := f.enqueue(ctx, act, inboxes); err != nil {
		return err
	}
	return f.shareStore().DeleteShare(ctx, sh.Object)
}

// Shared returns r's share, node.ErrNotFound when this hub has not shared
// it.
func (f *Federation) Shared(ctx context.Context, r node.Resource) (node.Share, error) {
	sh, err := f.shareStore().GetShare(ctx, r.Origin)
	if err != nil {
		return node.Share{}, err
	}
	return nodeShare(sh), nil
}

// reannounce tells the followers again about a copy this hub shares whose
// origin changed, so that hubs holding it through the share read it anew
// (Mastodon keeps one boost per account and object).
func (f *Federation) reannounce(ctx context.Context, object string) error {
	sh, err := f.shareStore().GetShare(ctx, object)
	if errors.Is(err, node.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	act, err := f.announceActivity(f.urls.activity("announce", newID()), object, f.now())
	if err != nil {
		return err
	}
	inboxes, err := f.followerInboxes(ctx)
	if err != nil {
		return err
	}
	f.log.Info("shared copy changed at its origin; announced again", "id", sh.ID, "object", object)
	return f.enqueue(ctx, act, inboxes)
}

// copyGone is called once the copy of object left this node (its
// origin's Delete, a 404, the last sharer's Undo): this hub's share of it,
// if any, is taken back, and its shared-copy record forgotten.
func (f *Federation) copyGone(ctx context.Context, object string) error {
	f.share.mu.Lock()
	defer f.share.mu.Unlock()
	if err := f.shareStore().DeleteSharedCopy(ctx, object); err != nil {
		return err
	}
	sh, err := f.shareStore().GetShare(ctx, object)
	if errors.Is(err, node.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	f.log.Info("shared copy gone; share taken back", "id", sh.ID, "object", object)
	return f.undoShare(ctx, sh)
}

// onAnnounce applies an Announce from a hub this node follows.
func (f *Federation) onAnnounce(ctx context.Context, act incoming) error {
	sharer, err := f.peers.GetPeer(ctx, act.Actor)
	if err != nil || sharer.Following != state.StateAccepted {
		return fmt.Errorf("%w: Announce of %s from %s, which this hub does not follow", errShareRefused, act.ObjectID, act.Actor)
	}
	if hostOf(act.ObjectID) == f.host {
		// A share of this hub's own kit (a cycle): nothing to store.
		f.log.Debug("announce of this hub's own object ignored", "object", act.ObjectID, "actor", act.Actor)
		return nil
	}
	return f.fetchShared(ctx, act.ObjectID, &sharer)
}

// sharedOrigin reads the origin actor of a shared object, which must be
// on the object's host, records it as known, and reads the object's share
// record (zero when none yet).
func (f *Federation) sharedOrigin(ctx context.Context, object, origin string) (state.Peer, state.SharedCopy, error) {
	originHost := hostOf(object)
	fctx, cancel := context.WithTimeout(ctx, shareFetchTimeout)
	originPeer, err := f.peerFor(fctx, origin)
	cancel()
	if err != nil {
		return state.Peer{}, state.SharedCopy{}, fmt.Errorf("%w: origin actor %s: %w", errShareRefused, origin, err)
	}
	if originPeer.Host != originHost {
		return state.Peer{}, state.SharedCopy{}, fmt.Errorf("%w: origin actor %s is not on %s", errShareRefused, origin, originHost)
	}
	if originPeer, err = f.knownOrigin(ctx, originPeer); err != nil {
		return state.Peer{}, state.SharedCopy{}, err
	}
	f.share.mu.Lock()
	rec, err := f.shareStore().GetSharedCopy(ctx, object)
	f.share.mu.Unlock()
	if err != nil && !errors.Is(err, node.ErrNotFound) {
		return state.Peer{}, state.SharedCopy{}, err
	}
	return originPeer, rec, nil
}

// errGone is an origin answering 404 or 410 for a shared object.
var errGone = errors.New("the object is gone from its origin")

// fetchObject reads an object from its origin, bounded in time and size.
func (f *Federation) fetchObject(ctx context.Context, object string) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, shareFetchTimeout)
	defer cancel()
	var obj map[string]any
	if err := f.getJSON(ctx, object, &obj); err != nil {
		var st *fetchStatus
		if errors.As(err, &st) && (st.code == http.StatusNotFound || st.code == http.StatusGone) {
			return nil, fmt.Errorf("%w: %w", errGone, err)
		}
		return nil, err
	}
	return obj, nil
}

// fetchShared reads object from its origin and stores or refreshes this
// node's copy. sharer is the followed hub that announced it, nil for the
// periodic refresh (the record's sharers are kept).
func (f *Federation) fetchShared(ctx context.Context, object string, sharer *state.Peer) error {
	return f.fetchSharedObject(ctx, object, sharer, true)
}

// fetchSharedObject is fetchShared; collections says whether the object
// may be a collection (not for a shared collection's items).
func (f *Federation) fetchSharedObject(ctx context.Context, object string, sharer *state.Peer, collections bool) error {
	originHost := hostOf(object)
	for _, h := range []string{originHost, hostOfPeer(sharer)} {
		if h == "" {
			continue
		}
		if blocked, err := f.blocks.Blocked(ctx, hostname(h)); err != nil {
			return err
		} else if blocked {
			return fmt.Errorf("%w: %s is blocked by this hub (object %s)", errShareRefused, hostname(h), object)
		}
	}
	if dropped, err := f.drops.IsDropped(ctx, object); err != nil {
		return err
	} else if dropped {
		return fmt.Errorf("%w: %w", errShareRefused, errDropped)
	}
	obj, err := f.fetchObject(ctx, object)
	if errors.Is(err, errGone) {
		if derr := f.dropShared(ctx, object); derr != nil {
			return derr
		}
		return fmt.Errorf("%w: %w", errShareRefused, err)
	}
	if err != nil {
		return fmt.Errorf("%w: %w: fetch %s from its origin: %w", errShareRefused, errShareUnreachable, object, err)
	}
	if id, _ := obj["id"].(string); id != object {
		return fmt.Errorf("%w: %s answered an object whose id is %q", errShareRefused, object, id)
	}
	origin := firstID(obj["attributedTo"])
	if origin == "" || hostOf(origin) != originHost {
		return fmt.Errorf("%w: object %s is attributed to %q, not to an actor on its host %s", errShareRefused, object, origin, originHost)
	}
	if collections && isCollectionObject(obj) {
		return f.fetchSharedCollection(ctx, obj, origin, sharer) // collection_share.go
	}
	r, files, err := parseResource(obj)
	if err != nil {
		return fmt.Errorf("%w: %w", errShareRefused, err)
	}
	// Before any record is written: a refused licence stores nothing, not
	// even the origin's actor.
	if err := f.svc.Policy().Check(r.License); err != nil {
		return fmt.Errorf("%w: object %s: %w", errShareRefused, object, err)
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
	mirror := node.Mirror{}
	if !followed {
		by, m, err := f.sharerOf(ctx, rec, sharer)
		if err != nil {
			return err
		}
		r.SharedBy, mirror = by, m
	} else if sharer != nil {
		mirror = f.mirror(originPeer)
	}
	before, gerr := f.svc.Get(ctx, r.ID)
	errs, err := f.saveCopiesWith(ctx, originPeer, []node.RemoteItem{{Resource: r, Files: files, LegacyID: node.LegacyRemoteID(r.Origin, objectSlug(obj))}}, mirror)
	if err != nil {
		return err
	}
	if errs[0] != nil && !errors.Is(errs[0], node.ErrConflict) {
		return fmt.Errorf("%w: object %s: %w", errShareRefused, object, errs[0])
	}
	saved, err := f.svc.Get(ctx, r.ID)
	if errors.Is(err, node.ErrNotFound) && r.ID != node.LegacyRemoteID(r.Origin, objectSlug(obj)) {
		saved, err = f.svc.Get(ctx, node.LegacyRemoteID(r.Origin, objectSlug(obj)))
	}
	if err != nil {
		return err
	}
	if saved.Origin != object {
		return fmt.Errorf("%w: id %s is taken by another copy", errShareRefused, saved.ID)
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
	if gerr == nil && !saved.Updated.After(before.Updated) {
		return nil // nothing new
	}
	f.log.Info("shared copy stored", "id", saved.ID, "object", object, "hub", saved.Hub, "shared_by", saved.SharedBy)
	if gerr == nil {
		return f.reannounce(ctx, object)
	}
	return nil
}

// knownOrigin records an origin met only through a share as a peer
// without relation, so that its hub name is chosen once and kept (and a
// block of its domain finds its copies).
func (f *Federation) knownOrigin(ctx context.Context, p state.Peer) (state.Peer, error) {
	defer f.peerLocks.lock(p.ActorID)()
	cur, err := f.peers.GetPeer(ctx, p.ActorID)
	if err == nil {
		return cur, nil
	}
	if !errors.Is(err, node.ErrNotFound) {
		return p, err
	}
	return p, f.peers.PutPeer(ctx, p)
}

// sharerOf is the hub name a shared copy credits ("partagé par") and the
// mirror policy its files follow: those of the hub that shared it (the
// first still followed, for a refresh).
func (f *Federation) sharerOf(ctx context.Context, rec state.SharedCopy, sharer *state.Peer) (string, node.Mirror, error) {
	if sharer == nil {
		for _, id := range rec.Sharers {
			p, err := f.peers.GetPeer(ctx, id)
			if err == nil && p.Following == state.StateAccepted {
				sharer = &p
				break
			}
		}
	}
	if sharer == nil {
		return "", node.Mirror{}, fmt.Errorf("%w: no hub this node follows shares %s any more", errShareRefused, rec.Object)
	}
	hub, err := f.peerHub(ctx, *sharer)
	if err != nil {
		return "", node.Mirror{}, err
	}
	return hub, f.mirror(*sharer), nil
}

// dropShared removes a copy held through a share (its origin said it is
// gone); a copy of a followed origin waits for the origin's Delete.
func (f *Federation) dropShared(ctx context.Context, object string) error {
	rec, err := f.shareStore().GetSharedCopy(ctx, object)
	if errors.Is(err, node.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := f.svc.DeleteRemote(ctx, rec.ID, object); err != nil && !errors.Is(err, node.ErrForbidden) {
		return err
	}
	if err := f.svc.DeleteRemoteCollection(ctx, object); err != nil { // if it was a collection
		return err
	}
	f.log.Info("shared copy dropped", "id", rec.ID, "object", object)
	return f.copyGone(ctx, object)
}

// onUndoAnnounce takes a sharer's share back: the copy goes when no
// followed hub shares it any more (and this node does not follow its
// origin).
func (f *Federation) onUndoAnnounce(ctx context.Context, act incoming) error {
	inner := act.Object
	if by := idOf(inner["actor"]); by != act.Actor {
		return fmt.Errorf("%w: %s takes back an Announce by %q", errShareRefused, act.Actor, by)
	}
	object := idOf(inner["object"])
	f.share.mu.Lock()
	rec, err := f.shareStore().GetSharedCopy(ctx, object)
	if errors.Is(err, node.ErrNotFound) {
		f.share.mu.Unlock()
		return nil // never held through a share
	}
	if err != nil {
		f.share.mu.Unlock()
		return err
	}
	rec.Sharers = slices.DeleteFunc(rec.Sharers, func(s string) bool { return s == act.Actor })
	if len(rec.Sharers) > 0 {
		err := f.shareStore().PutSharedCopy(ctx, rec)
		f.share.mu.Unlock()
		return err
	}
	f.share.mu.Unlock()
	f.log.Info("last share of a copy taken back", "object", object, "actor", act.Actor)
	return f.dropShared(ctx, object)
}

func (f *Federation) runShareRefresh(ctx context.Context) {
	for {
		period := min(f.shareRefresh()/2, time.Hour)
		t := time.NewTimer(period)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-f.share.wake:
		case <-t.C:
		}
		t.Stop()
		if err := f.refreshShared(ctx); err != nil && ctx.Err() == nil {
			f.log.Warn("refreshing shared copies failed; will retry", "err", err)
		}
	}
}

// refreshShared reads again from their origin the copies held through a
// share that were last read longer ago than the refresh age.
func (f *Federation) refreshShared(ctx context.Context) error {
	recs, err := f.shareStore().SharedCopies(ctx)
	if err != nil {
		return err
	}
	age := f.shareRefresh()
	for _, rec := range recs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if f.now().Sub(rec.Fetched) < age {
			continue
		}
		if held, err := f.holdsSharedCopy(ctx, rec); err != nil {
			return err
		} else if !held {
			// Gone meanwhile (an admin's drop, a block): forget it.
			if err := f.copyGone(ctx, rec.Object); err != nil {
				return err
			}
			continue
		}
		err := f.fetchShared(ctx, rec.Object, nil)
		if err == nil {
			continue
		}
		if errors.Is(err, node.ErrUnavailable) {
			return err
		}
		f.log.Warn("shared copy not refreshed", "object", rec.Object, "err", err)
		if errors.Is(err, errShareRefused) && !errors.Is(err, errGone) {
			if _, gerr := f.shareStore().GetSharedCopy(ctx, rec.Object); gerr == nil && !f.stillShared(ctx, rec) {
				// No followed hub shares it any more: it goes.
				if err := f.dropShared(ctx, rec.Object); err != nil {
					return err
				}
				continue
			}
		}
		// Tried: read again after the refresh age, not at every round.
		f.share.mu.Lock()
		if cur, err := f.shareStore().GetSharedCopy(ctx, rec.Object); err == nil {
			cur.Fetched = f.now().UTC()
			_ = f.shareStore().PutSharedCopy(ctx, cur)
		}
		f.share.mu.Unlock()
	}
	return nil
}

// stillShared reports whether a followed hub still shares rec.
func (f *Federation) stillShared(ctx context.Context, rec state.SharedCopy) bool {
	for _, id := range rec.Sharers {
		if p, err := f.peers.GetPeer(ctx, id); err == nil && p.Following == state.StateAccepted {
			return true
		}
	}
	return false
}

func hostOfPeer(p *state.Peer) string {
	if p == nil {
		return ""
	}
	return p.Host
}

// firstID reads attributedTo: an IRI, an object, or a list of them (the
// first actor).
func firstID(v any) string {
	if list, ok := v.([]any); ok {
		for _, x := range list {
			if id := idOf(x); id != "" {
				return id
			}
		}
		return ""
	}
	return idOf(v)
}

// fetchStatus is a fetched document answered with another status than
// 200.
type fetchStatus struct {
	url, status string
	code        int
}

func (e *fetchStatus) Error() string { return "GET " + e.url + ": " + e.status }

// checkAnnounce is the inbox's check of an Announce, before it is
// recorded: an object on a blocked domain is refused at once.
func (f *Federation) checkAnnounce(ctx context.Context, act incoming) error {
	h := hostname(hostOf(act.ObjectID))
	blocked, err := f.blocks.Blocked(ctx, h)
	if err != nil {
		return fmt.Errorf("check whether %s is blocked: %w", h, err)
	}
	if blocked {
		return httperr.Status(http.StatusForbidden, fmt.Errorf("announced object %s is on %s, which this hub blocks", act.ObjectID, h))
	}
	return nil
}
