package federation

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/httperr"
	"github.com/communs-numerique/communs/node"
)

// FollowOptions are the per-peer settings given with `peer follow`.
type FollowOptions struct {
	Mirror        string // none or files
	MirrorMaxSize int64
}

// Resolve finds the actor behind what an admin types: a hub's address
// (a.example, or 127.0.0.1:8081 in development), a handle name@a.example,
// or an actor URL.
func (f *Federation) Resolve(ctx context.Context, target string) (string, error) {
	target = strings.TrimSpace(strings.TrimPrefix(target, "@"))
	if target == "" {
		return "", fmt.Errorf("name a hub: its address (a.example), its handle (hub@a.example) or its actor URL: %w", node.ErrInvalid)
	}
	scheme := "https"
	if f.dev {
		scheme = "http"
	}
	if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") {
		u, err := url.Parse(target)
		if err != nil {
			return "", fmt.Errorf("%q: %v: %w", target, err, node.ErrInvalid)
		}
		if u.Path == "" || u.Path == "/" {
			return f.resolveHost(ctx, u.Scheme, u.Host)
		}
		return target, nil
	}
	if name, host, ok := strings.Cut(target, "@"); ok {
		var jrd struct {
			Links []struct{ Rel, Type, Href string } `json:"links"`
		}
		q := url.Values{"resource": {"acct:" + name + "@" + host}}
		if err := f.getJSON(ctx, scheme+"://"+host+"/.well-known/webfinger?"+q.Encode(), &jrd); err != nil {
			return "", fmt.Errorf("look up %s: %w", target, err)
		}
		for _, l := range jrd.Links {
			if l.Rel == "self" && (l.Type == contentTypeAS || strings.Contains(l.Type, "activitystreams")) {
				return l.Href, nil
			}
		}
		return "", fmt.Errorf("%s has no ActivityPub actor in its WebFinger answer", target)
	}
	return f.resolveHost(ctx, scheme, target)
}

// resolveHost reads a hub's actor from its NodeInfo.
func (f *Federation) resolveHost(ctx context.Context, scheme, host string) (string, error) {
	var links struct {
		Links []struct{ Rel, Href string } `json:"links"`
	}
	if err := f.getJSON(ctx, scheme+"://"+host+"/.well-known/nodeinfo", &links); err != nil {
		return "", fmt.Errorf("%s does not answer as a hub: %w", host, err)
	}
	for _, l := range links.Links {
		if !strings.Contains(l.Rel, "nodeinfo") {
			continue
		}
		var ni struct {
			Metadata struct {
				Actor string `json:"actor"`
			} `json:"metadata"`
		}
		if err := f.getJSON(ctx, l.Href, &ni); err != nil {
			return "", err
		}
		if ni.Metadata.Actor != "" {
			return ni.Metadata.Actor, nil
		}
	}
	return "", fmt.Errorf("%s is not a Communs hub (no actor in its NodeInfo); give a handle name@%s instead", host, host)
}

// Follow sends a Follow to a hub; its resources arrive once it accepts.
func (f *Federation) Follow(ctx context.Context, target string, opt FollowOptions) (state.Peer, error) {
	if opt.Mirror == "" {
		opt.Mirror = state.MirrorNone
	}
	if opt.Mirror != state.MirrorNone && opt.Mirror != state.MirrorFiles {
		return state.Peer{}, fmt.Errorf("--mirror %q: use none or files: %w", opt.Mirror, node.ErrInvalid)
	}
	actorID, err := f.Resolve(ctx, target)
	if err != nil {
		return state.Peer{}, unreachable(err)
	}
	if actorID == f.urls.actor() {
		return state.Peer{}, fmt.Errorf("%s is this hub itself: %w", target, node.ErrInvalid)
	}
	if blocked, _ := f.blocks.Blocked(ctx, hostname(hostOf(actorID))); blocked {
		return state.Peer{}, fmt.Errorf("%s is blocked; `communs peer unblock` it first: %w", hostOf(actorID), node.ErrForbidden)
	}
	// The actor document is fetched before locking: a slow hub must not
	// hold up the inbox or other admin commands.
	p, err := f.peers.GetPeer(ctx, actorID)
	if errors.Is(err, node.ErrNotFound) {
		if p, err = f.fetchActor(ctx, actorID); err != nil {
			return state.Peer{}, unreachable(err)
		}
	}
	if err != nil {
		return state.Peer{}, err
	}
	defer f.peerLocks.lock(actorID)()
	if cur, err := f.peers.GetPeer(ctx, actorID); err == nil {
		p = cur // changed while the actor was fetched
	} else if !errors.Is(err, node.ErrNotFound) {
		return state.Peer{}, err
	}
	p.Mirror, p.MirrorMaxSize = opt.Mirror, opt.MirrorMaxSize
	p.FollowID = f.urls.activity("follow", newID())
	p.Following = state.StatePending
	p.Updated = f.now().UTC()
	act, err := activity("Follow", p.FollowID, f.urls.actor(), p.ActorID, []string{p.ActorID}, nil)
	if err != nil {
		return p, err
	}
	if err := f.peers.PutPeer(ctx, p); err != nil {
		return p, err
	}
	return p, f.enqueue(ctx, act, []string{p.Inbox})
}

