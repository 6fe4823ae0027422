// Package state holds what federation persists: peers, its inbox and delivery
// queues, blocks and cached keys. It has no dependency on go-fed or HTTP, so
// the bbolt catalog can implement its Store without pulling them in.
package state

import (
	"context"
	"time"
)

// Follow states, on both sides of a relationship.
const (
	StatePending  = "pending"
	StateAccepted = "accepted"
	StateRejected = "rejected"
)

// Mirror policies for a followed hub's files.
const (
	MirrorNone  = "none"
	MirrorFiles = "files"
)

// Peer is another actor this node knows: a hub it follows, a hub or a
// Mastodon/GoToSocial account that follows it, or both.
type Peer struct {
	ActorID     string `json:"actor_id"`
	Host        string `json:"host"`
	Handle      string `json:"handle,omitempty"` // name@host
	Name        string `json:"name,omitempty"`
	Inbox       string `json:"inbox"`
	SharedInbox string `json:"shared_inbox,omitempty"`
	Outbox      string `json:"outbox,omitempty"`
	// Following is this node's follow of the peer; FollowID the id of the
	// Follow activity sent, so that an Accept or an Undo can name it.
	Following string `json:"following,omitempty"`
	FollowID  string `json:"follow_id,omitempty"`
	// Follower is the peer's follow of this node; FollowerFollowID the id
	// of the Follow it sent (Accept and Reject refer to it).
	Follower         string `json:"follower,omitempty"`
	FollowerFollowID string `json:"follower_follow_id,omitempty"`
	Mirror           string `json:"mirror,omitempty"`
	MirrorMaxSize    int64  `json:"mirror_max_size,omitempty"`

	LastDelivery time.Time `json:"last_delivery,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	Failures     int       `json:"failures,omitempty"`
	Backfilled   time.Time `json:"backfilled,omitzero"`
	// BackfillNext is the outbox page a backfill reads next: the outbox
	// itself once a follow is accepted, then each next page as the pages
	// are saved, empty when it is done. A backfill cut by a restart
	// resumes from it at the next start.
	BackfillNext string    `json:"backfill_next,omitempty"`
	Updated      time.Time `json:"updated"`

	// Hub is the name this node shows for the peer's resources (their
	// "hub" field, search by hub=, credit lines), derived from the actor
	// (its preferredUsername, with its host when that name is this node's
	// own or another peer's) when the peer is first met, and kept; never
	// what a resource claims.
	Hub string `json:"hub,omitempty"`
}

// InboxItem is a verified activity waiting to be applied.
type InboxItem struct {
	Seq      uint64    `json:"seq"`
	ID       string    `json:"id"`
	Actor    string    `json:"actor"`
	Body     []byte    `json:"body"`
	Received time.Time `json:"received"`
}

// Delivery is one activity to POST to one inbox.
type Delivery struct {
	Seq      uint64    `json:"seq"`
	Inbox    string    `json:"inbox"`
	Body     []byte    `json:"body"`
	Attempts int       `json:"attempts"`
	NextAt   time.Time `json:"next_at"`
	Created  time.Time `json:"created"`
	LastErr  string    `json:"last_error,omitempty"`
}

// RemoteKey is a cached public key of a remote actor.
type RemoteKey struct {
	KeyID   string    `json:"key_id"`
	Owner   string    `json:"owner"`
	PEM     string    `json:"pem"`
	Fetched time.Time `json:"fetched"`
}

// Dropped is a copy an admin removed for good: updates and backfills from
// its origin do not bring it back until it is undropped.
type Dropped struct {
	// Origin is the origin's object id; ID the local id the copy had.
	Origin string    `json:"origin"`
	ID     string    `json:"id"`
	Title  string    `json:"title,omitempty"`
	At     time.Time `json:"at"`
}

// Store persists what federation must not lose across restarts: the union
// of the roles below, which each part of federation uses on its own. The
// bbolt catalog implements it (storage/catalog), so that queues and peers
// live in the node's single consistent file.
type Store interface {
	Peers
	Inbox
	Deliveries
	Blocks
	Keys
	Announcements
	Drops
	Shares
}

// Peers stores the actors this node follows or is followed by.
type Peers interface {
	PutPeer(ctx context.Context, p Peer) error
	// UpdatePeers applies fn to each stored peer of ids in one transaction
	// (delivery results for a thousand followers must not cost a thousand
	// disk syncs), reading each inside it so concurrent changes survive.
	UpdatePeers(ctx context.Context, ids []string, fn func(*Peer)) error
	// GetPeer returns node.ErrNotFound for an unknown actor.
	GetPeer(ctx context.Context, actorID string) (Peer, error)
	ListPeers(ctx context.Context) ([]Peer, error)
	DeletePeer(ctx context.Context, actorID string) error
}

// Inbox is the queue of verified activities waiting to be applied, and
// the memory of the activity ids already seen.
type Inbox interface {
	// EnqueueInbox records an activity unless its id was seen before, in
	// which case it returns false and stores nothing.
	EnqueueInbox(ctx context.Context, it InboxItem) (bool, error)
	InboxItems(ctx context.Context, limit int) ([]InboxItem, error)
	InboxDone(ctx context.Context, seq uint64) error
}

// Deliveries is the queue of activities to POST to other inboxes.
type Deliveries interface {
	// EnqueueDeliveries queues deliveries in order. Deliveries of one call
	// sharing a body (one activity fanned out to many inboxes) store it
	// once.
	EnqueueDeliveries(ctx context.Context, ds []Delivery) error
	// Deliveries returns the queue in order, oldest first, with bodies.
	Deliveries(ctx context.Context, limit int) ([]Delivery, error)
	// DueHeads returns, for each inbox, its oldest delivery when it is due
	// at now, with its body; the rest of the queue is read without bodies.
	DueHeads(ctx context.Context, now time.Time) ([]Delivery, error)
	UpdateDelivery(ctx context.Context, d Delivery) error
	DeleteDelivery(ctx context.Context, seq uint64) error
	// DeleteDeliveries removes several deliveries in one transaction.
	DeleteDeliveries(ctx context.Context, seqs []uint64) error
	DeliveryCount(ctx context.Context) (int, error)
}

// Blocks is the list of blocked domains.
type Blocks interface {
	Block(ctx context.Context, domain string) error
	Unblock(ctx context.Context, domain string) error
	Blocked(ctx context.Context, domain string) (bool, error)
	Blocks(ctx context.Context) ([]string, error)
}

// Keys caches remote actors' public keys.
type Keys interface {
	PutKey(ctx context.Context, k RemoteKey) error
	// GetKey returns node.ErrNotFound for an unknown key id.
	GetKey(ctx context.Context, keyID string) (RemoteKey, error)
}

// Announcements records which local resources followers have heard of.
type Announcements interface {
	// Announced reports whether a Create was sent for a local resource, so
	// a later change is an Update; SetAnnounced records it (false on
	// delete).
	Announced(ctx context.Context, id string) (bool, error)
	SetAnnounced(ctx context.Context, id string, v bool) error
}

// Drops records the copies an admin removed for good.
type Drops interface {
	// Drop records a dropped copy; Undrop forgets it (false when it was
	// not dropped); IsDropped tells by origin object id.
	Drop(ctx context.Context, d Dropped) error
	Undrop(ctx context.Context, origin string) (bool, error)
	IsDropped(ctx context.Context, origin string) (bool, error)
	Drops(ctx context.Context) ([]Dropped, error)
}

// Share is a copy this node announced to its followers (an Announce of
// its origin's object id), recorded so a second share is the same one and
// an undo names the Announce it takes back.
type Share struct {
	// Object is the origin's object id (the key); ID the copy's local id.
	Object   string    `json:"object"`
	ID       string    `json:"id"`
	Activity string    `json:"activity"`
	At       time.Time `json:"at"`
}

// SharedCopy is a copy this node holds because followed hubs shared it
// (not because it follows the origin): who shared it and when the origin
// was last read, for the periodic refresh.
type SharedCopy struct {
	// Object is the origin's object id (the key); ID the copy's local id;
	// OriginActor the actor the object is attributed to.
	Object      string `json:"object"`
	ID          string `json:"id"`
	OriginActor string `json:"origin_actor"`
	// Sharers are the actor ids of the followed hubs that announced it.
	Sharers []string  `json:"sharers"`
	Fetched time.Time `json:"fetched"`
}

// Shares records the shares this node sent and the copies it holds
// through others' shares, both keyed by the origin's object id.
type Shares interface {
	// GetShare and GetSharedCopy return node.ErrNotFound when absent.
	PutShare(ctx context.Context, s Share) error
	GetShare(ctx context.Context, object string) (Share, error)
	DeleteShare(ctx context.Context, object string) error
	PutSharedCopy(ctx context.Context, c SharedCopy) error
	GetSharedCopy(ctx context.Context, object string) (SharedCopy, error)
	DeleteSharedCopy(ctx context.Context, object string) error
	SharedCopies(ctx context.Context) ([]SharedCopy, error)
}
