package federation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/node"
)

func (f *Federation) runInbox(ctx context.Context) {
	f.loop(ctx, "inbox processing", f.wakeInbox, 30*time.Second, f.processInbox)
}

// processInbox applies recorded activities in arrival order. An activity
// that cannot be applied for good (refused licence, unknown follow) is
// logged and dropped; one that fails for a passing reason (storage down,
// origin unreachable for a mirror) stays for the next round.
func (f *Federation) processInbox(ctx context.Context) error {
	for {
		items, err := f.inboxQueue.InboxItems(ctx, 50)
		if err != nil || len(items) == 0 {
			return err
		}
		for _, it := range items {
			err := f.apply(ctx, it)
			switch {
			case err == nil:
			case errors.Is(err, node.ErrUnavailable) || errors.Is(err, context.Canceled):
				return err
			case errors.Is(err, errUnhandled):
				// Not a fault of anyone's: said for debugging only, so a
				// chatty server's Likes or Announces do not flood the log.
				f.log.Debug("activity discarded", "id", it.ID, "actor", it.Actor, "err", err)
			default:
				f.log.Warn("activity dropped", "id", it.ID, "actor", it.Actor, "err", err)
			}
			if err := f.inboxQueue.InboxDone(ctx, it.Seq); err != nil {
				return err
			}
		}
	}
}

func (f *Federation) apply(ctx context.Context, it state.InboxItem) error {
	act, err := parseActivity(ctx, it.Body)
	if err != nil {
		return err
	}
	switch act.Type {
	case "Follow":
		return f.onFollow(ctx, act)
	case "Accept", "Reject":
		return f.onAnswer(ctx, act)
	case "Undo":
		return f.onUndo(ctx, act)
	case "Create", "Update":
		if act.Object != nil && isCollectionObject(act.Object) {
			return f.onCollection(ctx, act)
		}
		if noticeOnly, err := f.onAdaptationNotice(ctx, act); noticeOnly || err != nil {
			return err
		}
		return f.onResource(ctx, act)
	case "Delete":
		if err := f.onAdaptationDelete(ctx, act); err != nil {
			return err
		}
		return f.onDelete(ctx, act)
	case "Flag":
		return f.onFlag(ctx, act)
	case "Announce":
		return f.onAnnounce(ctx, act)
	}
	return fmt.Errorf("%w %q", errUnhandled, act.Type)
}

// errUnhandled is an activity of a type this node does not act on (the
// inbox answers 202 once it is recorded; the worker then discards it).
var errUnhandled = errors.New("unhandled activity")

// peerFor returns what is known of an actor, fetching its document when
// it is new (inbox, shared inbox, name).
func (f *Federation) peerFor(ctx context.Context, actorID string) (state.Peer, error) {
	p, err := f.peers.GetPeer(ctx, actorID)
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, node.ErrNotFound) {
		return p, err
	}
	return f.fetchActor(ctx, actorID)
}

type actorDocument struct {
	ID                string `json:"id"`
	Type              string `json:"type"`
	PreferredUsername string `json:"preferredUsername"`
	Name              string `json:"name"`
	Inbox             string `json:"inbox"`
	Outbox            string `json:"outbox"`
	Endpoints         struct {
		SharedInbox string `json:"sharedInbox"`
	} `json:"endpoints"`
}

func (f *Federation) fetchActor(ctx context.Context, actorID string) (state.Peer, error) {
	var doc actorDocument
	if err := f.getJSON(ctx, actorID, &doc); err != nil {
		return state.Peer{}, err
	}
	if doc.ID != actorID || doc.Inbox == "" {
		return state.Peer{}, fmt.Errorf("%s is not an actor document (id %q, inbox %q)", actorID, doc.ID, doc.Inbox)
	}
	host := hostOf(doc.ID)
	for _, u := range []string{doc.Inbox, doc.Outbox, doc.Endpoints.SharedInbox} {
		if u != "" && hostOf(u) != host {
			return state.Peer{}, fmt.Errorf("actor %s names an inbox or outbox on another host (%s)", actorID, u)
		}
	}
	return state.Peer{ActorID: doc.ID, Host: host, Handle: doc.PreferredUsername + "@" + host, Name: doc.Name,
		Inbox: doc.Inbox, SharedInbox: doc.Endpoints.SharedInbox, Outbox: doc.Outbox, Updated: f.now().UTC()}, nil
}

