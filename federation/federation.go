// Package federation makes a node an ActivityPub actor: discovery
// (WebFinger, NodeInfo), its actor and resource objects, a verified inbox,
// a persistent delivery queue, following other hubs and receiving their
// resources. go-fed/activity provides the vocabulary, go-fed/httpsig the
// HTTP signatures; both stay inside this package.
package federation

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/worker"
	"github.com/communs-numerique/communs/node"
)

// Follow policies.
const (
	PolicyAuto    = "auto"
	PolicyApprove = "approve"
)

// Config wires federation to the node.
type Config struct {
	// PublicURL is the node's external base URL: actor and object ids.
	PublicURL string
	// Username is the actor's name in acct:USERNAME@HOST (the hub slug).
	Username string
	Name     string
	Summary  string
	Service  *node.Service
	// Store is what federation persists; each part uses its roles only.
	Store state.Store
	// Feed is the catalog's change feed, which the publisher follows with
	// its own cursor.
	Feed node.ChangeFeed
	// DataDir holds the actor's key (federation/actor.pem).
	DataDir string
	// Dev allows plain HTTP, loopback and private destinations and
	// self-signed certificates: for local development and tests only.
	Dev          bool
	FollowPolicy string
	Logger       *slog.Logger
	Version      string
	Now          func() time.Time
	// DeliveryWorkers bounds concurrent POSTs to followers (default 32);
	// followers that were slow or failing get a quarter more of their own.
	DeliveryWorkers int
	// DeliveryTimeout bounds one POST to an inbox (default 10 s); a slower
	// inbox counts as failed and backs off.
	DeliveryTimeout time.Duration
	// FollowersPerHost caps the followers one domain may have here
	// (default 16; its registrable domain, so a.evil.example and
	// b.evil.example count together); an extra Follow gets a Reject.
	// Negative means no cap.
	FollowersPerHost int
	// RetryBase is the first delivery retry delay (default 10 s); tests
	// shorten it.
	RetryBase time.Duration

	// Profile is the actor's avatar, header, profile rows and
	// discoverability.
	Profile Profile
	// ShareRefresh is how old a copy held through another hub's share gets
	// before its origin is read again (default DefaultShareRefresh).
	ShareRefresh time.Duration
}

// Federation is the node's ActivityPub side.
type Federation struct {
	svc *node.Service
	// What federation persists, by role: peers (everyone), inboxQueue (the
	// inbox handler and worker), deliveries (the publisher queues, the
	// delivery worker sends), blocks (inbox, backfill, admin), keys
	// (signature checks), announced (the publisher), drops (the inbox
	// worker, admin); feed is what the publisher follows.
	peers      state.Peers
	inboxQueue state.Inbox
	deliveries state.Deliveries
	blocks     state.Blocks
	keys       state.Keys
	announced  state.Announcements
	drops      state.Drops
	feed       node.ChangeFeed
	// sharesStore and share: copies shared and held through shares
	// (announce.go).
	sharesStore state.Shares
	share       shares

	urls      urls
	host      string
	username  string
	name      string
	summary   string
	key       *rsa.PrivateKey
	publicPEM string
	dev       bool
	policy    string
	log       *slog.Logger
	version   string
	userAgent string
	now       func() time.Time
	http      *http.Client
	files     *http.Client
	workers   int
	retryBase time.Duration
	profile   Profile
	// deliveryTimeout bounds one POST; followersPerHost caps follows per
	// registrable domain (negative: no cap).
	deliveryTimeout  time.Duration
	followersPerHost int

	wakeInbox, wakeDeliver, wakeFeed chan struct{}
	backfills                        sync.Map // actor id -> struct{}: running
	// peerLocks serialises the read-modify-write of one peer's record by
	// the inbox worker and the admin commands, which would otherwise lose
	// each other's changes (an Accept recorded while an admin edits the
	// peer); one lock per actor, never held across a network fetch.
	peerLocks actorLocks
	// hubMu serialises choosing peers' hub names, so two peers never get
	// the same; dropMu orders an admin's drop against saves of copies.
	hubMu  sync.Mutex
	dropMu sync.RWMutex
	// runCtx is Run's context: background work (backfills) stops with
	// it, and Run waits for it before returning.
	runMu   sync.Mutex
	runCtx  context.Context
	running sync.WaitGroup
}

