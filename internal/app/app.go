package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/communs-numerique/communs/federation"
	"github.com/communs-numerique/communs/internal/metrics"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/web"
)

// ShutdownGrace is how long Run waits for the requests in flight.
const ShutdownGrace = 30 * time.Second

// Node is an opened node: its stores and workers run, its handlers are
// ready to serve. Close (or Run's end) stops it.
type Node struct {
	Config  Config
	Log     *slog.Logger
	Metrics *metrics.Metrics
	Service *node.Service
	Stores  *Stores
	// Fed is nil when federation is off; FedOff says why.
	Fed    *federation.Federation
	FedOff string

	public   http.Handler
	adminMux *http.ServeMux

	stopWorkers context.CancelFunc
	workers     sync.WaitGroup
	closeOnce   sync.Once
	closeErr    error
}

// Open turns cfg into a running node: stores, search index and indexer,
// federation, handlers; the indexer and federation workers start. Every
// configuration problem comes back at once. On error, what was already
// opened is closed again.
func Open(ctx context.Context, cfg Config) (_ *Node, err error) {
	if err := errors.Join(cfg.Validate(), cfg.ValidateServing()); err != nil {
		return nil, err
	}
	n := &Node{Config: cfg}
	defer func() {
		// A partial Open closes what it opened (each part only if it
		// started), so a failed start leaves the data folder unlocked.
		if err != nil {
			n.Close()
		}
	}()
	if n.Log, err = NewLogger(cfg); err != nil {
		return nil, err
	}
	log := n.Log
	n.Metrics = metrics.New()
	cfg.metrics = n.Metrics
	brandName := cfg.Name
	if brandName == "" {
		brandName = "Communs" // web's default name
	}
	brand := web.NewBrand(brandName, cfg.Logo, cfg.Banner)
	cfg.profile = federation.Profile{IconURL: cfg.PublicURL + web.LogoPath, IconType: brand.Logo.Type,
		ImageURL: cfg.PublicURL + web.BannerPath, ImageType: brand.Banner.Type,
		Website: cfg.Website, Region: cfg.Region, Discoverable: cfg.Discoverable}

	n.Service, n.Stores, err = OpenService(ctx, cfg, log, !cfg.NoSearch || cfg.Index != nil)
	if err != nil {
		return nil, err
	}
	st := n.Stores
	if st.Indexer != nil {
		if _, err := st.Indexer.RebuildIfEmpty(ctx); err != nil {
			log.Warn("search index not checked; the indexer retries", "err", err)
		}
	}
	n.Fed, n.FedOff, err = OpenFederation(cfg, n.Service, st, log)
	if err != nil {
		return nil, err
	}
	if n.Fed == nil {
		log.Warn("federation off", "reason", n.FedOff)
	} else {
		st.notify = append(st.notify, n.Fed.Notify)
	}
	sessionKey, err := web.LoadSessionKey(filepath.Join(cfg.Data, "session.key"))
	if err != nil {
		return nil, err
	}
	opts := web.Options{PublicURL: cfg.PublicURL, Name: cfg.Name, Logger: log, Indexer: st.Indexer,
		Region: cfg.Region, Description: cfg.Description, SessionKey: sessionKey, Brand: &brand, UploadIdleTimeout: cfg.UploadIdleTimeout,
		Harvest: st.Catalog}
	if opts.BundleSigner, err = BundleSigner(cfg, n.Fed); err != nil {
		return nil, err
	}
	if n.Fed != nil {
		opts.ActorURL, opts.Peers = n.Fed.ActorURL(), peerInfos(n.Fed)
	}
	srv := web.New(n.Service, opts)
	public := srv.Handler()
	n.adminMux = http.NewServeMux()
	if n.Fed != nil {
		public = n.Fed.Handler(public)
		n.adminMux.Handle("/admin/v1/peers", n.Fed.AdminHandler())
		n.adminMux.Handle("/admin/v1/peers/", n.Fed.AdminHandler())
	}
	n.adminMux.Handle("/", srv.AdminHandler())
	registerGauges(n.Metrics, st, n.Fed)
	n.public = healthRoutes(web.Compress(public), st, n.Metrics, cfg.MetricsToken, log)
	// The admin socket answers the probes too: it does not share the
	// public listener's connection limit, so a local check still gets an
	// answer while the public side is saturated.
	n.adminMux.Handle("GET /healthz", n.public)
	n.adminMux.Handle("GET /readyz", n.public)

	// The workers run on their own context: they stop in Close, after the
	// listeners, and before the stores close.
	workCtx, stop := context.WithCancel(context.Background())
	n.stopWorkers = stop
	if st.Indexer != nil {
		n.workers.Add(1)
		go func() {
			defer n.workers.Done()
			st.Indexer.Run(workCtx)
		}()
	}
	n.workers.Add(1)
	go func() {
		defer n.workers.Done()
		n.Service.RunDownloadCounter(workCtx)
	}()
	if n.Fed != nil {
		n.workers.Add(1)
		go func() {
			defer n.workers.Done()
			n.Fed.Run(workCtx)
		}()
	}
	return n, nil
}