// unreachable marks a failure to reach or read the hub an admin named
// (no answer, not a hub): a 502 whose words, network detail included, the
// admin reads; the admin socket is the only way to these commands.
// Refusals (a blocked host, an SSRF-guarded address) keep their status.
func unreachable(err error) error {
	if httperr.Classify(err).Status < http.StatusInternalServerError {
		return err
	}
	return &httperr.Error{Status: http.StatusBadGateway, Public: err.Error(), Err: err}
}

// Unfollow sends Undo(Follow) and forgets the hub's resources.
func (f *Federation) Unfollow(ctx context.Context, target string) error {
	p, unlock, err := f.lockPeer(ctx, target)
	if err != nil {
		return err
	}
	defer unlock()
	if p.Following == "" {
		return fmt.Errorf("this hub does not follow %s: %w", p.ActorID, node.ErrNotFound)
	}
	follow := map[string]any{"id": p.FollowID, "type": "Follow", "actor": f.urls.actor(), "object": p.ActorID}
	act, err := activity("Undo", f.urls.activity("undo", newID()), f.urls.actor(), follow, []string{p.ActorID}, nil)
	if err != nil {
		return err
	}
	if err := f.enqueue(ctx, act, []string{p.Inbox}); err != nil {
		return err
	}
	p.Following, p.FollowID, p.BackfillNext = "", "", ""
	if err := f.savePeer(ctx, p); err != nil {
		return err
	}
	_, err = f.svc.DeleteRemoteFrom(ctx, originPrefix(p))
	return err
}

func originPrefix(p state.Peer) string {
	u, _ := url.Parse(p.ActorID)
	return u.Scheme + "://" + u.Host + "/"
}

// findPeer finds a known peer by actor URL, handle or host.
func (f *Federation) findPeer(ctx context.Context, target string) (state.Peer, error) {
	target = strings.TrimPrefix(strings.TrimSpace(target), "@")
	peers, err := f.peers.ListPeers(ctx)
	if err != nil {
		return state.Peer{}, err
	}
	for _, p := range peers {
		if p.ActorID == target || strings.EqualFold(p.Handle, target) || strings.EqualFold(p.Host, target) {
			return p, nil
		}
	}
	return state.Peer{}, fmt.Errorf("no known peer %q (see `communs peer list`): %w", target, node.ErrNotFound)
}

// lockPeer finds a known peer, locks its record and reads it again under
// the lock, so the caller changes what is stored now.
func (f *Federation) lockPeer(ctx context.Context, target string) (state.Peer, func(), error) {
	found, err := f.findPeer(ctx, target)
	if err != nil {
		return found, nil, err
	}
	unlock := f.peerLocks.lock(found.ActorID)
	p, err := f.peers.GetPeer(ctx, found.ActorID)
	if err != nil {
		unlock()
		if errors.Is(err, node.ErrNotFound) {
			return p, nil, fmt.Errorf("peer %s was just forgotten: %w", found.ActorID, node.ErrNotFound)
		}
		return p, nil, err
	}
	return p, unlock, nil
}

// Peers lists every known peer.
func (f *Federation) Peers(ctx context.Context) ([]state.Peer, error) { return f.peers.ListPeers(ctx) }

// Answer accepts or rejects a pending follow request.
func (f *Federation) Answer(ctx context.Context, target string, accept bool) error {
	p, unlock, err := f.lockPeer(ctx, target)
	if err != nil {
		return err
	}
	defer unlock()
	if p.Follower != state.StatePending {
		return fmt.Errorf("%s has no pending follow request: %w", p.ActorID, node.ErrNotFound)
	}
	kind := "Reject"
	p.Follower = ""
	if accept {
		kind, p.Follower = "Accept", state.StateAccepted
	}
	if err := f.answerFollow(ctx, p, kind); err != nil {
		return err
	}
	return f.savePeer(ctx, p)
}

// Block drops a domain: its activities are refused, its follows too, and
// the resources received from it leave the catalog and the index.
func (f *Federation) Block(ctx context.Context, domain string) (int, error) {
	domain = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")
	// The block is recorded first: an activity of the domain applied
	// meanwhile sees it under its peer's lock and adds nothing back.
	if err := f.blocks.Block(ctx, domain); err != nil {
		return 0, err
	}
	peers, err := f.peers.ListPeers(ctx)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, p := range peers {
		h := hostname(p.Host)
		if h != domain && !strings.HasSuffix(h, "."+domain) {
			continue
		}
		n, err := f.forgetPeer(ctx, p)
		removed += n
		if err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// forgetPeer removes a peer and the copies of its resources, under its
// lock.
func (f *Federation) forgetPeer(ctx context.Context, p state.Peer) (int, error) {
	defer f.peerLocks.lock(p.ActorID)()
	n, err := f.svc.DeleteRemoteFrom(ctx, originPrefix(p))
	if err != nil {
		return n, err
	}
	return n, f.peers.DeletePeer(ctx, p.ActorID)
}

// Unblock lifts a block.
func (f *Federation) Unblock(ctx context.Context, domain string) error {
	return f.blocks.Unblock(ctx, domain)
}

// Blocks lists blocked domains.
func (f *Federation) Blocks(ctx context.Context) ([]string, error) { return f.blocks.Blocks(ctx) }

// Backlog is the number of deliveries waiting.
func (f *Federation) Backlog(ctx context.Context) (int, error) {
	return f.deliveries.DeliveryCount(ctx)
}
