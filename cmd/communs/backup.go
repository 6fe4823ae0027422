package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/communs-numerique/communs/internal/app"
	"github.com/communs-numerique/communs/internal/backup"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/blob"
	"github.com/communs-numerique/communs/storage/catalog"
)

// backupHandler streams a backup from the running node (admin socket).
func backupHandler(st *stores, cfg config, configFile string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		opt := backup.Options{DataDir: cfg.Data, ConfigFile: configFile, Referenced: catalog.ReferencedBlobs}
		if r.URL.Query().Get("files") == "1" {
			opt.Blobs = st.Blobs
		}
		w.Header().Set("Content-Type", "application/x-tar")
		if _, err := backup.Write(r.Context(), w, st.Catalog, opt); err != nil {
			// Headers are gone; breaking the stream makes the CLI fail
			// rather than keep a truncated file.
			panic(http.ErrAbortHandler)
		}
	})
}

func backupCommand() *cli.Command {
	return leaf(&cli.Command{
		Name: "backup", Usage: "sauvegarder catalogue, comptes, pairs et clés / back up catalog, users, peers and keys", ArgsUsage: "FILE",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "with-files", Usage: "include every stored file (blobs)"}},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("usage: communs backup FILE [--with-files]")
			}
			cfg, err := readConfig(c)
			if err != nil {
				return err
			}
			dst := c.Args().First()
			tmp := dst + ".partial"
			f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			defer os.Remove(tmp)
			if err := writeBackup(c, cfg, f, c.Bool("with-files")); err != nil {
				f.Close()
				return err
			}
			if err := f.Sync(); err != nil {
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			if err := os.Rename(tmp, dst); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "Sauvegarde écrite / backup written: %s\n", dst)
			return nil
		},
	})
}

// writeBackup asks the running node for a snapshot, or makes it from the
// data folder when no node runs.
func writeBackup(c *cli.Context, cfg config, w io.Writer, files bool) error {
	if cl := runningNode(cfg); cl != nil {
		q := ""
		if files {
			q = "?files=1"
		}
		req, _ := http.NewRequestWithContext(c.Context, http.MethodGet, "http://communs-admin/admin/v1/backup"+q, nil)
		if resp, err := cl.Do(req); err == nil {
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("backup: the node answered %s", resp.Status)
			}
			if _, err := io.Copy(w, resp.Body); err != nil {
				return fmt.Errorf("backup interrupted: %w", err)
			}
			return nil
		}
	}
	log, err := app.NewLogger(cfg)
	if err != nil {
		return err
	}
	_, st, err := app.OpenService(c.Context, cfg, log, false)
	if err != nil {
		return err
	}
	defer st.Close()
	opt := backup.Options{DataDir: cfg.Data, ConfigFile: c.String("config"), Referenced: catalog.ReferencedBlobs}
	if files {
		opt.Blobs = st.Blobs
	}
	_, err = backup.Write(c.Context, w, st.Catalog, opt)
	return err
}

func restoreCommand() *cli.Command {
	return leaf(&cli.Command{
		Name: "restore", Usage: "restaurer une sauvegarde dans un dossier de données vide / restore a backup into an empty data folder", ArgsUsage: "FILE",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return fmt.Errorf("usage: communs restore FILE --data EMPTY_FOLDER")
			}
			cfg, err := readConfig(c)
			if err != nil {
				return err
			}
			f, err := os.Open(c.Args().First())
			if err != nil {
				return err
			}
			defer f.Close()
			sum, err := backup.Restore(c.Context, f, cfg.Data, func() (node.Blobs, error) {
				if cfg.Storage == "s3" {
					return blob.NewS3(c.Context, cfg.S3)
				}
				return blob.NewDisk(filepath.Join(cfg.Data, "blobs"))
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "Restauré dans / restored into %s: catalog, %d key(s), %d file(s) (backup of %s)\n",
				cfg.Data, len(sum.Keys), sum.Blobs, sum.Manifest.Created.Format("2006-01-02 15:04"))
			for _, p := range sum.Config {
				fmt.Fprintf(c.App.Writer, "Configuration: %s (start with --config %s)\n", p, p)
			}
			return nil
		},
	})
}

// runningNode returns an HTTP client for the running node's admin socket,
// or nil when there is none.
func runningNode(cfg config) *http.Client {
	sock := filepath.Join(cfg.Data, socketName)
	if _, err := os.Stat(sock); err != nil {
		return nil
	}
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
}
