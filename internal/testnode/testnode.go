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
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation"
	"github.com/communs-numerique/communs/internal/app"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/catalog"
	"github.com/communs-numerique/communs/web"
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
	Fed *federation.Federation
	// App is the node as internal/app opened it (admin handler, metrics).
	App    *app.Node
	closed bool
}

// Start starts a node and stops it when the test ends. It is built by
// internal/app like `communs serve` builds its node, so tests go through
// the production handler chain (health, metrics, gzip, federation, web).
func Start(t testing.TB, opt Options) *Node {
	t.Helper()
	if opt.Dir == "" {
		opt.Dir = t.TempDir()
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("COMMUNS_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	server := httptest.NewUnstartedServer(nil)
	if opt.Addr != "" {
		server.Listener.Close()
		ln, err := listenRetry(opt.Addr)
		if err != nil {
			t.Fatalf("listen on %s: %v", opt.Addr, err)
		}
		server.Listener = ln
	}
	url := "http://" + server.Listener.Addr().String()
	cfg := app.Config{Data: opt.Dir, PublicURL: url, Hub: opt.Hub, Storage: "disk", Blobs: opt.Blobs,
		Search: "embedded", NoSearch: !opt.Search && opt.Index == nil, Index: opt.Index,
		Allow: opt.Allow, MaxFileSize: opt.MaxFileSize, Logger: log, Version: "test",
		FollowPolicy: opt.FollowPolicy, DeliveryTimeout: opt.DeliveryTimeout, MaxFollowersPerHost: 16}
	if opt.FollowersPerHost != 0 {
		cfg.MaxFollowersPerHost = max(opt.FollowersPerHost, 0)
	}
	if cfg.Hub == "" {
		cfg.Hub = "local"
	}
	if opt.Federate {
		if opt.Hub == "" {
			cfg.Hub = "hub"
		}
		cfg.Name = "Hub " + cfg.Hub
		cfg.DevFederation, cfg.RetryBase = true, 200*time.Millisecond
	} else {
		// Without --dev-federation an http public URL keeps federation off,
		// as on a node served on http://localhost.
		cfg.DevFederation = false
	}
	a, err := app.Open(context.Background(), cfg)
	if err != nil {
		server.Listener.Close()
		t.Fatalf("open node: %v", err)
	}
	n := &Node{Dir: opt.Dir, URL: url, App: a, Service: a.Service, Catalog: a.Stores.Catalog, Blobs: a.Stores.Blobs,
		Index: a.Stores.Index, Indexer: a.Stores.Indexer, Fed: a.Fed, Server: server}
	handler := a.PublicHandler()
	if opt.Wrap != nil {
		handler = opt.Wrap(handler)
	}
	server.Config.Handler = handler
	server.Start()
	ctx := context.Background()
	svc := n.Service
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

// Close stops the server, then the node's workers and stores (as serve
// does); the data folder stays, so Start with the same Dir restarts the
// node.
func (n *Node) Close() {
	if n.closed {
		return
	}
	n.closed = true
	n.Server.Close()
	n.App.Close()
}
