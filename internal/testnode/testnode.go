// Package testnode starts real nodes in-process for tests: a bbolt catalog
// in a temp folder, a disk or S3 blob store, and the HTTP handlers on a
// loopback port.
package testnode

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/node/web"
	"github.com/communs-numerique/communs/storage/blob"
	"github.com/communs-numerique/communs/storage/catalog"
	"github.com/communs-numerique/communs/storage/search/embedded"
)

// Options tune a test node.
type Options struct {
	// Dir is the data folder; empty means a new t.TempDir(). Reusing a Dir
	// restarts a node on the same data.
	Dir string
	// Blobs replaces the disk store (e.g. an S3 store on a test MinIO).
	Blobs       node.Blobs
	Allow       []string
	MaxFileSize int64
	Hub         string
	// Search runs the embedded search index (in Dir/search) and its
	// indexer; Index replaces the embedded engine (e.g. one that is down).
	Search bool
	Index  node.Index
	// Federate makes the node an ActivityPub actor in development mode
	// (plain HTTP on loopback), with fast delivery retries.
	Federate bool
	// FollowPolicy is auto (default) or approve.
	FollowPolicy string
	// DeliveryTimeout and FollowersPerHost tune federation (0: defaults).
	DeliveryTimeout  time.Duration
	FollowersPerHost int
	// Addr listens on a given loopback address, so a restarted node keeps
	// its URL (ActivityPub ids contain it).
	Addr string
	// Wrap, when set, wraps the node's HTTP handler: a test slows or
	// fails some of its routes.
	Wrap func(http.Handler) http.Handler
}

// Node is a running test node.
type Node struct {
	Dir     string
	URL     string
	Service *node.Service
	Catalog *catalog.Store
	Blobs   node.Blobs
	Server  *httptest.Server
	// Token is an editor's API token, Client uses it.
	Token  string
	Client *web.Client
	// Indexer follows the catalog into the index when search is on.
	Indexer *node.Indexer
	Index   node.Index
	// Fed is the node's federation side when Federate is set.
	Fed    *federation.Federation
	stop   context.CancelFunc
	done   chan struct{}
	closed bool
}

// Start starts a node and stops it when the test ends.
func Start(t testing.TB, opt Options) *Node {
	t.Helper()
	if opt.Dir == "" {
		opt.Dir = t.TempDir()
	}
	cat, err := catalog.Open(filepath.Join(opt.Dir, "catalog.db"))
	if err != nil {
		t.Fatalf("open catalog: %v", err)
	}
	blobs := opt.Blobs
	if blobs == nil {
		d, err := blob.NewDisk(filepath.Join(opt.Dir, "blobs"))
		if err != nil {
			t.Fatalf("open disk store: %v", err)
		}
		blobs = d
	}
	policy, err := node.NewPolicy(opt.Allow...)
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("COMMUNS_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	idx := opt.Index
	if idx == nil && opt.Search {
		if idx, err = embedded.Open(filepath.Join(opt.Dir, "search")); err != nil {
			t.Fatalf("open search index: %v", err)
		}
	}
	n := &Node{Dir: opt.Dir, Catalog: cat, Blobs: blobs, Index: idx, done: make(chan struct{})}
	var notify []func()
	changed := func() {
		for _, fn := range notify {
			fn()
		}
	}
	if idx != nil {
		n.Indexer = node.NewIndexer(cat, idx, "test", log)
		notify = append(notify, n.Indexer.Notify)
	}
	svc, err := node.New(node.Config{Catalog: cat, Accounts: cat, Blobs: blobs, Policy: policy, Hub: opt.Hub,
		MaxFileSize: opt.MaxFileSize, Logger: log, Index: idx, Changed: changed})
	if err != nil {
		t.Fatalf("service: %v", err)
	}
	n.Service = svc
	n.Server = httptest.NewUnstartedServer(nil)
	if opt.Addr != "" {
		n.Server.Listener.Close()
		ln, err := listenRetry(opt.Addr)
		if err != nil {
			t.Fatalf("listen on %s: %v", opt.Addr, err)
		}
		n.Server.Listener = ln
	}
	n.URL = "http://" + n.Server.Listener.Addr().String()
	var handler http.Handler = web.New(svc, web.Options{PublicURL: n.URL, Logger: log, Indexer: n.Indexer}).Handler()
	if opt.Federate {
		hub := opt.Hub
		if hub == "" {
			hub = "hub"
		}
		n.Fed, err = federation.New(federation.Config{PublicURL: n.URL, Username: hub, Name: "Hub " + hub, Service: svc,
			Store: cat, DataDir: opt.Dir, Dev: true, FollowPolicy: opt.FollowPolicy, Logger: log, Version: "test",
			RetryBase: 200 * time.Millisecond, DeliveryTimeout: opt.DeliveryTimeout, FollowersPerHost: opt.FollowersPerHost})
		if err != nil {
			t.Fatalf("federation: %v", err)
		}
		notify = append(notify, n.Fed.Notify)
		handler = n.Fed.Handler(handler)
	}
	var runCtx context.Context
	runCtx, n.stop = context.WithCancel(context.Background())
	go func() {
		defer close(n.done)
		var wg sync.WaitGroup
		if n.Indexer != nil {
			wg.Add(1)
			go func() { defer wg.Done(); n.Indexer.Run(runCtx) }()
		}
		if n.Fed != nil {
			wg.Add(1)
			go func() { defer wg.Done(); n.Fed.Run(runCtx) }()
		}
		wg.Wait()
	}()
	if opt.Wrap != nil {
		handler = opt.Wrap(handler)
	}
	n.Server.Config.Handler = handler
	n.Server.Start()
	ctx := context.Background()
	users, _ := svc.ListUsers(ctx)
	name := "editor"
	for _, u := range users {
		if u.Name == name {
			name = ""
		}
	}
	if name != "" {
		_, tok, err := svc.AddUser(ctx, name, node.RoleEditor)
		if err != nil {
			t.Fatalf("add editor: %v", err)
		}
		n.Token = tok
	} else {
		tok, err := svc.NewToken(ctx, "editor")
		if err != nil {
			t.Fatalf("token: %v", err)
		}
		n.Token = tok
	}
	n.Client = web.NewClient(n.URL, n.Token)
	t.Cleanup(n.Close)
	return n
}

// listenRetry binds addr, retrying briefly: a port just released by a
// stopped node may take a moment to be free again.
func listenRetry(addr string) (net.Listener, error) {
	var err error
	for range 50 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, err
}

// Close stops the server and closes the catalog; the data folder stays, so
// Start with the same Dir restarts the node.
func (n *Node) Close() {
	if n.closed {
		return
	}
	n.closed = true
	n.Server.Close()
	n.stop()
	<-n.done
	if n.Index != nil {
		n.Index.Close()
	}
	n.Catalog.Close()
}
