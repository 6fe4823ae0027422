package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"

	"github.com/communs-numerique/communs/federation"
	"github.com/communs-numerique/communs/internal/metrics"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/node/web"
	"github.com/communs-numerique/communs/storage/blob"
	"github.com/communs-numerique/communs/storage/catalog"
)

const socketName = "communs.sock"

func serveCommand() *cli.Command {
	flags := append(nodeFlags(),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "address to listen on", EnvVars: []string{"COMMUNS_LISTEN"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "metrics-token", Usage: "serve Prometheus metrics at /metrics to scrapers sending Authorization: Bearer TOKEN", EnvVars: []string{"COMMUNS_METRICS_TOKEN"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with this certificate (PEM); a TLS reverse proxy stays the recommended setup", EnvVars: []string{"COMMUNS_TLS_CERT"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "tls-key", Usage: "private key (PEM) of --tls-cert", EnvVars: []string{"COMMUNS_TLS_KEY"}}),
		altsrc.NewDurationFlag(&cli.DurationFlag{Name: "read-timeout", Value: 30 * time.Second, Usage: "time to read a request's headers and body, uploads excepted (a slow client is cut after it)", EnvVars: []string{"COMMUNS_READ_TIMEOUT"}}),
		altsrc.NewDurationFlag(&cli.DurationFlag{Name: "upload-idle-timeout", Value: web.DefaultUploadIdleTimeout, Usage: "an editor's upload is cut when no byte arrives for this long (there is no limit on its total time)", EnvVars: []string{"COMMUNS_UPLOAD_IDLE_TIMEOUT"}}),
		altsrc.NewIntFlag(&cli.IntFlag{Name: "max-connections", Value: 1024, Usage: "open connections served at once; more wait in the listen queue, idle keep-alive connections are closed first", EnvVars: []string{"COMMUNS_MAX_CONNECTIONS"}}),
	)
	flags = append(flags, profileFlags()...)
	return &cli.Command{
		Name:   "serve",
		Usage:  "démarrer le nœud / start the node",
		Flags:  flags,
		Before: loadConfigFile(flags),
		Action: func(c *cli.Context) error {
			cfg, err := readConfig(c)
			if err != nil {
				return err
			}
			if (c.String("tls-cert") == "") != (c.String("tls-key") == "") {
				return fmt.Errorf("--tls-cert and --tls-key go together")
			}
			if c.Duration("read-timeout") <= 0 || c.Duration("upload-idle-timeout") <= 0 || c.Int("max-connections") < 1 {
				return fmt.Errorf("--read-timeout and --upload-idle-timeout must be positive durations (e.g. 30s), --max-connections at least 1")
			}
			so := serveOptions{listen: c.String("listen"), tlsCert: c.String("tls-cert"),
				tlsKey: c.String("tls-key"), metricsToken: c.String("metrics-token"), configFile: c.String("config"),
				readTimeout: c.Duration("read-timeout"), uploadIdle: c.Duration("upload-idle-timeout"), maxConns: c.Int("max-connections")}
			if so.profile, err = readProfile(c); err != nil {
				return err
			}
			return serve(c.Context, cfg, so)
		},
	}
}

func openStores(ctx context.Context, cfg config) (*stores, error) {
	if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
		return nil, fmt.Errorf("create data folder %s: %w", cfg.Data, err)
	}
	cat, err := catalog.Open(filepath.Join(cfg.Data, "catalog.db"))
	if err != nil {
		return nil, err
	}
	st := &stores{catalog: cat}
	switch cfg.Storage {
	case "s3":
		s3, err := blob.NewS3(ctx, cfg.S3)
		if err != nil {
			cat.Close()
			return nil, fmt.Errorf("S3 storage at %s: %w", cfg.S3.Endpoint, err)
		}
		st.blobs = s3
	default:
		d, err := blob.NewDisk(filepath.Join(cfg.Data, "blobs"))
		if err != nil {
			cat.Close()
			return nil, err
		}
		st.blobs = d
	}
	return st, nil
}

type serveOptions struct {
	listen, tlsCert, tlsKey, metricsToken, configFile string
	profile                                           hubProfile
	readTimeout, uploadIdle                           time.Duration
	maxConns                                          int
}

func serve(ctx context.Context, cfg config, so serveOptions) error {
	listen, tlsCert, tlsKey := so.listen, so.tlsCert, so.tlsKey
	m := metrics.New()
	cfg.metrics = m
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	svc, st, err := newService(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer st.Close()

	// The indexer stops before the stores close (deferred above, so run
	// after): it must not write to a closed catalog or index.
	workCtx, stopWorkers := context.WithCancel(context.Background())
	var workers sync.WaitGroup
	defer workers.Wait()
	defer stopWorkers()
	if _, err := st.indexer.RebuildIfEmpty(ctx); err != nil {
		log.Warn("search index not checked; the indexer retries", "err", err)
	}
	workers.Add(1)
	go func() {
		defer workers.Done()
		st.indexer.Run(workCtx)
	}()
	brand := web.NewBrand(cfg.Name, so.profile.logo, so.profile.banner)
	cfg.profile = federation.Profile{IconURL: cfg.PublicURL + web.LogoPath, IconType: brand.Logo.Type,
		ImageURL: cfg.PublicURL + web.BannerPath, ImageType: brand.Banner.Type,
		Website: so.profile.website, Region: cfg.Region, Discoverable: so.profile.discoverable}
	fed, why, err := openFederation(cfg, svc, st, log)
	if err != nil {
		return err
	}
	if fed == nil {
		log.Warn("federation off", "reason", why)
	} else {
		st.notify = append(st.notify, fed.Notify)
		workers.Add(1)
		go func() {
			defer workers.Done()
			fed.Run(workCtx)
		}()
	}

	sessionKey, err := web.LoadSessionKey(filepath.Join(cfg.Data, "session.key"))
	if err != nil {
		return err
	}
	opts := web.Options{PublicURL: cfg.PublicURL, Name: cfg.Name, Logger: log, Indexer: st.indexer,
		Region: cfg.Region, Description: cfg.Description, SessionKey: sessionKey, Brand: &brand, UploadIdleTimeout: so.uploadIdle}
	if fed != nil {
		opts.ActorURL, opts.Peers = fed.ActorURL(), peerInfos(fed)
	}
	srv := web.New(svc, opts)
	tcp, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	ln := newConnLimiter(tcp, so.maxConns)
	sock, err := listenSocket(filepath.Join(cfg.Data, socketName))
	if err != nil {
		ln.Close()
		return err
	}
	publicHandler, adminHandler := srv.Handler(), srv.AdminHandler()
	adminMux := http.NewServeMux()
	adminMux.Handle("GET /admin/v1/backup", backupHandler(st, cfg, so.configFile))
	adminMux.Handle("GET /admin/v1/doctor", doctorHandler(cfg, st, fed, why))
	if fed != nil {
		publicHandler = fed.Handler(publicHandler)
		adminMux.Handle("/admin/v1/peers", fed.AdminHandler())
		adminMux.Handle("/admin/v1/peers/", fed.AdminHandler())
	}
	adminMux.Handle("/", adminHandler)
	adminHandler = adminMux
	registerGauges(m, st, fed)
	publicHandler = healthRoutes(web.Compress(publicHandler), st, m, so.metricsToken, log)
	// The admin socket answers the probes too: it does not share the
	// public listener's connection limit, so a local check still gets an
	// answer while the public side is saturated.
	adminMux.Handle("GET /healthz", publicHandler)
	adminMux.Handle("GET /readyz", publicHandler)
	// Deadlines: headers within 10 s, the whole request within
	// --read-timeout (uploads switch to a per-read idle deadline, see
	// node/web/deadlines.go), and at most --max-connections at once.
	public := &http.Server{Handler: publicHandler, ReadHeaderTimeout: min(10*time.Second, so.readTimeout),
		ReadTimeout: so.readTimeout, IdleTimeout: 2 * time.Minute, ConnState: ln.ConnState,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	admin := &http.Server{Handler: adminHandler, ReadHeaderTimeout: 10 * time.Second}

	// Signals are caught before the first request is served: a SIGTERM
	// arriving just after start must stop the node gracefully too.
	sigc := make(chan os.Signal, 2)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigc)
	errc := make(chan error, 2)
	go func() {
		if tlsCert != "" {
			errc <- public.ServeTLS(ln, tlsCert, tlsKey)
			return
		}
		errc <- public.Serve(ln)
	}()
	go func() { errc <- admin.Serve(sock) }()
	fmt.Fprintf(os.Stderr, "Communs « %s » : %s (écoute sur %s)\nDonnées / data: %s (fichiers / files: %s)\n",
		cfg.Name, cfg.PublicURL, ln.Addr(), cfg.Data, storageLabel(cfg))
	if fed != nil {
		fmt.Fprintf(os.Stderr, "Fédération / federation: @%s (%s)\n", fed.Handle(), fed.ActorURL())
	}
	if empty, err := catalogEmpty(ctx, svc); err == nil {
		printFirstSteps(os.Stdout, isTerminal(os.Stdout), empty)
	}
	log.Info("node started", "public_url", cfg.PublicURL, "listen", ln.Addr().String(), "data", cfg.Data, "storage", cfg.Storage, "search", cfg.Search)

	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	case sig := <-sigc:
		log.Info("shutting down", "signal", sig.String())
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		// A second signal means "now": in-flight uploads are dropped, and
		// their temp files never become visible.
		<-sigc
		log.Warn("second signal: exiting at once")
		os.Exit(1)
	}()
	// Both listeners stop at once and share the grace period: a long admin
	// command must not use it up while the public side keeps accepting.
	var stopping sync.WaitGroup
	for _, srv := range []*http.Server{public, admin} {
		stopping.Add(1)
		go func() {
			defer stopping.Done()
			if err := srv.Shutdown(shutdownCtx); err != nil {
				log.Warn("shutdown: requests still running after the grace period", "err", err)
			}
		}()
	}
	stopping.Wait()
	return nil
}

func storageLabel(cfg config) string {
	if cfg.Storage == "s3" {
		return "s3://" + cfg.S3.Endpoint + "/" + cfg.S3.Bucket
	}
	return filepath.Join(cfg.Data, "blobs")
}

// listenSocket opens the admin socket, replacing a stale one left by a
// crash; bbolt's lock already guarantees no other node uses this folder.
func listenSocket(path string) (net.Listener, error) {
	_ = os.Remove(path)
	old := syscall.Umask(0o077)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	return ln, nil
}

// hubProfile is how the hub presents itself beyond its name: pictures,
// web site, and whether fediverse directories may list it.
type hubProfile struct {
	logo, banner *web.Image
	website      string
	discoverable bool
}

// profileFlags are serve's flags for the hub's public face (pages,
// previews and fediverse account); --region and --description are node
// flags.
func profileFlags() []cli.Flag {
	return []cli.Flag{
		altsrc.NewStringFlag(&cli.StringFlag{Name: "logo", Usage: "square picture of the hub (PNG, JPEG or WebP, at most 2 MiB): fediverse avatar and page previews; drawn from the name when unset", EnvVars: []string{"COMMUNS_LOGO"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "banner", Usage: "wide picture of the hub (PNG, JPEG or WebP, at most 2 MiB, about 1500×500): fediverse header and og:image; drawn from the name when unset", EnvVars: []string{"COMMUNS_BANNER"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "website", Usage: "the hub's own web site, shown on its fediverse profile", EnvVars: []string{"COMMUNS_WEBSITE"}}),
		altsrc.NewBoolFlag(&cli.BoolFlag{Name: "discoverable", Value: true, Usage: "let Mastodon's directory and search list the hub's account (--discoverable=false to opt out)", EnvVars: []string{"COMMUNS_DISCOVERABLE"}}),
	}
}

func readProfile(c *cli.Context) (hubProfile, error) {
	p := hubProfile{website: c.String("website"), discoverable: c.Bool("discoverable")}
	if p.website != "" {
		if u, err := url.Parse(p.website); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return p, fmt.Errorf("--website %q: give an http(s) URL, e.g. https://www.example.fr/", p.website)
		}
	}
	for _, f := range []struct {
		flag string
		dst  **web.Image
	}{{"logo", &p.logo}, {"banner", &p.banner}} {
		if path := c.String(f.flag); path != "" {
			img, err := web.LoadImage(path)
			if err != nil {
				return p, fmt.Errorf("--%s: %w", f.flag, err)
			}
			*f.dst = &img
		}
	}
	return p, nil
}

// catalogEmpty tells whether the node holds no resource at all.
func catalogEmpty(ctx context.Context, svc *node.Service) (bool, error) {
	rs, _, err := svc.List(ctx, node.ListOptions{Limit: 1})
	return len(rs) == 0, err
}
