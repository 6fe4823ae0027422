// Package app is the node's composition root: it turns a validated Config
// into a running node (stores, search, federation, the public and admin
// handlers with the production gzip, health and metrics chain) and stops
// it in order. `communs serve`, the offline CLI commands and
// internal/testnode all build their node here, so a test runs the same
// handler chain as production.
package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"github.com/communs-numerique/communs/federation"
	"github.com/communs-numerique/communs/internal/metrics"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/blob"
	"github.com/communs-numerique/communs/storage/search/meili"
	"github.com/communs-numerique/communs/web"
)

// Config is the node's settings, read by cmd/communs from flags,
// environment and file, or set by tests.
type Config struct {
	Data        string
	PublicURL   string
	Name        string
	Region      string
	Description string
	Hub         string
	Storage     string
	S3          blob.S3Config
	Search      string
	Meili       meili.Config
	// DevFederation and FollowPolicy configure ActivityPub.
	DevFederation bool
	FollowPolicy  string
	// MaxFollowersPerHost (0: no cap) and DeliveryTimeout bound what
	// followers cost.
	MaxFollowersPerHost int
	DeliveryTimeout     time.Duration
	Allow               []string
	MaxFileSize         int64
	LogLevel            string
	LogFormat           string

	// Serving: what only a running node uses (serve's flags).
	MetricsToken    string
	TLSCert, TLSKey string
	// ReadTimeout (0: 30 s), UploadIdleTimeout (0: web's default) and
	// MaxConnections (0: no limit) bound what clients cost.
	ReadTimeout       time.Duration
	UploadIdleTimeout time.Duration
	MaxConnections    int
	// Logo, Banner, Website and Discoverable are the hub's public face.
	Logo, Banner *web.Image
	Website      string
	Discoverable bool
	// Version is announced by federation (NodeInfo, User-Agent).
	Version string

	// Set in code by tests and embedders, never by flags.
	//
	// Logger replaces the one built from LogLevel and LogFormat.
	Logger *slog.Logger
	// Blobs replaces the configured blob store; Index the configured
	// search engine (its indexer then runs too).
	Blobs node.Blobs
	Index node.Index
	// NoSearch runs without search index and indexer.
	NoSearch bool
	// RetryBase shortens federation's delivery backoff (0: default).
	RetryBase time.Duration

	// metrics, set by Open, instruments the stores.
	metrics *metrics.Metrics
	// profile, set by Open, is the actor's avatar, header and rows.
	profile federation.Profile
}

// Validate returns every problem of the node's settings at once (joined),
// so an admin fixes the file in one pass. Serving settings are checked by
// Open.
func (c Config) Validate() error {
	var errs []error
	if c.Data == "" {
		errs = append(errs, errors.New("--data: give the data folder"))
	}
	if _, err := url.Parse(c.PublicURL); err != nil {
		errs = append(errs, fmt.Errorf("--public-url %q: %w", c.PublicURL, err))
	}
	switch c.Storage {
	case "disk":
	case "s3":
		if c.Blobs == nil && (c.S3.Endpoint == "" || c.S3.AccessKey == "" || c.S3.SecretKey == "") {
			errs = append(errs, errors.New("--storage s3 needs --s3-endpoint, --s3-access-key and --s3-secret-key (or COMMUNS_S3_ENDPOINT, COMMUNS_S3_ACCESS_KEY, COMMUNS_S3_SECRET_KEY)"))
		}
	default:
		errs = append(errs, fmt.Errorf("--storage %q: use disk or s3", c.Storage))
	}
	if !c.NoSearch && c.Index == nil {
		switch c.Search {
		case "embedded":
		case "meilisearch":
			if c.Meili.URL == "" {
				errs = append(errs, errors.New("--search meilisearch needs --meili-url (or COMMUNS_MEILI_URL), e.g. http://127.0.0.1:7700"))
			}
		default:
			errs = append(errs, fmt.Errorf("--search %q: use embedded or meilisearch", c.Search))
		}
	}
	if node.ValidateID(c.Hub) != nil {
		errs = append(errs, fmt.Errorf("--hub %q: use lowercase letters, digits and hyphens", c.Hub))
	}
	if c.Logger == nil {
		if _, err := NewLogger(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ValidateServing checks what only a running node uses (serve's flags).
func (c Config) ValidateServing() error {
	var errs []error
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if c.ReadTimeout < 0 || c.UploadIdleTimeout < 0 || c.MaxConnections < 0 {
		errs = append(errs, errors.New("--read-timeout and --upload-idle-timeout must be positive durations (e.g. 30s), --max-connections at least 1"))
	}
	return errors.Join(errs...)
}

// NewLogger builds the logger LogLevel and LogFormat ask for (or returns
// Config.Logger).
func NewLogger(cfg Config) (*slog.Logger, error) {
	if cfg.Logger != nil {
		return cfg.Logger, nil
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", cfg.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch cfg.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", cfg.LogFormat)
}