// PublicHandler is the production chain of the public side: health and
// metrics, gzip, federation, web.
func (n *Node) PublicHandler() http.Handler { return n.public }

// AdminHandler is the admin socket's handler.
func (n *Node) AdminHandler() http.Handler { return n.adminMux }

// HandleAdmin adds a route to the admin socket (e.g. the CLI's backup and
// doctor, which live with their commands).
func (n *Node) HandleAdmin(pattern string, h http.Handler) { n.adminMux.Handle(pattern, h) }

// Run serves the public side on public and the admin side on admin (nil:
// none) until ctx ends or a server fails, then stops in order: both
// listeners close at once and share the grace period for the requests in
// flight, then the workers stop and the stores close.
func (n *Node) Run(ctx context.Context, public, admin net.Listener) error {
	cfg := n.Config
	readTimeout := cfg.ReadTimeout
	if readTimeout == 0 {
		readTimeout = 30 * time.Second
	}
	var connState func(net.Conn, http.ConnState)
	if cfg.MaxConnections > 0 {
		l := newConnLimiter(public, cfg.MaxConnections)
		public, connState = l, l.ConnState
	}
	// Deadlines: headers within 10 s, the whole request within
	// --read-timeout (uploads switch to a per-read idle deadline, see
	// web/deadlines.go), and at most --max-connections at once.
	servers := []*http.Server{{Handler: n.public, ReadHeaderTimeout: min(10*time.Second, readTimeout),
		ReadTimeout: readTimeout, IdleTimeout: 2 * time.Minute, ConnState: connState,
		ErrorLog: slog.NewLogLogger(n.Log.Handler(), slog.LevelWarn)}}
	errc := make(chan error, 2)
	go func() {
		if cfg.TLSCert != "" {
			errc <- servers[0].ServeTLS(public, cfg.TLSCert, cfg.TLSKey)
			return
		}
		errc <- servers[0].Serve(public)
	}()
	if admin != nil {
		srv := &http.Server{Handler: n.adminMux, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go func() { errc <- srv.Serve(admin) }()
	}
	var runErr error
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = fmt.Errorf("serve: %w", err)
		}
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	// Both listeners stop at once and share the grace period: a long admin
	// command must not use it up while the public side keeps accepting.
	var stopping sync.WaitGroup
	for _, srv := range servers {
		stopping.Add(1)
		go func() {
			defer stopping.Done()
			if err := srv.Shutdown(shutdownCtx); err != nil {
				n.Log.Warn("shutdown: requests still running after the grace period", "err", err)
			}
		}()
	}
	stopping.Wait()
	return errors.Join(runErr, n.Close())
}

// Close stops the workers and closes the stores. It is safe after a
// partial Open (each part only if it started) and more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		if n.stopWorkers != nil {
			n.stopWorkers()
			n.workers.Wait()
		}
		n.closeErr = n.Stores.Close()
	})
	return n.closeErr
}
