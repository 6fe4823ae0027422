package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"

	"github.com/communs-numerique/communs/internal/app"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/web"
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
			var errs []error
			if err != nil {
				errs = append(errs, err)
			}
			if c.Duration("read-timeout") <= 0 || c.Duration("upload-idle-timeout") <= 0 || c.Int("max-connections") < 1 {
				errs = append(errs, fmt.Errorf("--read-timeout and --upload-idle-timeout must be positive durations (e.g. 30s), --max-connections at least 1"))
			}
			cfg.MetricsToken, cfg.TLSCert, cfg.TLSKey = c.String("metrics-token"), c.String("tls-cert"), c.String("tls-key")
			cfg.ReadTimeout, cfg.UploadIdleTimeout, cfg.MaxConnections = c.Duration("read-timeout"), c.Duration("upload-idle-timeout"), c.Int("max-connections")
			if err := readProfile(c, &cfg); err != nil {
				errs = append(errs, err)
			}
			errs = append(errs, cfg.ValidateServing())
			if err := errors.Join(errs...); err != nil {
				return err
			}
			return serve(c.Context, cfg, c.String("listen"), c.String("config"))
		},
	}
}

// serve runs the node until SIGINT, SIGTERM or ctx's end; internal/app
// does the wiring and the ordered shutdown.
func serve(ctx context.Context, cfg config, listen, configFile string) error {
	// Signals are caught before the node opens: a SIGTERM arriving just
	// after start must stop the node gracefully too.
	sigc := make(chan os.Signal, 2)
	signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigc)

	n, err := app.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer n.Close()
	log := n.Log
	n.HandleAdmin("GET /admin/v1/backup", backupHandler(n.Stores, cfg, configFile))
	n.HandleAdmin("GET /admin/v1/doctor", doctorHandler(cfg, n.Stores, n.Fed, n.FedOff))
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	sock, err := listenSocket(filepath.Join(cfg.Data, socketName))
	if err != nil {
		ln.Close()
		return err
	}
	fmt.Fprintf(os.Stderr, "Communs « %s » : %s (écoute sur %s)\nDonnées / data: %s (fichiers / files: %s)\n",
		cfg.Name, cfg.PublicURL, ln.Addr(), cfg.Data, storageLabel(cfg))
	if n.Fed != nil {
		fmt.Fprintf(os.Stderr, "Fédération / federation: @%s (%s)\n", n.Fed.Handle(), n.Fed.ActorURL())
	}
	if empty, err := catalogEmpty(ctx, n.Service); err == nil {
		printFirstSteps(os.Stdout, isTerminal(os.Stdout), empty)
	}
	log.Info("node started", "public_url", cfg.PublicURL, "listen", ln.Addr().String(), "data", cfg.Data, "storage", cfg.Storage, "search", cfg.Search)

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case sig := <-sigc:
			log.Info("shutting down", "signal", sig.String())
			stop()
		case <-runCtx.Done():
			return
		}
		// A second signal means "now": in-flight uploads are dropped, and
		// their temp files never become visible.
		<-sigc
		log.Warn("second signal: exiting at once")
		os.Exit(1)
	}()
	return n.Run(runCtx, ln, sock)
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

func readProfile(c *cli.Context, cfg *config) error {
	cfg.Website, cfg.Discoverable = c.String("website"), c.Bool("discoverable")
	if cfg.Website != "" {
		if u, err := url.Parse(cfg.Website); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("--website %q: give an http(s) URL, e.g. https://www.example.fr/", cfg.Website)
		}
	}
	for _, f := range []struct {
		flag string
		dst  **web.Image
	}{{"logo", &cfg.Logo}, {"banner", &cfg.Banner}} {
		if path := c.String(f.flag); path != "" {
			img, err := web.LoadImage(path)
			if err != nil {
				return fmt.Errorf("--%s: %w", f.flag, err)
			}
			*f.dst = &img
		}
	}
	return nil
}

// catalogEmpty tells whether the node holds no resource at all.
func catalogEmpty(ctx context.Context, svc *node.Service) (bool, error) {
	rs, _, err := svc.List(ctx, node.ListOptions{Limit: 1})
	return len(rs) == 0, err
}