func (f *Federation) onFollow(ctx context.Context, act incoming) error {
	if act.ObjectID != f.urls.actor() {
		return fmt.Errorf("Follow of %s, which is not this hub", act.ObjectID)
	}
	// Fetched before locking, as in Follow: a slow hub's actor document
	// must not hold up the admin commands on it meanwhile.
	p, err := f.peerFor(ctx, act.Actor)
	if err != nil {
		return err
	}
	defer f.peerLocks.lock(act.Actor)()
	if cur, err := f.peers.GetPeer(ctx, act.Actor); err == nil {
		p = cur
	} else if !errors.Is(err, node.ErrNotFound) {
		return err
	}
	// Checked under the lock: a Block recorded before it is never undone
	// by this Follow (Block deletes the domain's peers under their locks).
	if blocked, err := f.blocks.Blocked(ctx, hostname(p.Host)); err != nil {
		return fmt.Errorf("follow from %s: %w", act.Actor, err)
	} else if blocked {
		return fmt.Errorf("follow from %s, whose domain is blocked", act.Actor)
	}
	if p.Follower == "" {
		full, err := f.hostIsFull(ctx, p)
		if err != nil {
			return err
		}
		if full {
			// Rejected, not stored: anyone may follow, but one domain's
			// followers must not grow the delivery work without bound.
			f.log.Warn("follow rejected: too many followers from this domain (--max-followers-per-host)",
				"actor", act.Actor, "domain", followDomain(p.Host), "max", f.followersPerHost)
			p.FollowerFollowID = act.ID
			return f.answerFollow(ctx, p, "Reject")
		}
	}
	p.FollowerFollowID = act.ID
	p.Updated = f.now().UTC()
	if f.policy == PolicyApprove && p.Follower != state.StateAccepted {
		p.Follower = state.StatePending
		f.log.Info("follow request waits for approval (communs peer requests)", "actor", act.Actor)
		return f.peers.PutPeer(ctx, p)
	}
	p.Follower = state.StateAccepted
	if err := f.peers.PutPeer(ctx, p); err != nil {
		return err
	}
	f.log.Info("new follower", "actor", act.Actor)
	return f.answerFollow(ctx, p, "Accept")
}

// hostIsFull reports whether the domain of a new follower already has the
// most followers it may have here (accepted or waiting for approval).
func (f *Federation) hostIsFull(ctx context.Context, p state.Peer) (bool, error) {
	if f.followersPerHost < 0 {
		return false, nil
	}
	peers, err := f.peers.ListPeers(ctx)
	if err != nil {
		return false, err
	}
	domain, n := followDomain(p.Host), 0
	for _, q := range peers {
		if q.ActorID != p.ActorID && q.Follower != "" && q.Follower != state.StateRejected && followDomain(q.Host) == domain {
			n++
		}
	}
	return n >= f.followersPerHost, nil
}

// followDomain is what the follower cap counts by: the registrable domain
// (a.evil.example and b.evil.example are one), or the host name itself for
// an IP address or a name without a public suffix; never the port.
func followDomain(host string) string {
	name := strings.Trim(hostname(host), "[]")
	if net.ParseIP(name) != nil {
		return name
	}
	if d, err := publicsuffix.EffectiveTLDPlusOne(name); err == nil {
		return d
	}
	return name
}

// answerFollow sends Accept or Reject for the follower's Follow.
func (f *Federation) answerFollow(ctx context.Context, p state.Peer, kind string) error {
	follow := map[string]any{"id": p.FollowerFollowID, "type": "Follow", "actor": p.ActorID, "object": f.urls.actor()}
	act, err := activity(kind, f.urls.activity(lower(kind), newID()), f.urls.actor(), follow, []string{p.ActorID}, nil)
	if err != nil {
		return err
	}
	return f.enqueue(ctx, act, []string{p.Inbox})
}

func (f *Federation) onAnswer(ctx context.Context, act incoming) error {
	defer f.peerLocks.lock(act.Actor)()
	p, err := f.peers.GetPeer(ctx, act.Actor)
	if err != nil {
		return fmt.Errorf("%s answered a follow this hub did not send: %w", act.Actor, err)
	}
	if p.FollowID == "" || (act.ObjectID != p.FollowID && act.ObjectID != f.urls.actor()) {
		return fmt.Errorf("%s answered %s, not this hub's follow %s", act.Actor, act.ObjectID, p.FollowID)
	}
	if act.Type == "Reject" {
		p.Following = state.StateRejected
		f.log.Info("follow rejected", "actor", act.Actor)
		return f.peers.PutPeer(ctx, p)
	}
	p.Following = state.StateAccepted
	p.Updated = f.now().UTC()
	// Recorded with the acceptance: a stop before the backfill ends
	// resumes it at the next start (resumeBackfills).
	p.BackfillNext = p.Outbox
	if err := f.peers.PutPeer(ctx, p); err != nil {
		return err
	}
	f.log.Info("follow accepted; backfilling", "actor", act.Actor)
	f.startBackfill(p)
	return nil
}

