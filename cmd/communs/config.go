package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"

	"github.com/communs-numerique/communs/internal/app"
	"github.com/communs-numerique/communs/storage/blob"
	"github.com/communs-numerique/communs/storage/search/meili"
)

// nodeFlags are shared by serve and the admin commands, so that a command
// run without a server (or `serve` itself) opens the same stores. Each reads
// a COMMUNS_* environment variable and the config file given by --config.
func nodeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Usage: "configuration file (.toml or .yaml); keys are the flag names", EnvVars: []string{"COMMUNS_CONFIG"}},
		altsrc.NewStringFlag(&cli.StringFlag{Name: "data", Value: "./communs-data", Usage: "data folder: catalog, keys, local files, admin socket", EnvVars: []string{"COMMUNS_DATA"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "public-url", Value: "http://localhost:8080", Usage: "external URL of this node, as users and other hubs reach it", EnvVars: []string{"COMMUNS_PUBLIC_URL"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "name", Value: "Hub Communs", Usage: "display name of this hub", EnvVars: []string{"COMMUNS_NAME"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "region", Usage: "region of this hub, shown on the home page (e.g. Provence-Alpes-Côte d'Azur)", EnvVars: []string{"COMMUNS_REGION"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "description", Usage: "short text presenting this hub on the home page", EnvVars: []string{"COMMUNS_DESCRIPTION"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "hub", Value: "local", Usage: "slug of this hub, given to resources that name none", EnvVars: []string{"COMMUNS_HUB"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "storage", Value: "disk", Usage: "where files live: disk or s3", EnvVars: []string{"COMMUNS_STORAGE"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "s3-endpoint", Usage: "S3 endpoint host[:port], e.g. minio.example:9000 or s3.fr-par.scw.cloud", EnvVars: []string{"COMMUNS_S3_ENDPOINT"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "s3-bucket", Value: "communs", Usage: "S3 bucket (created if missing)", EnvVars: []string{"COMMUNS_S3_BUCKET"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "s3-access-key", Usage: "S3 access key", EnvVars: []string{"COMMUNS_S3_ACCESS_KEY"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "s3-secret-key", Usage: "S3 secret key", EnvVars: []string{"COMMUNS_S3_SECRET_KEY"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "s3-region", Usage: "S3 region (empty for MinIO)", EnvVars: []string{"COMMUNS_S3_REGION"}}),
		altsrc.NewBoolFlag(&cli.BoolFlag{Name: "s3-insecure", Usage: "plain HTTP to the S3 endpoint (local MinIO only)", EnvVars: []string{"COMMUNS_S3_INSECURE"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "s3-path-style", Value: "auto", Usage: "bucket addressing: auto, path or virtual", EnvVars: []string{"COMMUNS_S3_PATH_STYLE"}}),
		altsrc.NewStringSliceFlag(&cli.StringSliceFlag{Name: "allow-license", Usage: "also accept this licence (SPDX id, repeatable), e.g. CC-BY-NC-SA-4.0", EnvVars: []string{"COMMUNS_ALLOW_LICENSE"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "max-file-size", Value: "2GiB", Usage: "largest file accepted (e.g. 500MB, 2GiB)", EnvVars: []string{"COMMUNS_MAX_FILE_SIZE"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "search", Value: "embedded", Usage: "search engine: embedded (index in the data folder) or meilisearch", EnvVars: []string{"COMMUNS_SEARCH"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "meili-url", Usage: "Meilisearch server URL, e.g. http://127.0.0.1:7700", EnvVars: []string{"COMMUNS_MEILI_URL"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "meili-key", Usage: "Meilisearch API key (a key with search, documents and settings rights)", EnvVars: []string{"COMMUNS_MEILI_KEY"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "meili-index", Value: "communs", Usage: "Meilisearch index uid, created if missing", EnvVars: []string{"COMMUNS_MEILI_INDEX"}}),
		altsrc.NewBoolFlag(&cli.BoolFlag{Name: "dev-federation", Usage: "federation for local development and tests: plain HTTP, loopback and private addresses, self-signed certificates", EnvVars: []string{"COMMUNS_DEV_FEDERATION"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "follow-policy", Value: "auto", Usage: "who may follow this hub: auto (everyone not blocked) or approve (communs peer accept)", EnvVars: []string{"COMMUNS_FOLLOW_POLICY"}}),
		altsrc.NewIntFlag(&cli.IntFlag{Name: "max-followers-per-host", Value: 16, Usage: "followers one domain may have here (a.example.org and b.example.org count together); the next Follow gets a Reject; 0 for no cap", EnvVars: []string{"COMMUNS_MAX_FOLLOWERS_PER_HOST"}}),
		altsrc.NewDurationFlag(&cli.DurationFlag{Name: "delivery-timeout", Value: 10 * time.Second, Usage: "time one follower's inbox may take to answer a delivery; a slower one is retried later with backoff", EnvVars: []string{"COMMUNS_DELIVERY_TIMEOUT"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: []string{"COMMUNS_LOG_LEVEL"}}),
		altsrc.NewStringFlag(&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json", EnvVars: []string{"COMMUNS_LOG_FORMAT"}}),
	}
}

// loadConfigFile makes the --config file a source for the flags above;
// flags and environment variables still win over it.
func loadConfigFile(flags []cli.Flag) cli.BeforeFunc {
	return altsrc.InitInputSourceWithContext(flags, func(c *cli.Context) (altsrc.InputSourceContext, error) {
		path := c.String("config")
		if path == "" {
			return &altsrc.MapInputSource{}, nil
		}
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("--config %s: %w", path, err)
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".toml":
			return altsrc.NewTomlSourceFromFile(path)
		case ".yaml", ".yml":
			return altsrc.NewYamlSourceFromFile(path)
		}
		return nil, fmt.Errorf("--config %s: use a .toml or .yaml file", path)
	})
}

// config is the node's settings, read from flags, environment and file;
// internal/app turns it into a running node.
type config = app.Config

func readConfig(c *cli.Context) (config, error) {
	cfg := config{
		Data: c.String("data"), PublicURL: strings.TrimRight(c.String("public-url"), "/"), Name: c.String("name"),
		Region: c.String("region"), Description: c.String("description"),
		Hub: c.String("hub"), Storage: c.String("storage"), Allow: c.StringSlice("allow-license"),
		LogLevel: c.String("log-level"), LogFormat: c.String("log-format"), Search: c.String("search"),
		Version:       version,
		Meili:         meili.Config{URL: c.String("meili-url"), APIKey: c.String("meili-key"), Index: c.String("meili-index")},
		DevFederation: c.Bool("dev-federation"), FollowPolicy: c.String("follow-policy"),
		MaxFollowersPerHost: c.Int("max-followers-per-host"), DeliveryTimeout: c.Duration("delivery-timeout"),
		S3: blob.S3Config{Endpoint: c.String("s3-endpoint"), Bucket: c.String("s3-bucket"), AccessKey: c.String("s3-access-key"),
			SecretKey: c.String("s3-secret-key"), Region: c.String("s3-region"), Insecure: c.Bool("s3-insecure"), PathStyle: c.String("s3-path-style")},
	}
	// One --allow-license value may also hold a comma-separated list (env var).
	var allow []string
	for _, a := range cfg.Allow {
		allow = append(allow, strings.Split(a, ",")...)
	}
	cfg.Allow = allow
	// Every problem comes back at once, so a config file is fixed in one pass.
	var errs []error
	n, err := parseSize(c.String("max-file-size"))
	if err != nil {
		errs = append(errs, fmt.Errorf("--max-file-size: %w", err))
	}
	cfg.MaxFileSize = n
	abs, err := filepath.Abs(cfg.Data)
	if err != nil {
		errs = append(errs, fmt.Errorf("--data: %w", err))
	}
	cfg.Data = abs
	return cfg, errors.Join(append(errs, cfg.Validate())...)
}

// parseSize reads "2GiB", "500MB", "10 Mo" or a byte count.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(strings.ToUpper(s))
	units := []struct {
		suffix string
		mult   int64
	}{{"TIB", 1 << 40}, {"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10},
		{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"TO", 1e12}, {"GO", 1e9}, {"MO", 1e6}, {"KO", 1e3}, {"B", 1}, {"O", 1}}
	mult := int64(1)
	for _, u := range units {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(v), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("%q is not a size such as 500MB or 2GiB", s)
	}
	return int64(f * float64(mult)), nil
}

// stores are the concrete adapters a node runs on.
type stores = app.Stores