// New loads or creates the actor key and returns the federation side.
func New(cfg Config) (*Federation, error) {
	if cfg.Service == nil || cfg.Store == nil || cfg.Feed == nil {
		return nil, errors.New("federation: a service, a store and a change feed are required")
	}
	base := strings.TrimRight(cfg.PublicURL, "/")
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("federation: public URL %q is not an absolute URL", cfg.PublicURL)
	}
	if u.Scheme != "https" && !cfg.Dev {
		return nil, fmt.Errorf("federation: public URL %s is not https; other hubs only talk HTTPS (use --dev-federation for local tests)", base)
	}
	if cfg.Username == "" {
		cfg.Username = "hub"
	}
	if cfg.FollowPolicy == "" {
		cfg.FollowPolicy = PolicyAuto
	}
	if cfg.FollowPolicy != PolicyAuto && cfg.FollowPolicy != PolicyApprove {
		return nil, fmt.Errorf("--follow-policy %q: use auto or approve", cfg.FollowPolicy)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DeliveryWorkers <= 0 {
		cfg.DeliveryWorkers = 32
	}
	if cfg.DeliveryTimeout <= 0 {
		cfg.DeliveryTimeout = 10 * time.Second
	}
	if cfg.FollowersPerHost == 0 {
		cfg.FollowersPerHost = 16
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 10 * time.Second
	}
	key, err := loadOrCreateKey(filepath.Join(cfg.DataDir, "federation", "actor.pem"))
	if err != nil {
		return nil, err
	}
	pub, err := publicPEM(key)
	if err != nil {
		return nil, err
	}
	f := &Federation{
		svc: cfg.Service, peers: cfg.Store, inboxQueue: cfg.Store, deliveries: cfg.Store, blocks: cfg.Store,
		keys: cfg.Store, announced: cfg.Store, drops: cfg.Store, feed: cfg.Feed, urls: urls{base: base}, host: strings.ToLower(u.Host),
		username: cfg.Username, name: cfg.Name, summary: cfg.Summary, key: key, publicPEM: pub,
		dev: cfg.Dev, policy: cfg.FollowPolicy, log: cfg.Logger.With("part", "federation"), version: cfg.Version,
		now: cfg.Now, http: newHTTPClient(cfg.Dev), workers: cfg.DeliveryWorkers, retryBase: cfg.RetryBase,
		deliveryTimeout: cfg.DeliveryTimeout, followersPerHost: cfg.FollowersPerHost,
		wakeInbox: make(chan struct{}, 1), wakeDeliver: make(chan struct{}, 1), wakeFeed: make(chan struct{}, 1),
	}
	f.profile = cfg.Profile
	f.sharesStore, f.share.wake = cfg.Store, make(chan struct{}, 1)
	f.SetShareRefresh(cfg.ShareRefresh)
	f.files = newFileClient(f.http)
	f.userAgent = "Communs/" + cfg.Version + " (+" + base + "/)"
	return f, nil
}

// Handle is acct:USERNAME@HOST without the scheme.
func (f *Federation) Handle() string { return f.username + "@" + f.host }

// ActorURL is the node's actor id.
func (f *Federation) ActorURL() string { return f.urls.actor() }

func wake(c chan struct{}) { worker.Signal(c) }

// Notify tells the publisher the catalog changed.
func (f *Federation) Notify() { wake(f.wakeFeed) }

// Run runs the workers (inbox processing, delivery, publishing changes)
// until ctx ends.
func (f *Federation) Run(ctx context.Context) {
	f.runMu.Lock()
	f.runCtx = ctx
	f.runMu.Unlock()
	defer f.running.Wait()
	f.resumeBackfills(ctx)
	var wg sync.WaitGroup
	for _, loop := range []func(context.Context){f.runInbox, f.runDelivery, f.runPublisher, f.runShareRefresh} {
		wg.Add(1)
		go func() { defer wg.Done(); loop(ctx) }()
	}
	wg.Wait()
}

// background runs fn in Run's lifetime (or detached when Run is not
// running, as in a CLI command).
func (f *Federation) background(fn func(ctx context.Context)) {
	f.runMu.Lock()
	ctx := f.runCtx
	f.runMu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	f.running.Add(1)
	go func() {
		defer f.running.Done()
		fn(ctx)
	}()
}

// loop calls step whenever woken or every period, with backoff on error.
func (f *Federation) loop(ctx context.Context, what string, wakeC chan struct{}, period time.Duration, step func(context.Context) error) {
	worker.Loop{Step: step, Wake: wakeC, Period: period, Log: f.log, FailMsg: what + " failed; will retry"}.Run(ctx)
}