func (f *Federation) onUndo(ctx context.Context, act incoming) error {
	inner := ""
	if act.Object != nil {
		inner, _ = act.Object["type"].(string)
	}
	if inner == "Announce" {
		return f.onUndoAnnounce(ctx, act)
	}
	defer f.peerLocks.lock(act.Actor)()
	p, err := f.peers.GetPeer(ctx, act.Actor)
	if err != nil {
		return nil // nothing to undo
	}
	if inner == "Follow" || act.ObjectID == p.FollowerFollowID {
		p.Follower, p.FollowerFollowID = "", ""
		f.log.Info("follower left", "actor", act.Actor)
		return f.savePeer(ctx, p)
	}
	return nil
}

// savePeer stores a peer, or forgets it when no relation is left.
func (f *Federation) savePeer(ctx context.Context, p state.Peer) error {
	if p.Follower == "" && p.Following == "" {
		return f.peers.DeletePeer(ctx, p.ActorID)
	}
	p.Updated = f.now().UTC()
	return f.peers.PutPeer(ctx, p)
}

// onResource stores a resource sent by a hub this node follows, checked
// against this node's licence policy, mirrored when the peer's policy says
// so.
func (f *Federation) onResource(ctx context.Context, act incoming) error {
	p, err := f.peers.GetPeer(ctx, act.Actor)
	if err != nil || p.Following != state.StateAccepted {
		return fmt.Errorf("%s %s from %s, which this hub does not follow", act.Type, act.ObjectID, act.Actor)
	}
	if act.Object == nil {
		return fmt.Errorf("%s %s without the object embedded", act.Type, act.ObjectID)
	}
	if err := f.saveRemote(ctx, p, act.Object); err != nil {
		return err
	}
	if act.Type == "Update" {
		return f.reannounce(ctx, act.ObjectID) // when this hub shares it
	}
	return nil
}

func (f *Federation) saveRemote(ctx context.Context, p state.Peer, obj map[string]any) error {
	r, files, err := parseResource(obj)
	if err != nil {
		return err
	}
	if hostOf(r.Origin) != p.Host {
		return fmt.Errorf("object %s is not on %s", r.Origin, p.Host)
	}
	errs, err := f.saveCopies(ctx, p, []node.RemoteItem{{Resource: r, Files: files, LegacyID: node.LegacyRemoteID(r.Origin, objectSlug(obj))}})
	if err == nil {
		err = errs[0]
	}
	if err != nil {
		return fmt.Errorf("resource %s from %s: %w", r.Origin, p.Host, err)
	}
	return nil
}

// errDropped is a resource an admin dropped: its origin's updates are not
// applied (communs peer undrop lets them in again).
var errDropped = errors.New("this copy was dropped by an admin (communs peer undrop brings it back)")

// saveCopies stores resources received from peer p, in one transaction.
// The hub they show is the peer's own name here (peerHub), whatever the
// objects say, so no hub can publish under another's name; copies an
// admin dropped are skipped. errs holds each item's refusal.
func (f *Federation) saveCopies(ctx context.Context, p state.Peer, items []node.RemoteItem) ([]error, error) {
	return f.saveCopiesWith(ctx, p, items, f.mirror(p))
}

// saveCopiesWith is saveCopies with another mirror policy than p's own
// (a shared copy follows the sharing hub's).
func (f *Federation) saveCopiesWith(ctx context.Context, p state.Peer, items []node.RemoteItem, m node.Mirror) ([]error, error) {
	errs := make([]error, len(items))
	hub, err := f.peerHub(ctx, p)
	if err != nil {
		return errs, err
	}
	// Held for reading across the save: a drop (write lock) cannot fall
	// between "not dropped" and the copy being stored.
	f.dropMu.RLock()
	defer f.dropMu.RUnlock()
	var keep []node.RemoteItem
	var at []int
	for i, it := range items {
		dropped, err := f.drops.IsDropped(ctx, it.Resource.Origin)
		if err != nil {
			return errs, err
		}
		if dropped {
			errs[i] = errDropped
			continue
		}
		it.Resource.Hub = hub
		keep = append(keep, it)
		at = append(at, i)
	}
	if len(keep) == 0 {
		return errs, nil
	}
	_, kerrs, err := f.svc.SaveRemoteMany(ctx, keep, m)
	for j, e := range kerrs {
		errs[at[j]] = e
	}
	return errs, err
}

// peerHub is the hub name shown for a peer's resources: its
// preferredUsername as a slug ("hub-du-sud" for acct:hub-du-sud@sud.example),
// or, when that name is this node's own or another peer's, the name with
// the host ("hub-du-sud-sud-example"). It is chosen once and kept in the
// peer record, so it never changes under the resources that carry it.
func (f *Federation) peerHub(ctx context.Context, p state.Peer) (string, error) {
	if p.Hub != "" {
		return p.Hub, nil
	}
	f.hubMu.Lock()
	defer f.hubMu.Unlock()
	peers, err := f.peers.ListPeers(ctx)
	if err != nil {
		return "", err
	}
	taken := map[string]bool{f.username: true, f.svc.Hub(): true}
	for _, q := range peers {
		if q.ActorID == p.ActorID {
			if q.Hub != "" {
				return q.Hub, nil
			}
			continue
		}
		if q.Hub != "" {
			taken[q.Hub] = true
		}
	}
	hub := hubName(p, taken)
	err = f.peers.UpdatePeers(ctx, []string{p.ActorID}, func(q *state.Peer) {
		if q.Hub == "" {
			q.Hub = hub
		}
		hub = q.Hub
	})
	return hub, err
}

// hubName picks a peer's hub name not in taken: the username, else the
// username with the host, else that with -2, -3...
func hubName(p state.Peer, taken map[string]bool) string {
	user, _, _ := strings.Cut(p.Handle, "@")
	user, host := slugOrEmpty(user), slugOrEmpty(strings.ReplaceAll(p.Host, ".", "-"))
	fit := func(s string, room int) string {
		if len(s) > room {
			s = strings.TrimRight(s[:room], "-")
		}
		return s
	}
	base := user
	if base == "" {
		base = host
	}
	if base == "" {
		base = "hub"
	}
	if !taken[base] {
		return base
	}
	withHost := base
	if host != "" && base != host {
		withHost = fit(base, node.MaxIDLen-len(host)-1) + "-" + fit(host, node.MaxIDLen/2)
	}
	if !taken[withHost] {
		return withHost
	}
	for i := 2; ; i++ {
		suffix := fmt.Sprintf("-%d", i)
		if c := fit(withHost, node.MaxIDLen-len(suffix)) + suffix; !taken[c] {
			return c
		}
	}
}

// slugOrEmpty is node.Slugify without its placeholder for names with
// nothing to keep.
func slugOrEmpty(s string) string {
	out := node.Slugify(s)
	if out == "ressource" && !strings.Contains(strings.ToLower(s), "ressource") {
		return ""
	}
	return out
}

// mirror is the peer's mirror policy as the service takes it.
func (f *Federation) mirror(p state.Peer) node.Mirror {
	m := node.Mirror{MaxSize: p.MirrorMaxSize}
	if p.Mirror == state.MirrorFiles {
		m.Fetch = f.fetchFile
	}
	return m
}

func (f *Federation) onDelete(ctx context.Context, act incoming) error {
	slug := ""
	if act.Object != nil {
		slug, _ = act.Object["slug"].(string)
	}
	if slug == "" {
		slug = act.ObjectID[lastSlash(act.ObjectID)+1:]
	}
	if act.ObjectID == act.Actor {
		// The actor itself is gone: forget the peer and its copies here.
		defer f.peerLocks.lock(act.Actor)()
		if p, err := f.peers.GetPeer(ctx, act.Actor); err == nil {
			if _, err := f.svc.DeleteRemoteFrom(ctx, originPrefix(p)); err != nil {
				return err
			}
		}
		return f.peers.DeletePeer(ctx, act.Actor)
	}
	// A collection's copy, if the object was one (ids are on the actor's
	// host, checked by the inbox).
	if err := f.svc.DeleteRemoteCollection(ctx, act.ObjectID); err != nil {
		return err
	}
	return f.deleteCopy(ctx, act.ObjectID, slug)
}

// deleteCopy removes the copy of an origin object, stored under its id or,
// for copies stored before 80-bit tags, its legacy id. A resource under
// either id with another origin is not this object's copy and stays.
func (f *Federation) deleteCopy(ctx context.Context, origin, slug string) error {
	for _, id := range []string{node.RemoteID(origin, slug), node.LegacyRemoteID(origin, slug)} {
		if err := f.svc.DeleteRemote(ctx, id, origin); err != nil && !errors.Is(err, node.ErrForbidden) {
			return err
		}
	}
	return f.copyGone(ctx, origin) // takes back this hub's share of it
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}
